/**
 * Sign-in with SAML 2.0 identity providers (Web Browser SSO profile): GET .../login redirects to
 * the IdP with an AuthnRequest (HTTP-Redirect binding), the IdP posts the signed assertion back
 * to POST .../acs (HTTP-POST binding), and GET .../metadata describes this service provider.
 *
 * The AuthnRequest id travels sealed in a cookie bound to this browser and spent by the first
 * post to the ACS: a response posted into another browser (login CSRF), one that answers another
 * request, or one posted twice finds no matching id and is refused. Every assertion id is also
 * spent in the store (IdentityStore.firstUse), so a copied cookie does not make a replay work.
 */
import { serialize } from 'cookie';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { HgError, isHgError } from '../../../core/errors.js';
import type { AppDeps } from '../../../app/context.js';
import type { IdentityStore } from '../../../app/identity/ports.js';
import type { SignIn } from '../../../app/identity/sign-in.js';
import type { SamlProviderSettings } from '../../../config/types.js';
import { defineRoute } from '../../../http/route.js';
import type { RouteContext } from '../../../http/routes/context.js';
import { readCookie, secureCookies, setSessionCookie } from '../../../http/session-cookie.js';
import type { FlowSeal } from '../flow-seal.js';
import { safeReturnTo } from '../oidc/routes.js';
import { identityFromAssertion } from './attributes.js';
import { createServiceProvider, type SamlServiceProvider } from './service-provider.js';

const FLOW_COOKIE = 'hourglass_saml';
const FLOW_PURPOSE = 'saml-login';
const FLOW_TTL_MS = 10 * 60_000;
const FORM = 'application/x-www-form-urlencoded';

const nameParams = z.object({ name: z.string().min(1).max(40) });

interface Flow {
  provider: string;
  requestId: string;
  returnTo: string;
}

/**
 * The flow cookie, scoped to /v1/auth/saml/NAME. The IdP posts to the ACS from its own site, and
 * browsers do not send a SameSite=Lax cookie on a cross-site POST: behind https it must be
 * SameSite=None (which needs Secure). On plain http (a loopback address, the tests and the demo)
 * None is refused without Secure; Lax works there because an IdP on another port of the same
 * host is the same site (sites ignore ports).
 */
function setSamlFlowCookie(reply: FastifyReply, publicUrl: string, name: string, value: string, maxAgeMs: number): void {
  const secure = secureCookies(publicUrl);
  reply.header(
    'set-cookie',
    serialize(FLOW_COOKIE, value, {
      httpOnly: true,
      secure,
      sameSite: secure ? 'none' : 'lax',
      path: `/v1/auth/saml/${name}`,
      maxAge: Math.floor(maxAgeMs / 1000),
    }),
  );
}

/** The two form fields the HTTP-POST binding carries, strings only. */
function formOf(body: unknown): { SAMLResponse?: string; RelayState?: string } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  return {
    ...(typeof b.SAMLResponse === 'string' ? { SAMLResponse: b.SAMLResponse } : {}),
    ...(typeof b.RelayState === 'string' ? { RelayState: b.RelayState } : {}),
  };
}

export function samlRoutes(deps: AppDeps, signIn: SignIn, seal: FlowSeal, identity: IdentityStore) {
  const providers = new Map<string, { settings: SamlProviderSettings; sp: SamlServiceProvider }>();
  const providerOf = (name: string) => {
    const settings = deps.config.current().identity.saml.find((p) => p.name === name);
    if (!settings) throw new HgError('HG_NOT_FOUND', `no SAML provider ${name}`);
    let p = providers.get(name);
    // A reload gives new settings: a new service provider.
    if (!p || p.settings !== settings) {
      const sp = createServiceProvider(
        {
          entityId: settings.entityId,
          acsUrl: settings.acsUrl,
          idpEntityId: settings.idp.entityId,
          idpSsoUrl: settings.idp.ssoUrl,
          idpCertificates: settings.idp.certificates,
          nameIdFormat: settings.nameIdFormat,
          clockSkewMs: settings.clockSkewMs,
          ...(settings.maxAuthAgeMs !== undefined ? { maxAuthAgeMs: settings.maxAuthAgeMs } : {}),
          allowIdpInitiated: settings.allowIdpInitiated,
        },
        {
          now: () => deps.clock.now(),
          // Durable and shared by every Hourglass server: an assertion works once, wherever it is posted.
          replay: { firstUse: (assertionId, notOnOrAfter) => identity.firstUse(`saml:${name}:${assertionId}`, notOnOrAfter, deps.clock.now()) },
        },
      );
      providers.set(name, (p = { settings, sp }));
    }
    return p;
  };
  const publicUrl = () => deps.config.current().server.publicUrl!;

  return ({ server, table }: RouteContext) => {
    defineRoute(server, table, {
      method: 'GET',
      url: '/v1/auth/saml/:name/login',
      tag: 'identity',
      auth: 'none',
      summary: 'Start a browser sign-in: redirects to the SAML identity provider with an AuthnRequest (HTTP-Redirect binding)',
      params: nameParams,
      query: z.object({ returnTo: z.string().max(500).optional() }).strict(),
      responses: { 302: { description: 'to the identity provider' } },
      handler: async ({ params, query, reply }) => {
        const { sp } = providerOf(params.name);
        // No RelayState: where to go back is in the sealed cookie, not in a value the IdP echoes.
        const { url, requestId } = await sp.loginRedirect('');
        const flow: Flow = { provider: params.name, requestId, returnTo: safeReturnTo(query.returnTo) };
        setSamlFlowCookie(reply, publicUrl(), params.name, await seal.seal(FLOW_PURPOSE, flow, FLOW_TTL_MS), FLOW_TTL_MS);
        return reply.redirect(url, 302);
      },
    });

    defineRoute(server, table, {
      method: 'POST',
      url: '/v1/auth/saml/:name/acs',
      tag: 'identity',
      auth: 'none',
      summary: 'Assertion Consumer Service: the identity provider posts the signed SAMLResponse here (HTTP-POST binding), then the browser is signed in',
      description:
        'A form (`application/x-www-form-urlencoded`) with `SAMLResponse` and optional `RelayState`, at most `server.bodyLimit`. ' +
        'Needs the flow cookie of GET .../login in the same browser unless the provider sets `allowIdpInitiated`.',
      params: nameParams,
      responses: { 303: { description: 'signed in: to returnTo, with the session cookie' } },
      handler: async ({ params, req, reply }) => {
        const { settings, sp } = providerOf(params.name);
        const contentType = req.headers['content-type'] ?? '';
        if (!contentType.toLowerCase().startsWith(FORM))
          throw new HgError('HG_INVALID_INPUT', `the ACS takes a form (${FORM}), as the HTTP-POST binding sends`);
        const provider = `saml:${params.name}`;
        const ctx = { client: 'browser' as const, ip: req.ip, ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}) };
        const opened = await seal.open<Flow>(FLOW_PURPOSE, readCookie(req, FLOW_COOKIE));
        const flow = opened?.provider === params.name ? opened : undefined;
        // The flow cookie is spent whatever happens next: a sign-in request is answered once.
        setSamlFlowCookie(reply, publicUrl(), params.name, '', 0);
        if (!flow && !settings.allowIdpInitiated) {
          throw await signIn.refuse({ provider }, ctx, 'no sign-in was started in this browser, or it expired (unsolicited responses are not allowed)');
        }
        const form = formOf(req.body);
        let assertion;
        try {
          assertion = await sp.acceptPost(form, flow?.requestId);
        } catch (err) {
          if (isHgError(err) && err.code === 'HG_SIGN_IN_REFUSED') throw await signIn.refuse({ provider }, ctx, err.message);
          throw err;
        }
        const who = identityFromAssertion(settings, assertion);
        if (typeof who === 'string') throw await signIn.refuse({ provider }, ctx, who);
        const issued = await signIn.signIn(who, ctx);
        setSessionCookie(reply, publicUrl(), issued.secret, deps.config.current().identity.sessions.absoluteTimeoutMs);
        // An IdP-initiated sign-in may name where to go in RelayState; only a path here counts.
        return reply.redirect(flow ? flow.returnTo : safeReturnTo(form.RelayState), 303);
      },
    });

    defineRoute(server, table, {
      method: 'GET',
      url: '/v1/auth/saml/:name/metadata',
      tag: 'identity',
      auth: 'none',
      summary: "This service provider's SAML metadata, to upload to the identity provider: entity id, ACS URL, NameID format",
      params: nameParams,
      responses: { 200: { description: 'SP metadata XML', schema: z.string(), contentType: 'application/samlmetadata+xml' } },
      handler: ({ params, reply }) => reply.header('content-type', 'application/samlmetadata+xml; charset=utf-8').send(providerOf(params.name).sp.metadata()),
    });
  };
}
