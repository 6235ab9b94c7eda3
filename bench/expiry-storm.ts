/**
 * Expiry storms: many grants whose expiresAt fall close together must all be `expired` soon after,
 * and /v1/check must deny each of them from its expiresAt on. Three variants:
 *  - `sqlite-10k`: 10,000 grants in one wall-clock second S, one server on SQLite; all expired
 *    within 5 s of S;
 *  - `sqlite-100k`: 100,000 grants in one minute [S, S + 60 s), one server on SQLite;
 *  - `pg3-100k`: the same 100,000 on one PostgreSQL store shared by three servers (`pgN-100k`
 *    runs N servers).
 * For the minute variants the target is that every grant is `expired` within 10 s of ITS OWN
 * expiresAt (endedAt - expiresAt <= 10 s, the stricter reading), and, observed from outside, that
 * none is left active 10 s after the end of the minute.
 *
 *  1. Seeds the grants (bench/seed.ts: the real code paths, on SQLite or PostgreSQL) with a clock
 *     set so that each was activated ten minutes before its expiresAt and lasts ten minutes;
 *     expiresAt spreads evenly over the window, in an order scattered over the principals
 *     (slot = i * 7919 mod N). Up to 10,000 principals, each with N / 10,000 entitlements. Then
 *     spawns the servers (`node bin/hourglass.js serve`: real Scheduler, system clock, default
 *     250 ms interval).
 *  2. From before S until the end, 8 connections (spread over the servers) probe /v1/check for
 *     500 of the grants: back to back in the one-second variant, with a 10 ms pause after each
 *     probe in the minute variants (about 800 checks/s instead of some 15,000, which on 2 cores
 *     starve the expiry work they are meant to watch). A probe sent at wall time t >= expiresAt
 *     (t read before sending, so the server's clock is at least t) that answers allowed=true is a
 *     violation; probes before expiry must answer allowed=true. Their latency is recorded.
 *  3. Another connection polls /v1/requests?status=active&limit=1 every 20 ms; the storm is over
 *     at the first empty answer (time taken when the answer arrives: an upper bound).
 *  4. Afterwards every request is read back (status expired, access removed) and
 *     endedAt - expiresAt gives the per-grant expiry lag.
 * On PostgreSQL the store's counts by state are logged every 5 s, and the chain lock is sampled
 * (bench/cluster.ts) through the storm.
 *
 * The load generator (probes, poller) shares the 2-core machine with the servers and PostgreSQL.
 * Knobs: BENCH_STORM_GRANTS (10000, the one-second variant), BENCH_STORM_MINUTE_GRANTS (100000),
 * BENCH_STORM_VARIANTS ("sqlite-10k,sqlite-100k,pg3-100k").
 *
 * Run: npm run build && node --import tsx bench/expiry-storm.ts
 */
import { join } from 'node:path';
import pg from 'pg';
import {
  CpuMeter,
  isMain,
  runAsScript,
  log,
  percentile,
  principalYaml,
  prng,
  rawGet,
  RawConnection,
  round,
  serverYaml,
  shuffle,
  sleep,
  spawnHourglass,
  tempDir,
  tokenOf,
  writeFile,
  waitForQuiet,
  reportWarnings,
  requestersYaml,
  type BenchFigure,
  type Spawned,
} from './lib.js';
import { seedActiveGrants } from './seed.js';
import { ChainLockSampler, ChildrenCpu, createStore, spawnServers, startStorePostgres, type PostgresServer } from './cluster.js';

const BENCH = 'expiry-storm';
const DURATION_MS = 10 * 60_000;
const PROBES = 500;
const PROBE_CONNECTIONS = 8;
const MAX_PRINCIPALS = 10_000;
const STRIDE = 7919;

interface Variant {
  key: string;
  store: 'sqlite' | 'postgres';
  servers: number;
  grants: number;
  /** expiresAt spreads over [S, S + windowMs). */
  windowMs: number;
  /** All expired within this of S (one-second variant) or of each expiresAt (minute variants). */
  deadlineMs: number;
  /** From seeding start to S: covers seeding, chain verification and the servers' start. */
  leadMs: number;
  /** Each probe connection's pause between probes (0: back to back). */
  probePauseMs: number;
}

function variant(key: string): Variant {
  if (key === 'sqlite-10k') {
    const grants = Number(process.env.BENCH_STORM_GRANTS ?? 10_000);
    return { key, store: 'sqlite', servers: 1, grants, windowMs: 1000, deadlineMs: 5000, leadMs: 10_000, probePauseMs: 0 };
  }
  const m = /^(sqlite|pg(\d+))-100k$/.exec(key);
  if (!m) throw new Error(`unknown storm variant ${key}`);
  const grants = Number(process.env.BENCH_STORM_MINUTE_GRANTS ?? 100_000);
  const postgres = m[2] !== undefined;
  // Seeding 100,000 takes about 12 s on SQLite and 15 s on PostgreSQL here; each server then loads them.
  const leadMs = 10_000 + grants * (postgres ? 0.3 : 0.2);
  // Paced probes over a minute (see the header): on PostgreSQL a batch of expiries waits an
  // event-loop turn per statement, behind every check queued meanwhile.
  return {
    key,
    store: postgres ? 'postgres' : 'sqlite',
    servers: postgres ? Number(m[2]) : 1,
    grants,
    windowMs: 60_000,
    deadlineMs: 10_000,
    leadMs,
    probePauseMs: 10,
  };
}

const principalId = (i: number) => `u${String(i).padStart(5, '0')}`;

function configYaml(store: string, principals: number, entitlements: number): string {
  return `${serverYaml(store)}
principals:
${principalYaml('app', [], ['checker'])}
${principalYaml('auditor', [], ['auditor'])}
${requestersYaml(
  Array.from({ length: principals }, (_, i) => principalId(i)),
  ['staff'],
)}
targets:
  db:
    type: hourglass
    entitlements:
${Array.from({ length: entitlements }, (_, j) => `      e${j}: {}`).join('\n')}
policies:
  - name: staff-read
    subjects: { groups: [staff] }
    entitlements: [${Array.from({ length: entitlements }, (_, j) => `db/e${j}`).join(', ')}]
    maxDuration: 1h
    reason: optional
    approval: { required: 0 }
`;
}

interface RequestJson {
  id: string;
  status: string;
  access: string;
  requester: string;
  expiresAt: string | null;
  endedAt: string | null;
}

async function storm(v: Variant, db: PostgresServer | undefined): Promise<BenchFigure[]> {
  const tmp = tempDir('hg-bench-storm-');
  const principals = Math.min(v.grants, MAX_PRINCIPALS);
  const entitlements = Math.ceil(v.grants / principals);
  if (v.grants % STRIDE === 0) throw new Error(`${v.grants} grants: the expiry order needs a count prime to ${STRIDE}`);
  const store = db ? await createStore(db, `storm_${v.key.replace(/\W/g, '_')}`) : join(tmp.dir, 'hourglass.db');
  const yaml = configYaml(store, principals, entitlements);
  const configPath = writeFile(join(tmp.dir, 'hourglass.yaml'), yaml);
  const grantOf = (i: number) => ({ principal: principalId(i % principals), entitlement: `db/e${Math.floor(i / principals)}` });
  let servers: Spawned[] = [];
  const conns: RawConnection[] = [];
  let storeClient: pg.Client | undefined;
  const label = `${v.key} (${v.store}, ${v.servers} server${v.servers > 1 ? 's' : ''})`;
  try {
    await waitForQuiet(BENCH);
    const S = Math.ceil((Date.now() + v.leadMs) / 1000) * 1000;
    const end = S + v.windowMs;
    const expiresAt = (i: number) => S + Math.floor((((i * STRIDE) % v.grants) * v.windowMs) / v.grants);
    log(`[${BENCH}] ${label}: seeding ${v.grants} grants expiring in [${new Date(S).toISOString()}, +${v.windowMs} ms) ...`);
    const seed = await seedActiveGrants({
      ...(db ? { storeUrl: store } : { storePath: store }),
      yaml,
      count: v.grants,
      item: (i) => ({
        principal: { id: grantOf(i).principal, groups: ['staff'], roles: [] },
        entitlement: grantOf(i).entitlement,
        duration: '10m',
        now: expiresAt(i) - DURATION_MS,
      }),
    });
    servers = v.servers === 1 ? [await spawnHourglass(configPath)] : await spawnServers(configPath, v.servers);
    const readyIn = S - Date.now();
    log(
      `[${BENCH}] ${label}: seeded in ${seed.seedMs} ms (+${seed.chainMs} ms chain); servers pid ${servers.map((s) => s.pid).join(', ')} ready ${readyIn} ms before S`,
    );
    if (readyIn < 500) throw new Error(`the servers were ready only ${readyIn} ms before the storm began; raise the lead time`);

    const connect = async (k: number) => {
      const u = new URL(servers[k % servers.length]!.url);
      const c = new RawConnection(u.hostname, Number(u.port));
      conns.push(c);
      await c.ready;
      return c;
    };
    const checkToken = tokenOf('app');
    const auditorToken = tokenOf('auditor');

    // Probes: closed loop over a random sample of the storm grants.
    const sample = shuffle(
      Array.from({ length: v.grants }, (_, i) => i),
      prng(7),
    ).slice(0, PROBES);
    const probeRaw = sample.map((i) => ({
      i,
      raw: rawGet(`/v1/check?principal=${grantOf(i).principal}&entitlement=${encodeURIComponent(grantOf(i).entitlement)}`, checkToken),
    }));
    let stopProbes = false;
    let doneAt = 0;
    const stats = { beforeExpiry: 0, allowedBeforeExpiry: 0, afterExpiry: 0, violations: 0, errors: 0 };
    const stormLatency: number[] = [];
    const violations: string[] = [];
    const probe = async (k: number) => {
      const conn = await connect(k);
      for (let n = k; !stopProbes; n += PROBE_CONNECTIONS) {
        const p = probeRaw[n % probeRaw.length]!;
        const sentAt = Date.now();
        const t0 = performance.now();
        const r = await conn.request(p.raw);
        const ms = performance.now() - t0;
        if (r.status !== 200) {
          stats.errors++;
          continue;
        }
        const allowed = (JSON.parse(r.body) as { allowed: boolean }).allowed;
        if (sentAt >= expiresAt(p.i)) {
          stats.afterExpiry++;
          if (allowed) {
            stats.violations++;
            if (violations.length < 5) violations.push(`${JSON.stringify(grantOf(p.i))} allowed at ${sentAt}, expiresAt ${expiresAt(p.i)}`);
          }
        } else {
          stats.beforeExpiry++;
          if (allowed) stats.allowedBeforeExpiry++;
        }
        if (sentAt >= S && (doneAt === 0 || sentAt <= doneAt)) stormLatency.push(ms);
        if (v.probePauseMs) await sleep(v.probePauseMs);
      }
    };

    await sleep(Math.max(0, S - 300 - Date.now()));
    const meter = new CpuMeter(servers.map((s) => s.pid));
    const pgCpu = db ? new ChildrenCpu(db.pid) : undefined;
    const sampler = db ? new ChainLockSampler(store, 20) : undefined;
    await sampler?.start();
    let probeError: Error | undefined;
    const probes = Array.from({ length: PROBE_CONNECTIONS }, (_, k) =>
      probe(k).catch((err: Error) => {
        probeError ??= err;
      }),
    );

    // On PostgreSQL the store is readable beside the servers: its counts by state every 5 s show the storm's progress.
    storeClient = db ? new pg.Client({ connectionString: store }) : undefined;
    await storeClient?.connect();
    const states = async () =>
      storeClient
        ? (
            await storeClient.query<{ status: string; access: string; n: string }>(
              'SELECT status, access, count(*) AS n FROM requests GROUP BY 1, 2 ORDER BY 1, 2',
            )
          ).rows
            .map((r) => `${r.status}/${r.access}: ${r.n}`)
            .join(', ')
        : '';
    let nextProgress = S + 5000;

    // Completion: the first empty page of active requests.
    const poller = await connect(0);
    const activeRaw = rawGet('/v1/requests?status=active&limit=1', auditorToken);
    const giveUpAt = end + 60_000;
    let polls = 0;
    for (;;) {
      const r = await poller.request(activeRaw);
      polls++;
      if (r.status !== 200) throw new Error(`polling active requests: HTTP ${r.status} ${r.body}`);
      const empty = (JSON.parse(r.body) as { requests: unknown[] }).requests.length === 0;
      const now = Date.now();
      if (empty && now < S) throw new Error('no active grant before the storm began: the seed expired early');
      if (empty) {
        doneAt = now;
        break;
      }
      if (storeClient && now >= nextProgress) {
        log(`[${BENCH}] ${label}: S + ${Math.round((now - S) / 1000)} s: ${await states()}`);
        nextProgress += 5000;
      }
      if (now > giveUpAt) {
        const warnings = servers.flatMap((sv) => sv.warnings()).slice(0, 3);
        throw new Error(
          `grants still active ${giveUpAt - end} ms after the last expiresAt (${await states()}); server warnings: ${warnings.join('\n') || 'none'}`,
        );
      }
      await sleep(20);
    }
    await storeClient?.end();
    storeClient = undefined;
    const cpu = meter.stop(pgCpu?.stop());
    const chainLock = await sampler?.stop();
    if (chainLock) {
      log(
        `[${BENCH}] ${label}: chain lock held ${chainLock.heldPct}% of the storm (holder ${JSON.stringify(chainLock.holderStatePct)}), ` +
          `${chainLock.waitingMean} waiting on average; ${chainLock.linkingPerSecond} linking transactions/s, ${chainLock.events} events; ` +
          `mean hold ${chainLock.meanHoldMs} ms, mean wait ${chainLock.meanWaitMs} ms`,
      );
      log(`[${BENCH}] ${label}: store backends (mean count): ${JSON.stringify(chainLock.backends)}`);
    }
    await sleep(300); // a few more probes after the end
    stopProbes = true;
    await Promise.all(probes);
    if (probeError) throw new Error(`a check probe failed: ${probeError.message}`);
    const afterStartMs = doneAt - S;
    const afterEndMs = doneAt - end;

    // Read every request back: all expired, access removed; lag = endedAt - expiresAt.
    const lags: number[] = [];
    let notExpired = 0;
    let cursor: string | null = null;
    const reader = await connect(0);
    do {
      const path: string = `/v1/requests?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await reader.request(rawGet(path, auditorToken));
      const page = JSON.parse(r.body) as { requests: RequestJson[]; nextCursor: string | null };
      for (const req of page.requests) {
        if (req.status !== 'expired' || req.access !== 'removed' || !req.endedAt || !req.expiresAt) {
          notExpired++;
          continue;
        }
        lags.push(Date.parse(req.endedAt) - Date.parse(req.expiresAt));
      }
      cursor = page.nextCursor;
    } while (cursor);
    if (notExpired || lags.length !== v.grants) throw new Error(`${notExpired} requests not expired/removed; ${lags.length}/${v.grants} read back`);
    const sortedLag = Float64Array.from(lags).sort();
    const sortedProbe = Float64Array.from(stormLatency).sort();
    const lag = { p50: percentile(sortedLag, 50), p99: percentile(sortedLag, 99), max: sortedLag[sortedLag.length - 1]! };
    const probeLat = {
      count: stormLatency.length,
      p50: round(percentile(sortedProbe, 50), 1),
      p99: round(percentile(sortedProbe, 99), 1),
      max: round(sortedProbe[sortedProbe.length - 1] ?? NaN, 1),
    };

    log(
      `[${BENCH}] ${label}: all ${v.grants} expired ${afterStartMs} ms after S (${afterEndMs} ms after the last expiresAt; ${polls} polls; ` +
        `machine ${cpu.machinePct}% busy, ${cpu.otherPct}% by other processes)`,
    );
    log(`[${BENCH}] ${label}: expiry lag endedAt - expiresAt: p50 ${lag.p50} ms, p99 ${lag.p99} ms, max ${lag.max} ms`);
    log(
      `[${BENCH}] ${label}: check probes: ${stats.beforeExpiry} before expiry (${stats.allowedBeforeExpiry} allowed), ${stats.afterExpiry} from expiresAt on, ` +
        `${stats.violations} allowed after expiry, ${stats.errors} errors; latency during the storm p50 ${probeLat.p50} ms, p99 ${probeLat.p99} ms, max ${probeLat.max} ms`,
    );
    if (violations.length) log(`[${BENCH}] violations: ${violations.join('; ')}`);
    if (stats.allowedBeforeExpiry === 0) throw new Error('no probe saw an active grant before its expiry: the probe is not testing anything');
    if (stats.errors) throw new Error(`${stats.errors} probe errors`);

    const serverWarnings = servers.reduce((n, s) => n + reportWarnings(BENCH, s), 0);
    const details = {
      store: v.store,
      servers: v.servers,
      windowMs: v.windowMs,
      serverWarnings,
      cpu,
      allExpiredAfterStartMs: afterStartMs,
      allExpiredAfterLastExpiresAtMs: afterEndMs,
      expiryLagMs: lag,
      polls,
      probePauseMs: v.probePauseMs,
      seed,
      ...(chainLock ? { chainLock } : {}),
      loadGenerator: 'probes and poller in the bench process, on the same 2-core machine',
    };
    const checksFigure = (figure: string): BenchFigure => ({
      bench: BENCH,
      figure,
      value: stats.violations,
      unit: `of ${stats.afterExpiry}`,
      target: '0',
      pass: stats.violations === 0 && stats.afterExpiry > 0,
      details: { ...stats },
    });
    const latencyFigure = (figure: string): BenchFigure => ({
      bench: BENCH,
      figure,
      value: probeLat.max,
      unit: 'ms',
      otherCpuPct: cpu.otherPct,
      details: probeLat,
    });
    if (v.windowMs === 1000) {
      return [
        {
          bench: BENCH,
          figure: `${v.grants / 1000}k grants ending in one second: all expired after`,
          value: afterStartMs,
          unit: 'ms',
          target: `<= ${v.deadlineMs} ms`,
          pass: afterStartMs <= v.deadlineMs,
          otherCpuPct: cpu.otherPct,
          details,
        },
        checksFigure('checks allowed from expiresAt on'),
        latencyFigure('check latency during the storm, max'),
      ];
    }
    const name = `${v.store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, ${v.servers} server${v.servers > 1 ? 's' : ''}, ${v.grants / 1000}k grants ending in one minute`;
    return [
      {
        bench: BENCH,
        figure: `${name}: expired after its expiresAt, max over grants`,
        value: lag.max,
        unit: 'ms',
        target: `<= ${v.deadlineMs} ms`,
        pass: lag.max <= v.deadlineMs,
        otherCpuPct: cpu.otherPct,
        details,
      },
      {
        bench: BENCH,
        figure: `${name}: none active after the minute's end (observed)`,
        value: afterEndMs,
        unit: 'ms',
        target: `<= ${v.deadlineMs} ms`,
        pass: afterEndMs <= v.deadlineMs,
        otherCpuPct: cpu.otherPct,
      },
      checksFigure(`${name}: checks allowed from expiresAt on`),
      latencyFigure(`${name}: check latency during the storm, max`),
    ];
  } finally {
    for (const c of conns) c.close();
    await storeClient?.end().catch(() => {});
    for (const s of servers) await s.stop();
    tmp.cleanup();
  }
}

export async function run(): Promise<BenchFigure[]> {
  const variants = (process.env.BENCH_STORM_VARIANTS ?? 'sqlite-10k,sqlite-100k,pg3-100k').split(',').map((k) => variant(k.trim()));
  const figures: BenchFigure[] = [];
  let db: PostgresServer | undefined;
  try {
    for (const v of variants) {
      if (v.store === 'postgres') db ??= await startStorePostgres();
      figures.push(...(await storm(v, v.store === 'postgres' ? db : undefined)));
    }
  } finally {
    await db?.stop();
  }
  return figures;
}

if (isMain(import.meta.url)) {
  runAsScript(run);
}
