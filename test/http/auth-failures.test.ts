/**
 * Failed authentication is limited per source address (issue 9 item 5), on a real listening
 * server. Source addresses come from X-Forwarded-For, believed because 127.0.0.1 is a trusted
 * proxy; time is the harness's manual clock, so refilling is exact.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../../src/adapters/metrics.js';
import type { ServerSettings } from '../../src/config/types.js';
import { AuthFailureLimiter } from '../../src/http/auth-failure-limiter.js';
import { buildServer } from '../../src/http/build-server.js';
import { createHarness, token, type Harness } from '../support/app-harness.js';
import { ManualClock } from '../support/manual-clock.js';

let h: Harness | undefined;
let server: FastifyInstance | undefined;

afterEach(async () => {
  await server?.close();
  await h?.close();
  server = h = undefined;
});

async function start(overrides: Partial<ServerSettings>) {
  h = await createHarness({ storeUrl: 'sqlite::memory:' });
  const config = h.config;
  h.source.set({ ...config, server: { ...config.server, trustedProxies: ['127.0.0.1/32'], ...overrides } });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  server = await buildServer({ app: h.app, config: h.source, metrics: { registry } });
  const base = await server.listen({ host: '127.0.0.1', port: 0 });
  const call = async (from: string, path: string, auth?: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, {
      ...init,
      headers: { 'x-forwarded-for': from, ...(auth !== undefined ? { authorization: auth } : {}), ...(init.headers as Record<string, string>) },
    });
    const body = (await res.json()) as { error?: { code: string; message: string } };
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
  };
  return { call, clock: h.clock, registry };
}

const ATTACKER = '203.0.113.7';
const NEIGHBOUR = '203.0.113.8';
const bearer = (t: string) => `Bearer ${t}`;

describe('failed authentication, per source address', () => {
  it('answers 429 after the burst to 1,000 distinct wrong tokens, refills by itself and leaves other addresses alone', async () => {
    const { call, clock, registry } = await start({ authFailures: { burst: 20, perMinute: 30 } });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 1000; i++) {
      last = await call(ATTACKER, '/v1/me', bearer(`guess-${i}`));
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(Array(980).fill(429));
    expect(last!.body.error).toEqual({ code: 'HG_RATE_LIMITED', message: 'too many requests; retry later' });
    // 30 a minute: one token back every 2 s (refused attempts took none).
    expect(last!.retryAfter).toBe('2');

    // Checked before the token, whatever it is: a valid token from that address waits too, on
    // every authenticated route (GET, POST, /metrics, the not-found handler).
    expect((await call(ATTACKER, '/v1/me', bearer(token('alice')))).status).toBe(429);
    expect((await call(ATTACKER, '/v1/check?principal=alice&entitlement=demo-db/read', bearer(token('app')))).status).toBe(429);
    expect((await call(ATTACKER, '/v1/nowhere', bearer(token('alice')))).status).toBe(429);
    expect((await call(ATTACKER, '/v1/nowhere')).status).toBe(429);
    expect((await call(ATTACKER, '/metrics', bearer(token('prometheus')))).status).toBe(429);
    const post = await call(ATTACKER, '/v1/requests', bearer(token('alice')), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entitlements: ['demo-db/read'], duration: '1h', reason: 'x' }),
    });
    expect([post.status, post.retryAfter]).toEqual([429, '2']);
    // Unauthenticated routes are not limited by it.
    expect((await call(ATTACKER, '/healthz')).status).toBe(200);

    // Another address is not affected: its valid tokens work and its own failures are its own.
    expect((await call(NEIGHBOUR, '/v1/me', bearer(token('alice')))).status).toBe(200);
    expect((await call(NEIGHBOUR, '/v1/check?principal=alice&entitlement=demo-db/read', bearer(token('app')))).status).toBe(200);
    expect((await call(NEIGHBOUR, '/v1/me', bearer('wrong'))).status).toBe(401);

    // No lockout: after 2 s one token is back; a valid token works and is not charged.
    clock.advance(1999);
    expect((await call(ATTACKER, '/v1/me', bearer(token('alice')))).retryAfter).toBe('1');
    clock.advance(1);
    expect((await call(ATTACKER, '/v1/me', bearer(token('alice')))).status).toBe(200);
    expect((await call(ATTACKER, '/v1/me', bearer(token('alice')))).status).toBe(200);
    expect((await call(ATTACKER, '/v1/me', bearer('guess-again'))).status).toBe(401);
    expect((await call(ATTACKER, '/v1/me', bearer(token('alice')))).status).toBe(429);
    // A full minute refills 30 (burst 20 at most).
    clock.advance(60_000);
    const after = [];
    for (let i = 0; i < 21; i++) after.push((await call(ATTACKER, '/v1/me', bearer(`late-${i}`))).status);
    expect(after).toEqual([...Array(20).fill(401), 429]);

    const refused = await registry.getSingleMetricAsString('hourglass_http_refused_total');
    expect(refused).toMatch(/hourglass_http_refused_total\{reason="auth_failures"\} 98\d/);
  });

  it('limits POST routes (authenticated before the body is read) and the not-found handler', async () => {
    const { call } = await start({ authFailures: { burst: 3, perMinute: 1 } });
    const submit = (auth: string) =>
      call(ATTACKER, '/v1/requests', auth, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ entitlements: ['demo-db/read'], duration: '1h', reason: 'x' }),
      });
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await submit(bearer(`post-${i}`))).status);
    statuses.push((await call(ATTACKER, '/v1/nowhere', 'Basic YWxpY2U6eA==')).status);
    for (let i = 0; i < 3; i++) statuses.push((await submit(bearer(`post-${i}`))).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    expect((await submit(bearer(token('alice')))).retryAfter).toBe('60');
    expect((await submit(bearer(token('bob')))).status).toBe(429);
    const neighbour = await call(NEIGHBOUR, '/v1/requests', bearer(token('alice')), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entitlements: ['demo-db/read'], duration: '1h', reason: 'x' }),
    });
    expect(neighbour.status).toBe(201);
  });

  it('does not count requests without credentials', async () => {
    const { call } = await start({ authFailures: { burst: 2, perMinute: 1 } });
    for (let i = 0; i < 10; i++) expect((await call(ATTACKER, '/v1/me')).status).toBe(401);
    expect((await call(ATTACKER, '/v1/me', bearer(token('alice')))).status).toBe(200);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(ATTACKER, '/v1/me', bearer(`guess-${i}`))).status);
    expect(statuses).toEqual([401, 401, 429]);
  });

  // authFailures off (burst 0): 30 failures in a row are all 401, only the general limit applies.
  it('the general rate limit counts made-up tokens per address, not a fresh bucket per token', async () => {
    const { call } = await start({ rateLimitPerMinute: 30, authFailures: { burst: 0, perMinute: 0 } });
    const statuses = [];
    for (let i = 0; i < 40; i++) statuses.push((await call(ATTACKER, '/v1/me', bearer(`made-up-${i}`))).status);
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(statuses.slice(30)).toEqual(Array(10).fill(429));
    // A principal has its own bucket, whatever address it calls from.
    expect((await call(ATTACKER, '/v1/me', bearer(token('alice')))).status).toBe(200);
  });
});

describe('AuthFailureLimiter memory', () => {
  it('keeps at most its cap of addresses and forgets refilled ones', () => {
    const clock = new ManualClock(0);
    const limiter = new AuthFailureLimiter(() => ({ burst: 2, perMinute: 60 }), clock, 100);
    for (let i = 0; i < 10_000; i++) limiter.fail(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(100);
    // The newest addresses are kept (each failed once: one token left, not blocked).
    expect(limiter.retryAfter('10.0.39.15')).toBe(0);
    limiter.fail('10.0.39.15');
    expect(limiter.retryAfter('10.0.39.15')).toBe(1);
    // Once refilled, failures elsewhere sweep the old buckets out.
    clock.advance(2000);
    for (let i = 0; i < 60; i++) limiter.fail(`192.0.2.${i}`);
    expect(limiter.size).toBe(60);
    // A clock set back does not strand an address.
    limiter.fail('198.51.100.1');
    limiter.fail('198.51.100.1');
    clock.set(-1_000_000);
    expect(limiter.retryAfter('198.51.100.1')).toBe(1);
    clock.advance(1000);
    expect(limiter.retryAfter('198.51.100.1')).toBe(0);
  });
});
