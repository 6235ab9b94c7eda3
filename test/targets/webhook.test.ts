/**
 * The webhook target kind against a real receiver on a loopback port (test/support/webhook-receiver.ts):
 * the shared connector contract, then what is particular to webhooks: the signed payload, the
 * idempotency key, how answers are read, the address guard, and secrets kept out of errors.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKey, WEBHOOK_CAPABILITIES, webhookConnectorFactory } from '../../src/adapters/connectors/webhook/index.js';
import { secretsOf } from '../../src/adapters/connectors/registry.js';
import { settingsAt } from '../../src/config/target-kind.js';
import { verifyWebhookSignature } from '../../src/adapters/outbound/verify-signature.js';
import type { Connector, GrantOnTarget } from '../../src/app/connectors.js';
import { isHgError } from '../../src/core/errors.js';
import type { TargetConfig } from '../../src/core/types.js';
import { parseConfig, parseConfigUnchecked } from '../support/config.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { connectorContract } from '../connectors/contract.js';

const SECRET = `whsec-${randomBytes(24).toString('hex')}`;
const KEY = randomBytes(32).toString('base64');
const LOOPBACK = ['127.0.0.1'];

function configFor(url: string, extra = '', env: Record<string, string> = {}) {
  return parseConfig(
    `
credentials: { key: ${KEY} }
targets:
  billing:
    type: webhook
    url: ${url}
    secret: \${BILLING_WEBHOOK_SECRET}
${extra}
    entitlements:
      read: { description: read refunds, attributes: { scope: [refunds.read], level: 1 } }
      write: { attributes: { scope: [refunds.write] } }
      bare:
`,
    { BILLING_WEBHOOK_SECRET: SECRET, ...env },
  );
}
const targetFor = (url: string, extra = ''): TargetConfig => configFor(url, extra).targets.billing!;

let seq = 0;
function grantOf(target: TargetConfig, names = ['read'], expiresAt = Date.now() + 3_600_000): GrantOnTarget {
  return {
    requestId: `req_wh${Date.now().toString(36)}${(seq++).toString(36)}`,
    principal: 'alice',
    target,
    entitlements: names.map((name) => ({ name, config: target.entitlements[name] as Record<string, unknown> })),
    expiresAt,
  };
}

const errorOf = (p: Promise<unknown>): Promise<Error | undefined> =>
  p.then(
    () => undefined,
    (e: Error) => e,
  );

// ---- the shared contract ------------------------------------------------------------------------------

connectorContract('webhook', WEBHOOK_CAPABILITIES, async () => {
  const rx = await startWebhookReceiver({ secret: SECRET, entitlements: ['read', 'write', 'bare'] });
  return {
    factory: webhookConnectorFactory,
    target: targetFor(rx.url),
    entitlement: 'read',
    probe: async (creds) => rx.use(creds, 'read'),
    probeBeyond: async (creds) => rx.use(creds, 'write'),
    openSession: async () => {
      throw new Error('webhook targets have no sessions Hourglass can see');
    },
    secrets: [SECRET],
    refused: { attributes: { scope: ['nothing'] } },
    allowedHosts: LOOPBACK,
    teardown: () => rx.close(),
  };
});

// ---- what is particular to webhooks ---------------------------------------------------------------------

let rx: WebhookReceiver;
let target: TargetConfig;
let c: Connector;
const connectorFor = (t: TargetConfig, allowedHosts: readonly string[] = LOOPBACK) =>
  webhookConnectorFactory.create(t, { secretsToScrub: (s) => s, allowedHosts: () => allowedHosts });

beforeAll(async () => {
  rx = await startWebhookReceiver({ secret: SECRET, entitlements: ['read', 'write', 'bare'] });
  target = targetFor(rx.url);
  c = connectorFor(target);
});
afterAll(async () => {
  await c?.close();
  await rx?.close();
});

describe('webhook: the request', () => {
  it('is the documented JSON payload, signed like event webhooks, with a stable idempotency key', async () => {
    const g = grantOf(target, ['read', 'bare']);
    const granted = await c.grant(g);
    expect(granted.handle).toBe(`h-${g.requestId}`);
    await c.extend({ ...g, handle: granted.handle!, expiresAt: g.expiresAt + 60_000 });
    await c.revoke({ ...g, handle: granted.handle!, expiresAt: g.expiresAt + 60_000 });

    const [grant, extend, revoke] = [rx.callsOf('grant', g.requestId)[0]!, rx.callsOf('extend', g.requestId)[0]!, rx.callsOf('revoke', g.requestId)[0]!];
    expect(JSON.parse(grant.raw)).toEqual({
      action: 'grant',
      requestId: g.requestId,
      principal: 'alice',
      target: 'billing',
      entitlements: [
        { name: 'read', attributes: { scope: ['refunds.read'], level: 1 } },
        { name: 'bare', attributes: {} },
      ],
      expiresAt: new Date(g.expiresAt).toISOString(),
      idempotencyKey: idempotencyKey(g, 'grant'),
    });
    expect(extend.payload).toMatchObject({ action: 'extend', handle: granted.handle, expiresAt: new Date(g.expiresAt + 60_000).toISOString() });
    expect(revoke.payload).toMatchObject({ action: 'revoke', handle: granted.handle });

    for (const call of [grant, extend, revoke]) {
      // The receiver's own check passed, and the headers are the event webhooks' ones.
      expect(call.verified).toBe(true);
      expect(verifyWebhookSignature(SECRET, call.headers['hourglass-signature'] as string, call.raw, Date.now())).toBe(true);
      expect(verifyWebhookSignature('another-secret-of-32-characters-xx', call.headers['hourglass-signature'] as string, call.raw, Date.now())).toBe(false);
      expect(call.headers['hourglass-timestamp']).toMatch(/^\d{10}$/);
      expect(call.headers['user-agent']).toBe('Hourglass-Webhook/1');
      expect(call.headers['content-type']).toBe('application/json');
      expect(call.headers['hourglass-action']).toBe(call.action);
      expect(call.headers['idempotency-key']).toBe(call.payload.idempotencyKey);
      expect(call.raw).not.toContain(SECRET);
    }
    // One key per step: a different action or a new end is a new key.
    const keys = new Set([grant, extend, revoke].map((x) => x.payload.idempotencyKey));
    expect(keys.size).toBe(3);
    expect(idempotencyKey(g, 'grant')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a retried grant carries the same key, and the receiver answers it as before', async () => {
    const g = grantOf(target);
    rx.answerNext(1, 503, '{"error":"try later"}', ['grant']);
    const failed = await errorOf(c.grant(g));
    expect(isHgError(failed) && failed.code).toBe('HG_TARGET_UNAVAILABLE');
    expect(failed!.message).toBe('webhook target "billing": grant: the receiver answered 503: {"error":"try later"}');
    const first = await c.grant(g);
    const again = await c.grant(g);
    expect(again).toEqual(first);
    const calls = rx.callsOf('grant', g.requestId);
    expect(calls.map((x) => x.status)).toEqual([503, 200, 200]);
    expect(new Set(calls.map((x) => x.headers['idempotency-key'])).size).toBe(1);
    // Each attempt is signed anew (the signature covers its own timestamp).
    expect(calls.every((x) => x.verified)).toBe(true);
    await c.revoke(g);
  });
});

describe('webhook: answers', () => {
  it('revoke: 404 and 410 are "already gone", success; other refusals fail', async () => {
    await c.revoke(grantOf(target));
    expect(rx.calls.at(-1)!.status).toBe(404);
    rx.answerNext(1, 410, 'gone');
    await c.revoke(grantOf(target));
    for (const status of [400, 401, 409, 500, 502]) {
      rx.answerNext(1, status, 'nope');
      const e = await errorOf(c.revoke(grantOf(target)));
      expect(isHgError(e) && e.code, String(status)).toBe('HG_TARGET_UNAVAILABLE');
      expect(e!.message).toBe(`webhook target "billing": revoke: the receiver answered ${status}: nope`);
    }
  });

  it('grant and extend: only 2xx is done (a 404 or a redirect is a failure)', async () => {
    for (const status of [301, 404, 410, 429]) {
      rx.answerNext(1, status);
      const e = await errorOf(c.grant(grantOf(target)));
      expect(e?.message, String(status)).toBe(`webhook target "billing": grant: the receiver answered ${status}`);
    }
    const e = await errorOf(c.extend(grantOf(target)));
    expect(e?.message).toBe('webhook target "billing": extend: the receiver answered 404: {"error":"no such grant"}');
  });

  it('a 2xx body must be empty or the documented object; credentials and handle are checked', async () => {
    const cases: [string, string | undefined][] = [
      ['', undefined],
      ['{}', undefined],
      ['{"handle":null,"credentials":null,"other":1}', undefined],
      ['not json', 'not JSON'],
      ['[1,2]', 'the body: Expected object, received array'],
      ['{"handle":""}', 'handle: String must contain at least 1 character(s)'],
      [JSON.stringify({ handle: 'x'.repeat(513) }), 'handle: String must contain at most 512 character(s)'],
      ['{"credentials":"pw"}', 'credentials: Expected object, received string'],
      ['{"credentials":{"port":"5432"}}', 'credentials.port: Expected number, received string'],
    ];
    for (const [body, problem] of cases) {
      rx.answerNext(1, 200, body, ['grant']);
      const outcome = await c.grant(grantOf(target)).then(
        (v) => v,
        (e: Error) => e,
      );
      if (problem === undefined) expect(outcome, body).toEqual({});
      else
        expect((outcome as Error).message, body).toBe(
          `webhook target "billing": grant: the receiver answered 200 with a body Hourglass cannot use (${problem})`,
        );
    }
    rx.answerNext(1, 201, JSON.stringify({ handle: 'acct-7', credentials: { username: 'u', port: 443, token: 't', nested: { a: [1] } } }));
    expect(await c.grant(grantOf(target))).toEqual({ handle: 'acct-7', credentials: { username: 'u', port: 443, token: 't', nested: { a: [1] } } });
  });

  it('a receiver that returns no credentials grants all the same', async () => {
    rx.withoutCredentials(true);
    try {
      const g = grantOf(target);
      expect(await c.grant(g)).toEqual({ handle: `h-${g.requestId}` });
      await c.revoke(g);
    } finally {
      rx.withoutCredentials(false);
    }
  });

  it('an answer larger than maxResponseBytes fails the call', async () => {
    const small = connectorFor(targetFor(rx.url, '    maxResponseBytes: 1kb'));
    rx.answerNext(1, 200, JSON.stringify({ credentials: { blob: 'x'.repeat(2000) } }));
    expect((await errorOf(small.grant(grantOf(target))))?.message).toBe('webhook target "billing": grant: the response is larger than 1024 bytes');
    // Without content-length too (chunked), and within the limit it is read.
    const chunked = await slowServer((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"credentials":{"blob":"${'y'.repeat(600)}`);
      setTimeout(() => res.end(`${'y'.repeat(600)}"}}`), 20);
    });
    try {
      const viaChunks = connectorFor(targetFor(chunked.url, '    maxResponseBytes: 1kb'));
      expect((await errorOf(viaChunks.grant(grantOf(target))))?.message).toBe('webhook target "billing": grant: the response is larger than 1024 bytes');
      const roomy = connectorFor(targetFor(chunked.url));
      expect((await roomy.grant(grantOf(target))).credentials?.blob).toHaveLength(1200);
    } finally {
      await chunked.close();
    }
  });

  it('a receiver that answers too slowly (status or body) is given up on after timeout', async () => {
    const slow = await slowServer((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"handle":');
      // never ends
    });
    try {
      const t = targetFor(slow.url, '    timeout: 1s');
      const started = Date.now();
      const e = await errorOf(connectorFor(t).grant(grantOf(t)));
      expect(e?.message).toBe('webhook target "billing": grant: no answer within 1000 ms');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await slow.close();
    }
  });

  it('a network error is a target error', async () => {
    const dead = await slowServer(() => {});
    await dead.close();
    const t = targetFor(dead.url);
    const e = await errorOf(connectorFor(t).revoke(grantOf(t)));
    expect(isHgError(e) && e.code).toBe('HG_TARGET_UNAVAILABLE');
    expect(e!.message).toMatch(/^webhook target "billing": revoke: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('health POSTs {action: health}; a refusal or a closed connector says why', async () => {
    expect(await c.health()).toEqual({ ok: true });
    expect(rx.calls.at(-1)!.payload).toEqual({ action: 'health', target: 'billing' });
    rx.answerNext(1, 500, 'down');
    expect(await c.health()).toEqual({ ok: false, detail: 'webhook target "billing": health: the receiver answered 500: down' });
    const closed = connectorFor(target);
    await closed.close();
    expect(await closed.health()).toEqual({ ok: false, detail: 'webhook target "billing": the connector is closed' });
    await expect(closed.grant(grantOf(target))).rejects.toThrow('the connector is closed');
  });
});

describe('webhook: addresses and secrets', () => {
  it('an internal address not in server.allowedHosts is refused before anything is sent', async () => {
    const before = rx.calls.length;
    for (const allowed of [[], ['10.0.0.0/8'], ['localhost']]) {
      const e = await errorOf(connectorFor(target, allowed).grant(grantOf(target)));
      expect(isHgError(e) && e.code).toBe('HG_TARGET_UNAVAILABLE');
      expect(e!.message).toBe('webhook target "billing": grant: refused: 127.0.0.1 is an internal address; list it in server.allowedHosts to allow it');
    }
    // A name that resolves to an internal address is checked at connect time.
    const byName = targetFor(rx.url.replace('127.0.0.1', 'localhost'));
    const e = await errorOf(connectorFor(byName, []).revoke(grantOf(byName)));
    expect(e!.message).toBe('webhook target "billing": revoke: refused: localhost resolves to an internal address; list it in server.allowedHosts to allow it');
    expect(rx.calls.length).toBe(before);
    // allowedHosts is read at each call: a reload that lists the host applies at once.
    let allowed: string[] = [];
    const live = webhookConnectorFactory.create(target, { secretsToScrub: (s) => s, allowedHosts: () => allowed });
    await expect(live.health()).resolves.toMatchObject({ ok: false });
    allowed = ['127.0.0.0/8'];
    await expect(live.health()).resolves.toEqual({ ok: true });
  });

  it('without allowedHosts (a factory caller that gives none) no internal address is reached', async () => {
    const bare = webhookConnectorFactory.create(target, { secretsToScrub: (s) => s });
    expect((await errorOf(bare.grant(grantOf(target))))?.message).toContain('refused: 127.0.0.1 is an internal address');
  });

  it('the secret never appears in an error, even when the receiver echoes it', async () => {
    // The registry's scrubber is bypassed here (identity): the connector scrubs its own key.
    rx.answerNext(1, 500, `bad signature for key ${SECRET}`);
    const e = await errorOf(c.grant(grantOf(target)));
    expect(e!.message).toBe('webhook target "billing": grant: the receiver answered 500: bad signature for key ***');
    rx.answerNext(1, 200, `{"handle": "${SECRET}`);
    const parse = await errorOf(c.grant(grantOf(target)));
    expect(parse!.message).not.toContain(SECRET);
    const unreachable = connectorFor(target, []);
    const refused = await errorOf(unreachable.revoke(grantOf(target)));
    for (const err of [e, parse, refused]) {
      expect(err!.message).not.toContain(SECRET);
      expect(JSON.stringify((err as { details?: unknown }).details ?? {})).not.toContain(SECRET);
      expect(String((err as { cause?: Error }).cause?.message ?? '')).not.toContain(SECRET);
      expect(String((err as { cause?: Error }).cause?.stack ?? '')).not.toContain(SECRET);
    }
  });
});

describe('webhook: configuration', () => {
  it('fills the defaults, and leaves out the account settings of database kinds', () => {
    expect(target).toMatchObject({ timeout: 10_000, maxResponseBytes: 65_536, callTimeout: 30_000, provisioningTimeout: 120_000 });
    expect(target).not.toHaveProperty('accountPrefix');
    expect(target).not.toHaveProperty('reconcile');
    expect(() => targetFor(rx.url, '    accountPrefix: hg_')).toThrow(/targets\.billing\.accountPrefix/);
    expect(() => targetFor(rx.url, '    tls: { mode: require }')).toThrow(/targets\.billing\.tls/);
  });

  it('refuses a short secret, a bad size, an entitlement key it does not know, and non-mapping attributes', () => {
    expect(() => configFor(rx.url, '', { BILLING_WEBHOOK_SECRET: 'short' })).toThrow(/targets\.billing\.secret: must be at least 32 characters/);
    expect(() => targetFor(rx.url, '    maxResponseBytes: 2mb')).toThrow(/maxResponseBytes: must be at most 1mb/);
    expect(() => targetFor(rx.url, '    maxResponseBytes: lots')).toThrow(/maxResponseBytes: "lots" is not a size/);
    expect(() =>
      parseConfig(
        `credentials: { key: ${KEY} }\ntargets:\n  b:\n    type: webhook\n    url: ${rx.url}\n    secret: ${SECRET}\n    entitlements:\n      r: { attributes: [1] }\n`,
      ),
    ).toThrow(/targets\.b\.entitlements\.r\.attributes/);
    expect(() =>
      parseConfig(
        `credentials: { key: ${KEY} }\ntargets:\n  b:\n    type: webhook\n    url: ${rx.url}\n    secret: ${SECRET}\n    entitlements:\n      r: { roles: [x] }\n`,
      ),
    ).toThrow(/targets\.b\.entitlements\.r\.roles/);
  });

  it('semantic checks: https:// except to a loopback address; timeout below callTimeout', () => {
    const problems = (url: string, extra = '') =>
      webhookConnectorFactory.validate(
        parseConfigUnchecked(
          `credentials: { key: ${KEY} }\ntargets:\n  b:\n    type: webhook\n    url: ${url}\n    secret: ${SECRET}\n${extra}    entitlements: { r: {} }\n`,
        ).targets.b!,
      );
    expect(problems('https://billing.example.com/hourglass')).toEqual([]);
    expect(problems('http://127.0.0.1:8081/')).toEqual([]);
    expect(problems('http://[::1]:8081/')).toEqual([]);
    expect(problems('http://localhost/')).toEqual([]);
    expect(problems('http://billing.internal/hourglass')).toEqual([
      { path: ['url'], message: 'must be https:// (plain http:// only to a loopback address: answers may carry credentials)' },
    ]);
    expect(problems('https://b.example.com/', '    timeout: 30s\n')).toEqual([
      { path: ['timeout'], message: 'must be below callTimeout (30s), or a slow receiver is given up on before its answer is read' },
    ]);
    expect(problems('https://b.example.com/', '    timeout: 30s\n    callTimeout: 45s\n')).toEqual([]);
  });

  it('the secret is a secret: out of the policy hash, and scrubbed by the registry', () => {
    const a = configFor(rx.url);
    const b = configFor(rx.url, '', { BILLING_WEBHOOK_SECRET: `rotated-${SECRET}` });
    expect(b.policyHash).toBe(a.policyHash);
    expect(configFor(`${rx.url}/other`).policyHash).not.toBe(a.policyHash);
    expect(settingsAt(a.targets.billing!, webhookConnectorFactory.secretSettings)).toEqual([SECRET]);
    // The registry hands it to the connector's scrubber.
    expect(secretsOf(a.targets.billing!, webhookConnectorFactory)).toContain(SECRET);
  });
});

/** A server that answers every request with `handler` (for slow, chunked or dead receivers). */
async function slowServer(handler: (res: http.ServerResponse) => void) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
