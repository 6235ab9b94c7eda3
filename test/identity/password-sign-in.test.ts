// Local password sign-in (the demo's users): a session cookie for the right password; an unknown
// principal and a wrong password get the same answer after the same scrypt work; failures count
// against the per-address limit; hashes from hourglass hash-password; bad hashes refused at load.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/app/identity/password.js';
import { tokenHash } from '../fixtures/policies.js';
import { createHttpHarness, freshStoreUrl, T0, token, type StoreHandle } from '../support/app-harness.js';
import { parseConfig } from '../support/config.js';
import { BIN } from '../support/spawn-server.js';

let h: Awaited<ReturnType<typeof createHttpHarness>>;
let handle: StoreHandle;
let hash: string;

beforeAll(async () => {
  hash = await hashPassword('correct horse battery');
  handle = await freshStoreUrl('sqlite');
  h = await createHttpHarness({
    storeUrl: handle.url,
    yaml: `
server: { authFailures: { burst: 5, perMinute: 1 }, publicUrl: "http://127.0.0.1:8420" }
identity:
  oidc:
    - { name: corp, issuer: "https://login.example.com", clientId: hg, clientSecret: s3cret }
principals:
  - { id: alice, groups: [developers], password: "${hash}" }
  - { id: admin, roles: [admin], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets: {}
policies: []
`,
    now: T0,
  });
});
afterAll(async () => {
  await h?.close();
  await handle?.cleanup();
});

const signIn = (principal: string, password: string, ip = '192.0.2.1') =>
  h.server.inject({ method: 'POST', url: '/v1/auth/password', remoteAddress: ip, payload: { principal, password } });

describe('password sign-in', () => {
  it('the right password opens a browser session, audited', async () => {
    const res = await signIn('alice', 'correct horse battery');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ principal: 'alice', session: expect.stringMatching(/^ses_/), csrfToken: expect.any(String) });
    const cookie = String(res.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toMatch(/^hourglass_session=hgs_/);
    expect(String(res.headers['set-cookie'])).toMatch(/HttpOnly/i);
    const me = await h.call('GET', '/v1/auth/session', undefined, undefined, { cookie });
    expect(me.body.principal).toMatchObject({ id: 'alice', groups: ['developers'] });
    expect(me.body.session).toMatchObject({ source: 'password', amr: ['pwd'] });
    const [ev] = (await h.store.listAudit({ type: 'auth.signed_in', limit: 10 })).events;
    expect(ev).toMatchObject({ actor: 'alice', details: { provider: 'password', session: body.session } });
    expect(JSON.stringify(ev)).not.toContain('correct horse');
  });

  it('an unknown principal and a wrong password: the same answer, both audited, neither reveals which', async () => {
    const wrong = await signIn('alice', 'Tr0ub4dor&3', '192.0.2.2');
    const unknown = await signIn('mallory', 'whatever it is', '192.0.2.3');
    const noPassword = await signIn('admin', 'anything at all', '192.0.2.4');
    for (const r of [wrong, unknown, noPassword]) {
      expect(r.statusCode).toBe(401);
      expect(r.json().error).toEqual({ code: 'HG_SIGN_IN_REFUSED', message: 'sign-in refused: unknown principal or wrong password' });
    }
    const refused = (await h.store.listAudit({ type: 'auth.sign_in_refused', limit: 10 })).events.map((e) => e.details);
    expect(refused.map((d) => d!.principal)).toEqual(expect.arrayContaining(['alice', 'mallory', 'admin']));
    expect(JSON.stringify(refused)).not.toContain('Tr0ub4dor');
  });

  it('an unknown principal costs the same scrypt work as a wrong password (no shortcut to tell them apart)', async () => {
    const time = async (fn: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await fn();
        samples.push(performance.now() - t);
      }
      return samples.sort((a, b) => a - b)[2]!;
    };
    const wrong = await time(() => verifyPassword('not it', hash));
    const unknown = await time(() => verifyPassword('not it', undefined));
    const malformed = await time(() => verifyPassword('not it', 'scrypt$bad'));
    // Skipping scrypt would make these a thousand times faster; the same work is within a small factor.
    expect(unknown).toBeGreaterThan(wrong / 3);
    expect(malformed).toBeGreaterThan(wrong / 3);
    expect(await verifyPassword('not it', undefined)).toBe(false);
  });

  it('failures from one address run out of budget (429 with Retry-After), whatever the password', async () => {
    const ip = '198.51.100.9';
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await signIn('alice', `guess ${i} guess`, ip)).statusCode);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const right = await signIn('alice', 'correct horse battery', ip);
    expect(right.statusCode).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    expect((await signIn('alice', 'correct horse battery', '198.51.100.10')).statusCode).toBe(200);
    expect((await h.call('GET', '/v1/me', token('admin'))).status).toBe(200);
  });

  it('made-up refresh tokens count against the same per-address budget', async () => {
    const ip = '198.51.100.20';
    const refresh = (n: number) =>
      h.server.inject({ method: 'POST', url: '/v1/auth/refresh', remoteAddress: ip, payload: { refreshToken: `hgr_${String(n).padStart(43, 'x')}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await refresh(i)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it('made-up device handles and CLI sign-in codes count against it too', async () => {
    const post = (url: string, payload: object, ip: string) => h.server.inject({ method: 'POST', url, remoteAddress: ip, payload });
    const handles: number[] = [];
    for (let i = 0; i < 7; i++) handles.push((await post('/v1/auth/oidc/corp/device/token', { handle: `forged-${i}` }, '198.51.100.30')).statusCode);
    expect(handles).toEqual([400, 400, 400, 400, 400, 429, 429]);
    const codes: number[] = [];
    for (let i = 0; i < 7; i++)
      codes.push((await post('/v1/auth/oidc/corp/cli/token', { code: `forged-${i}`, verifier: 'v'.repeat(43) }, '198.51.100.31')).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it('hourglass hash-password prints a hash the loader accepts; malformed hashes are refused with the reason', async () => {
    const r = spawnSync(process.execPath, [BIN, 'hash-password'], { input: 'a demo password\n', encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const printed = r.stdout.trim();
    expect(printed).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('a demo password', printed)).toBe(true);
    expect(await verifyPassword('a demo password\n', printed)).toBe(false);
    const load = (password: string) => () => parseConfig(`principals:\n  - { id: x, password: "${password}" }\ntargets: {}\npolicies: []\n`);
    expect(load(printed)).not.toThrow();
    expect(load('hunter2')).toThrow(/principals\[0\]\.password: must be scrypt\$N\$r\$p\$SALT\$KEY/);
    expect(load(printed.replace('$32768$', '$1024$'))).toThrow(/N must be a power of 2 from 16384/);
    expect(spawnSync(process.execPath, [BIN, 'hash-password'], { input: 'short\n', encoding: 'utf8' }).status).not.toBe(0);
  });
});
