/**
 * Clients that hold sockets open (issue 9 item 4): slow bodies, slow headers, silence and idle
 * keep-alive connections are closed by the timeouts, connections beyond the per-address cap are
 * closed at once, and meanwhile others are answered quickly. A real listening server and raw
 * sockets: inject() has none.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../../src/adapters/metrics.js';
import type { ServerSettings } from '../../src/config/types.js';
import { buildServer } from '../../src/http/build-server.js';
import { createHarness, token, type Harness } from '../support/app-harness.js';

let h: Harness | undefined;
let server: FastifyInstance | undefined;
const sockets: Socket[] = [];
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  await h?.close();
  server = h = undefined;
});

const CAP = 10;

async function start(overrides: Partial<ServerSettings> = {}) {
  h = await createHarness({ storeUrl: 'sqlite::memory:' });
  const config = h.config;
  h.source.set({
    ...config,
    server: {
      ...config.server,
      timeouts: { requestMs: 2000, headersMs: 1000, keepAliveMs: 1000 },
      maxConnectionsPerAddress: CAP,
      ...overrides,
    },
  });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  server = await buildServer({ app: h.app, config: h.source, metrics: { registry } });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as { port: number }).port;
  return { port, registry };
}

type Kind = 'body' | 'body-unauthenticated' | 'headers' | 'silent';

interface Slow {
  kind: Kind;
  opened: number;
  /** ms after opening when the server closed it. */
  closed: Promise<number>;
  received: () => string;
}

/** A client that dribbles one byte every 200 ms and never finishes its request. */
function slowClient(port: number, kind: Kind): Promise<Slow> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    let received = '';
    const opened = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - opened)));
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', () => {});
    socket.once('connect', () => {
      const auth = kind === 'body' ? `Authorization: Bearer ${token('alice')}\r\n` : '';
      if (kind === 'body' || kind === 'body-unauthenticated') {
        socket.write(`POST /v1/requests HTTP/1.1\r\nHost: hg\r\n${auth}Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"reason":"`);
      } else if (kind === 'headers') {
        socket.write('GET /v1/me HTTP/1.1\r\nHost: hg\r\n');
      }
      const t = setInterval(() => {
        if (kind !== 'silent' && !socket.destroyed) socket.write(kind === 'headers' ? 'X' : 'x');
      }, 200);
      timers.push(t);
      socket.once('close', () => clearInterval(t));
      resolve({ kind, opened, closed, received: () => received });
    });
    socket.once('error', reject);
  });
}

/** GET with a token from a given local address; resolves with the status and how long it took. */
function timedGet(port: number, path: string, localAddress: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, agent: false, headers: { authorization: `Bearer ${token('app')}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, ms: Date.now() - started }));
    });
    req.on('error', reject);
    req.end();
  });
}

const CHECK = '/v1/check?principal=alice&entitlement=demo-db/read';

describe('slow and hostile clients', () => {
  it('closes slow sockets by the timeouts and the per-address cap, and answers others meanwhile', async () => {
    const { port, registry } = await start();
    const kinds: Kind[] = ['body', 'body-unauthenticated', 'headers', 'silent'];
    const slow: Slow[] = [];
    for (let i = 0; i < 3 * CAP; i++) slow.push(await slowClient(port, kinds[i % kinds.length]!));

    // Beyond the cap, connections from the same address are closed at once, unanswered.
    const quick = await Promise.all(slow.map((s) => Promise.race([s.closed, new Promise<number>((r) => setTimeout(() => r(-1), 400))])));
    const refused = slow.filter((_, i) => quick[i] !== -1);
    expect(refused).toHaveLength(2 * CAP);
    for (const s of refused) expect(s.received()).toBe('');

    // Meanwhile another client on this machine is answered at once.
    const other = await timedGet(port, CHECK, '127.0.0.2');
    expect(other.status).toBe(200);
    expect(other.ms).toBeLessThan(500);

    // Every slow socket is closed: headers within 1 s, the whole request within 2 s (checked every 500 ms).
    const held = slow.filter((_, i) => quick[i] === -1);
    const lifetimes = await Promise.all(held.map((s) => s.closed));
    for (const [i, s] of held.entries()) {
      const limit = s.kind === 'headers' || s.kind === 'silent' ? 1000 : 2000;
      expect(lifetimes[i], `${s.kind} socket lived ${lifetimes[i]} ms`).toBeGreaterThanOrEqual(limit - 50);
      expect(lifetimes[i], `${s.kind} socket lived ${lifetimes[i]} ms`).toBeLessThan(limit + 1500);
      if (s.kind !== 'body-unauthenticated') expect(s.received()).toMatch(/^HTTP\/1\.1 408 /);
    }
    // The address has its connections back.
    expect((await timedGet(port, CHECK, '127.0.0.1')).status).toBe(200);
    expect(await registry.getSingleMetricAsString('hourglass_http_refused_total')).toContain(`reason="connections_per_address"} ${2 * CAP}`);
  });

  it('keeps a keep-alive connection between requests, longer than the headers timeout, and closes it when idle', async () => {
    const { port } = await start({ timeouts: { requestMs: 2000, headersMs: 1000, keepAliveMs: 2000 } });
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    let received = '';
    let lastData = 0;
    socket.on('data', (d) => {
      received += d.toString();
      lastData = Date.now();
    });
    await new Promise((r) => socket.once('connect', r));
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    const get = `GET ${CHECK} HTTP/1.1\r\nHost: hg\r\nAuthorization: Bearer ${token('app')}\r\n\r\n`;
    // Gaps shorter than the keep-alive timeout keep the connection (the headers timeout does not
    // run between requests).
    for (let i = 0; i < 3; i++) {
      socket.write(get);
      await new Promise((r) => setTimeout(r, 1500));
    }
    expect(received.match(/HTTP\/1\.1 200 /g)).toHaveLength(3);
    expect(received).toContain('Keep-Alive: timeout=2');
    expect(socket.destroyed).toBe(false);
    // Then, idle for the keep-alive timeout (2 s; Node adds one more second), it is closed.
    const idle = (await closed) - lastData;
    expect(idle).toBeGreaterThanOrEqual(2000 - 50);
    expect(idle).toBeLessThan(2000 + 1000 + 1000);
  });

  it('caps connections in all', async () => {
    const { port, registry } = await start({ maxConnections: 3, maxConnectionsPerAddress: 0 });
    const slow = [];
    for (let i = 0; i < 5; i++) slow.push(await slowClient(port, 'silent'));
    const quick = await Promise.all(slow.map((s) => Promise.race([s.closed, new Promise<number>((r) => setTimeout(() => r(-1), 300))])));
    expect(quick.filter((q) => q !== -1)).toHaveLength(2);
    expect(await registry.getSingleMetricAsString('hourglass_http_refused_total')).toContain('reason="connections_total"} 2');
  });
});
