// The OIDC test harness against a real client (openid-client 6) and a real browser (Chromium):
// code flow with PKCE, the device flow, PKCE refusal, claims placement, and a quiet provider.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { addVirtualAuthenticator, enterDeviceCode, launchBrowser, signInAtProvider } from './browser.js';
import { startOidcProvider, type OidcProviderHandle, type TestAccount } from './oidc-provider.js';

const ALICE: TestAccount = {
  sub: 'u-alice',
  password: 'correct horse battery staple',
  claims: { preferred_username: 'alice', name: 'Alice A.', email: 'alice@example.test', email_verified: true, groups: ['eng', 'ops'], manager: 'u-bob' },
  amr: ['pwd', 'otp'],
  acr: 'urn:example:mfa',
};
const BOB: TestAccount = { sub: 'u-bob', password: 'bob-password', claims: { preferred_username: 'bob', email: 'bob@example.test', groups: [] } };
const ALICE_LOGIN = { username: 'alice', password: ALICE.password };
const WEB = { client_id: 'hourglass-web', client_secret: 'web-secret-0123456789' };
const CLI = 'hourglass-cli';
const SCOPE = 'openid email profile groups';
const insecure = { execute: [client.allowInsecureRequests] };

/** The client's redirect URI, and a localhost page for WebAuthn (IP origins are refused there). */
interface Callback {
  url: string;
  port: number;
  hits: string[];
  close(): Promise<void>;
}

async function startCallback(): Promise<Callback> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/webauthn') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><title>rp</title>');
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><title>callback</title><p id="callback">ok</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    port,
    hits,
    close: () => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())),
  };
}

let op: OidcProviderHandle;
let callback: Callback;
let browser: Browser;
let context: BrowserContext;
let consoleSpies: MockInstance[];

beforeAll(async () => {
  consoleSpies = [vi.spyOn(console, 'warn'), vi.spyOn(console, 'info'), vi.spyOn(console, 'error'), vi.spyOn(console, 'log')];
  callback = await startCallback();
  [op, browser] = await Promise.all([
    startOidcProvider({
      accounts: [ALICE, BOB],
      clients: [
        { ...WEB, redirect_uris: [callback.url], grant_types: ['authorization_code', 'refresh_token'] },
        { client_id: CLI, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] },
      ],
    }),
    launchBrowser(),
  ]);
});

afterEach(async () => {
  await context?.close();
});

afterAll(async () => {
  await browser?.close();
  await op?.stop();
  await callback?.close();
  for (const spy of consoleSpies ?? []) spy.mockRestore();
});

async function newPage() {
  context = await browser.newContext();
  return context.newPage();
}

async function webClient(issuer = op.issuer) {
  return client.discovery(new URL(issuer), WEB.client_id, WEB.client_secret, undefined, insecure);
}

async function authorizationRequest(config: client.Configuration, scope = SCOPE) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: callback.url,
    scope,
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return { url, verifier, state };
}

describe('the OIDC provider harness', () => {
  it('signs in through the login form with code + PKCE; the ID token carries only sub and auth facts, userinfo the claims', async () => {
    const config = await webClient();
    const { url, verifier, state } = await authorizationRequest(config);
    const page = await newPage();
    await page.goto(url.href);
    await signInAtProvider(page, ALICE_LOGIN);
    expect(page.url().startsWith(callback.url)).toBe(true);

    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
    const idToken = tokens.claims();
    expect(idToken).toMatchObject({ iss: op.issuer, sub: ALICE.sub, aud: WEB.client_id, amr: ['pwd', 'otp'], acr: 'urn:example:mfa' });
    expect(typeof idToken?.auth_time).toBe('number');
    for (const claim of ['email', 'groups', 'manager', 'name', 'preferred_username']) expect(idToken).not.toHaveProperty(claim);

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, ALICE.sub);
    expect(userinfo).toMatchObject({ sub: ALICE.sub, email: 'alice@example.test', email_verified: true, groups: ['eng', 'ops'], manager: 'u-bob' });

    op.setAccountClaims(ALICE.sub, { ...ALICE.claims, groups: ['eng'] });
    expect((await client.fetchUserInfo(config, tokens.access_token, ALICE.sub)).groups).toEqual(['eng']);
    op.setAccountClaims(ALICE.sub, ALICE.claims);

    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    await client.tokenRevocation(config, tokens.access_token);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });

  it('shows an error on the login page for a wrong password and never reaches the client', async () => {
    const config = await webClient();
    const { url } = await authorizationRequest(config);
    const page = await newPage();
    await page.goto(url.href);
    const hitsBefore = callback.hits.length;
    await expect(signInAtProvider(page, { username: 'alice', password: 'wrong' })).rejects.toThrow(/Invalid username or password/);
    expect(await page.locator('#hg-login-error').innerText()).toBe('Invalid username or password.');
    expect(await page.locator('form#hg-login').count()).toBe(1);
    expect(callback.hits.length).toBe(hitsBefore);
  });

  it('puts the scope claims into the ID token when claimsInIdToken is set', async () => {
    const other = await startOidcProvider({ accounts: [BOB], clients: [{ ...WEB, redirect_uris: [callback.url] }], claimsInIdToken: true });
    try {
      const config = await webClient(other.issuer);
      const { url, verifier, state } = await authorizationRequest(config);
      const page = await newPage();
      await page.goto(url.href);
      await signInAtProvider(page, { username: 'bob', password: BOB.password });
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.claims()).toMatchObject({ sub: BOB.sub, email: 'bob@example.test', groups: [], preferred_username: 'bob' });
      expect(tokens.claims()).not.toHaveProperty('amr');
    } finally {
      await other.stop();
    }
  });

  it('honours the claims parameter (a claim asked for in the ID token is put there) and signs out', async () => {
    const config = await webClient();
    const { url, verifier, state } = await authorizationRequest(config, 'openid');
    url.searchParams.set('claims', JSON.stringify({ id_token: { groups: { essential: true } } }));
    const page = await newPage();
    await page.goto(url.href);
    await signInAtProvider(page, ALICE_LOGIN);
    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()).toMatchObject({ sub: ALICE.sub, groups: ['eng', 'ops'] });
    expect(tokens.claims()).not.toHaveProperty('email');

    // RP-initiated logout ends the IdP session: the next authorization asks for the password again.
    await page.goto(`${op.issuer}/session/end`);
    await page.locator('#hg-logout-confirm').click();
    await page.locator('#hg-logout-success').waitFor();
    await page.goto((await authorizationRequest(config, 'openid')).url.href);
    expect(await page.locator('form#hg-login').count()).toBe(1);
  });

  it('runs the device flow: the browser enters the user code and signs in, polling yields tokens', async () => {
    const config = await client.discovery(new URL(op.issuer), CLI, undefined, client.None(), insecure);
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid email groups' });
    expect(device.interval).toBe(1);
    const polling = client.pollDeviceAuthorizationGrant(config, device);

    const page = await newPage();
    await enterDeviceCode(page, device.verification_uri, device.user_code, ALICE_LOGIN);
    const tokens = await polling;
    expect(tokens.claims()).toMatchObject({ sub: ALICE.sub, amr: ['pwd', 'otp'] });
    expect(await client.fetchUserInfo(config, tokens.access_token, ALICE.sub)).toMatchObject({ email: 'alice@example.test', groups: ['eng', 'ops'] });
  });

  it('refuses an authorization request without PKCE, or with the plain method', async () => {
    const config = await webClient();
    const withoutPkce = client.buildAuthorizationUrl(config, { redirect_uri: callback.url, scope: 'openid', state: 's1' });
    const plain = client.buildAuthorizationUrl(config, {
      redirect_uri: callback.url,
      scope: 'openid',
      state: 's2',
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    for (const url of [withoutPkce, plain]) {
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(303);
      const location = new URL(res.headers.get('location') ?? '');
      expect(location.href.startsWith(callback.url)).toBe(true);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.has('code')).toBe(false);
    }
  });

  it('gives a page a virtual WebAuthn authenticator', async () => {
    const page = await newPage();
    const { authenticatorId, cdp } = await addVirtualAuthenticator(page);
    await page.goto(`http://localhost:${callback.port}/webauthn`);
    const type = await page.evaluate(async () => {
      const credential = await navigator.credentials.create({
        publicKey: {
          rp: { name: 'Hourglass', id: 'localhost' },
          user: { id: new Uint8Array(16), name: 'alice', displayName: 'Alice' },
          challenge: crypto.getRandomValues(new Uint8Array(32)),
          pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
          authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        },
      });
      return credential?.type;
    });
    expect(type).toBe('public-key');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
  });

  it('printed no oidc-provider warnings or notices and reported no server errors', () => {
    const printed = consoleSpies.flatMap((spy) => spy.mock.calls.map((args) => args.map(String).join(' ')));
    expect(printed.filter((line) => line.includes('oidc-provider'))).toEqual([]);
    expect(op.errors.filter((e) => e.event === 'server_error' || e.event === 'interaction.error')).toEqual([]);
  });
});
