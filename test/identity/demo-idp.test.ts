// The demo's SSO profile end to end: examples/demo.yaml as shipped (only ports, the store and file
// paths moved) against the bundled demo OpenID provider of scripts/demo-idp.ts, through real
// Chromium and the real CLI. Hourglass starts first, without the provider, as `npm start` does.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { DEMO_ACCOUNTS, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_IDP_PORT, demoIdpPort, startDemoIdp } from '../../scripts/demo-idp.js';
import { createHourglass, type HourglassSystem } from '../../src/compose.js';
import { enterDeviceCode, launchBrowser, signInAtProvider } from '../support/browser.js';
import { parseConfig } from '../support/config.js';
import type { OidcProviderHandle } from '../support/oidc-provider.js';
import { BIN, ROOT, runCli } from '../support/spawn-server.js';
import { freePort } from '../support/server-process.js';

const DEMO_YAML = readFileSync(new URL('../../examples/demo.yaml', import.meta.url), 'utf8');
const account = (email: string) => {
  const a = DEMO_ACCOUNTS.find((x) => x.claims.email === email);
  if (!a) throw new Error(`no demo account ${email}`);
  return { username: a.claims.preferred_username as string, password: a.password };
};
const ERIN = account('erin@example.com');
const FRANK = account('frank@example.com');
const GRACE = account('grace@example.com');

const tmp = mkdtempSync(join(tmpdir(), 'hg-demo-idp-'));
let idpPort: number;
let idp: OidcProviderHandle | undefined;
let browser: Browser;
let hg: HourglassSystem;
let base: string;

beforeAll(async () => {
  const [port, otherPort] = await Promise.all([freePort(), freePort()]);
  idpPort = otherPort;
  base = `http://127.0.0.1:${port}`;
  // The shipped file; only what must differ on a test machine changes: ports, the store and the
  // key files (under a temp directory, not the repository's .hourglass/).
  const doc = parseDocument(DEMO_YAML.replaceAll('.hourglass/', `${tmp}/`));
  doc.setIn(['server', 'listen'], `127.0.0.1:${port}`);
  doc.setIn(['server', 'publicUrl'], base);
  doc.setIn(['identity', 'oidc', 0, 'issuer'], `http://127.0.0.1:${idpPort}`);
  const config = parseConfig(doc.toString(), {}, 'demo.yaml');
  expect(config.server.store).toBe(`sqlite:${tmp}/hourglass.db`);
  [hg, browser] = await Promise.all([createHourglass(config, {}, { metrics: false, cwd: tmp }), launchBrowser()]);
  await hg.start();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await hg?.close();
  await idp?.stop();
});

const json = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${base}${path}`, init);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

/** A request made in the browser with its session cookie (writes send the CSRF token). */
async function inBrowser(page: Page, method: string, path: string, csrf?: string, body?: unknown) {
  return page.evaluate(
    async ([m, p, c, b]) => {
      const r = await fetch(p, {
        method: m,
        headers: { 'content-type': 'application/json', ...(c ? { 'x-csrf-token': c } : {}) },
        ...(b === undefined ? {} : { body: JSON.stringify(b) }),
      });
      return { status: r.status, body: await r.json() };
    },
    [method, path, csrf, body] as const,
  );
}

/** `hourglass login --sso demo` with its own config home; the person enters the code in Chromium. */
async function cliLogin(creds: { username: string; password: string }) {
  const home = mkdtempSync(join(tmp, 'cli-'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
  const proc = spawn(process.execPath, [BIN, 'login', '--url', base, '--sso', 'demo'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const exited = new Promise<number>((r) => proc.once('close', (c) => r(c ?? 1)));
  await expect.poll(() => stderr, { timeout: 20_000 }).toMatch(/enter the code (\S+)/);
  const [, uri] = /open (\S+)/.exec(stderr)!;
  const [, code] = /enter the code (\S+)/.exec(stderr)!;
  expect(new URL(uri!).origin).toBe(idp!.issuer);
  const context = await browser.newContext();
  await enterDeviceCode(await context.newPage(), uri!.split('?')[0]!, code!, creds);
  await context.close();
  expect(await exited, stderr).toBe(0);
  const stored = JSON.parse(readFileSync(join(home, '.config', 'hourglass', 'credentials.json'), 'utf8')) as { token: string };
  return { stdout, token: stored.token, cli: (args: string[]) => runCli(args, { HOME: home, XDG_CONFIG_HOME: join(home, '.config') }) };
}

describe('examples/demo.yaml with the bundled demo IdP (npm start, then npm run demo:idp)', () => {
  it('starts without the provider, lists it, and says plainly that it cannot be reached yet', async () => {
    const providers = await json('/v1/auth/providers');
    expect(providers.body).toEqual({
      providers: [{ name: 'demo', displayName: 'Demo SSO (npm run demo:idp)', kind: 'oidc', login: '/v1/auth/oidc/demo/login' }],
    });
    const login = await fetch(`${base}/v1/auth/oidc/demo/login?returnTo=/v1/auth/session`, { redirect: 'manual' });
    expect(login.status).toBe(401);
    expect(((await login.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'HG_SIGN_IN_REFUSED',
      message: expect.stringMatching(/could not be reached/),
    });
    // Now the second terminal: the provider comes up and the next sign-in discovers it.
    idp = await startDemoIdp({ port: idpPort, hourglassUrl: base });
    expect(idp.issuer).toBe(`http://127.0.0.1:${idpPort}`);
  });

  it('erin signs in in the browser (code flow): an SSO principal with her groups and manager from the provider', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/v1/auth/oidc/demo/login?returnTo=/v1/auth/session`);
    expect(new URL(page.url()).origin).toBe(idp!.issuer);
    await signInAtProvider(page, ERIN);
    await page.waitForURL((u) => u.origin === base);
    expect(new URL(page.url()).pathname).toBe('/v1/auth/session');
    const me = JSON.parse(await page.locator('body').innerText());
    expect(me.principal).toEqual({ id: 'erin@example.com', groups: ['developers'], roles: [] });
    expect(me.session).toMatchObject({ source: 'oidc:demo', amr: ['pwd'] });
    expect(await hg.stores.principals.get('erin@example.com')).toMatchObject({
      source: 'oidc:demo',
      manager: 'frank@example.com',
      email: 'erin@example.com',
      displayName: 'Erin Example',
      active: true,
    });
    // Self-service works for her at once, like for alice with a token.
    const read = await inBrowser(page, 'POST', '/v1/requests', me.csrfToken, { entitlements: ['demo-db/read'], duration: '30m' });
    expect(read.status, JSON.stringify(read.body)).toBe(201);
    expect(read.body.status).toBe('active');
    await context.close();
  });

  it('frank signs in from the CLI (hourglass login --sso demo, device code) with the MFA his IdP reported', async () => {
    const frank = await cliLogin(FRANK);
    expect(frank.stdout).toContain(`signed in to ${base} as frank@example.com`);
    const who = await frank.cli(['whoami', '--json']);
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ id: 'frank@example.com', groups: ['sre-leads'], roles: [] });
    const sessions = await json('/v1/sessions', { headers: { authorization: `Bearer ${frank.token}` } });
    expect(sessions.body.sessions).toEqual([
      expect.objectContaining({ principal: 'frank@example.com', source: 'oidc:demo', client: 'cli', amr: ['pwd', 'otp'] }),
    ]);
  }, 90_000);

  it("erin asks for demo-db/admin; frank, her manager and an SRE lead, approves it from the CLI: the demo's policies hold for SSO people", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/v1/auth/oidc/demo/login?returnTo=/v1/auth/session`);
    await signInAtProvider(page, ERIN);
    await page.waitForURL((u) => u.origin === base);
    const { csrfToken } = JSON.parse(await page.locator('body').innerText());

    // The explanation names frank as her manager (he is known now) and as an eligible approver.
    const explained = await inBrowser(page, 'GET', '/v1/policies/explain?entitlement=demo-db/admin&duration=1h');
    expect(explained.status).toBe(200);
    expect(explained.body).toMatchObject({ principal: 'erin@example.com', principalKnown: true, manager: 'frank@example.com', policy: 'developers-admin' });
    expect(explained.body.approvals[0].eligibleApprovers).toEqual(expect.arrayContaining(['frank@example.com', 'bob', 'carol']));
    expect(explained.body.approvals[0].eligibleApprovers).not.toContain('erin@example.com');

    const asked = await inBrowser(page, 'POST', '/v1/requests', csrfToken, {
      entitlements: ['demo-db/admin'],
      duration: '1h',
      reason: 'fix index',
      ticket: 'INC-42',
    });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    expect(asked.body).toMatchObject({ status: 'pending', requester: 'erin@example.com' });
    const id = asked.body.id as string;

    const frank = await cliLogin(FRANK);
    const approvable = await frank.cli(['requests', '--approvable', '--json']);
    expect(approvable.code, approvable.stderr).toBe(0);
    expect(approvable.stdout).toContain(id);
    const approved = await frank.cli(['approve', id, '--json']);
    expect(approved.code, approved.stderr).toBe(0);

    await expect.poll(async () => (await inBrowser(page, 'GET', `/v1/requests/${id}`)).body.status, { timeout: 10_000 }).toBe('active');
    const check = await json(`/v1/check?principal=${encodeURIComponent('erin@example.com')}&entitlement=demo-db/admin`, {
      headers: { authorization: 'Bearer app-demo-token' },
    });
    expect(check.body).toMatchObject({ allowed: true, requestId: id });
    await context.close();
  }, 120_000);

  it('grace is an admin through identity.roles (group hourglass-admins)', async () => {
    const start = await json('/v1/auth/oidc/demo/device', { method: 'POST' });
    expect(start.status).toBe(200);
    const poll = json('/v1/auth/oidc/demo/device/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handle: start.body.handle }),
    });
    const context = await browser.newContext();
    await enterDeviceCode(await context.newPage(), start.body.verificationUri, start.body.userCode, GRACE);
    await context.close();
    const done = await poll;
    expect(done.body).toMatchObject({ status: 'signed_in', principal: 'grace@example.com' });
    const me = await json('/v1/me', { headers: { authorization: `Bearer ${done.body.accessToken}` } });
    expect(me.body).toMatchObject({ id: 'grace@example.com', groups: ['hourglass-admins'], roles: ['admin'] });
    // An admin may list another principal's sessions: erin's browser sessions.
    const sessions = await json('/v1/sessions?principal=erin%40example.com', { headers: { authorization: `Bearer ${done.body.accessToken}` } });
    expect(sessions.status).toBe(200);
    expect(sessions.body.sessions.length).toBeGreaterThan(0);
    expect(sessions.body.sessions.every((x: { principal: string }) => x.principal === 'erin@example.com')).toBe(true);
  }, 60_000);

  it('the provider refuses a wrong password and knows the demo client by the secret in examples/demo.yaml', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/v1/auth/oidc/demo/login`);
    await expect(signInAtProvider(page, { username: ERIN.username, password: 'wrong' })).rejects.toThrow(/Invalid username or password/);
    await context.close();
    const discovery = (await (await fetch(`${idp!.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code']));
    // The client examples/demo.yaml names, with its secret: the token endpoint knows it (a bad code, not a bad client).
    const token = await fetch(`${idp!.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${DEMO_CLIENT_ID}:${DEMO_CLIENT_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'nope',
        redirect_uri: `${base}/v1/auth/oidc/demo/callback`,
        code_verifier: 'x'.repeat(43),
      }),
    });
    expect(((await token.json()) as { error: string }).error).toBe('invalid_grant');
    const oidc = parseDocument(DEMO_YAML).getIn(['identity', 'oidc', 0]) as { toJSON(): Record<string, unknown> };
    expect(oidc.toJSON()).toMatchObject({
      clientId: DEMO_CLIENT_ID,
      clientSecret: DEMO_CLIENT_SECRET,
      issuer: `http://127.0.0.1:\${HOURGLASS_DEMO_IDP_PORT:-${DEMO_IDP_PORT}}`,
    });
  });
});

describe('npm run demo:idp (scripts/demo-idp.ts as a script)', () => {
  it('prints the accounts, the login URL and the CLI command, honours HOURGLASS_DEMO_IDP_PORT, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    // Exactly the command of package.json's demo:idp, without npm in between.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const [node, ...args] = pkg.scripts['demo:idp']!.split(' ');
    expect(node).toBe('node');
    const proc = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: tmp, HOURGLASS_DEMO_IDP_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | string>((r) => proc.once('close', (c, s) => r(c ?? s ?? 'none')));
    await expect.poll(() => out, { timeout: 20_000 }).toContain('Ctrl-C stops it.');
    expect(out).toContain(`Demo OpenID provider on http://127.0.0.1:${port}`);
    for (const a of [ERIN, FRANK, GRACE]) expect(out).toMatch(new RegExp(`${a.username}\\s+${a.password}`));
    expect(out).toContain('http://127.0.0.1:8420/v1/auth/oidc/demo/login?returnTo=/v1/auth/session');
    expect(out).toContain('npx hourglass login --url http://127.0.0.1:8420 --sso demo');
    expect(out).toContain(`HOURGLASS_DEMO_IDP_PORT=${port}`);
    const discovery = (await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json()) as { issuer: string };
    expect(discovery.issuer).toBe(`http://127.0.0.1:${port}`);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('demo-idp: stopped');
  }, 30_000);

  it('refuses a bad HOURGLASS_DEMO_IDP_PORT instead of guessing', () => {
    expect(demoIdpPort({})).toBe(8421);
    expect(demoIdpPort({ HOURGLASS_DEMO_IDP_PORT: '9000' })).toBe(9000);
    for (const bad of ['0', '65536', 'http', '80.5']) expect(() => demoIdpPort({ HOURGLASS_DEMO_IDP_PORT: bad })).toThrow(/must be a port number/);
  });
});
