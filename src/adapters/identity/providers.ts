/** GET /v1/auth/providers: every configured identity provider, OIDC and SAML, with its login URL, for a login page. */
import { z } from 'zod';
import type { AppDeps } from '../../app/context.js';
import { defineRoute } from '../../http/route.js';
import type { RouteContext } from '../../http/routes/context.js';

const providerSchema = z.object({ name: z.string(), displayName: z.string(), kind: z.enum(['oidc', 'saml']), login: z.string() });

export function providersRoute(deps: AppDeps) {
  return ({ server, table }: RouteContext) => {
    defineRoute(server, table, {
      method: 'GET',
      url: '/v1/auth/providers',
      tag: 'identity',
      auth: 'none',
      summary: 'The identity providers people can sign in with',
      responses: { 200: { description: 'providers, OIDC first, each kind in configuration order', schema: z.object({ providers: z.array(providerSchema) }) } },
      handler: () => {
        const { oidc, saml } = deps.config.current().identity;
        return {
          providers: [
            ...oidc.map((p) => ({ name: p.name, displayName: p.displayName, kind: 'oidc' as const, login: `/v1/auth/oidc/${p.name}/login` })),
            ...saml.map((p) => ({ name: p.name, displayName: p.displayName, kind: 'saml' as const, login: `/v1/auth/saml/${p.name}/login` })),
          ],
        };
      },
    });
  };
}
