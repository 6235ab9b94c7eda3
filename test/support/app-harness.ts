/**
 * Builds the real application over a real store (SQLite in a temp dir, or a throwaway
 * PostgreSQL) with a manual clock and a configuration given as YAML text.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenedStore } from '../../src/adapters/store/open-store.js';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import type { Hourglass } from '../../src/app/hourglass.js';
import type { ConfigSource } from '../../src/app/ports.js';
import { createHourglass, type HourglassSystem } from '../../src/compose.js';
import { parseConfig } from './config.js';
import type { HourglassConfig } from '../../src/config/types.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { errorResponse } from '../../src/http/responses.js';
import { ManualClock } from './manual-clock.js';
import { startPostgres } from './postgres-server.js';

import { T0 } from './builders.js'; // the one fixed instant of every suite, a Monday 10:00 UTC
export { T0 };

export const DEMO_YAML = readFileSync(new URL('../../examples/demo.yaml', import.meta.url), 'utf8');

export type Dialect = 'sqlite' | 'postgres';

export interface StoreHandle {
  url: string;
  cleanup(): Promise<void>;
}

/** A fresh, empty store location of the given dialect. */
export async function freshStoreUrl(dialect: Dialect): Promise<StoreHandle> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'hg-store-'));
    return { url: `sqlite:${join(dir, 'hg.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const pg = await startPostgres();
  return { url: pg.url, cleanup: () => pg.stop() };
}

export interface Harness {
  app: Hourglass;
  store: KyselyStore;
  /** The store's role ports (webhook outbox, checkpoint table, metrics figures). */
  stores: OpenedStore;
  /** Everything the composition root built (workers and scheduler, not started). */
  system: HourglassSystem;
  clock: ManualClock;
  config: HourglassConfig;
  source: ConfigSource & { set(c: HourglassConfig): void };
  close(): Promise<void>;
}

export function configFromYaml(yaml: string, storeUrl = 'sqlite::memory:', env: Record<string, string> = {}): HourglassConfig {
  const config = parseConfig(yaml, env, 'test.yaml');
  return { ...config, server: { ...config.server, store: storeUrl, rateLimitPerMinute: 0 } };
}

type HarnessOptions = { yaml?: string; storeUrl: string; now?: number; env?: Record<string, string>; log?: Logger };

/** The composition root as serve uses it, with a manual clock and without metrics; nothing is started. */
async function compose(opts: HarnessOptions, http: boolean) {
  const config = configFromYaml(opts.yaml ?? DEMO_YAML, opts.storeUrl, opts.env);
  const clock = new ManualClock(opts.now ?? T0);
  const system = await createHourglass(config, opts.env ?? {}, {
    clock,
    storeUrl: opts.storeUrl,
    metrics: false,
    http,
    ...(opts.log ? { log: opts.log } : {}),
  });
  // Checks answer from the index, as on a started server.
  await system.startCheckIndex();
  const source = Object.assign(system.config, { set: (c: HourglassConfig) => system.config.replace(c) });
  const h: Harness = {
    app: system.app,
    store: system.stores.store,
    stores: system.stores,
    system,
    clock,
    get config() {
      return source.current();
    },
    source,
    close: () => system.close(),
  };
  return { h, system };
}

export async function createHarness(opts: HarnessOptions): Promise<Harness> {
  return (await compose(opts, false)).h;
}

/** A JSON call through inject(), its answer checked against the documented schema like every HTTP test. */
export function documentedCall(server: FastifyInstance) {
  return async (method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await server.inject({
      method: method as 'GET',
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    const parsed = res.body ? JSON.parse(res.body) : undefined;
    assertDocumentedShape(server, method, url, res.statusCode, parsed);
    return { status: res.statusCode, body: parsed, headers: res.headers };
  };
}

/** The Fastify app over a harness, driven with inject(). */
export async function createHttpHarness(opts: HarnessOptions) {
  const { h, system } = await compose(opts, true);
  const server = system.server!;
  // Object.assign keeps the harness's live `config` getter (a spread would freeze it).
  return Object.assign(h, { server, call: documentedCall(server) });
}

export type HttpHarness = Awaited<ReturnType<typeof createHttpHarness>>;

/**
 * The HTTP harness the enclosing describe's tests share, on a fresh store of `dialect`: started
 * before them, closed after. The value stands in for the running harness (every property is read
 * from it), so tests write `h.call(...)` as with a harness of their own.
 */
export function sharedHttpHarness(dialect: Dialect, yaml: string): HttpHarness {
  let handle: StoreHandle | undefined;
  let running: HttpHarness | undefined;
  beforeAll(async () => {
    handle = await freshStoreUrl(dialect);
    running = await createHttpHarness({ yaml, storeUrl: handle.url, now: T0 });
  });
  afterAll(async () => {
    await running?.close();
    await handle?.cleanup();
  });
  return new Proxy({} as HttpHarness, {
    get: (_target, key) => {
      if (!running) throw new Error('the shared harness starts in beforeAll: use it inside a test');
      return Reflect.get(running, key, running);
    },
  });
}

export const token = (id: string) => `${id}-demo-token`;

/**
 * Every response seen by an HTTP test must match the schema its route documents (and errors the
 * shared error schema), so the OpenAPI document cannot drift from what the server sends.
 */
export function assertDocumentedShape(server: FastifyInstance, method: string, url: string, status: number, body: unknown) {
  if (body === undefined) return;
  const path = url.split('?')[0]!;
  const matches = (pattern: string) => new RegExp(`^${pattern.replace(/:[^/]+/g, '[^/]+')}$`).test(path);
  const candidates = server.routeTable.specs.filter((s) => s.method === method);
  // Static routes win over parametric ones, as in Fastify's router.
  const spec = candidates.find((s) => s.url === path) ?? candidates.find((s) => matches(s.url));
  const documented = spec?.responses[status];
  if (status >= 400 && !documented?.schema) {
    errorResponse.parse(body);
    return;
  }
  if (!spec) throw new Error(`${method} ${url} answered ${status} but no route spec documents it`);
  if (!documented) throw new Error(`${method} ${spec.url} answered ${status}, which its spec does not document`);
  const r = documented.schema?.safeParse(body);
  if (r && !r.success) throw new Error(`${method} ${spec.url} ${status} does not match its documented schema: ${r.error.message}`);
}
