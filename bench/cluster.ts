/**
 * Helpers for the multi-server benchmarks: a throwaway PostgreSQL server (test/support), fresh
 * store databases on it, several `hourglass serve` processes on one store, their /readyz, the
 * CPU time of PostgreSQL's backends, and a sampler that watches the audit chain's advisory lock.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { CHAIN_LOCK_ID } from '../src/adapters/store/kysely-store.js';
import { startPostgres, type PostgresServer } from '../test/support/postgres-server.js';
import { processCpuMs, round, spawnHourglass, type Spawned } from './lib.js';

export type { PostgresServer };

/** A PostgreSQL server for stores (fsync off, as in the tests: see test/support/postgres-server.ts). */
export function startStorePostgres(): Promise<PostgresServer> {
  return startPostgres({ database: 'postgres', settings: { max_connections: 300 } });
}

/** Creates an empty database on `server` and returns its URL, to be used as a store URL. */
export async function createStore(server: PostgresServer, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return server.adminUrl.replace(/\/postgres$/, `/${name}`);
}

/** `n` servers on one configuration (one store), started together: the first to come migrates. */
export async function spawnServers(configPath: string, n: number): Promise<Spawned[]> {
  const started = await Promise.allSettled(Array.from({ length: n }, () => spawnHourglass(configPath)));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<Spawned>).value);
}

export interface Readyz {
  ready: boolean;
  server?: string;
  checks: { ok: boolean; seq?: number; grants?: number };
}

export async function readyz(url: string): Promise<Readyz> {
  return (await (await fetch(`${url}/readyz`)).json()) as Readyz;
}

/** PIDs of a process's children (PostgreSQL's backends are the postmaster's), from /proc. */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * CPU time used by a process's children (PostgreSQL's backends) over a window. Backends come and
 * go (a pool closes idle connections), so the children are re-read every `everyMs`: one that
 * appears counts from zero (it started in the window), one that ends counts up to its last reading.
 */
export class ChildrenCpu {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ppid: number,
    everyMs = 500,
  ) {
    for (const pid of childPids(ppid)) this.first.set(pid, processCpuMs(pid));
    this.read();
    this.timer = setInterval(() => this.read(), everyMs);
    this.timer.unref();
  }

  private read() {
    for (const pid of childPids(this.ppid)) {
      const t = processCpuMs(pid);
      if (!Number.isFinite(t)) continue;
      if (!this.first.has(pid)) this.first.set(pid, 0);
      this.last.set(pid, t);
    }
  }

  /** Stops reading; the CPU time in ms used since the start. */
  stop(): number {
    this.read();
    clearInterval(this.timer);
    let sum = 0;
    for (const [pid, t] of this.last) sum += t - (this.first.get(pid) ?? t);
    return sum;
  }
}

/** The chain lock as pg_locks shows it: classid and objid are the two halves of the bigint key. */
const LOCK_WHERE = `l.locktype = 'advisory' AND l.classid = ${Math.floor(CHAIN_LOCK_ID / 2 ** 32)} AND l.objid = ${CHAIN_LOCK_ID % 2 ** 32} AND l.objsubid = 1`;
const LOCK_SQL = `SELECT l.granted, a.state, a.wait_event FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE ${LOCK_WHERE}`;
const ACTIVITY_SQL = `SELECT coalesce(state, '?') AS state, wait_event_type, wait_event FROM pg_stat_activity
  WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`;

export interface ChainLockReport {
  samples: number;
  intervalMs: number;
  /** Share of samples in which a transaction held the chain lock, %. */
  heldPct: number;
  /** What the holder was doing: `active` (PostgreSQL executing a statement) or `idle in transaction` (waiting for its server to send the next one). */
  holderStatePct: Record<string, number>;
  /** Transactions waiting for the chain lock, mean over samples, and the largest seen. */
  waitingMean: number;
  waitingMax: number;
  /** The store's client backends by state / wait event, mean count over samples. */
  backends: Record<string, number>;
  /** Transactions that linked audit events in the window (distinct xmin of the events written). */
  linkingTransactions: number;
  linkingPerSecond: number;
  /** Little's law over the window: mean time a linking transaction held, and waited for, the lock. */
  meanHoldMs: number;
  meanWaitMs: number;
  events: number;
  seconds: number;
}

/**
 * Samples pg_locks and pg_stat_activity of a store every `intervalMs` on a connection of its own
 * (a time average: each sample is a snapshot of the moment, independent of the load). With the
 * number of linking transactions in the window (the distinct xmin of the audit events they wrote)
 * Little's law gives the mean hold and wait per transaction: L = lambda * W.
 */
export class ChainLockSampler {
  private readonly client: pg.Client;
  private running = false;
  private loop: Promise<void> | undefined;
  private samples = 0;
  private held = 0;
  private waiting = 0;
  private waitingMax = 0;
  private readonly holderStates = new Map<string, number>();
  private readonly backends = new Map<string, number>();
  private seq0 = 0;
  private t0 = 0;

  constructor(
    storeUrl: string,
    private readonly intervalMs = 10,
  ) {
    this.client = new pg.Client({ connectionString: storeUrl });
  }

  private async headSeq(): Promise<number> {
    const r = await this.client.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM audit_events');
    return Number(r.rows[0]?.seq ?? 0);
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.seq0 = await this.headSeq();
    this.t0 = performance.now();
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const [locks, activity] = (await this.client.query(`${LOCK_SQL}; ${ACTIVITY_SQL}`)) as unknown as [
          pg.QueryResult<{ granted: boolean; state: string | null }>,
          pg.QueryResult<{ state: string; wait_event_type: string | null; wait_event: string | null }>,
        ];
        this.samples++;
        const holder = locks.rows.find((r) => r.granted);
        if (holder) {
          this.held++;
          const s = holder.state ?? '?';
          this.holderStates.set(s, (this.holderStates.get(s) ?? 0) + 1);
        }
        const w = locks.rows.length - (holder ? 1 : 0);
        this.waiting += w;
        this.waitingMax = Math.max(this.waitingMax, w);
        for (const a of activity.rows) {
          const key = a.wait_event ? `${a.state} / ${a.wait_event_type}:${a.wait_event}` : a.state;
          this.backends.set(key, (this.backends.get(key) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
  }

  async stop(): Promise<ChainLockReport> {
    this.running = false;
    await this.loop;
    const seconds = (performance.now() - this.t0) / 1000;
    const seq1 = await this.headSeq();
    const tx = await this.client.query<{ n: string }>('SELECT count(DISTINCT xmin::text) AS n FROM audit_events WHERE seq > $1 AND seq <= $2', [
      this.seq0,
      seq1,
    ]);
    await this.client.end();
    const n = this.samples || 1;
    const linking = Number(tx.rows[0]!.n);
    const rate = linking / seconds;
    const heldFraction = this.held / n;
    const share = (m: Map<string, number>, of: number) =>
      Object.fromEntries([...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round((v / (of || 1)) * 100, 1)]));
    return {
      samples: this.samples,
      intervalMs: this.intervalMs,
      heldPct: round(heldFraction * 100, 1),
      holderStatePct: share(this.holderStates, this.held),
      waitingMean: round(this.waiting / n, 2),
      waitingMax: this.waitingMax,
      backends: Object.fromEntries([...this.backends].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / n, 2)])),
      linkingTransactions: linking,
      linkingPerSecond: round(rate, 0),
      meanHoldMs: round((heldFraction / rate) * 1000, 3),
      meanWaitMs: round((this.waiting / n / rate) * 1000, 3),
      events: seq1 - this.seq0,
      seconds: round(seconds, 2),
    };
  }
}
