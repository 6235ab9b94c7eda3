/**
 * Builds the real application over a real store (SQLite in a temp dir, or a throwaway
 * PostgreSQL) with a manual clock and a configuration given as YAML text.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIds } from '../../src/adapters/system.js';
import { loadSecretKey, secretBox } from '../../src/adapters/secret-box.js';
import { openStore } from '../../src/adapters/store/open-store.js';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { Hourglass } from '../../src/app/hourglass.js';
import type { ConfigSource } from '../../src/app/ports.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { HourglassConfig } from '../../src/config/types.js';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/http/build-server.js';
import { errorResponse } from '../../src/http/responses.js';
import { ManualClock } from './manual-clock.js';
import { startPostgres } from './postgres-server.js';

export const T0 = Date.UTC(2026, 0, 5, 10, 0); // a Monday, 10:00 UTC

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
  clock: ManualClock;
  config: HourglassConfig;
  source: ConfigSource & { set(c: HourglassConfig): void };
  close(): Promise<void>;
}

export function configFromYaml(yaml: string, storeUrl = 'sqlite::memory:', env: Record<string, string> = {}): HourglassConfig {
  const config = parseConfig(yaml, env, 'test.yaml');
  return { ...config, server: { ...config.server, store: storeUrl, rateLimitPerMinute: 0 } };
}

export async function createHarness(opts: { yaml?: string; storeUrl: string; now?: number; env?: Record<string, string> }): Promise<Harness> {
  let config = configFromYaml(opts.yaml ?? DEMO_YAML, opts.storeUrl, opts.env);
  const source = { current: () => config, set: (c: HourglassConfig) => (config = c) };
  const clock = new ManualClock(opts.now ?? T0);
  const store = await openStore(opts.storeUrl);
  // As in serve: a configured credentials key seals connector credentials at rest.
  const key = loadSecretKey(config.credentials);
  const app = new Hourglass({ store, clock, ids: createIds(clock), config: source, ...(key ? { sealer: secretBox(key) } : {}) });
  return {
    app,
    store,
    clock,
    get config() {
      return config;
    },
    source,
    close: () => store.close(),
  };
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
export async function createHttpHarness(opts: { yaml?: string; storeUrl: string; now?: number; env?: Record<string, string> }) {
  const h = await createHarness(opts);
  const server = await buildServer({ app: h.app, config: h.source });
  const call = documentedCall(server);
  const closeStore = h.close;
  // Object.assign keeps the harness's live `config` getter (a spread would freeze it).
  return Object.assign(h, {
    server,
    call,
    async close() {
      await server.close();
      await closeStore();
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
