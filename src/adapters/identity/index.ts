/**
 * The identity sources, one folder each (docs/architecture.md, "Identity sources"): the providers
 * people sign in with, and SCIM provisioning. Each gives routes the composition root hands to the
 * HTTP server.
 */
import type { AppDeps } from '../../app/context.js';
import type { IdentityStore } from '../../app/identity/ports.js';
import type { Sessions } from '../../app/identity/sessions.js';
import type { SignIn } from '../../app/identity/sign-in.js';
import type { RouteContext } from '../../http/routes/context.js';
import { FlowSeal } from './flow-seal.js';
import { oidcRoutes } from './oidc/routes.js';
import { passwordRoutes } from './password/routes.js';
import { providersRoute } from './providers.js';
import { samlRoutes } from './saml/routes.js';
import { scimRoutes } from './scim/routes.js';

export function identityProviderRoutes(opts: { deps: AppDeps; signIn: SignIn; sessions: Sessions; identity: IdentityStore }): ((ctx: RouteContext) => void)[] {
  const seal = new FlowSeal(opts.deps.store, () => opts.deps.clock.now());
  return [
    providersRoute(opts.deps),
    oidcRoutes(opts.deps, opts.signIn, seal, opts.identity),
    samlRoutes(opts.deps, opts.signIn, seal, opts.identity),
    scimRoutes(opts.deps),
    passwordRoutes(opts.deps, opts.sessions),
  ];
}
