// Sign-in with a real OpenID provider (oidc-provider) through a real browser (Chromium): the
// code flow with PKCE into a cookie session, the device flow into CLI tokens, and the attacks
// the flow must refuse (login CSRF, unverified e-mail, a second account claiming a principal).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHourglass, type HourglassSystem } from '../../src/compose.js';
import { parseConfig } from '../support/config.js';
import { runCli } from '../support/spawn-server.js';
import { enterDeviceCode, launchBrowser, signInAtProvider } from '../support/browser.js';
import { startOidcProvider, type OidcProviderHandle, type TestAccount } from '../support/oidc-provider.js';
import { freePort } from '../support/server-process.js';

const ALICE: TestAccount = {
  sub: 'u-alice',
  password: 'alice-password',
  claims: {
    preferred_username: 'alice',
    name: 'Alice A.',
    email: 'Alice@Example.test',
    email_verified: true,
    groups: ['eng', 'hg-admins'],
    manager: 'bob@example.test',
  },
  amr: ['pwd', 'otp'],
};
const MALLORY: TestAccount = {
  sub: 'u-mallory',
  password: 'mallory-password',
  claims: { preferred_username: 'mallory', email: 'mallory@example.test', email_verified: false, groups: [] },
};
const ALICE2: TestAccount = {
  sub: 'u-alice-2',
  password: 'alice2-password',
  claims: { preferred_username: 'alice2', email: 'alice@example.test', email_verified: true, groups: [] },
};
const EVE: TestAccount = { sub: 'u-eve', password: 'eve-password', claims: { preferred_username: 'eve', email: 'eve@example.test', email_verified: true } };
const ROOT: TestAccount = {
  sub: 'u-root',
  password: 'root-password',
  claims: { preferred_username: 'root', email: 'admin@example.test', email_verified: true },
};

let op: OidcProviderHandle;
let other: OidcProviderHandle;
let browser: Browser;
let hg: HourglassSystem;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const callback = `${base}/v1/auth/oidc/corp/callback`;
  [op, other, browser] = await Promise.all([
    startOidcProvider({
      accounts: [ALICE, MALLORY, ALICE2, ROOT, EVE],
      clients: [
        {
          client_id: 'hourglass',
          client_secret: 'hourglass-client-secret-0123456789',
          redirect_uris: [callback],
          grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
        },
        // Another application at the same provider (its codes and tokens are for it, not Hourglass).
        { client_id: 'other-app', client_secret: 'other-app-secret-0123456789', redirect_uris: [callback] },
      ],
    }),
    // Another provider that knows a client of the same id (a mix-up: its codes must not sign anyone in).
    startOidcProvider({
      accounts: [ALICE],
      clients: [{ client_id: 'hourglass', client_secret: 'hourglass-client-secret-0123456789', redirect_uris: [callback] }],
    }),
    launchBrowser(),
  ]);
  const config = parseConfig(
    `
server: { listen: "127.0.0.1:${port}", publicUrl: "${base}", store: "sqlite::memory:" }
identity:
  roles: [{ group: hg-admins, roles: [auditor] }]
  oidc:
    - name: corp
      displayName: Corp SSO
      issuer: ${op.issuer}
      clientId: hourglass
      clientSecret: \${OIDC_SECRET}
      scopes: [openid, email, profile, groups]
      claims: { principal: email, groups: groups, manager: manager }
principals:
  - { id: admin@example.test, roles: [admin], apiTokens: [{ sha256: "${'0'.repeat(64)}" }] }
targets: {}
policies: []
`,
    { OIDC_SECRET: 'hourglass-client-secret-0123456789' },
  );
  hg = await createHourglass(config, {}, { metrics: false });
  await hg.server!.listen({ host: '127.0.0.1', port });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await hg?.close();
  await op?.stop();
  await other?.stop();
});

async function browserSignIn(account: TestAccount, returnTo = '/v1/auth/session') {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/v1/auth/oidc/corp/login?returnTo=${encodeURIComponent(returnTo)}`);
  await signInAtProvider(page, { username: account.claims.preferred_username as string, password: account.password });
  await page.waitForURL((u) => u.origin === base);
  return { context, page };
}

const audit = async () =>
  (await hg.stores.store.listAudit({ limit: 200 })).events.map((e) => ({ type: e.type, details: e.details as Record<string, unknown> }));

describe('browser sign-in (authorization code flow with PKCE)', () => {
  it('provisions the principal from the claims, sets a secure session cookie, and lands on returnTo', async () => {
    const { context, page } = await browserSignIn(ALICE);
    expect(new URL(page.url()).pathname).toBe('/v1/auth/session');
    const body = JSON.parse(await page.locator('body').innerText());
    // The e-mail names the principal (lower-cased); groups and manager come from userinfo (the ID token carries only sub).
    expect(body.principal).toEqual({ id: 'alice@example.test', groups: ['eng', 'hg-admins'], roles: ['auditor'] });
    expect(body.session.source).toBe('oidc:corp');
    expect(body.session.amr).toEqual(['pwd', 'otp']);
    expect(body.csrfToken).toMatch(/^[\w-]{43}$/);
    const cookie = (await context.cookies()).find((c) => c.name === 'hourglass_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Lax');
    expect(cookie.value).toMatch(/^hgs_/);
    const stored = await hg.stores.principals.get('alice@example.test');
    expect(stored).toMatchObject({ source: 'oidc:corp', manager: 'bob@example.test', email: 'Alice@Example.test', displayName: 'Alice A.', active: true });
    const events = await audit();
    expect(events.find((e) => e.type === 'principal.provisioned')?.details.principal).toBe('alice@example.test');
    expect(events.find((e) => e.type === 'auth.signed_in')?.details).toMatchObject({
      principal: 'alice@example.test',
      provider: 'oidc:corp',
      client: 'browser',
    });

    // A write with the cookie needs the CSRF token; with it, it works.
    const post = (headers: Record<string, string>) =>
      page.evaluate(
        async ([h]) => {
          const r = await fetch('/v1/tokens', {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...h },
            body: JSON.stringify({ name: 'laptop', scopes: ['read'] }),
          });
          return { status: r.status, body: await r.json() };
        },
        [headers] as const,
      );
    const refused = await post({});
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/x-csrf-token/);
    expect((await post({ 'x-csrf-token': 'wrong' })).status).toBe(403);
    const made = await post({ 'x-csrf-token': body.csrfToken });
    expect(made.status).toBe(201);
    expect(made.body.token).toMatch(/^hgp_/);

    // Signing out ends the session: the cookie no longer authenticates.
    const out = await page.evaluate(
      async (csrf) => (await fetch('/v1/auth/logout', { method: 'POST', headers: { 'x-csrf-token': csrf } })).status,
      body.csrfToken,
    );
    expect(out).toBe(200);
    expect(await page.evaluate(async () => (await fetch('/v1/auth/session')).status)).toBe(401);
    await context.close();
  });

  it('refuses a callback that no sign-in in this browser started (login CSRF), or another sign-in started', async () => {
    // The attacker signs in as themselves and keeps the callback URL (code and state) to plant on a victim.
    const attacker = await browser.newContext();
    const page = await attacker.newPage();
    let callbackUrl = '';
    page.on('request', (r) => {
      if (r.url().startsWith(`${base}/v1/auth/oidc/corp/callback`)) callbackUrl = r.url();
    });
    await page.goto(`${base}/v1/auth/oidc/corp/login`);
    await signInAtProvider(page, { username: 'eve', password: EVE.password });
    expect(callbackUrl).toContain('code=');
    // A victim with no sign-in of their own in progress: no flow cookie, refused.
    const victim = await browser.newContext();
    const vpage = await victim.newPage();
    const res = await vpage.goto(callbackUrl);
    expect(res!.status()).toBe(401);
    expect(JSON.parse(await vpage.locator('body').innerText()).error.code).toBe('HG_SIGN_IN_REFUSED');
    // A victim who started a sign-in of their own: the planted state is not theirs, refused.
    await vpage.goto(`${base}/v1/auth/oidc/corp/login`);
    expect(new URL(vpage.url()).origin).toBe(op.issuer);
    const res2 = await vpage.goto(callbackUrl);
    expect(res2!.status()).toBe(401);
    expect((await victim.cookies()).some((c) => c.name === 'hourglass_session')).toBe(false);
    // The attacker's own callback, replayed: the flow cookie was spent.
    expect((await page.goto(callbackUrl))!.status()).toBe(401);
    await attacker.close();
    await victim.close();
    expect((await audit()).filter((e) => e.type === 'auth.sign_in_refused').length).toBeGreaterThanOrEqual(3);
  });

  it('refuses an unverified e-mail, a second account claiming the same principal, and a principal of the configuration file', async () => {
    for (const [account, code, why] of [
      [MALLORY, 'HG_SIGN_IN_REFUSED', /not verified/],
      [ALICE2, 'HG_IDENTITY_CONFLICT', /already linked to another account/],
      [ROOT, 'HG_IDENTITY_CONFLICT', /configuration file/],
    ] as const) {
      const { context, page } = await browserSignIn(account);
      const body = JSON.parse(await page.locator('body').innerText());
      expect(body.error.code, account.sub).toBe(code);
      expect(body.error.message).toMatch(why);
      expect((await context.cookies()).some((c) => c.name === 'hourglass_session')).toBe(false);
      await context.close();
    }
    expect(await hg.stores.principals.get('mallory@example.test')).toBeUndefined();
  });

  it('refuses a code the provider issued to another client, and a code from another provider (mix-up)', async () => {
    // The provider refuses to redeem another client's code for Hourglass; openid-client refuses an
    // authorization response whose `iss` is not the provider's (RFC 9207).
    const rewrites: [string, (u: URL) => URL, string][] = [
      ['another client', (u) => (u.searchParams.set('client_id', 'other-app'), u), 'the provider answered invalid_grant'],
      ['another provider', (u) => new URL(`${u.pathname}${u.search}`, other.issuer), "the provider's answer was refused (OAUTH_INVALID_RESPONSE)"],
    ];
    for (const [what, rewrite, reason] of rewrites) {
      const context = await browser.newContext();
      const page = await context.newPage();
      // Someone in the middle sends the authorization request elsewhere, with Hourglass's state and PKCE challenge.
      await page.route(`${base}/v1/auth/oidc/corp/login`, async (route) => {
        const response = await route.fetch({ maxRedirects: 0 });
        const location = rewrite(new URL(response.headers().location!)).href;
        await route.fulfill({ response, headers: { ...response.headers(), location } });
      });
      const answer = page.waitForResponse((r) => r.url().startsWith(`${base}/v1/auth/oidc/corp/callback`));
      await page.goto(`${base}/v1/auth/oidc/corp/login`);
      await signInAtProvider(page, { username: 'alice', password: ALICE.password });
      const res = await answer;
      expect(res.status(), what).toBe(401);
      expect((await res.json()).error.code, what).toBe('HG_SIGN_IN_REFUSED');
      expect(
        (await context.cookies()).some((c) => c.name === 'hourglass_session'),
        what,
      ).toBe(false);
      expect((await audit()).filter((e) => e.type === 'auth.sign_in_refused').at(-1)!.details.reason, what).toBe(reason);
      await context.close();
    }
  });

  it('returns only to a path on this server', async () => {
    const { page, context } = await browserSignIn(ALICE, '//evil.example/steal');
    expect(new URL(page.url()).origin).toBe(base);
    expect(new URL(page.url()).pathname).toBe('/');
    await context.close();
  });
});

describe('CLI sign-in (device authorization grant)', () => {
  it('gives short-lived access and a refresh token that works once', async () => {
    const start = await fetch(`${base}/v1/auth/oidc/corp/device`, { method: 'POST' }).then((r) => r.json());
    expect(start.userCode).toBeTruthy();
    const pending = await fetch(`${base}/v1/auth/oidc/corp/device/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handle: 'forged' }),
    });
    expect(pending.status).toBe(400);
    const poll = fetch(`${base}/v1/auth/oidc/corp/device/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handle: start.handle }),
    }).then((r) => r.json());
    const context = await browser.newContext();
    await enterDeviceCode(await context.newPage(), start.verificationUri, start.userCode, { username: 'alice', password: ALICE.password });
    const done = await poll;
    expect(done).toMatchObject({ status: 'signed_in', principal: 'alice@example.test' });
    expect(done.accessToken).toMatch(/^hga_/);
    const me = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${done.accessToken}` } }).then((r) => r.json());
    expect(me.id).toBe('alice@example.test');
    // The access token is no cookie, and a cookie made of it does not authenticate.
    expect((await fetch(`${base}/v1/me`, { headers: { cookie: `hourglass_session=${done.accessToken}` } })).status).toBe(401);
    const refresh = (token: string) =>
      fetch(`${base}/v1/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: token }) });
    const r1 = await refresh(done.refreshToken);
    expect(r1.status).toBe(200);
    const next = await r1.json();
    expect(next.accessToken).not.toBe(done.accessToken);
    expect((await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${done.accessToken}` } })).status).toBe(401);
    expect((await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${next.accessToken}` } })).status).toBe(200);
    expect((await refresh(done.refreshToken)).status).toBe(401);
    await context.close();
  });
});

describe('hourglass login --sso', () => {
  it('signs in with the device code, stores the session 0600, and refreshes it as it runs out', async () => {
    const home = mkdtempSync(join(tmpdir(), 'hg-sso-'));
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), HOURGLASS_URL: base, HOURGLASS_TOKEN: '' };
    delete (env as Record<string, string | undefined>).HOURGLASS_TOKEN;
    const proc = spawn(process.execPath, ['bin/hourglass.js', 'login', '--sso', 'corp'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    // Listened for from the start: the CLI may be done before the browser helper returns.
    const exited = new Promise<number>((r) => proc.once('close', (c) => r(c ?? 1)));
    await expect.poll(() => stderr, { timeout: 20_000 }).toMatch(/enter the code (\S+)/);
    const [, uri] = /open (\S+)/.exec(stderr)!;
    const [, code] = /enter the code (\S+)/.exec(stderr)!;
    const context = await browser.newContext();
    // The page opened from the complete URI still asks to confirm the code.
    await enterDeviceCode(await context.newPage(), uri!.split('?')[0]!, code!, { username: 'alice', password: ALICE.password });
    const exit = await exited;
    expect(exit, stderr).toBe(0);
    expect(stdout).toContain('signed in to');
    expect(stdout).toContain('as alice@example.test');
    const file = join(home, '.config', 'hourglass', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored.token).toMatch(/^hga_/);
    expect(stored.refreshToken).toMatch(/^hgr_/);
    const cli = (args: string[]) => runCli(args, { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), HOURGLASS_URL: base });
    const who = await cli(['whoami', '--json']);
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout).id).toBe('alice@example.test');
    // Pretend the access token is about to end: the next command refreshes and stores the new pair.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, JSON.stringify({ ...stored, expiresAt: Date.now() + 1000 }), { mode: 0o600 });
    const again = await cli(['whoami', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const refreshed = JSON.parse(readFileSync(file, 'utf8'));
    expect(refreshed.token).not.toBe(stored.token);
    expect(refreshed.refreshToken).not.toBe(stored.refreshToken);
    expect(again.stdout + again.stderr).not.toContain(refreshed.token);
    await context.close();
  }, 90_000);
});

describe('hourglass login --sso --browser (loopback redirect, RFC 8252)', () => {
  it('signs in in the browser, comes back to the CLI listener, and stores the session 0600', async () => {
    const home = mkdtempSync(join(tmpdir(), 'hg-sso-browser-'));
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), HOURGLASS_URL: base };
    delete (env as Record<string, string | undefined>).HOURGLASS_TOKEN;
    const proc = spawn(process.execPath, ['bin/hourglass.js', 'login', '--sso', 'corp', '--browser'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number>((r) => proc.once('close', (c) => r(c ?? 1)));
    await expect.poll(() => stderr, { timeout: 20_000 }).toMatch(/open (\S+)/);
    const [, login] = /open (\S+)/.exec(stderr)!;
    const cli = new URL(login!).searchParams.get('cli')!;
    expect(cli).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hourglass\/[0-9a-f]{24}$/);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(login!);
    await signInAtProvider(page, { username: 'alice', password: ALICE.password });
    await page.waitForURL((u) => u.href.startsWith(cli));
    expect(await page.locator('body').innerText()).toContain('Signed in');
    // The browser itself got no Hourglass session: the CLI did.
    expect((await context.cookies(base)).map((c) => c.name)).not.toContain('hourglass_session');
    const exit = await exited;
    expect(exit, stderr).toBe(0);
    expect(stdout).toContain('as alice@example.test');
    const file = join(home, '.config', 'hourglass', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored.token).toMatch(/^hga_/);
    expect(stored.refreshToken).toMatch(/^hgr_/);
    const who = await runCli(['whoami', '--json'], { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), HOURGLASS_URL: base });
    expect(JSON.parse(who.stdout).id).toBe('alice@example.test');
    await context.close();
  }, 90_000);

  it('the code is worth nothing without the verifier, works once, and only comes back to a loopback address', async () => {
    const { createHash, randomBytes } = await import('node:crypto');
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const start = (cli: string, c = challenge) => `${base}/v1/auth/oidc/corp/login?cli=${encodeURIComponent(cli)}&cliChallenge=${c}`;
    for (const bad of [
      'https://evil.example/cb',
      'http://evil.example:8080/cb',
      'http://127.0.0.1/cb',
      'http://127.0.0.1:9/cb?x=1',
      'http://127.0.0.1.evil.example:9/cb',
    ]) {
      expect((await fetch(start(bad), { redirect: 'manual' })).status, bad).toBe(400);
    }
    expect((await fetch(start('http://127.0.0.1:9/cb', 'short'), { redirect: 'manual' })).status).toBe(400);
    expect((await fetch(`${base}/v1/auth/oidc/corp/login?cli=${encodeURIComponent('http://127.0.0.1:9/cb')}`, { redirect: 'manual' })).status).toBe(400);
    // A real round trip, stopped where the browser would reach the CLI's listener (nothing listens on port 9).
    const context = await browser.newContext();
    const page = await context.newPage();
    let landed = '';
    await page.route('http://127.0.0.1:9/**', (route) => {
      landed = route.request().url();
      return route.fulfill({ status: 200, body: 'ok' });
    });
    await page.goto(start('http://127.0.0.1:9/cb'));
    await signInAtProvider(page, { username: 'eve', password: EVE.password });
    await expect.poll(() => landed).toMatch(/^http:\/\/127\.0\.0\.1:9\/cb\?code=/);
    const code = new URL(landed).searchParams.get('code')!;
    const redeem = (v: string) =>
      fetch(`${base}/v1/auth/oidc/corp/cli/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code, verifier: v }),
      });
    const wrong = await redeem(randomBytes(32).toString('base64url'));
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('HG_SIGN_IN_REFUSED');
    const ok = await redeem(verifier);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'signed_in', principal: 'eve@example.test', accessToken: expect.stringMatching(/^hga_/) });
    expect((await redeem(verifier)).status).toBe(401); // once only
    const reasons = (await audit()).filter((e) => e.type === 'auth.sign_in_refused').map((e) => e.details.reason);
    expect(reasons).toEqual(expect.arrayContaining(['the verifier does not match the sign-in code', 'the sign-in code was used already']));
    await context.close();
  }, 60_000);
});
