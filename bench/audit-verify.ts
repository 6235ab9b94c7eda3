/**
 * Audit verification speed: seeds N chained events (1,000,000 by default) straight into a SQLite
 * store, hashing them in the seeding loop exactly as the store links them (KyselyTx.linkAudit),
 * then times a full `AuditService.verify` on the real store. Target: 1M events in at most 3 s
 * (it was under 10 s before). Details are stored canonical, as the writer stores them; a second
 * chain with details as earlier builds stored them (JSON.stringify, keys in written order) is
 * verified once beside it: such rows take the slower path that parses and re-serialises them.
 *
 * Run: node --import tsx bench/audit-verify.ts [events]     (HG_BENCH_AUDIT_EVENTS also works)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openStore } from '../src/adapters/store/open-store.js';
import { createHourglass } from '../src/compose.js';
import { connectorFactories } from '../src/adapters/connectors/index.js';
import { parseConfig } from '../src/config/load-config.js';
import { eventHash, GENESIS_HASH, storedDetails } from '../src/core/audit-chain.js';
import { isMain, log, printFigures, round, type BenchFigure } from './lib.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0);
const TARGET_SECONDS = 3;

const CONFIG = `
server: { listen: 127.0.0.1:0, store: "sqlite::memory:" }
principals:
  - { id: admin, roles: [admin], apiTokens: [{ sha256: "${'a'.repeat(64)}" }] }
targets:
  hourglass: { type: hourglass, entitlements: { read: {} } }
policies:
  - { name: p, subjects: { users: [admin] }, entitlements: [hourglass/read], maxDuration: 1h, approval: { required: 0 } }
`;

/** Event shapes like the ones the lifecycle writes (details as the app stores them). */
function draft(i: number) {
  const requestId = `req-${String(Math.floor(i / 4)).padStart(9, '0')}`;
  const actor = `user-${i % 997}`;
  switch (i % 4) {
    case 0:
      return {
        type: 'request.submitted',
        actor,
        requestId,
        details: {
          entitlements: ['prod-db/read-write'],
          durationMs: 3_600_000,
          reason: `incident INC-${i} needs a look at the orders table`,
          ticket: `OPS-${i}`,
          policies: { 'prod-db/read-write': 'db-engineers' },
          breakGlass: false,
          sourceIp: '10.1.2.3',
        },
      };
    case 1:
      return { type: 'request.approved', actor: `lead-${i % 7}`, requestId, details: { comment: 'ok', for: ['db-engineers'], count: 1 } };
    case 2:
      return { type: 'grant.activated', actor: 'system', requestId, details: { expiresAt: T0 + i * 1000 + 3_600_000, entitlements: ['prod-db/read-write'] } };
    default:
      return { type: 'grant.expired', actor: 'system', requestId, details: null };
  }
}

/** Writes `n` linked events with one prepared statement in one transaction (seconds, not minutes). */
export function seed(path: string, n: number, policyHash: string, stored: 'canonical' | 'legacy' = 'canonical') {
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    'INSERT INTO audit_events (id, at, type, actor, request_id, details, policy_hash, seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  let prev = GENESIS_HASH;
  const batch = db.transaction((from: number, to: number) => {
    for (let seq = from; seq <= to; seq++) {
      const d = draft(seq);
      const id = `evt-${String(seq).padStart(10, '0')}`;
      const at = T0 + seq * 1000;
      const details = stored === 'canonical' ? storedDetails(d.details) : d.details === null ? null : JSON.stringify(d.details);
      // As linkAudit does: the hash covers the details as read back from the store.
      const hash = eventHash(
        { seq, id, at, type: d.type, actor: d.actor, requestId: d.requestId, details: details === null ? null : JSON.parse(details), policyHash },
        prev,
      );
      insert.run(id, at, d.type, d.actor, d.requestId, details, policyHash, seq, prev, hash);
      prev = hash;
    }
  });
  for (let from = 1; from <= n; from += 50_000) batch(from, Math.min(n, from + 49_999));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return prev;
}

/** Seeds a chain in a fresh SQLite file and verifies it `runs` times through the real app. */
async function seedAndVerify(events: number, runs: number, stored: 'canonical' | 'legacy') {
  const dir = mkdtempSync(join(tmpdir(), 'hg-bench-audit-'));
  const path = join(dir, 'hg.db');
  try {
    const config = parseConfig(CONFIG, {}, 'bench.yaml', connectorFactories);
    // Create the schema through the real store, then seed with the driver directly.
    await (await openStore(`sqlite:${path}`, { cwd: dir })).close();
    const s0 = performance.now();
    const lastHash = seed(path, events, config.policyHash, stored);
    const seedSeconds = (performance.now() - s0) / 1000;
    log(`seeded ${events} chained events (${stored} details) in ${round(seedSeconds)} s`);
    const clock = { now: () => T0 };
    const hg = await createHourglass(config, {}, { clock, storeUrl: `sqlite:${path}`, metrics: false, http: false });
    try {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        global.gc?.();
        const t0 = performance.now();
        const report = await hg.app.audit.verify({ onProgress: () => undefined });
        times.push((performance.now() - t0) / 1000);
        log(`verify run ${i + 1} (${stored}): ${round(times.at(-1)!, 2)} s  ok=${report.ok} count=${report.count}`);
        if (!report.ok || report.count !== events || report.head !== `${events}:${lastHash}`) {
          throw new Error(`verification did not pass over the seeded chain: ${JSON.stringify(report)}`);
        }
      }
      return { times, seedSeconds, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) };
    } finally {
      await hg.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(events = Number(process.env.HG_BENCH_AUDIT_EVENTS ?? 1_000_000)): Promise<BenchFigure[]> {
  const { times: runs, seedSeconds, rssMiB } = await seedAndVerify(events, 3, 'canonical');
  const median = [...runs].sort((a, b) => a - b)[1]!;
  const legacy = (await seedAndVerify(events, 1, 'legacy')).times[0]!;
  const full = events === 1_000_000;
  return [
    {
      bench: 'audit-verify',
      figure: `full verify of ${events.toLocaleString('en')} events (median of 3)`,
      value: round(median, 2),
      unit: 's',
      target: full ? `<= ${TARGET_SECONDS} s` : undefined,
      pass: full ? median <= TARGET_SECONDS : undefined,
      details: {
        events,
        runs: runs.map((r) => round(r, 2)),
        best: round(Math.min(...runs), 2),
        eventsPerSecond: Math.round(events / median),
        seedSeconds: round(seedSeconds, 1),
        rssMiB,
        per1MSeconds: round((median * 1_000_000) / events, 2),
      },
    },
    { bench: 'audit-verify', figure: 'verify throughput', value: Math.round(events / median), unit: 'events/s' },
    { bench: 'audit-verify', figure: 'full verify, details stored by earlier builds (1 run)', value: round(legacy, 2), unit: 's' },
  ];
}

if (isMain(import.meta.url)) {
  const arg = process.argv[2];
  const figures = await run(arg ? Number(arg) : undefined);
  printFigures(figures);
  for (const f of figures) if (f.details) log(JSON.stringify(f.details));
}
