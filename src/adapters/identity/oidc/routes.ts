/**
 * Sign-in with OpenID Connect providers: the browser's authorization code flow with PKCE
 * (GET .../login, then the provider redirects to GET .../callback), and the CLI's device
 * authorization grant (RFC 8628). The state, nonce and PKCE verifier travel sealed in a cookie
 * scoped to these routes and bound to this browser: a callback from another browser (login
 * CSRF), a swapped state or a replayed callback finds no matching cookie and is refused.
 */
import { randomBytes } from 'node:crypto';
import type { DeviceAuthorizationResponse } from 'openid-client';
import { z } from 'zod';
import { HgError, isHgError } from '../../../core/errors.js';
import type { SignIn } from '../../../app/identity/sign-in.js';
import type { AppDeps } from '../../../app/context.js';
import { defineRoute } from '../../../http/route.js';
import type { RouteContext } from '../../../http/routes/context.js';
import { readCookie, setFlowCookie, setSessionCookie } from '../../../http/session-cookie.js';
import type { FlowSeal } from '../flow-seal.js';
import { identityFromClaims } from './claims.js';
import { OidcClient } from './client.js';

const FLOW_COOKIE = 'hourglass_oidc';
const FLOW_TTL_MS = 10 * 60_000;
/** How long one device poll waits for the person before answering `pending`. */
const DEVICE_WAIT_MS = 20_000;

const nameParams = z.object({ name: z.string().min(1).max(40) });
const random = () => randomBytes(32).toString('base64url');

/** Only a path on this server: `//evil.example` and `/\evil` are other hosts to a browser. */
export function safeReturnTo(v: unknown): string {
  return typeof v === 'string' && /^\/(?![/\\])[\x21-\x7e]{0,500}$/.test(v) ? v : '/';
}

interface Flow {
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
}

export function oidcRoutes(deps: AppDeps, signIn: SignIn, seal: FlowSeal) {
  const clients = new Map<string, OidcClient>();
  const clientOf = (name: string): OidcClient => {
    const settings = deps.config.current().identity.oidc.find((p) => p.name === name);
    if (!settings) throw new HgError('HG_NOT_FOUND', `no OIDC provider ${name}`);
    let c = clients.get(name);
    if (!c || c.settings !== settings) clients.set(name, (c = new OidcClient(settings))); // a reload gives new settings
    return c;
  };
  const publicUrl = () => deps.config.current().server.publicUrl!;
  const callbackOf = (name: string) => `${publicUrl()}/v1/auth/oidc/${name}/callback`;

  return ({ server, table }: RouteContext) => {
    defineRoute(server, table, {
      method: 'GET',
      url: '/v1/auth/oidc/:name/login',
      tag: 'identity',
      auth: 'none',
      summary: 'Start a browser sign-in: redirects to the provider (authorization code flow with PKCE)',
      params: nameParams,
      query: z.object({ returnTo: z.string().max(500).optional() }).strict(),
      responses: { 302: { description: 'to the provider' } },
      handler: async ({ params, query, reply }) => {
        const client = clientOf(params.name);
        const flow: Flow = { provider: params.name, state: random(), nonce: random(), verifier: random(), returnTo: safeReturnTo(query.returnTo) };
        const url = await client.authorizationUrl(callbackOf(params.name), flow.state, flow.nonce, flow.verifier);
        setFlowCookie(reply, publicUrl(), FLOW_COOKIE, await seal.seal('oidc-login', flow, FLOW_TTL_MS), `/v1/auth/oidc/${params.name}`, FLOW_TTL_MS);
        return reply.redirect(url.href, 302);
      },
    });

    defineRoute(server, table, {
      method: 'GET',
      url: '/v1/auth/oidc/:name/callback',
      tag: 'identity',
      auth: 'none',
      summary: 'Where the provider sends the browser back: checks state, nonce and the ID token, then signs in',
      params: nameParams,
      responses: { 302: { description: 'signed in: to returnTo, with the session cookie' } },
      handler: async ({ params, req, reply }) => {
        const client = clientOf(params.name);
        const flow = await seal.open<Flow>('oidc-login', readCookie(req, FLOW_COOKIE));
        // The flow cookie is spent whatever happens next: a callback works once.
        setFlowCookie(reply, publicUrl(), FLOW_COOKIE, '', `/v1/auth/oidc/${params.name}`, 0);
        const ctx = { client: 'browser' as const, ip: req.ip, ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}) };
        if (!flow || flow.provider !== params.name)
          throw await signIn.refuse({ provider: `oidc:${params.name}` }, ctx, 'no sign-in was started in this browser, or it expired');
        const callbackUrl = new URL(req.url, `${publicUrl()}/`);
        let claims;
        try {
          claims = await client.finish(new URL(`${callbackOf(params.name)}${callbackUrl.search}`), flow);
        } catch (err) {
          if (isHgError(err)) throw err;
          throw await signIn.refuse({ provider: `oidc:${params.name}` }, ctx, providerError(err));
        }
        const who = identityFromClaims(client.settings, claims.idToken, claims.userinfo);
        if (typeof who === 'string') throw await signIn.refuse({ provider: `oidc:${params.name}` }, ctx, who);
        const issued = await signIn.signIn(who, ctx);
        setSessionCookie(reply, publicUrl(), issued.secret, deps.config.current().identity.sessions.absoluteTimeoutMs);
        return reply.redirect(flow.returnTo, 302);
      },
    });

    defineRoute(server, table, {
      method: 'POST',
      url: '/v1/auth/oidc/:name/device',
      tag: 'identity',
      auth: 'none',
      summary: 'Start a CLI sign-in with the device authorization grant (RFC 8628)',
      params: nameParams,
      responses: {
        200: {
          description: 'the code to enter at the provider, and a handle to poll with',
          schema: z.object({
            handle: z.string(),
            userCode: z.string(),
            verificationUri: z.string(),
            verificationUriComplete: z.string().optional(),
            expiresIn: z.number(),
            interval: z.number(),
          }),
        },
      },
      handler: async ({ params }) => {
        const device = await clientOf(params.name).startDevice();
        const ttl = Math.min(device.expires_in, 1800) * 1000;
        return {
          handle: await seal.seal('oidc-device', { provider: params.name, device }, ttl),
          userCode: device.user_code,
          verificationUri: device.verification_uri,
          ...(device.verification_uri_complete ? { verificationUriComplete: device.verification_uri_complete } : {}),
          expiresIn: device.expires_in,
          interval: device.interval ?? 5,
        };
      },
    });

    defineRoute(server, table, {
      method: 'POST',
      url: '/v1/auth/oidc/:name/device/token',
      tag: 'identity',
      auth: 'none',
      summary: 'Wait (up to 20 s) for the person to approve the device sign-in; then the CLI session tokens',
      params: nameParams,
      body: z.object({ handle: z.string().min(1).max(8192) }).strict(),
      responses: {
        200: {
          description: '`pending` (poll again), or the session tokens',
          schema: z.object({
            status: z.enum(['pending', 'signed_in']),
            accessToken: z.string().optional(),
            refreshToken: z.string().optional(),
            expiresAt: z.string().optional(),
            principal: z.string().optional(),
          }),
        },
      },
      handler: async ({ params, body, req }) => {
        const client = clientOf(params.name);
        const ctx = { client: 'cli' as const, ip: req.ip, ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}) };
        const sealed = await seal.open<{ provider: string; device: DeviceAuthorizationResponse }>('oidc-device', body.handle);
        if (!sealed || sealed.provider !== params.name)
          throw new HgError('HG_INVALID_INPUT', 'the device sign-in handle is not valid or has expired: start again');
        let claims;
        try {
          claims = await client.pollDevice(sealed.device, DEVICE_WAIT_MS);
        } catch (err) {
          throw await signIn.refuse({ provider: `oidc:${params.name}` }, ctx, providerError(err));
        }
        if (!claims) return { status: 'pending' as const };
        const who = identityFromClaims(client.settings, claims.idToken, claims.userinfo);
        if (typeof who === 'string') throw await signIn.refuse({ provider: `oidc:${params.name}` }, ctx, who);
        const issued = await signIn.signIn(who, ctx);
        return {
          status: 'signed_in' as const,
          accessToken: issued.secret,
          refreshToken: issued.refreshToken!,
          expiresAt: new Date(issued.session.accessExpiresAt!).toISOString(),
          principal: issued.principal.id,
        };
      },
    });
  };
}

/** What went wrong at the provider, in a few words (OAuth error codes carry no secrets). */
function providerError(err: unknown): string {
  const e = err as { error?: string; code?: string; message?: string };
  if (typeof e.error === 'string') return `the provider answered ${e.error}`.slice(0, 200);
  if (typeof e.code === 'string') return `the provider's answer was refused (${e.code})`.slice(0, 200);
  return "the provider's answer was refused";
}
