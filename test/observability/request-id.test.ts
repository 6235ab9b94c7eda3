/**
 * Request ids and request log lines: every response carries `x-request-id` (the caller's when it
 * is a short safe token, else a new UUID) and every request's log lines carry it as `reqId`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggableUrl, randomUuid, requestIdOf } from '../../src/http/request-log.js';
import { token } from '../support/app-harness.js';
import { createObservedServer, memoryLogger } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('x-request-id', () => {
  let h: Awaited<ReturnType<typeof createObservedServer>>;
  let logs: ReturnType<typeof memoryLogger>;
  beforeAll(async () => {
    logs = memoryLogger('debug');
    h = await createObservedServer({ logger: logs.log });
  });
  afterAll(async () => {
    await h.close();
  });

  it('is generated for every response: success, 401, 404, 400, 413-sized input, /metrics, /docs', async () => {
    const seen = new Set<string>();
    for (const [method, url, auth, payload] of [
      ['GET', '/v1/me', token('alice')],
      ['GET', '/v1/me', undefined],
      ['GET', '/v1/nowhere', token('alice')],
      ['POST', '/v1/requests', token('alice'), { nope: 1 }],
      ['GET', '/healthz', undefined],
      ['GET', '/metrics', undefined],
      ['GET', '/docs', undefined],
      ['GET', '/openapi.json', undefined],
    ] as const) {
      const res = await h.server.inject({
        method,
        url,
        headers: auth ? { authorization: `Bearer ${auth}` } : {},
        ...(payload ? { payload } : {}),
      });
      const id = res.headers['x-request-id'];
      expect(id, `${method} ${url} (${res.statusCode})`).toMatch(UUID);
      seen.add(id as string);
    }
    expect(seen.size).toBe(8);
  });

  it('makes random version-4 UUIDs, unique across many refills of its entropy', () => {
    const ids = Array.from({ length: 5000 }, randomUuid);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
    // Every hex digit turns up in every free position: the bytes reach the text unbiased enough
    // that no position is stuck (a wrong shift or mask would pin some).
    for (let pos = 0; pos < 36; pos++) {
      if ([8, 13, 14, 18, 23].includes(pos)) continue; // dashes, the version digit
      expect(new Set(ids.map((id) => id[pos])).size, `position ${pos}`).toBe(pos === 19 ? 4 : 16);
    }
  });

  it("keeps a caller's id when it is a short safe token, and replaces anything else", async () => {
    for (const given of ['abc-123', 'f6c1a2f0-6b1e-4b8e-9d7a-0c2a7b1e5f00', 'Root=1-67891233-abcdef012345678912345678', 'trace:01.2_x']) {
      const res = await h.server.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': given } });
      expect(res.headers['x-request-id']).toBe(given);
    }
    for (const given of ['', 'has space', 'a'.repeat(101), '<script>', 'line\tbreak', 'ümlaut', '-leading-dash', 'x;y']) {
      const res = await h.server.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': given } });
      expect(res.headers['x-request-id'], JSON.stringify(given)).toMatch(UUID);
    }
    expect(requestIdOf({ headers: { 'x-request-id': ['a', 'b'] } } as never)).toMatch(UUID);
  });

  it('every log line of a request carries its id; one info line per request with route, status, time, principal', async () => {
    const before = logs.lines().length;
    const res = await h.server.inject({
      method: 'GET',
      url: '/v1/requests?mine=true',
      headers: { authorization: `Bearer ${token('alice')}`, 'x-request-id': 'trace-42' },
    });
    expect(res.statusCode).toBe(200);
    const mine = logs
      .lines()
      .slice(before)
      .filter((l) => l.reqId === 'trace-42');
    expect(mine.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
    const [incoming, done] = mine as [Record<string, any>, Record<string, any>];
    expect(incoming.level).toBe(20); // debug
    expect(done.level).toBe(30); // info
    expect(done.req).toMatchObject({ method: 'GET', url: '/v1/requests?mine=true', route: '/v1/requests', principal: 'alice' });
    expect(done.res).toEqual({ statusCode: 200 });
    expect(typeof done.responseTime).toBe('number');
    expect(JSON.stringify(mine)).not.toContain(token('alice'));

    // Probes log at debug only.
    const b2 = logs.lines().length;
    await h.server.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'probe-1' } });
    const probe = logs
      .lines()
      .slice(b2)
      .filter((l) => l.reqId === 'probe-1');
    expect(probe.every((l) => l.level === 20)).toBe(true);
    expect(probe.length).toBe(2);
  });

  it('query parameters that look like credentials are redacted from logged URLs', async () => {
    const secret = 'sekret-value-0123456789';
    const before = logs.lines().length;
    await h.server.inject({
      method: 'GET',
      url: `/v1/me?token=${secret}&access_token=${secret}&api_key=${secret}&password=${secret}&sig=${secret}&limit=5`,
      headers: { 'x-request-id': 'redact-1' },
    });
    const text = JSON.stringify(logs.lines().slice(before));
    expect(text).toContain('redact-1');
    expect(text).not.toContain(secret);
    expect(text).toContain('token=[redacted]');
    expect(text).toContain('limit=5');
    expect(loggableUrl('/v1/check?principal=alice&entitlement=db%2Fread')).toBe('/v1/check?principal=alice&entitlement=db%2Fread');
    expect(loggableUrl(`/x?Authorization=${secret}`)).toBe('/x?Authorization=[redacted]');
    expect(loggableUrl('/plain')).toBe('/plain');
  });
});
