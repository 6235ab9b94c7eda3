/**
 * Seeds a store (SQLite or PostgreSQL) with active grants before the server starts (the server
 * then holds a SQLite file exclusively); check-throughput does it in a child process.
 *
 * The first grant goes through the real use case (RequestService.submit). The rest take the
 * same path minus the per-request transaction: the real policy evaluation (evaluateRequest),
 * the same construction (newRequest), the real lifecycle transition (lifecycle.open) and the
 * real store writes (KyselyTx.insertRequest, which maintains the grants index, and appendAudit,
 * which links the chain at commit), 10,000 to a transaction. A check compares each seeded row's
 * shape with the reference row, so the fast path cannot drift from what the server writes. The
 * audit chain is then verified by the server's own start-up check, which saves the verified
 * point, so the server under test starts from a verified chain as after any restart.
 *
 * Speed: one INSERT per row cost a round trip per row on PostgreSQL (20,000 grants took 12.5 s,
 * a million would take 10 minutes). The bulk phase therefore runs the same store code over a
 * Kysely dialect (`batchingDialect`) that sends the single-row INSERTs of a transaction as
 * multi-row INSERTs: the rows are still the ones the store's code builds, only fewer statements
 * carry them.
 *
 * Principals too many for the configuration file (parsing 200,000 YAML entries is slow) can be
 * written to the store's principal table first, as an identity source such as SCIM keeps them:
 * the server's directory reads them after the file's, so a start does not end their access.
 * They are written as rows only, without the `principal.provisioned` events a SCIM call would
 * add to the chain (nothing measured reads those).
 */
import { resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import {
  createQueryId,
  InsertQueryNode,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  ValuesNode,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { factsFor, stamp } from '../src/app/context.js';
import type { Hourglass } from '../src/app/hourglass.js';
import type { StoredPrincipal } from '../src/app/ports.js';
import { createHourglass } from '../src/compose.js';
import { newRequest } from '../src/app/requests.js';
import { connectorFactories } from '../src/adapters/connectors/index.js';
import { KyselyStore } from '../src/adapters/store/kysely-store.js';
import type { Database } from '../src/adapters/store/schema.js';
import { parseConfig } from '../src/config/load-config.js';
import { parseDuration } from '../src/core/duration.js';
import * as lifecycle from '../src/core/lifecycle.js';
import { evaluateRequest } from '../src/core/policy.js';
import type { AccessRequest, Principal } from '../src/core/types.js';

export interface SeedItem {
  principal: Principal;
  entitlement: string;
  duration: string;
  /** The clock the submission sees (epoch ms). */
  now: number;
}

export interface SeedReport {
  requests: number;
  /** Principals written to the store's principal table. */
  principals: number;
  /** Everything before the chain verification: the reference request, principals, bulk writes. */
  seedMs: number;
  chainMs: number;
  auditEvents: number;
}

export interface SeedOptions {
  /** `sqlite:PATH` or `postgres://...`. */
  storeUrl?: string;
  /** A SQLite file: the same as storeUrl `sqlite:PATH`. */
  storePath?: string;
  yaml: string;
  count: number;
  item: (i: number) => SeedItem;
  /** Written to the store's principal table before the grants (see the header). */
  principals?: { count: number; principal: (i: number) => StoredPrincipal };
}

const REASON = 'benchmark seed';
const SOURCE_IP = '10.0.0.1';
const BATCH = 10_000;
/** Bulk transactions in flight: SQLite answers synchronously, so there is nothing to overlap. */
const CONCURRENT = { sqlite: 1, postgres: 2 } as const;
/** Bind parameters per merged INSERT: under SQLite's 32,766 and PostgreSQL's 65,535. */
const MAX_PARAMS = 30_000;

const shape = (req: AccessRequest) => Object.keys(req).sort().join(',');
const shapeDiff = (want: string, got: AccessRequest) => {
  const a = new Set(want.split(','));
  const b = new Set(Object.keys(got));
  return `missing [${[...a].filter((k) => !b.has(k)).join(', ')}], extra [${[...b].filter((k) => !a.has(k)).join(', ')}]`;
};

export async function seedActiveGrants(opts: SeedOptions): Promise<SeedReport> {
  const storeUrl = opts.storeUrl ?? `sqlite:${opts.storePath}`;
  const config = parseConfig(opts.yaml, {}, 'bench.yaml', connectorFactories);
  let t = Date.now();
  const clock = { now: () => t };
  const system = () => createHourglass(config, {}, { clock, storeUrl, metrics: false, http: false });
  const started = performance.now();

  // The reference request, through the use case on the store as the server opens it (migrated).
  const hg = await system();
  const { app } = hg;
  let reference: AccessRequest;
  try {
    const first = opts.item(0);
    t = first.now;
    reference = (
      await app.requests.submit(first.principal, { entitlements: [first.entitlement], duration: first.duration, reason: REASON }, { sourceIp: SOURCE_IP })
    ).request;
  } finally {
    // Closed before the bulk phase opens the store again (a SQLite store is held exclusively).
    // Its deps (configuration, clock, ids) stay usable: they hold no connection.
    await hg.close();
  }
  if (reference.status !== 'active') throw new Error(`seed request is ${reference.status}, expected active`);
  const expectedShape = shape(reference);

  const bulk = await openBulkStore(storeUrl);
  try {
    const principals = opts.principals;
    if (principals) {
      for (let from = 0; from < principals.count; from += BATCH) {
        await bulk.transaction(async (tx) => {
          for (let i = from; i < Math.min(principals.count, from + BATCH); i++) await tx.identity.putPrincipal(principals.principal(i));
        });
      }
    }
    // On PostgreSQL the next batch is built while the last one is written (the chain lock still
    // links one transaction at a time, each onto the head the one before committed).
    const running: Promise<void>[] = [];
    for (let from = 1; from < opts.count; from += BATCH) {
      const outcomes: { outcome: lifecycle.Outcome; now: number }[] = [];
      for (let i = from; i < Math.min(opts.count, from + BATCH); i++) {
        const it = opts.item(i);
        t = it.now;
        outcomes.push({ outcome: open(app, it), now: it.now });
      }
      if (running.length >= CONCURRENT[bulk.dialect]) await running.shift();
      const written = bulk.transaction(async (tx) => {
        for (const { outcome, now } of outcomes) {
          if (outcome.request.status !== 'active' || shape(outcome.request) !== expectedShape) {
            throw new Error(
              `a fast-seeded request differs from one submitted through the API (${outcome.request.status}; ${shapeDiff(expectedShape, outcome.request)}): ` +
                'bring open() in bench/seed.ts in line with RequestService.submit',
            );
          }
          await tx.insertRequest(outcome.request);
          await tx.appendAudit(stamp(app.deps, outcome.events, now, config.policyHash));
        }
      });
      written.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
      running.push(written);
    }
    await Promise.all(running);
  } finally {
    await bulk.close();
  }
  const seedMs = performance.now() - started;

  // The server's own start-up verification, which also saves the verified point.
  const chainStart = performance.now();
  const check = await system();
  try {
    const report = await check.app.audit.verifyIncrementally();
    if (!report.ok) throw new Error(`seeded audit chain does not verify: ${report.problem}`);
    const row = await check.stores.store.db
      .selectFrom('grants')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    if (Number(row?.n) !== opts.count) throw new Error(`the store holds ${row?.n} grants after seeding ${opts.count}`);
    return {
      requests: opts.count,
      principals: opts.principals?.count ?? 0,
      seedMs: Math.round(seedMs),
      chainMs: Math.round(performance.now() - chainStart),
      auditEvents: report.count,
    };
  } finally {
    await check.close();
  }
}

/** RequestService.submit's steps for one entitlement, without its transaction: evaluate, build (newRequest), open. */
function open(app: Hourglass, it: SeedItem): lifecycle.Outcome {
  const config = app.deps.config.current();
  const now = it.now;
  const verdict = evaluateRequest(config.policies, {
    requester: it.principal,
    entitlements: [it.entitlement],
    durationMs: parseDuration(it.duration),
    reason: REASON,
    sourceIp: SOURCE_IP,
    breakGlass: false,
    now,
  });
  if (!verdict.ok) throw new Error(`seed request refused: ${verdict.message}`);
  const request = newRequest({
    id: app.deps.ids.requestId(),
    requester: it.principal.id,
    entitlements: [it.entitlement],
    verdict,
    policyHash: config.policyHash,
    now,
    reason: REASON,
    sourceIp: SOURCE_IP,
  });
  return lifecycle.open(request, factsFor(config, request.entitlements, now));
}

/**
 * The store's code (KyselyStore) over a batching connection to an already migrated store, with
 * the SQLite settings the server uses that bear on what is written (WAL, foreign keys).
 */
async function openBulkStore(url: string): Promise<KyselyStore> {
  if (url.startsWith('sqlite:')) {
    const sqlite = new BetterSqlite3(resolve(url.slice('sqlite:'.length)));
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    // Speed only, not what is written: no syncs (a seed cut short fails the bench anyway), and a
    // 256 MB page cache, as the indexes of a million requests outgrow the 2 MB default at once.
    sqlite.pragma('synchronous = OFF');
    sqlite.pragma('cache_size = -262144');
    return new KyselyStore(new Kysely<Database>({ dialect: batchingDialect(new SqliteDialect({ database: sqlite })) }), 'sqlite');
  }
  const pool = new pg.Pool({ connectionString: url, max: CONCURRENT.postgres });
  return new KyselyStore(new Kysely<Database>({ dialect: batchingDialect(new PostgresDialect({ pool })) }), 'postgres');
}

/** A dialect whose connections hold back single-row INSERTs and send them merged (BatchingConnection). */
function batchingDialect(inner: Dialect): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createDriver: () => new BatchingDriver(inner.createDriver(), inner.createQueryCompiler()),
  };
}

/**
 * Holds back each single-row INSERT and sends the held rows, by statement, as multi-row INSERTs
 * before any other statement, before commit and before the connection is released: every read
 * still sees every earlier write, and a constraint a row breaks still fails its transaction.
 * Held statements go out in the order they first appeared (a request's row before its grants').
 * An ON CONFLICT clause (putPrincipal's upsert) is dropped from the merged statement, whose
 * clause would otherwise carry the first row's update values for every row: on the fresh rows
 * a seed writes it never applies, and a duplicate fails the seed instead of being merged wrongly.
 */
class BatchingConnection implements DatabaseConnection {
  private readonly held = new Map<string, InsertQueryNode[]>();

  constructor(
    readonly inner: DatabaseConnection,
    private readonly compiler: QueryCompiler,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const node = query.query;
    if (InsertQueryNode.is(node) && isSingleRow(node)) {
      const rows = this.held.get(query.sql);
      if (rows) rows.push(node);
      else this.held.set(query.sql, [node]);
      return { rows: [], numAffectedRows: 1n };
    }
    await this.flush();
    return this.inner.executeQuery<R>(query);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    await this.flush();
    yield* this.inner.streamQuery<R>(query, chunkSize);
  }

  async flush(): Promise<void> {
    for (const nodes of this.held.values()) {
      const { onConflict: _dropped, ...first } = nodes[0]!;
      const perStatement = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, first.columns?.length ?? 1)));
      for (let i = 0; i < nodes.length; i += perStatement) {
        const rows = nodes.slice(i, i + perStatement).map((n) => (n.values as ValuesNode).values[0]!);
        const merged = InsertQueryNode.cloneWith(first as InsertQueryNode, { values: ValuesNode.create(rows) });
        await this.inner.executeQuery(this.compiler.compileQuery(merged, createQueryId()));
      }
    }
    this.held.clear();
  }

  discard(): void {
    this.held.clear();
  }
}

function isSingleRow(node: InsertQueryNode): boolean {
  return (
    node.values !== undefined &&
    ValuesNode.is(node.values) &&
    node.values.values.length === 1 &&
    !node.returning &&
    !node.onDuplicateKey &&
    !node.orAction &&
    !node.ignore &&
    !node.replace &&
    !node.with &&
    !node.output
  );
}

class BatchingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly compiler: QueryCompiler,
  ) {}

  init() {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new BatchingConnection(await this.inner.acquireConnection(), this.compiler);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    return this.inner.beginTransaction(inner(connection), settings);
  }

  async commitTransaction(connection: DatabaseConnection) {
    await (connection as BatchingConnection).flush();
    await this.inner.commitTransaction(inner(connection));
  }

  async rollbackTransaction(connection: DatabaseConnection) {
    (connection as BatchingConnection).discard();
    await this.inner.rollbackTransaction(inner(connection));
  }

  async releaseConnection(connection: DatabaseConnection) {
    await (connection as BatchingConnection).flush();
    await this.inner.releaseConnection(inner(connection));
  }

  destroy() {
    return this.inner.destroy();
  }
}

const inner = (connection: DatabaseConnection) => (connection as BatchingConnection).inner;
