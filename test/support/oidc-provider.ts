/**
 * A real OpenID provider for tests: oidc-provider 8 in process on a free loopback port
 * (issuer `http://127.0.0.1:PORT`; openid-client needs `allowInsecureRequests`), or on a fixed
 * one (`port`), as scripts/demo-idp.ts runs it for the demo.
 *
 * - Authorization code flow with PKCE required for every client (S256 only), the device
 *   authorization grant (RFC 8628), the `claims` parameter, userinfo, revocation, introspection,
 *   RP-initiated logout (`/session/end`, a plain confirm form).
 * - Its own interactions: an HTML login form checked against `accounts` (constant-time password
 *   check), then a consent page whose "Allow" records the requested scopes and claims through the
 *   Grant API. The device flow's code-entry, confirmation and success pages are plain forms too.
 * - ID tokens always carry `auth_time`, and `amr` / `acr` when the account has them (MFA at the IdP).
 *   With `claimsInIdToken` false (the default, like many IdPs) the ID token has no profile claims:
 *   email, groups, manager, ... come from userinfo only.
 * - Quiet: its own in-memory adapter, keys, cookie keys, TTLs and page renderers, so oidc-provider
 *   prints none of its development-only warnings or notices. Errors are collected in `errors`.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
// @ts-expect-error -- oidc-provider 8 ships no type declarations (and @types/oidc-provider is not installed); `Provider` below types what tests use.
import OidcProvider from 'oidc-provider';

export interface TestAccount {
  sub: string;
  password: string;
  /** Claims the provider may release: email, email_verified, preferred_username, name, groups, manager, ... */
  claims: Record<string, unknown>;
  /** Put in the ID token as `amr` (e.g. ['pwd', 'otp']); left out when absent. */
  amr?: string[];
  /** Put in the ID token as `acr`; every account's value is advertised in acr_values_supported. */
  acr?: string;
}

/** Client metadata as oidc-provider takes it; unnamed keys are passed through. */
export interface TestClient {
  client_id: string;
  /** Absent: a public client (`token_endpoint_auth_method: 'none'`). */
  client_secret?: string;
  redirect_uris?: string[];
  /** Default ['authorization_code']; the device flow is 'urn:ietf:params:oauth:grant-type:device_code'. */
  grant_types?: string[];
  /** Default ['code'] when grant_types has authorization_code, else []. */
  response_types?: string[];
  token_endpoint_auth_method?: string;
  [metadata: string]: unknown;
}

export interface StartOidcProviderOptions {
  accounts: TestAccount[];
  clients: TestClient[];
  /** Default false: the ID token carries only sub (and auth_time, amr, acr); claims come from userinfo. */
  claimsInIdToken?: boolean;
  /** Seconds. Defaults: AccessToken 3600, IdToken 3600, DeviceCode 600, Session 3600. */
  ttl?: Partial<{ AccessToken: number; IdToken: number; DeviceCode: number; Session: number }>;
  /** Which claims each scope releases, merged over DEFAULT_SCOPE_CLAIMS (a listed scope is replaced whole). */
  scopeClaims?: Record<string, string[]>;
  /** The `interval` (seconds) the device authorization response announces. Default 1, so polling tests are quick. */
  devicePollInterval?: number;
  /** Port to listen on. Default 0: a free port. */
  port?: number;
  /** Address to listen on, and the issuer's host. Default 127.0.0.1. */
  host?: string;
}

/** By default `groups` comes with scope `groups`, `manager` with scope `profile`. */
export const DEFAULT_SCOPE_CLAIMS: Readonly<Record<string, string[]>> = {
  email: ['email', 'email_verified'],
  profile: ['name', 'preferred_username', 'given_name', 'family_name', 'manager'],
  groups: ['groups'],
};

/** An error the provider reported: `server_error` or one of its `*.error` events. */
export interface ProviderErrorRecord {
  event: string;
  error: string;
  description?: string;
}

interface InteractionDetails {
  uid: string;
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  params: Record<string, unknown> & { client_id: string; scope?: string };
  session?: { accountId: string };
  grantId?: string;
}

interface Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(indicator: string, scope: string): void;
  save(): Promise<string>;
}

type InteractionResult =
  | { login: { accountId: string; amr?: string[]; acr?: string; remember?: boolean } }
  | { consent: { grantId?: string } }
  | { error: string; error_description?: string };

/** What tests use of oidc-provider's Provider (it has no type declarations of its own). */
export interface Provider extends EventEmitter {
  readonly issuer: string;
  callback(): http.RequestListener;
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    result: InteractionResult,
    opts?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: { new (init: { accountId: string; clientId: string }): Grant; find(id: string): Promise<Grant | undefined> };
}

interface KoaContext {
  status: number;
  type: string;
  body: unknown;
  oidc?: { route?: string; client?: { clientId: string; clientName?: string } };
}

export interface OidcProviderHandle {
  /** `http://HOST:PORT` (default host 127.0.0.1), no trailing slash. */
  issuer: string;
  /** Base URL of the provider, the same as the issuer (endpoints hang off it: /auth, /token, /device, ...). */
  url: string;
  provider: Provider;
  /** Errors the provider reported, oldest first, for debugging a failed test. */
  errors: ProviderErrorRecord[];
  /** Replaces an account's claims; later userinfo answers and tokens carry the new ones. */
  setAccountClaims(sub: string, claims: Record<string, unknown>): void;
  /** Stops listening and drops open connections. Idempotent. */
  stop(): Promise<void>;
}

const MAX_FORM_BYTES = 16 * 1024;

const ERROR_EVENTS = [
  'server_error',
  'authorization.error',
  'grant.error',
  'userinfo.error',
  'introspection.error',
  'revocation.error',
  'device_authorization.error',
  'code_verification.error',
  'device_resume.error',
  'jwks.error',
  'discovery.error',
];

export async function startOidcProvider(opts: StartOidcProviderOptions): Promise<OidcProviderHandle> {
  const accounts = new Map(opts.accounts.map((a) => [a.sub, { ...a, claims: { ...a.claims } }]));
  if (accounts.size !== opts.accounts.length) throw new Error('startOidcProvider: account subs must be unique');
  const errors: ProviderErrorRecord[] = [];
  const config = await configuration(opts, accounts);
  const host = opts.host ?? '127.0.0.1';

  let handle: http.RequestListener = (_req, res) => void res.writeHead(503).end();
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;

  let provider: Provider;
  try {
    provider = new OidcProvider(issuer, config) as Provider;
  } catch (err) {
    // Invalid client metadata and the like: do not leave the port open.
    server.close();
    throw err;
  }
  const record = (event: string) => (_ctx: unknown, err: { error?: string; message?: string; error_description?: string }) =>
    errors.push({ event, error: err.error ?? err.message ?? String(err), ...(err.error_description ? { description: err.error_description } : {}) });
  for (const event of ERROR_EVENTS) provider.on(event, record(event));
  // oidc-provider sends no `interval`, so clients would wait the RFC's 5 s between polls.
  const interval = opts.devicePollInterval ?? 1;
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      (ctx.body as Record<string, unknown>).interval = interval;
    }
  });

  const oidc = provider.callback();
  const interactions = interactionRoutes(provider, accounts, (e) => errors.push(e));
  handle = (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interactions(req, res).catch((err: unknown) => {
        errors.push({ event: 'interaction.error', error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) sendHtml(res, 500, page('Error', '<p id="hg-error">The sign-in could not continue.</p>'));
        else res.end();
      });
    } else {
      oidc(req, res);
    }
  };

  let stopped: Promise<void> | undefined;
  return {
    issuer,
    url: issuer,
    provider,
    errors,
    setAccountClaims(sub, claims) {
      const account = accounts.get(sub);
      if (!account) throw new Error(`setAccountClaims: no account ${sub}`);
      account.claims = { ...claims };
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

async function configuration(opts: StartOidcProviderOptions, accounts: Map<string, TestAccount>): Promise<Record<string, unknown>> {
  const acrValues = [...new Set(opts.accounts.flatMap((a) => (a.acr ? [a.acr] : [])))];
  const scopeClaims = { ...DEFAULT_SCOPE_CLAIMS, ...opts.scopeClaims };
  const ttl = { AccessToken: 3600, IdToken: 3600, DeviceCode: 600, Session: 3600, ...opts.ttl };
  return {
    adapter: memoryAdapterFactory(),
    jwks: { keys: await signingKeys() },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // http issuer: Chromium drops SameSite=None cookies that are not Secure.
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    clients: opts.clients.map(clientMetadata),
    acrValues,
    scopes: ['openid', 'offline_access', ...Object.keys(scopeClaims)],
    claims: {
      // The openid scope's claims go into every ID token; the rest only where conformIdTokenClaims allows.
      openid: ['sub', 'auth_time', 'amr', ...(acrValues.length ? ['acr'] : [])],
      ...scopeClaims,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
      ...(acrValues.length ? { acr: null } : {}),
    },
    conformIdTokenClaims: !opts.claimsInIdToken,
    pkce: { methods: ['S256'], required: () => true },
    async findAccount(_ctx: unknown, sub: string) {
      if (!accounts.has(sub)) return undefined;
      return {
        accountId: sub,
        // Read at call time so setAccountClaims shows in later answers; the provider masks by scope and grant.
        claims: async () => ({ ...accounts.get(sub)?.claims, sub }),
      };
    },
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: {
        enabled: true,
        // A public client may introspect only its own tokens (oidc-provider's default policy, made explicit).
        allowedPolicy: async (ctx: KoaContext, client: { clientAuthMethod: string }, token: { clientId?: string }) =>
          client.clientAuthMethod !== 'none' || token.clientId === ctx.oidc?.client?.clientId,
      },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource,
        userCodeConfirmSource,
        successSource,
      },
    },
    clientBasedCORS: () => false,
    renderError: async (ctx: KoaContext, out: Record<string, unknown>) => {
      ctx.type = 'html';
      const rows = Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="hg-${esc(k)}">${esc(String(v))}</span></p>`);
      ctx.body = page('Error', `<div id="hg-error">${rows.join('')}</div>`);
    },
    ttl: {
      ...ttl,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      RefreshToken: 24 * 3600,
      Interaction: 600,
      Grant: 24 * 3600,
      BackchannelAuthenticationRequest: 600,
    },
  };
}

function clientMetadata(c: TestClient): Record<string, unknown> {
  const grantTypes = c.grant_types ?? ['authorization_code'];
  return {
    redirect_uris: [],
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: c.client_secret === undefined ? 'none' : 'client_secret_basic',
    ...c,
    grant_types: grantTypes,
  };
}

async function signingKeys(): Promise<JWK[]> {
  const keys: JWK[] = [];
  // RS256 first: it is the default id_token_signed_response_alg.
  for (const alg of ['RS256', 'ES256']) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await exportJWK(privateKey)), kid: randomUUID(), alg, use: 'sig' });
  }
  return keys;
}

// ---------------------------------------------------------------------------
// Storage: one Map per provider (oidc-provider's own memory adapter is module-global and warns).

interface Stored {
  payload: Record<string, unknown>;
  expiresAt: number;
}

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

function memoryAdapterFactory() {
  const store = new Map<string, Stored>();
  const live = (key: string | undefined): Stored | undefined => {
    const hit = key === undefined ? undefined : store.get(key);
    if (hit && hit.expiresAt <= Date.now()) {
      store.delete(key as string);
      return undefined;
    }
    return hit;
  };
  const put = (key: string, payload: Record<string, unknown>, expiresIn: number, atLeast = 0) =>
    store.set(key, { payload, expiresAt: Math.max(Date.now() + expiresIn * 1000, atLeast) });
  const pointer = (key: string) => live(key)?.payload.id as string | undefined;

  return class MemoryAdapter {
    constructor(private readonly model: string) {}

    private key(id: string) {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: Record<string, unknown>, expiresIn: number) {
      put(this.key(id), structuredClone(payload), expiresIn);
      if (this.model === 'Session' && typeof payload.uid === 'string') put(`sessionUid:${payload.uid}`, { id }, expiresIn);
      if (typeof payload.userCode === 'string') put(`userCode:${payload.userCode}`, { id }, expiresIn);
      if (GRANTABLE.has(this.model) && typeof payload.grantId === 'string') {
        const grantKey = `grant:${payload.grantId}`;
        const held = live(grantKey);
        // The list lives as long as its longest-lived token, so revokeByGrantId reaches them all.
        put(grantKey, { keys: [...((held?.payload.keys as string[] | undefined) ?? []), this.key(id)] }, expiresIn, held?.expiresAt);
      }
    }

    async find(id: string) {
      const hit = live(this.key(id));
      return hit ? structuredClone(hit.payload) : undefined;
    }

    async findByUid(uid: string) {
      const id = pointer(`sessionUid:${uid}`);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode: string) {
      const id = pointer(`userCode:${userCode}`);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id: string) {
      const hit = live(this.key(id));
      if (hit) hit.payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string) {
      const grantKey = `grant:${grantId}`;
      for (const key of (live(grantKey)?.payload.keys as string[] | undefined) ?? []) store.delete(key);
      store.delete(grantKey);
    }
  };
}

// ---------------------------------------------------------------------------
// Interactions: GET /interaction/:uid shows the login or consent page, POSTs to
// /interaction/:uid/{login,consent,abort} finish it through the provider.

function interactionRoutes(provider: Provider, accounts: Map<string, TestAccount>, report: (e: ProviderErrorRecord) => void) {
  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const match = /^\/interaction\/([\w-]+)(?:\/(login|consent|abort))?(?:\?.*)?$/.exec(req.url ?? '');
    const uid = match?.[1];
    const step = match?.[2];
    if (!uid || (req.method === 'GET') !== (step === undefined) || (req.method !== 'GET' && req.method !== 'POST')) {
      return sendHtml(res, 404, page('Not found', '<p id="hg-error">No such page.</p>'));
    }

    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      report({ event: 'interaction.error', error: err instanceof Error ? err.message : String(err) });
      return sendHtml(res, 400, page('Sign-in expired', '<p id="hg-error">This sign-in is no longer valid. Start again from the application.</p>'));
    }
    // The interaction cookie names the interaction; the URL must name the same one.
    if (details.uid !== uid) return sendHtml(res, 400, page('Sign-in mismatch', '<p id="hg-error">This sign-in is no longer valid.</p>'));
    const prompt = details.prompt.name;

    if (step === undefined) {
      if (prompt === 'login') return sendHtml(res, 200, loginPage(uid, details.params.client_id));
      if (prompt === 'consent') return sendHtml(res, 200, consentPage(uid, details));
      return sendHtml(res, 501, page('Not supported', `<p id="hg-error">Prompt ${esc(prompt)} is not supported.</p>`));
    }

    if (step === 'abort') {
      return provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
    }

    const form = await readForm(req);
    if (step === 'login') {
      if (prompt !== 'login') return sendHtml(res, 400, page('Error', '<p id="hg-error">Sign-in is not expected now.</p>'));
      const account = checkPassword(accounts, form.get('username') ?? '', form.get('password') ?? '');
      if (!account) return sendHtml(res, 401, loginPage(uid, details.params.client_id, 'Invalid username or password.'));
      const login = { accountId: account.sub, ...(account.amr ? { amr: account.amr } : {}), ...(account.acr ? { acr: account.acr } : {}) };
      return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    }

    if (prompt !== 'consent' || !details.session) return sendHtml(res, 400, page('Error', '<p id="hg-error">Consent is not expected now.</p>'));
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (!grant) throw new Error('grant of the interaction not found');
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  };
}

/** The account whose login name (preferred_username, or sub) and password match, checked in constant time. */
function checkPassword(accounts: Map<string, TestAccount>, username: string, password: string): TestAccount | undefined {
  const account = [...accounts.values()].find((a) => a.claims.preferred_username === username || a.sub === username);
  // Compare against a throwaway value for an unknown user so both paths do the same work.
  const expected = account?.password ?? randomBytes(16).toString('hex');
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  const same = timingSafeEqual(digest(password), digest(expected));
  return account && same ? account : undefined;
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return new URLSearchParams();
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new Error('form body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// ---------------------------------------------------------------------------
// Pages. Element ids are what test/support/browser.ts drives.

function loginPage(uid: string, clientId: string, error?: string): string {
  return page(
    'Sign in',
    `<p>Sign in to continue to <strong>${esc(clientId)}</strong>.</p>
${error ? `<p id="hg-login-error" role="alert">${esc(error)}</p>` : ''}
<form id="hg-login" method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <label>Username <input id="hg-username" name="username" type="text" required autofocus></label>
  <label>Password <input id="hg-password" name="password" type="password" required></label>
  <button id="hg-login-submit" type="submit">Sign in</button>
</form>`,
  );
}

function consentPage(uid: string, details: InteractionDetails): string {
  const d = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  const items = [...(d.missingOIDCScope ?? []).map((s) => `scope ${s}`), ...(d.missingOIDCClaims ?? []).map((c) => `claim ${c}`)];
  return page(
    'Allow access',
    `<p><strong>${esc(details.params.client_id)}</strong> asks for:</p>
<ul id="hg-consent-items">${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>
<form id="hg-consent" method="post" action="/interaction/${esc(uid)}/consent"><button id="hg-consent-allow" type="submit">Allow</button></form>
<form id="hg-consent-deny" method="post" action="/interaction/${esc(uid)}/abort"><button id="hg-consent-deny-submit" type="submit">Deny</button></form>`,
  );
}

async function userCodeInputSource(ctx: KoaContext, form: string, _out: unknown, err?: { name?: string; userCode?: string }) {
  let message = '<p>Enter the code shown on your device.</p>';
  if (err?.userCode || err?.name === 'NoCodeError') message = '<p id="hg-device-error" role="alert">The code you entered is incorrect. Try again.</p>';
  else if (err?.name === 'AbortedError') message = '<p id="hg-device-error" role="alert">The sign-in request was cancelled.</p>';
  else if (err) message = '<p id="hg-device-error" role="alert">There was an error processing your request.</p>';
  ctx.type = 'html';
  ctx.body = page('Device sign-in', `${message}${form}<button id="hg-device-continue" type="submit" form="op.deviceInputForm">Continue</button>`);
}

async function userCodeConfirmSource(ctx: KoaContext, form: string, client: { clientId: string; clientName?: string }, _deviceInfo: unknown, userCode: string) {
  ctx.type = 'html';
  ctx.body = page(
    'Confirm device',
    `<p><strong>${esc(client.clientName ?? client.clientId)}</strong> wants to sign in. Check that your device shows <code id="hg-device-code">${esc(userCode)}</code>.</p>
${form}
<button id="hg-device-confirm" type="submit" form="op.deviceConfirmForm">Continue</button>
<button id="hg-device-abort" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
  );
}

async function successSource(ctx: KoaContext) {
  ctx.type = 'html';
  ctx.body = page('Signed in', '<p id="hg-device-success">Sign-in complete. You can return to your device.</p>');
}

async function logoutSource(ctx: KoaContext, form: string) {
  ctx.type = 'html';
  ctx.body = page(
    'Sign out',
    `${form}<button id="hg-logout-confirm" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button id="hg-logout-stay" type="submit" form="op.logoutForm">Stay signed in</button>`,
  );
}

async function postLogoutSuccessSource(ctx: KoaContext) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<p id="hg-logout-success">You are signed out.</p>');
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function sendHtml(res: http.ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
  res.end(html);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
