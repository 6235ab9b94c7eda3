/**
 * Transitions at the moment they are due, not at the next scheduler pass: with a 1 s interval
 * (the longest allowed), grants end within a few milliseconds of their time, because the scheduler
 * arms its timer for the next due time after each pass and after each change it commits. Without
 * the timer each would be up to a second late: five at staggered times all well on time is no chance.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, startServer, type RunningServer } from '../../src/cli/serve.js';
import { policiesYaml } from '../fixtures/policies.js';
import { callApi } from '../support/http-api.js';

let dir: string;
let configPath: string;
const env = { HOURGLASS_LISTEN: '127.0.0.1:0', HOURGLASS_LOG_LEVEL: 'silent' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-due-timer-'));
  configPath = join(dir, 'hourglass.yaml');
  const yaml = policiesYaml().replace('store: "sqlite::memory:"', `store: "sqlite:${join(dir, 'hg.db')}"\n  schedulerInterval: 1s`);
  writeFileSync(configPath, yaml);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the due timer', () => {
  it('ends grants at expiresAt, not at the next pass', async () => {
    const server: RunningServer = await startServer(configPath, env, createLogger(env));
    try {
      const grants = [];
      for (const duration of ['1s', '1s', '2s', '2s', '3s']) {
        const g = await callApi(server.url, 'POST', '/v1/requests', 'alice', { entitlements: ['db/read'], duration });
        expect(g.body.status).toBe('active');
        grants.push(g.body as { id: string; expiresAt: string });
        await sleep(137);
      }
      await sleep(3300);
      for (const g of grants) {
        const r = await callApi(server.url, 'GET', `/v1/requests/${g.id}`, 'alice');
        expect(r.body.status).toBe('expired');
        const late = Date.parse(r.body.endedAt) - Date.parse(g.expiresAt);
        expect(late).toBeGreaterThanOrEqual(0);
        // Well under the 1 s a pass alone would take, with room for a loaded CI machine.
        expect(late).toBeLessThan(400);
      }
    } finally {
      await server.stop();
    }
  });
});

describe('the due timer and target work', () => {
  it('starts removing an early-revoked grant from its target at once, not at the next pass', async () => {
    const { startWebhookReceiver } = await import('../support/webhook-receiver.js');
    const { tokenHash } = await import('../fixtures/policies.js');
    const { randomBytes } = await import('node:crypto');
    const secret = `whsec-${randomBytes(24).toString('hex')}`;
    const rx = await startWebhookReceiver({ secret, entitlements: ['refunds'] });
    const path = join(dir, 'webhook.yaml');
    writeFileSync(
      path,
      `
server:
  listen: 127.0.0.1:0
  store: "sqlite:${join(dir, 'webhook.db')}"
  schedulerInterval: 1s
  allowedHosts: [127.0.0.1]
credentials:
  key: ${randomBytes(32).toString('base64')}
principals:
  - { id: alice, groups: [finance], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: admin, roles: [admin], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
  billing:
    type: webhook
    url: ${rx.url}
    secret: ${secret}
    entitlements:
      refunds: { description: refunds }
policies:
  - { name: finance, subjects: { groups: [finance] }, entitlements: [billing/refunds], maxDuration: 1h, reason: optional, approval: { required: 0 } }
`,
    );
    const server = await startServer(path, env, createLogger(env));
    try {
      const lateness: number[] = [];
      for (let i = 0; i < 4; i++) {
        const g = await callApi(server.url, 'POST', '/v1/requests', 'alice', { entitlements: ['billing/refunds'], duration: '30m' });
        for (let t = 0; t < 200 && rx.callsOf('grant', g.body.id).length === 0; t++) await sleep(10);
        await sleep(97 * (i + 1)); // revokes at different phases of the 1 s pass
        const revoked = Date.now();
        expect((await callApi(server.url, 'POST', `/v1/requests/${g.body.id}/revoke`, 'admin', { reason: 'done' })).status).toBe(200);
        for (let t = 0; t < 300 && rx.callsOf('revoke', g.body.id).length === 0; t++) await sleep(5);
        expect(rx.callsOf('revoke', g.body.id)).toHaveLength(1);
        lateness.push(Date.now() - revoked);
      }
      expect(Math.max(...lateness)).toBeLessThan(400);
    } finally {
      await server.stop();
      await rx.close();
    }
  });
});
