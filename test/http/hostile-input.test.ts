/**
 * Input that is valid JSON but hostile to JavaScript: names that are keys of Object.prototype,
 * and text with lone UTF-16 surrogates (valid in a JSON string, invalid Unicode, and fatal to
 * strict JSON consumers of the audit export). Each gets a plain 400, never a 500, and nothing
 * of it is stored.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { policiesYaml } from '../fixtures/policies.js';

type H = Awaited<ReturnType<typeof createHttpHarness>>;
let h: H;
let handle: StoreHandle;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: handle.url });
});
afterEach(async () => {
  await h.close();
  await handle.cleanup();
});

const PROTOTYPE_NAMES = ['__proto__/x', 'constructor/x', 'toString/x', 'hasOwnProperty/read', 'db/constructor', 'db/__proto__', 'db/toString', 'db/valueOf'];

describe('entitlement names that are keys of Object.prototype', () => {
  it.each(PROTOTYPE_NAMES)('%s is an unknown entitlement (400) when requested', async (entitlement) => {
    const res = await h.call('POST', '/v1/requests', token('alice'), { entitlements: [entitlement], duration: '1h', reason: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('HG_INVALID_INPUT');
    expect(res.body.error.message).toMatch(/unknown entitlement/);
  });

  it.each(PROTOTYPE_NAMES)('%s is explained as unknown, checked as not held, and lists no grants', async (entitlement) => {
    const q = encodeURIComponent(entitlement);
    const explained = await h.call('GET', `/v1/policies/explain?entitlement=${q}&duration=1h`, token('alice'));
    expect(explained.status).toBe(200);
    expect(explained.body).toMatchObject({ allowed: false, code: 'HG_INVALID_INPUT' });
    const checked = await h.call('GET', `/v1/check?principal=alice&entitlement=${q}`, token('app'));
    expect(checked).toMatchObject({ status: 200, body: { allowed: false } });
    const grants = await h.call('GET', `/v1/grants?entitlement=${q}`, token('admin'));
    expect(grants).toMatchObject({ status: 200, body: { grants: [] } });
  });

  it('targets named like prototype keys cannot be frozen (404), and the real ones still can', async () => {
    for (const name of ['__proto__', 'constructor', 'toString']) {
      const res = await h.call('POST', `/v1/targets/${name}/freeze`, token('admin'), {});
      expect(res.status).toBe(404);
    }
    expect((await h.call('POST', '/v1/targets/db/freeze', token('admin'), {})).status).toBe(200);
  });
});

describe('lone UTF-16 surrogates in text', () => {
  const LONE = ['\ud800', 'ok \udfff', 'tail \ud83d', '\udc00\ud800'];

  it.each(LONE)('a reason with %j is refused with a 400 naming the field, and nothing is stored', async (bad) => {
    const res = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h', reason: bad });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('HG_INVALID_INPUT');
    expect(res.body.error.message).toMatch(/reason: .*surrogate/);
    const events = (await h.call('GET', '/v1/audit', token('auditor'))).body.events;
    expect(events.filter((e: { type: string }) => e.type.startsWith('request.'))).toEqual([]);
  });

  it('every free-text field of the API refuses them: ticket, comments, reasons of revoke and lock', async () => {
    const ticket = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h', ticket: 'INC-\ud800' });
    expect(ticket.status).toBe(400);
    const ok = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h', reason: 'fine' });
    expect(ok.status).toBe(201);
    const revoke = await h.call('POST', `/v1/requests/${ok.body.id}/revoke`, token('admin'), { reason: 'bye \udfff' });
    expect(revoke.status).toBe(400);
    const lock = await h.call('POST', '/v1/principals/mallory/lock', token('admin'), { reason: '\ud800' });
    expect(lock.status).toBe(400);
    // Nothing was half-done: the grant is still active and mallory is not locked.
    expect((await h.call('GET', `/v1/requests/${ok.body.id}`, token('alice'))).body.status).toBe('active');
    expect((await h.call('GET', '/v1/locks', token('admin'))).body.principals).toEqual([]);
  });

  it('well-formed text outside the BMP (a surrogate pair) is accepted and exported intact', async () => {
    const reason = 'fix 🔥 in prod — ok';
    const res = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h', reason });
    expect(res.status).toBe(201);
    expect(res.body.reason).toBe(reason);
    const exported = await h.server.inject({ method: 'GET', url: '/v1/audit/export?format=jsonl', headers: { authorization: `Bearer ${token('auditor')}` } });
    expect(exported.statusCode).toBe(200);
    const lines = exported.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => JSON.stringify(l).includes(reason))).toBe(true);
  });
});
