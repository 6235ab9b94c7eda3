/**
 * Sign-in with OpenID Connect providers: the browser's authorization code flow with PKCE
 * (GET .../login, then the provider redirects to GET .../callback), and the CLI's device
 * authorization grant (RFC 8628). The state, nonce and PKCE verifier travel sealed in a cookie
 * scoped to these routes and bound to this browser: a callback from another browser (login
 * CSRF), a swapped state or a replayed callback finds no matching cookie and is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DeviceAuthorizationResponse } from 'openid-client';
import { z } from 'zod';
import { HgError, isHgError } from '../../../core/errors.js';
import type { ExternalIdentity, SignIn } from '../../../app/identity/sign-in.js';
import { sameSecret } from '../../../app/identity/secrets.js';
import type { AppDeps } from '../../../app/context.js';
import type { IdentityStore } from '../../../app/identity/ports.js';
import { withinBudget } from '../../../http/auth-failure-limiter.js';
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
  /** A CLI's loopback sign-in (RFC 8252): where to hand the code, and the S256 of the CLI's verifier. */
  cli?: { redirect: string; challenge: string };
}

/** A CLI's own listener on this machine: http on a loopback address with a port (RFC 8252 7.3). */
const LOOPBACK = /^http:\/\/(?:127\.0\.0\.1|\[::1\]|localhost):\d{1,5}\/[\w./-]{0,100}$/;
const S256 = /^[A-Za-z0-9_-]{43}$/;
/** A CLI code works once, and only for a minute: long enough for the CLI to redeem it. */
const CLI_CODE_TTL_MS = 60_000;

interface CliCode {
  id: string;
  provider: string;
  challenge: string;
  who: ExternalIdentity;
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

export function oidcRoutes(deps: AppDeps, signIn: SignIn, seal: FlowSeal, identity: IdentityStore) {
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
      description:
        "With `cli` (the CLI's loopback URL, `http://127.0.0.1:PORT/PATH`) and `cliChallenge` (the base64url SHA-256 of a secret the CLI keeps), " +
        'the callback sends the browser to the CLI with a one-time code instead of signing the browser in (`hourglass login --sso NAME --browser`).',
      query: z
        .object({
          returnTo: z.string().max(500).optional(),
          cli: z.string().regex(LOOPBACK, 'must be http://127.0.0.1:PORT/PATH (a loopback address)').optional(),
          cliChallenge: z.string().regex(S256, 'must be the base64url SHA-256 of the CLI verifier (43 characters)').optional(),
        })
        .strict(),
      responses: { 302: { description: 'to the provider' } },
      handler: async ({ params, query, reply }) => {
        const client = clientOf(params.name);
        if ((query.cli === undefined) !== (query.cliChallenge === undefined)) throw new HgError('HG_INVALID_INPUT', 'cli and cliChallenge go together');
        const flow: Flow = {
          provider: params.name,
          state: random(),
          nonce: random(),
          verifier: random(),
          returnTo: safeReturnTo(query.returnTo),
          ...(query.cli !== undefined ? { cli: { redirect: query.cli, challenge: query.cliChallenge! } } : {}),
        };
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
        if (flow.cli) {
          // The CLI signs in, not this browser: it redeems the code with its verifier (POST .../cli/token).
          const code: CliCode = { id: random(), provider: params.name, challenge: flow.cli.challenge, who };
          const sealed = await seal.seal('oidc-cli-code', code, CLI_CODE_TTL_MS);
          return reply.redirect(`${flow.cli.redirect}?code=${encodeURIComponent(sealed)}`, 302);
        }
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
        // The handle is sealed, so a made-up one is a guess: it counts against the address.
        const sealed = await withinBudget(server.authFailures, req.ip, async () => {
          const opened = await seal.open<{ provider: string; device: DeviceAuthorizationResponse }>('oidc-device', body.handle);
          if (!opened || opened.provider !== params.name)
            throw new HgError('HG_INVALID_INPUT', 'the device sign-in handle is not valid or has expired: start again');
          return opened;
        });
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
        return cliTokens(issued);
      },
    });
    defineRoute(server, table, {
      method: 'POST',
      url: '/v1/auth/oidc/:name/cli/token',
      tag: 'identity',
      auth: 'none',
      summary: "Redeem a CLI loopback sign-in's one-time code with the CLI's verifier: the CLI session tokens",
      params: nameParams,
      body: z.object({ code: z.string().min(1).max(16384), verifier: z.string().min(43).max(128) }).strict(),
      responses: {
        200: {
          description: 'the session tokens',
          schema: z.object({ status: z.literal('signed_in'), accessToken: z.string(), refreshToken: z.string(), expiresAt: z.string(), principal: z.string() }),
        },
      },
      handler: async ({ params, body, req }) => {
        const provider = `oidc:${params.name}`;
        const ctx = { client: 'cli' as const, ip: req.ip, ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}) };
        // The code and its verifier are credentials: every refusal here counts against the address.
        const code = await withinBudget(server.authFailures, req.ip, async () => {
          const opened = await seal.open<CliCode>('oidc-cli-code', body.code);
          if (!opened || opened.provider !== params.name) throw await signIn.refuse({ provider }, ctx, 'the sign-in code is not valid or has expired');
          // Whoever saw the code on its way (browser history, another local process) lacks the verifier.
          if (!sameSecret(s256(body.verifier), opened.challenge)) throw await signIn.refuse({ provider }, ctx, 'the verifier does not match the sign-in code');
          const now = deps.clock.now();
          if (!(await identity.firstUse(`oidc-cli:${opened.id}`, now + CLI_CODE_TTL_MS, now))) {
            throw await signIn.refuse({ provider }, ctx, 'the sign-in code was used already');
          }
          return opened;
        });
        const issued = await signIn.signIn(code.who, ctx);
        return cliTokens(issued);
      },
    });
  };
}

/** A CLI session's tokens, as the device and loopback flows hand them over. */
function cliTokens(issued: Awaited<ReturnType<SignIn['signIn']>>) {
  return {
    status: 'signed_in' as const,
    accessToken: issued.secret,
    refreshToken: issued.refreshToken!,
    expiresAt: new Date(issued.session.accessExpiresAt!).toISOString(),
    principal: issued.principal.id,
  };
}

/** What went wrong at the provider, in a few words (OAuth error codes carry no secrets). */
function providerError(err: unknown): string {
  const e = err as { error?: string; code?: string; message?: string };
  if (typeof e.error === 'string') return `the provider answered ${e.error}`.slice(0, 200);
  if (typeof e.code === 'string') return `the provider's answer was refused (${e.code})`.slice(0, 200);
  return "the provider's answer was refused";
}
