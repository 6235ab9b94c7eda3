/**
 * No secret or token ever reaches the log. Runs the real `hourglass serve` at log level trace,
 * with webhook and checkpoint secrets (literal and `${ENV}`-interpolated) and a signing key in
 * its configuration, drives it with valid and invalid tokens (in headers, and in query strings
 * where they do not belong), an Idempotency-Key, a failed reload (SIGHUP and POST /v1/reload)
 * and a good one, then greps everything it printed on stdout and stderr for every secret.
 * Needs `npx tsup` first (bin/hourglass.js imports dist/main.js); `npm test` builds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { BIN, ROOT, demoConfigYaml } from '../support/spawn-server.js';
import { sha256 } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;

const DEMO_TOKENS = ['alice', 'bob', 'carol', 'dave', 'sec-admin', 'auditor', 'app'].map((id) => `${id}-demo-token`);
const PROM_TOKEN = random('prom-');
const WEBHOOK_ENV_SECRET = random('whenv-');
const WEBHOOK_LITERAL_SECRET = random('whlit-');
const CHECKPOINT_SECRET = random('ckpt-');
const BAD_TOKENS = [random('badtok-'), random('badtok2-'), random('querytok-'), random('basic-')];
const IDEMPOTENCY_KEY = random('idem-');
const SIGNING_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
/** The key's base64 body: the part that must never be printed. */
const SIGNING_KEY_BODY = SIGNING_KEY.split('\n')
  .filter((l) => l && !l.startsWith('-----'))
  .join('');

function configYaml(dir: string, receiver: string, opts: { broken?: boolean } = {}): string {
  const doc = parseDocument(demoConfigYaml().split('{{dir}}').join(dir));
  doc.setIn(['server', 'allowedHosts'], ['127.0.0.1']);
  doc.setIn(['server', 'schedulerInterval'], '100ms');
  (doc.get('principals') as { add(v: unknown): void }).add(doc.createNode({ id: 'prom', roles: ['metrics'], apiTokens: [{ sha256: sha256(PROM_TOKEN) }] }));
  doc.set(
    'webhooks',
    doc.createNode([
      { name: 'siem', url: `${receiver}/siem`, secret: '${HG_TEST_WEBHOOK_SECRET}', events: ['*'] },
      { name: 'chat', url: `${receiver}/chat`, secret: WEBHOOK_LITERAL_SECRET, events: ['grant.*', 'request.*'] },
    ]),
  );
  doc.set(
    'audit',
    doc.createNode({
      checkpoints: {
        every: 3,
        interval: '1s',
        signingKey: '${HG_TEST_SIGNING_KEY}',
        file: `${dir}/checkpoints.jsonl`,
        webhook: { url: `${receiver}/checkpoints`, secret: '${HG_TEST_CHECKPOINT_SECRET}' },
      },
    }),
  );
  if (opts.broken) {
    // Invalid in ways that sit next to secrets, and that carry an interpolated secret in a bad place.
    doc.setIn(['webhooks', 0, 'url'], 'not a url ${HG_TEST_WEBHOOK_SECRET}');
    doc.setIn(['webhooks', 1, 'timeout'], '${HG_TEST_WEBHOOK_SECRET}');
    doc.setIn(['webhooks', 1, 'events'], [WEBHOOK_LITERAL_SECRET]);
    doc.setIn(['audit', 'checkpoints', 'webhook', 'secret'], 'short');
    doc.setIn(['policies', 0, 'maxDuration'], 'banana');
  }
  return doc.toString();
}

interface Proc {
  child: ChildProcess;
  url: string;
  output: () => string;
  stdout: () => string;
}

async function startServer(configPath: string, env: Record<string, string>): Promise<Proc> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOURGLASS_')) childEnv[k] = v;
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
    cwd: path.dirname(configPath),
    env: { ...childEnv, ...env, HOURGLASS_LISTEN: '127.0.0.1:0', HOURGLASS_LOG_LEVEL: 'trace' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    all += s;
    out += s;
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (all += s));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${all.slice(-3000)}`)), 20_000);
    const poll = setInterval(() => {
      const m = /Hourglass is listening on (http:\/\/\S+)/.exec(all);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(m[1]!);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`server exited early (${code}):\n${all.slice(-3000)}`));
    });
  });
  return { child, url, output: () => all, stdout: () => out };
}

describe('logs never contain secrets or tokens (real server, log level trace)', () => {
  let dir: string;
  let receiver: Server;
  let receiverUrl: string;
  let proc: Proc | undefined;
  const received: string[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: run `npx tsup` first (npm test builds)');
    dir = await mkdtemp(path.join(os.tmpdir(), 'hg-logsecrets-'));
    receiver = createServer((req, res) => {
      received.push(req.url ?? '');
      req.resume();
      // The chat endpoint fails: failures are where secrets tend to leak into logs.
      res.statusCode = req.url === '/chat' ? 500 : 204;
      res.end(req.url === '/chat' ? 'upstream broke' : undefined);
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await new Promise<void>((r) => receiver.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('prints none of them, while logging every request as JSON with its id', async () => {
    const configPath = path.join(dir, 'hourglass.yaml');
    await writeFile(configPath, configYaml(dir, receiverUrl));
    proc = await startServer(configPath, {
      HG_TEST_WEBHOOK_SECRET: WEBHOOK_ENV_SECRET,
      HG_TEST_CHECKPOINT_SECRET: CHECKPOINT_SECRET,
      HG_TEST_SIGNING_KEY: SIGNING_KEY,
    });
    const base = proc.url;
    const call = (url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) =>
      fetch(`${base}${url}`, {
        method: init.method ?? 'GET',
        headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
        ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
      });
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

    // Valid tokens on many routes, with a known request id to find in the log.
    expect((await call('/v1/me', { headers: { ...bearer('alice-demo-token'), 'x-request-id': 'find-me-1' } })).status).toBe(200);
    const submit = { entitlements: ['demo-db/admin'], duration: '1h', reason: 'index' };
    const first = await call('/v1/requests', { method: 'POST', headers: { ...bearer('alice-demo-token'), 'idempotency-key': IDEMPOTENCY_KEY }, body: submit });
    expect(first.status).toBe(201);
    const id = ((await first.json()) as { id: string }).id;
    const replay = await call('/v1/requests', { method: 'POST', headers: { ...bearer('alice-demo-token'), 'idempotency-key': IDEMPOTENCY_KEY }, body: submit });
    expect(replay.status).toBe(200);
    const mismatch = await call('/v1/requests', {
      method: 'POST',
      headers: { ...bearer('alice-demo-token'), 'idempotency-key': IDEMPOTENCY_KEY },
      body: { ...submit, duration: '2h' },
    });
    expect(mismatch.status).toBe(409);
    expect((await call(`/v1/requests/${id}/approve`, { method: 'POST', headers: bearer('bob-demo-token'), body: { comment: 'ok' } })).status).toBe(200);
    expect((await call(`/v1/requests/${id}/approve`, { method: 'POST', headers: bearer('alice-demo-token'), body: {} })).status).toBeGreaterThanOrEqual(400);
    expect((await call('/v1/check?principal=alice&entitlement=demo-db/admin', { headers: bearer('app-demo-token') })).status).toBe(200);
    expect(
      (
        await call('/v1/requests', {
          method: 'POST',
          headers: bearer('dave-demo-token'),
          body: { entitlements: ['demo-db/admin'], duration: '30m', breakGlass: true, reason: 'outage' },
        })
      ).status,
    ).toBe(201);
    expect((await call('/v1/requests?mine=true', { headers: bearer('carol-demo-token') })).status).toBe(200);
    expect((await call('/v1/audit?limit=3', { headers: bearer('auditor-demo-token') })).status).toBe(200);
    expect((await call('/v1/audit/verify', { headers: bearer('sec-admin-demo-token') })).status).toBe(200);
    expect((await call('/metrics', { headers: bearer(PROM_TOKEN) })).status).toBe(200);
    expect((await call('/metrics', { headers: bearer('alice-demo-token') })).status).toBe(403);
    expect((await call(`/v1/requests/${id}/revoke`, { method: 'POST', headers: bearer('sec-admin-demo-token'), body: { reason: 'done' } })).status).toBe(200);

    // Invalid tokens, in every wrong shape.
    const [bad1, bad2, queryTok, basic] = BAD_TOKENS as [string, string, string, string];
    for (const headers of [
      bearer(bad1),
      { authorization: `Bearer ${bad2} trailing` },
      { authorization: bad1 },
      { authorization: `Basic ${Buffer.from(`alice:${basic}`).toString('base64')}` },
      { authorization: `Basic alice:${basic}` },
      { authorization: `bearer alice-demo-token` },
    ]) {
      expect((await call('/v1/me', { headers })).status).toBe(401);
      expect((await call('/metrics', { headers })).status).toBeGreaterThanOrEqual(401);
    }
    // Tokens where they do not belong: query strings (on a route, a probe, /metrics and a 404).
    for (const url of [
      `/v1/me?token=${queryTok}`,
      `/v1/me?access_token=alice-demo-token`,
      `/healthz?token=${queryTok}&api_key=${bad1}`,
      `/metrics?password=${queryTok}`,
      `/v1/nowhere?secret=${WEBHOOK_LITERAL_SECRET}`,
      `/nowhere?auth=${queryTok}`,
    ]) {
      await call(url, { headers: { 'x-request-id': 'query-token' } });
    }
    // Malformed JSON and an oversized body with a token in them.
    expect((await call('/v1/requests', { method: 'POST', headers: bearer('alice-demo-token'), body: `{"reason":"${queryTok}"` })).status).toBe(400);
    const huge = `{"reason":"${queryTok}${'x'.repeat(2 * 1024 * 1024)}"}`;
    expect((await call('/v1/requests', { method: 'POST', headers: bearer('alice-demo-token'), body: huge })).status).toBe(413);

    // A failed reload by SIGHUP and by API (the new file is broken around its secrets), then a good one.
    await writeFile(configPath, configYaml(dir, receiverUrl, { broken: true }));
    proc.child.kill('SIGHUP');
    await sleep(500);
    const refused = await call('/v1/reload', { method: 'POST', headers: bearer('sec-admin-demo-token') });
    expect(refused.status).toBe(422);
    const refusedText = await refused.text();
    await writeFile(configPath, configYaml(dir, receiverUrl));
    expect((await call('/v1/reload', { method: 'POST', headers: bearer('sec-admin-demo-token') })).status).toBe(200);

    // Let the scheduler run a few passes (webhooks, checkpoints), then stop.
    await sleep(1500);
    proc.child.kill('SIGTERM');
    await new Promise<void>((r) => (proc!.child.exitCode !== null ? r() : proc!.child.once('exit', () => r())));

    const output = proc.output();
    const secrets: [string, string][] = [
      ...DEMO_TOKENS.map((t): [string, string] => ['token', t]),
      ['metrics token', PROM_TOKEN],
      ...BAD_TOKENS.map((t): [string, string] => ['invalid token', t]),
      ['basic credentials', Buffer.from(`alice:${basic}`).toString('base64')],
      ['idempotency key', IDEMPOTENCY_KEY],
      ['webhook secret (env)', WEBHOOK_ENV_SECRET],
      ['webhook secret (literal)', WEBHOOK_LITERAL_SECRET],
      ['checkpoint webhook secret (env)', CHECKPOINT_SECRET],
      ['signing key', SIGNING_KEY_BODY],
      ['signing key (first line)', SIGNING_KEY_BODY.slice(0, 24)],
    ];
    const leaked = secrets.filter(([, v]) => output.includes(v) || output.includes(v.slice(0, 16)));
    expect(
      leaked.map(([what]) => what),
      'secrets found in the server output',
    ).toEqual([]);
    // The API's answer to the failed reload does not echo them either.
    for (const [, v] of secrets) expect(refusedText).not.toContain(v);

    // The log is structured and useful: JSON lines, with request ids, principals and the reload refusal.
    const lines = proc.stdout().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(30);
    const records = lines.map((l) => JSON.parse(l) as Record<string, any>);
    const mine = records.filter((r) => r.reqId === 'find-me-1');
    expect(mine.map((r) => r.msg)).toContain('request completed');
    expect(mine.find((r) => r.msg === 'request completed')!.req).toMatchObject({ principal: 'alice', route: '/v1/me' });
    expect(records.filter((r) => r.reqId === 'query-token' && r.msg === 'request completed').length).toBe(6);
    expect(records.some((r) => /reload refused/.test(String(r.msg)))).toBe(true);
    for (const r of records) {
      expect(typeof r.level).toBe('number');
      expect(typeof r.time).toBe('number');
      expect(r.service).toBe('hourglass');
    }
  }, 90_000);
});
