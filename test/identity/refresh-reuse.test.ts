// CLI refresh tokens: a swapped one presented again ends the whole session (a stolen token or a
// copied credentials file), audited once; two refreshes racing with one token end it too; and the
// CLI's own commands never race each other, because they refresh under the credentials lock.
import { mkdtempSync, readFileSync, existsSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IssuedSession } from '../../src/app/identity/sessions.js';
import { sessionRefresher } from '../../src/cli/commands/shared.js';
import { writeCredentials } from '../../src/cli/credentials.js';
import { createHttpHarness, freshStoreUrl, sharedHttpHarness, type Dialect, type HttpHarness } from '../support/app-harness.js';

const YAML = `
server: { authFailures: { burst: 50, perMinute: 60 } }
principals:
  - { id: alice, groups: [developers] }
targets: {}
policies: []
`;

const openCliSession = (h: HttpHarness): Promise<IssuedSession> =>
  h.store.transaction((tx) => h.system.sessions.open(tx, { principal: 'alice', source: 'oidc:corp', client: 'cli', amr: ['pwd'] }, h.clock.now()));

const refresh = (h: HttpHarness, refreshToken: string, ip = '192.0.2.7') =>
  h.server.inject({ method: 'POST', url: '/v1/auth/refresh', remoteAddress: ip, payload: { refreshToken } });

const meStatus = async (h: HttpHarness, accessToken: string) => (await h.call('GET', '/v1/me', accessToken)).status;

const reuseEvents = async (h: HttpHarness, session: string) =>
  (await h.store.listAudit({ type: 'auth.refresh_reused', limit: 100 })).events.filter((e) => e.details?.session === session);

describe.each<Dialect>(['sqlite', 'postgres'])('refresh token reuse on %s', (dialect) => {
  const h = sharedHttpHarness(dialect, YAML);

  it('a swapped refresh token presented again ends the session for both holders, audited once', async () => {
    const s = await openCliSession(h);
    const first = await refresh(h, s.refreshToken!);
    expect(first.statusCode).toBe(200);
    const second = await refresh(h, first.json().refreshToken);
    expect(second.statusCode).toBe(200);
    const live = second.json() as { accessToken: string; refreshToken: string };
    expect(await meStatus(h, live.accessToken)).toBe(200);

    // The thief presents the token of two rotations ago: refused, and the owner's session ends too.
    const stolen = await refresh(h, s.refreshToken!, '203.0.113.66');
    expect(stolen.statusCode).toBe(401);
    expect(stolen.json().error.code).toBe('HG_UNAUTHENTICATED');
    expect(await meStatus(h, live.accessToken)).toBe(401);
    expect((await refresh(h, live.refreshToken)).statusCode).toBe(401);

    const events = await reuseEvents(h, s.session.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'anonymous', details: { principal: 'alice', session: s.session.id, ip: '203.0.113.66' } });
    expect(JSON.stringify(events)).not.toContain(s.refreshToken!);
    // Presenting it again changes nothing and writes nothing more.
    expect((await refresh(h, first.json().refreshToken)).statusCode).toBe(401);
    expect(await reuseEvents(h, s.session.id)).toHaveLength(1);
  });

  it('two refreshes with one token at the same moment: one wins, and the session ends', async () => {
    const s = await openCliSession(h);
    const answers = await Promise.all([refresh(h, s.refreshToken!), refresh(h, s.refreshToken!)]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 401]);
    const winner = answers.find((a) => a.statusCode === 200)!.json() as { accessToken: string };
    expect(await meStatus(h, winner.accessToken)).toBe(401);
    expect(await reuseEvents(h, s.session.id)).toHaveLength(1);
  });

  it('a used refresh token of a session that was signed out is only refused', async () => {
    const s = await openCliSession(h);
    const first = await refresh(h, s.refreshToken!);
    expect(await h.system.sessions.revoke({ id: 'alice', groups: [], roles: [] }, s.session.id)).toBe(true);
    expect((await refresh(h, s.refreshToken!)).statusCode).toBe(401);
    expect((await refresh(h, first.json().refreshToken)).statusCode).toBe(401);
    expect(await reuseEvents(h, s.session.id)).toHaveLength(0);
  });
});

describe('the CLI refreshes under the credentials lock', () => {
  it('two commands refreshing one stored session at once: one refreshes, the other uses its pair', async () => {
    const store = await freshStoreUrl('sqlite');
    const h = await createHttpHarness({ yaml: YAML, storeUrl: store.url, now: Date.now() });
    try {
      await h.server.listen({ host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${(h.server.server.address() as { port: number }).port}`;
      const s = await openCliSession(h);
      const file = join(mkdtempSync(join(tmpdir(), 'hg-lock-')), 'credentials.json');
      // The stored access token is about to end: both commands want to refresh it.
      const stale = { refreshToken: s.refreshToken!, expiresAt: Date.now() + 1000 };
      writeCredentials(file, { url, token: s.secret, ...stale });
      const a = sessionRefresher(url, { ...stale, file }, () => {});
      const b = sessionRefresher(url, { ...stale, file }, () => {});
      const [ra, rb] = await Promise.all([a.refresh(), b.refresh()]);
      expect(ra.token).toBe(rb.token);
      expect(await meStatus(h, ra.token)).toBe(200);
      expect(await reuseEvents(h, s.session.id)).toHaveLength(0);
      expect(JSON.parse(readFileSync(file, 'utf8')).token).toBe(ra.token);
      expect(existsSync(`${file}.lock`)).toBe(false);

      // A lock left by a command that died is taken over once it is old.
      writeFileSync(`${file}.lock`, '');
      const old = new Date(Date.now() - 120_000);
      utimesSync(`${file}.lock`, old, old);
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { refreshToken: string };
      const c = sessionRefresher(url, { refreshToken: stored.refreshToken, expiresAt: Date.now() + 1000, file }, () => {});
      const rc = await c.refresh();
      expect(rc.token).not.toBe(ra.token);
      expect(await meStatus(h, rc.token)).toBe(200);
      expect(existsSync(`${file}.lock`)).toBe(false);
    } finally {
      await h.close();
      await store.cleanup();
    }
  });
});
