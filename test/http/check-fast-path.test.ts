/**
 * GET /v1/check's fast path (src/http/check-fast-path.ts) on a listening server: what it takes
 * it answers exactly as the Fastify route does (inject() never reaches it, so inject is the
 * reference), and everything it must not answer (bad tokens, missing roles or scopes, malformed
 * queries, rate limits, request logging) reaches Fastify and gets the route's own answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policiesYaml } from '../fixtures/policies.js';
import { createHttpHarness, type HttpHarness, token } from '../support/app-harness.js';
import { memoryLogger } from '../observability/support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A harness listening on a loopback port, with a count of the requests that reached Fastify. */
async function listening(opts: { yaml?: string } = {}) {
  const h = await createHttpHarness({ yaml: opts.yaml ?? policiesYaml(), storeUrl: 'sqlite::memory:' });
  let viaFastify = 0;
  h.server.addHook('onRequest', (_req, _reply, done) => {
    viaFastify++;
    done();
  });
  const base = await h.server.listen({ host: '127.0.0.1', port: 0 });
  const get = async (path: string, bearer?: string, headers: Record<string, string> = {}) => {
    const before = viaFastify;
    const res = await fetch(base + path, { headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers } });
    return { status: res.status, body: await res.json(), headers: res.headers, fastify: viaFastify > before };
  };
  /** The same call through inject(): Fastify's route, the reference answer. */
  const reference = async (path: string, bearer?: string) => {
    const res = await h.server.inject({ method: 'GET', url: path, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
    return { status: res.statusCode, body: res.json() as unknown, contentType: res.headers['content-type'] };
  };
  return { h, get, reference };
}

describe('GET /v1/check fast path', () => {
  let s: Awaited<ReturnType<typeof listening>>;
  let h: HttpHarness;
  let granted: { id: string; expiresAt: string };
  beforeAll(async () => {
    s = await listening();
    h = s.h;
    const r = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h' });
    expect(r.status).toBe(201);
    granted = r.body;
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers a checker and an admin itself, with the route’s status, body and headers', async () => {
    for (const [who, path] of [
      ['app', '/v1/check?principal=alice&entitlement=db/read'],
      ['app', '/v1/check?principal=alice&entitlement=db%2Fwrite'],
      ['admin', '/v1/check?entitlement=db/read&principal=alice'],
      ['app', '/v1/check?principal=nobody&entitlement=db/read'],
    ] as const) {
      const fast = await s.get(path, token(who));
      const ref = await s.reference(path, token(who));
      expect(fast.fastify, `${who} ${path}`).toBe(false);
      expect({ status: fast.status, body: fast.body, contentType: fast.headers.get('content-type') }).toEqual(ref);
      expect(fast.headers.get('x-request-id')).toMatch(UUID);
    }
    const allowed = await s.get('/v1/check?principal=alice&entitlement=db/read', token('app'));
    expect(allowed.body).toEqual({ allowed: true, requestId: granted.id, expiresAt: granted.expiresAt });
  });

  it("keeps the caller's x-request-id, as the route does", async () => {
    const res = await s.get('/v1/check?principal=alice&entitlement=db/read', token('app'), { 'x-request-id': 'gw-123.abc' });
    expect(res.fastify).toBe(false);
    expect(res.headers.get('x-request-id')).toBe('gw-123.abc');
  });

  it('answers from the index as the clock moves: denied from expiresAt on', async () => {
    h.clock.set(Date.parse(granted.expiresAt));
    try {
      const res = await s.get('/v1/check?principal=alice&entitlement=db/read', token('app'));
      expect(res).toMatchObject({ fastify: false, status: 200, body: { allowed: false } });
    } finally {
      h.clock.set(Date.parse(granted.expiresAt) - 3_600_000);
    }
  });

  it('hands every refusal to the route: no role, bad or missing token, malformed queries, other paths', async () => {
    for (const [path, who, status] of [
      ['/v1/check?principal=alice&entitlement=db/read', 'alice', 403],
      ['/v1/check?principal=alice&entitlement=db/read', undefined, 401],
      ['/v1/check?principal=alice', 'app', 400],
      ['/v1/check?principal=alice&entitlement=db/read&x=1', 'app', 400],
      ['/v1/check?principal=alice&principal=bob&entitlement=db/read', 'app', 400],
      ['/v1/check?principal=&entitlement=db/read', 'app', 400],
      [`/v1/check?principal=${'a'.repeat(201)}&entitlement=db/read`, 'app', 400],
      ['/v1/check/?principal=alice&entitlement=db/read', 'app', 404],
    ] as const) {
      const res = await s.get(path, who && token(who));
      expect(res.fastify, path).toBe(true);
      const ref = await s.reference(path, who && token(who));
      expect({ status: res.status, body: res.body }, `${who} ${path}`).toEqual({ status: ref.status, body: ref.body });
      expect(res.status).toBe(status);
    }
  });

  it('honours token scopes: a token without `check` is refused by the route, one with it is answered here', async () => {
    const made = async (scopes: string[]) =>
      (await h.call('POST', '/v1/tokens', token('admin'), { name: `t-${scopes.join('-')}`, scopes, expiresIn: '1h' })).body.token as string;
    const readOnly = await made(['read']);
    const checker = await made(['check']);
    const refused = await s.get('/v1/check?principal=alice&entitlement=db/read', readOnly);
    expect(refused).toMatchObject({ fastify: true, status: 403 });
    // A stored token is looked up asynchronously the first time: the fast path waits for it.
    const answered = await s.get('/v1/check?principal=alice&entitlement=db/read', checker);
    expect(answered).toMatchObject({ fastify: false, status: 200, body: { allowed: true } });
  });

  // Last: the failure it records sends this server's checks through the route from then on.
  it('leaves a token that fails to the route, which counts it against the address', async () => {
    const res = await s.get('/v1/check?principal=alice&entitlement=db/read', 'not-a-token');
    expect(res).toMatchObject({ fastify: true, status: 401 });
    // With a failure on record every check goes through the route, which judges the budget first.
    expect((await s.get('/v1/check?principal=alice&entitlement=db/read', token('app'))).fastify).toBe(true);
  });
});

describe('GET /v1/check fast path, stepping aside', () => {
  it('leaves checks to the route while a rate limit would count them', async () => {
    const { h, get } = await listening({ yaml: policiesYaml().replace('server:\n', 'server:\n  rateLimit: { checkPerMinute: 2 }\n') });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) {
        const res = await get('/v1/check?principal=alice&entitlement=db/read', token('app'));
        expect(res.fastify).toBe(true);
        codes.push(res.status);
      }
      expect(codes).toEqual([200, 200, 429]);
    } finally {
      await h.close();
    }
  });

  it('leaves checks to the route while request lines are logged (level info), so each gets its line', async () => {
    const logs = memoryLogger('info');
    const h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: 'sqlite::memory:', log: logs.log });
    try {
      const base = await h.server.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${base}/v1/check?principal=alice&entitlement=db/read`, { headers: { authorization: `Bearer ${token('app')}` } });
      expect(res.status).toBe(200);
      const line = logs.lines().find((l) => l.msg === 'request completed');
      expect(line).toMatchObject({ req: { route: '/v1/check', principal: 'app' }, res: { statusCode: 200 } });
    } finally {
      await h.close();
    }
  });
});
