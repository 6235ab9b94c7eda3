/**
 * The real server (listen, scheduler, system clock) across restarts: due work survives a
 * restart, transitions happen within about a second of their time, and SQLite refuses a
 * second server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { createLogger } from '../../src/cli/serve.js';
import { policiesYaml } from '../fixtures/policies.js';
import { callApi } from '../support/http-api.js';

let dir: string;
let configPath: string;
const env = { HOURGLASS_LISTEN: '127.0.0.1:0', HOURGLASS_LOG_LEVEL: 'silent' };
const log = createLogger(env);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-restart-'));
  configPath = join(dir, 'hourglass.yaml');
  writeFileSync(configPath, policiesYaml().replace('store: "sqlite::memory:"', `store: "sqlite:${join(dir, 'hg.db')}"`));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const api = (server: RunningServer, method: string, path: string, who: string, body?: unknown) => callApi(server.url, method, path, who, body);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number): Promise<{ value: T; waitedMs: number }> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() - start > timeoutMs) return { value, waitedMs: Date.now() - start };
    await sleep(25);
  }
}

describe('running server', () => {
  it('expires a grant within a second of its time, on the real clock', async () => {
    const server = await startServer(configPath, env, log);
    try {
      const g = await api(server, 'POST', '/v1/requests', 'alice', { entitlements: ['db/read'], duration: '2s' });
      expect(g.body).toMatchObject({ status: 'active' });
      const expiresAt = Date.parse(g.body.expiresAt);
      const { value } = await waitFor(
        () => api(server, 'GET', `/v1/requests/${g.body.id}`, 'alice'),
        (r) => r.body.status === 'expired',
        5000,
      );
      expect(value.body.status).toBe('expired');
      expect(Date.parse(value.body.endedAt) - expiresAt).toBeLessThan(1000);
    } finally {
      await server.stop();
    }
  });

  it('due work persisted before a stop is done after the restart; a second server on the file is refused', async () => {
    const first = await startServer(configPath, env, log);
    const g = await api(first, 'POST', '/v1/requests', 'alice', { entitlements: ['db/read'], duration: '1s' });
    const p = await api(first, 'POST', '/v1/requests', 'alice', { entitlements: ['db/admin'], duration: '1h', reason: 'x' });
    await api(first, 'POST', `/v1/requests/${p.body.id}/approve`, 'carol');

    await expect(startServer(configPath, env, log)).rejects.toMatchObject({ code: 'HG_STORE_IN_USE' });
    await first.stop();
    await sleep(1500); // the grant's time passes while no server runs

    const second = await startServer(configPath, env, log);
    try {
      const { value } = await waitFor(
        () => api(second, 'GET', `/v1/requests/${g.body.id}`, 'alice'),
        (r) => r.body.status === 'expired',
        3000,
      );
      expect(value.body).toMatchObject({ status: 'expired', access: 'removed' });
      // The half-approved request carried over and completes on the new server.
      const done = await api(second, 'POST', `/v1/requests/${p.body.id}/approve`, 'erin');
      expect(done.body.status).toBe('active');
      const verify = await api(second, 'GET', '/v1/audit/verify', 'auditor');
      expect(verify.body.ok).toBe(true);
      const ready = await fetch(`${second.url}/readyz`);
      expect(ready.status).toBe(200);
      const starts = await api(second, 'GET', '/v1/audit?type=server.started', 'auditor');
      expect(starts.body.events.length).toBeGreaterThanOrEqual(2);
    } finally {
      await second.stop();
    }
  });

  it('refuses to start on an invalid configuration, listing every problem', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'server: { listen: nowhere }\npolicies: [{ name: x, entitlements: [no/such] }]\nbogus: 1\n');
    await expect(startServer(bad, env, log)).rejects.toMatchObject({
      code: 'HG_CONFIG_INVALID',
      message: expect.stringMatching(/server\.listen[\s\S]*bogus/),
    });
  });
});
