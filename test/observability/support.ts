/**
 * Shared pieces of the observability tests: a configuration with a `metrics` principal, a real
 * application with Prometheus metrics over a real SQLite store, and a small parser for the
 * Prometheus text format.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { parseDocument } from 'yaml';
import { createMetricsRegistry, createPrometheusMetrics, registerStateGauges } from '../../src/adapters/metrics.js';
import { openStore } from '../../src/adapters/store/open-store.js';
import { createIds } from '../../src/adapters/system.js';
import type { SchedulerStatus } from '../../src/adapters/scheduler.js';
import { Hourglass } from '../../src/app/hourglass.js';
import type { HourglassConfig } from '../../src/config/types.js';
import { buildServer } from '../../src/http/build-server.js';
import { assertDocumentedShape, configFromYaml, DEMO_YAML, documentedCall, freshStoreUrl, T0 } from '../support/app-harness.js';
import { ManualClock } from '../support/manual-clock.js';

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The demo configuration plus `prom` (role metrics, token `prom-demo-token`). */
export function observabilityYaml(): string {
  const doc = parseDocument(DEMO_YAML);
  const principals = doc.get('principals') as { add(v: unknown): void };
  principals.add(doc.createNode({ id: 'prom', roles: ['metrics'], apiTokens: [{ sha256: sha256('prom-demo-token') }] }));
  return doc.toString();
}

/** Collects pino's JSON lines in memory. */
export function memoryLogger(level = 'trace'): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  const log = pino({ level, base: { service: 'hourglass' } }, sink);
  return {
    log,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export interface ObservedServerOptions {
  /** false: the server runs without metrics (/metrics answers 404). */
  metrics?: boolean;
  logger?: Logger;
  scheduler?: () => SchedulerStatus;
}

/** A real application over a fresh SQLite store with a manual clock, Prometheus metrics and the HTTP server. */
export async function createObservedServer(opts: ObservedServerOptions = {}) {
  const handle = await freshStoreUrl('sqlite');
  let config: HourglassConfig = configFromYaml(observabilityYaml(), handle.url);
  const source = { current: () => config, set: (c: HourglassConfig) => (config = c) };
  const clock = new ManualClock(T0);
  const opened = await openStore(handle.url, { cwd: '.' });
  const store = opened.store;
  const withMetrics = opts.metrics ?? true;
  const registry: Registry | undefined = withMetrics ? createMetricsRegistry() : undefined;
  const app = new Hourglass({
    store,
    clock,
    ids: createIds(clock),
    config: source,
    ...(registry ? { metrics: createPrometheusMetrics(registry) } : {}),
  });
  if (registry) {
    registerStateGauges(registry, {
      snapshot: opened.stateSnapshot,
      clock,
      config: source,
      lastVerify: () => app.audit.lastVerify,
      ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
      cacheMs: 0,
    });
  }
  const server = await buildServer({
    app,
    config: source,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(registry ? { metrics: { registry } } : {}),
    ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
  });

  const call = documentedCall(server);

  /** GET /metrics as Prometheus would; errors are checked against the error schema. */
  const scrape = async (token?: string) => {
    const res = await server.inject({ method: 'GET', url: '/metrics', headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (res.statusCode !== 200) assertDocumentedShape(server, 'GET', '/metrics', res.statusCode, JSON.parse(res.body));
    return res;
  };

  return {
    app,
    store,
    clock,
    source,
    registry,
    server,
    call,
    scrape,
    async close() {
      await server.close();
      await store.close().catch(() => {});
      await handle.cleanup();
    },
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (enough of it for tests). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const v = m[3]!;
    out.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

/** The value of the one sample with this name whose labels include `labels`; undefined when absent. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
