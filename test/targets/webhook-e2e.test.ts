/**
 * Webhook targets end to end. First a real Hourglass server (listen, scheduler, system clock) and
 * the documented example receiver (examples/webhook-receiver.mjs) as a child process: a grant is
 * made there, its credentials reach the requester through POST /v1/requests/{id}/credentials,
 * and its release is revoked there. Then the composition root with a manual clock over the test
 * receiver, for what takes time: a failing receiver retried with backoff, revoke's "already
 * gone", a revocation that keeps failing (overdue alert, never given up), and the address guard.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKey } from '../../src/adapters/connectors/webhook/index.js';
import { signatureHeader } from '../../src/adapters/outbound/signed-post.js';
import { createLogger, startServer, type RunningServer } from '../../src/cli/serve.js';
import { tokenHash } from '../fixtures/policies.js';
import { createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { callApi } from '../support/http-api.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { parseConfig } from '../support/config.js';

const SECRET = `whsec-${randomBytes(24).toString('hex')}`;
const KEY = randomBytes(32).toString('base64');
const EXAMPLE = fileURLToPath(new URL('../../examples/webhook-receiver.mjs', import.meta.url));

const yaml = (url: string, opts: { allowedHosts?: boolean; store?: string } = {}) => `
server:
  listen: 127.0.0.1:0
${opts.store ? `  store: "${opts.store}"\n` : ''}${opts.allowedHosts === false ? '' : '  allowedHosts: [127.0.0.1]\n'}credentials:
  key: ${KEY}
principals:
  - { id: alice, groups: [finance], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: bob, groups: [finance], apiTokens: [{ sha256: ${tokenHash('bob')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
  billing:
    type: webhook
    url: ${url}
    secret: \${BILLING_WEBHOOK_SECRET}
    timeout: 2s
    provisioningTimeout: 10m
    revocationAlertAfter: 1m
    entitlements:
      refunds: { description: issue refunds, attributes: { scope: [refunds.write], limitEur: 500 } }
policies:
  - name: finance
    subjects: { groups: [finance] }
    entitlements: [billing/refunds]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;
const env = { BILLING_WEBHOOK_SECRET: SECRET };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() - start > timeoutMs) return value;
    await sleep(50);
  }
}

/** The example receiver as its docs run it; `lines` is what it printed. */
async function startExample(): Promise<{ url: string; lines: string[]; child: ChildProcess }> {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { PATH: process.env.PATH, HOURGLASS_WEBHOOK_SECRET: SECRET, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  });
  const listening = await waitFor(
    async () => lines.find((l) => l.startsWith('listening on ')),
    (l) => l !== undefined,
  );
  if (!listening) throw new Error('the example receiver did not start');
  return { url: `http://127.0.0.1:${listening.slice('listening on '.length)}/`, lines, child };
}

describe('a real server and the example receiver', () => {
  let dir: string;
  let example: Awaited<ReturnType<typeof startExample>>;
  let server: RunningServer;
  const api = (method: string, path: string, who: string, body?: unknown) => callApi(server.url, method, path, who, body);

  beforeAll(async () => {
    example = await startExample();
    dir = mkdtempSync(join(tmpdir(), 'hg-webhook-'));
    const file = join(dir, 'hourglass.yaml');
    writeFileSync(file, yaml(example.url, { store: `sqlite:${join(dir, 'hg.db')}` }));
    const serveEnv = { ...env, HOURGLASS_LOG_LEVEL: 'silent' };
    server = await startServer(file, serveEnv, createLogger(serveEnv));
  });
  afterAll(async () => {
    await server?.stop();
    example?.child.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the example refuses a request without a good signature', async () => {
    const body = JSON.stringify({ action: 'revoke', requestId: 'req_forged' });
    const forged = await fetch(example.url, {
      method: 'POST',
      body,
      headers: { 'hourglass-signature': signatureHeader('not-the-secret', Math.floor(Date.now() / 1000), body) },
    });
    expect(forged.status).toBe(401);
    const stale = await fetch(example.url, {
      method: 'POST',
      body,
      headers: { 'hourglass-signature': signatureHeader(SECRET, Math.floor(Date.now() / 1000) - 600, body) },
    });
    expect(stale.status).toBe(401);
    expect((await fetch(example.url, { method: 'POST', body })).status).toBe(401);
  });

  it('grant → the requester gets the credentials the receiver returned → release → revoked on the receiver', async () => {
    const submitted = await api('POST', '/v1/requests', 'alice', { entitlements: ['billing/refunds'], duration: '1h', reason: 'refund ticket 42' });
    expect(submitted.status).toBe(201);
    const id = submitted.body.id as string;
    const active = await waitFor(
      () => api('GET', `/v1/requests/${id}`, 'alice'),
      (r) => r.body.access === 'present',
    );
    expect(active.body).toMatchObject({ status: 'active', access: 'present' });
    expect(example.lines).toContain(`grant ${id} alice 200`);

    expect((await api('POST', `/v1/requests/${id}/credentials`, 'bob')).status).toBe(404);
    const creds = await api('POST', `/v1/requests/${id}/credentials`, 'alice');
    expect(creds.status).toBe(200);
    const issued = creds.body.targets.billing as { token: string };
    expect(issued.token).toMatch(/^[A-Za-z0-9_-]{32}$/);

    // The retrieval is audited; the token is kept encrypted, so the store file never holds it.
    const audit = await api('GET', `/v1/audit?type=credentials.retrieved`, 'admin');
    expect(audit.body.events.map((e: { requestId: string }) => e.requestId)).toContain(id);

    expect((await api('POST', `/v1/requests/${id}/release`, 'alice', { reason: 'done' })).status).toBe(200);
    const removed = await waitFor(
      () => api('GET', `/v1/requests/${id}`, 'alice'),
      (r) => r.body.access === 'removed',
    );
    expect(removed.body).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(example.lines).toContain(`revoke ${id} alice 200`);
  });
});

describe('the composition root over the test receiver (manual clock)', () => {
  let rx: WebhookReceiver;
  let handle: StoreHandle;
  let h: Awaited<ReturnType<typeof createHttpHarness>>;
  const runAccessWork = async () => {
    await h.system.access.runOnce();
    await h.system.access.idle();
  };
  const get = async (id: string) => (await h.call('GET', `/v1/requests/${id}`, token('admin'))).body;
  const submit = async () => {
    const res = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['billing/refunds'], duration: '1h' });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  beforeAll(async () => {
    rx = await startWebhookReceiver({ secret: SECRET, entitlements: ['refunds'] });
    handle = await freshStoreUrl('sqlite');
    h = await createHttpHarness({ yaml: yaml(rx.url), storeUrl: handle.url, now: Date.now(), env });
  });
  afterAll(async () => {
    await h?.close();
    await handle?.cleanup();
    await rx?.close();
  });

  it('a receiver answering 5xx is retried with backoff until it grants; the credentials reach the requester', async () => {
    rx.answerNext(2, 503, 'maintenance', ['grant']);
    const id = await submit();
    await runAccessWork();
    let req = await get(id);
    expect(req).toMatchObject({ status: 'scheduled', access: 'provisioning' });
    expect((await h.store.getRequest(id))!.accessError).toBe('webhook target "billing": grant: the receiver answered 503: maintenance');
    // Not before the backoff: nothing is sent again at once.
    await runAccessWork();
    expect(rx.callsOf('grant', id)).toHaveLength(1);
    for (let i = 0; i < 2; i++) {
      h.clock.advance(60_000);
      await runAccessWork();
    }
    req = await get(id);
    expect(req).toMatchObject({ status: 'active', access: 'present' });
    const calls = rx.callsOf('grant', id);
    expect(calls.map((c) => c.status)).toEqual([503, 503, 200]);
    expect(new Set(calls.map((c) => c.headers['idempotency-key']))).toEqual(
      new Set([idempotencyKey({ requestId: id, target: { name: 'billing' }, expiresAt: Date.parse(req.expiresAt) }, 'grant')]),
    );
    expect(calls.every((c) => c.verified)).toBe(true);
    expect(calls[2]!.payload.entitlements).toEqual([{ name: 'refunds', attributes: { scope: ['refunds.write'], limitEur: 500 } }]);

    const creds = await h.call('POST', `/v1/requests/${id}/credentials`, token('alice'));
    expect(creds.status).toBe(200);
    expect(creds.body.targets.billing).toEqual({ token: rx.holds(id)!.token, username: 'alice' });
    expect(JSON.stringify(await h.store.getCredentials(id))).not.toContain(rx.holds(id)!.token);
  });

  it('revoke: a receiver that no longer knows the grant (404) counts as removed; the handle is handed back', async () => {
    const id = await submit();
    await runAccessWork();
    expect(await get(id)).toMatchObject({ access: 'present' });
    rx.answerNext(1, 404, '{"error":"no such grant"}', ['revoke']);
    expect((await h.call('POST', `/v1/requests/${id}/revoke`, token('admin'), { reason: 'test' })).status).toBe(200);
    await runAccessWork();
    expect(await get(id)).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(rx.callsOf('revoke', id).map((c) => [c.status, c.payload.handle])).toEqual([[404, `h-${id}`]]);
  });

  it('a revocation that keeps failing is retried for ever and raises the overdue alert, then completes', async () => {
    const id = await submit();
    await runAccessWork();
    rx.answerNext(1000, 500, 'down', ['revoke']);
    await h.call('POST', `/v1/requests/${id}/release`, token('alice'), {});
    for (let i = 0; i < 12; i++) {
      await h.app.due.runDue();
      await runAccessWork();
      h.clock.advance(30_000);
    }
    expect(await get(id)).toMatchObject({ status: 'revoked', access: 'removing' });
    expect(rx.callsOf('revoke', id).length).toBeGreaterThan(3);
    const alerts = (await h.call('GET', `/v1/audit?type=alert.revocation_overdue`, token('admin'))).body.events;
    expect(alerts.map((e: { requestId: string }) => e.requestId)).toContain(id);

    // The receiver recovers: the next retry removes the access.
    rx.recover();
    for (let i = 0; i < 10 && (await get(id)).access !== 'removed'; i++) {
      h.clock.advance(600_000);
      await runAccessWork();
    }
    expect(await get(id)).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(rx.holds(id)).toBeUndefined();
  });

  it('without the receiver in server.allowedHosts nothing is sent: provisioning fails with the refusal', async () => {
    const config = parseConfig(yaml(rx.url, { allowedHosts: false }), env);
    h.source.set({ ...config, server: { ...h.config.server, allowedHosts: [] } });
    try {
      const before = rx.calls.length;
      const id = await submit();
      await runAccessWork();
      expect((await h.store.getRequest(id))!.accessError).toBe(
        'webhook target "billing": grant: refused: 127.0.0.1 is an internal address; list it in server.allowedHosts to allow it',
      );
      h.clock.advance(11 * 60_000);
      await h.app.due.runDue();
      await runAccessWork();
      expect(await get(id)).toMatchObject({ status: 'failed', access: 'removing' });
      expect(rx.calls.length).toBe(before);
    } finally {
      h.source.set(parseConfig(yaml(rx.url), env));
    }
  });
});
