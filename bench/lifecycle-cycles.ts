/**
 * Request -> approve -> active -> revoke cycles per second through the real HTTP API of spawned
 * servers (rate limit off, log level warn), on three set-ups:
 *  - SQLite, one server (the figure with the >= 500 cycles/s target);
 *  - PostgreSQL, one server;
 *  - PostgreSQL, three servers on the same store, every worker's calls spread over the servers
 *    round-robin (call k of worker w goes to server (w + k) mod 3, so a request is submitted,
 *    approved and revoked on different servers).
 *
 * A policy needs one approval from an SRE lead. 32 workers run cycles back to back, so 32
 * cycles are in flight; each worker is its own requester (dev-NN) with its own keep-alive
 * connection to each server, approved and revoked by one of 4 leads:
 *   POST /v1/requests                 (requester)  -> 201 pending
 *   POST /v1/requests/:id/approve     (lead)       -> 200 active
 *   POST /v1/requests/:id/revoke      (lead)       -> 200 revoked
 * Every response's status and body are checked. A warm-up precedes the measured BENCH_SECONDS
 * (10); afterwards /v1/check must deny a revoked grant on every server and the audit chain must
 * verify. Audit events per second come from the chain's head seq (/readyz checks.seq) before and
 * after the window.
 *
 * On PostgreSQL the audit chain is linked under an advisory lock held until commit, one writer
 * at a time across all servers. A sampler (bench/cluster.ts) reads pg_locks and pg_stat_activity
 * every 10 ms during the window: how much of the time the lock is held, how many transactions
 * wait for it, and (Little's law, with the linking transactions counted by the distinct xmin of
 * the events they wrote) the mean hold and wait per linking transaction. The CPU of the servers,
 * of PostgreSQL's backends and of the load generator is reported apart.
 *
 * The load generator runs on the same machine as the servers and PostgreSQL. On 2 cores three
 * servers compete for the same CPUs: that run shows contention, not scale-out.
 *
 * Knobs: BENCH_SECONDS (10), BENCH_MAX_CYCLES, BENCH_CYCLES_SETUPS ("sqlite,pg1,pg3").
 * Run: npm run build && node --import tsx bench/lifecycle-cycles.ts
 */
import { join } from 'node:path';
import {
  api,
  CpuMeter,
  isMain,
  runAsScript,
  log,
  percentile,
  principalYaml,
  processCpuMs,
  rawRequest,
  RawConnection,
  round,
  serverYaml,
  sleep,
  spawnHourglass,
  tempDir,
  tokenOf,
  writeFile,
  waitForQuiet,
  reportWarnings,
  type BenchFigure,
  type Spawned,
} from './lib.js';
import { ChainLockSampler, ChildrenCpu, createStore, readyz, spawnServers, startStorePostgres, type ChainLockReport, type PostgresServer } from './cluster.js';

const BENCH = 'lifecycle-cycles';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const WORKERS = 32;
const LEADS = 4;
const MAX_CYCLES = Number(process.env.BENCH_MAX_CYCLES ?? 1_000_000);
const SETUPS = (process.env.BENCH_CYCLES_SETUPS ?? 'sqlite,pg1,pg3').split(',').map((s) => s.trim());
const TARGET = 500;
const LOAD_GENERATOR = 'in the bench process, on the same 2-core machine as the servers and PostgreSQL';

const dev = (i: number) => `dev-${String(i).padStart(2, '0')}`;
const lead = (i: number) => `lead-${i}`;

function configYaml(store: string): string {
  return `${serverYaml(store)}
principals:
${Array.from({ length: WORKERS }, (_, i) => principalYaml(dev(i), ['developers'])).join('\n')}
${Array.from({ length: LEADS }, (_, i) => principalYaml(lead(i), ['sre-leads'])).join('\n')}
${principalYaml('app', [], ['checker'])}
${principalYaml('auditor', [], ['auditor'])}
targets:
  db:
    type: hourglass
    entitlements:
      admin: { description: admin access }
policies:
  - name: developers-admin
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    maxDuration: 4h
    approval: { required: 1, approvers: { groups: [sre-leads] } }
`;
}

interface Step {
  status: number;
  body: { id?: string; status?: string; error?: { code: string; message: string } };
}

async function call(conn: RawConnection, raw: Buffer): Promise<Step> {
  const r = await conn.request(raw);
  return { status: r.status, body: r.body ? JSON.parse(r.body) : {} };
}

const pct = (a: number[], p: number) => round(percentile(Float64Array.from(a).sort(), p), 1);

/** The chain's head as the servers' check indexes have applied it (each applies its own commits before answering). */
async function headSeq(servers: Spawned[]): Promise<number> {
  return Math.max(...(await Promise.all(servers.map(async (s) => (await readyz(s.url)).checks.seq ?? 0))));
}

interface Measured {
  cycles: number;
  elapsed: number;
  rate: number;
  eventsPerSecond: number;
  events: number;
  serverCpuUsPerCycle: number;
  cpu: ReturnType<CpuMeter['stop']>;
  /** CPU used in the window, in % of one core. */
  cpuCoresPct: { servers: number; postgres?: number; loadGenerator: number };
  cycleMs: { p50: number; p99: number };
  stepMs: Record<string, { p50: number; p99: number }>;
  auditEvents: number;
  auditVerifyMs: number;
  serverWarnings: number;
  chainLock?: ChainLockReport;
}

/** Runs the cycles against `servers` (all on one store) and checks the outcome. */
async function measure(label: string, servers: Spawned[], pgStore?: { url: string; postmasterPid: number }): Promise<Measured> {
  const conns: RawConnection[] = [];
  try {
    await waitForQuiet(`${BENCH} ${label}`);
    log(`[${BENCH}] ${label}: ${servers.length} server(s) (pid ${servers.map((s) => s.pid).join(', ')}); ${WORKERS} cycles in flight`);
    const stepMs: Record<'submit' | 'approve' | 'revoke', number[]> = { submit: [], approve: [], revoke: [] };
    const cycleMs: number[] = [];
    let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
    let stopNow = () => {};
    const stopped = new Promise<void>((resolve) => (stopNow = resolve));
    let cycles = 0;
    let lastRevoked = '';
    const failures: string[] = [];

    const worker = async (w: number) => {
      const mine = servers.map((s) => {
        const u = new URL(s.url);
        const c = new RawConnection(u.hostname, Number(u.port));
        conns.push(c);
        return c;
      });
      await Promise.all(mine.map((c) => c.ready));
      let k = w;
      const next = () => mine[k++ % mine.length]!;
      const requester = tokenOf(dev(w));
      const approver = tokenOf(lead(w % LEADS));
      const submitRaw = rawRequest('POST', '/v1/requests', requester, { entitlements: ['db/admin'], duration: '1h', reason: 'benchmark cycle' });
      const expect = (what: string, r: Step, status: number, state: string) => {
        if (r.status !== status || r.body.status !== state) {
          throw new Error(`${what}: HTTP ${r.status} ${r.body.status ?? JSON.stringify(r.body.error)}, expected ${status} ${state}`);
        }
      };
      while (phase !== 'stop') {
        const counted = phase === 'measure';
        const t0 = performance.now();
        const sub = await call(next(), submitRaw);
        expect('submit', sub, 201, 'pending');
        const id = sub.body.id!;
        const t1 = performance.now();
        expect('approve', await call(next(), rawRequest('POST', `/v1/requests/${id}/approve`, approver, { comment: 'ok' })), 200, 'active');
        const t2 = performance.now();
        expect('revoke', await call(next(), rawRequest('POST', `/v1/requests/${id}/revoke`, approver, { reason: 'done' })), 200, 'revoked');
        const t3 = performance.now();
        if (counted && phase === 'measure') {
          cycles++;
          stepMs.submit.push(t1 - t0);
          stepMs.approve.push(t2 - t1);
          stepMs.revoke.push(t3 - t2);
          cycleMs.push(t3 - t0);
          lastRevoked = id;
          if (cycles >= MAX_CYCLES) {
            phase = 'stop';
            stopNow();
          }
        }
      }
    };

    const workers = Array.from({ length: WORKERS }, (_, w) =>
      worker(w).catch((err: Error) => {
        failures.push(err.message);
        phase = 'stop';
        stopNow();
      }),
    );
    await Promise.race([sleep(WARMUP_SECONDS * 1000), stopped]);
    const pgCpu = pgStore ? new ChildrenCpu(pgStore.postmasterPid) : undefined;
    const sampler = pgStore ? new ChainLockSampler(pgStore.url) : undefined;
    await sampler?.start();
    const serverPids = servers.map((s) => s.pid);
    const cpu0 = serverPids.reduce((a, p) => a + processCpuMs(p), 0);
    const self0 = process.cpuUsage();
    const meter = new CpuMeter(serverPids);
    const seq0 = await headSeq(servers);
    const t0 = performance.now();
    phase = 'measure';
    await Promise.race([sleep(SECONDS * 1000), stopped]);
    const seq1 = await headSeq(servers);
    const elapsed = (performance.now() - t0) / 1000;
    const cpuMs = serverPids.reduce((a, p) => a + processCpuMs(p), 0) - cpu0;
    const self = process.cpuUsage(self0);
    const pgMs = pgCpu?.stop();
    const cpu = meter.stop(pgMs);
    phase = 'stop';
    const chainLock = await sampler?.stop();
    await Promise.all(workers);
    if (failures.length) throw new Error(`${failures.length} worker(s) failed; first: ${failures[0]}`);
    if (cycles === 0) throw new Error('no cycle completed in the measured window');

    const rate = round(cycles / elapsed, 0);
    const eventsPerSecond = round((seq1 - seq0) / elapsed, 0);
    const corePct = (ms: number) => round((ms / (elapsed * 1000)) * 100, 0);
    const cpuCoresPct = {
      servers: corePct(cpuMs),
      ...(pgMs === undefined ? {} : { postgres: corePct(pgMs) }),
      loadGenerator: corePct((self.user + self.system) / 1000),
    };
    log(
      `[${BENCH}] ${label}: ${cycles} cycles in ${round(elapsed, 2)} s: ${rate} cycles/s (${rate * 3} API calls/s, ${eventsPerSecond} audit events/s); ` +
        `cycle p50 ${pct(cycleMs, 50)} ms p99 ${pct(cycleMs, 99)} ms; server CPU ${round((cpuMs * 1000) / cycles, 0)} us/cycle ` +
        `(machine ${cpu.machinePct}% busy, ${cpu.otherPct}% by other processes; % of one core: ${JSON.stringify(cpuCoresPct)})`,
    );
    for (const k of ['submit', 'approve', 'revoke'] as const) log(`[${BENCH}]   ${k}: p50 ${pct(stepMs[k], 50)} ms, p99 ${pct(stepMs[k], 99)} ms`);
    if (chainLock) {
      log(
        `[${BENCH}]   chain lock: held ${chainLock.heldPct}% of ${chainLock.samples} samples (holder ${JSON.stringify(chainLock.holderStatePct)}), ` +
          `${chainLock.waitingMean} waiting on average (max ${chainLock.waitingMax}); ${chainLock.linkingPerSecond} linking transactions/s: ` +
          `mean hold ${chainLock.meanHoldMs} ms, mean wait ${chainLock.meanWaitMs} ms`,
      );
      log(`[${BENCH}]   store backends (mean count): ${JSON.stringify(chainLock.backends)}`);
    }

    // Afterwards: a revoked grant is denied everywhere and the chain of all those events verifies.
    const one = await api(servers[0]!.url, 'GET', `/v1/requests/${lastRevoked}`, tokenOf('auditor'));
    if (one.body?.status !== 'revoked') throw new Error(`request ${lastRevoked} is ${one.body?.status}`);
    for (const s of servers) {
      const check = await api(s.url, 'GET', `/v1/check?principal=${dev(0)}&entitlement=db/admin`, tokenOf('app'));
      if (check.body?.allowed !== false) throw new Error(`check after revoke answered ${JSON.stringify(check.body)} on ${s.url}`);
    }
    const verifyStart = performance.now();
    const verify = await api<{ ok: boolean; count: number }>(servers[0]!.url, 'GET', '/v1/audit/verify', tokenOf('auditor'));
    const auditVerifyMs = Math.round(performance.now() - verifyStart);
    if (!verify.body?.ok) throw new Error(`audit chain does not verify: ${JSON.stringify(verify.body)}`);
    log(`[${BENCH}] ${label}: afterwards check denies on every server, audit chain of ${verify.body.count} events verifies (${auditVerifyMs} ms)`);

    return {
      cycles,
      elapsed: round(elapsed, 2),
      rate,
      eventsPerSecond,
      events: seq1 - seq0,
      serverCpuUsPerCycle: round((cpuMs * 1000) / cycles, 0),
      cpu,
      cpuCoresPct,
      cycleMs: { p50: pct(cycleMs, 50), p99: pct(cycleMs, 99) },
      stepMs: Object.fromEntries(Object.entries(stepMs).map(([k, v]) => [k, { p50: pct(v, 50), p99: pct(v, 99) }])),
      auditEvents: verify.body.count,
      auditVerifyMs,
      serverWarnings: servers.reduce((n, s) => n + reportWarnings(`${BENCH} ${label}`, s), 0),
      ...(chainLock ? { chainLock } : {}),
    };
  } finally {
    for (const c of conns) c.close();
  }
}

async function sqliteRun(): Promise<BenchFigure[]> {
  const tmp = tempDir('hg-bench-cycles-');
  let hg: Spawned | undefined;
  try {
    const configPath = writeFile(join(tmp.dir, 'hourglass.yaml'), configYaml(join(tmp.dir, 'hourglass.db')));
    hg = await spawnHourglass(configPath);
    const m = await measure('SQLite, 1 server', [hg]);
    const { chainLock: _none, ...details } = m;
    return [
      {
        bench: BENCH,
        figure: `request->approve->revoke cycles, ${WORKERS} in flight`,
        value: m.rate,
        unit: 'cycles/s',
        target: `>= ${TARGET} cycles/s`,
        pass: m.rate >= TARGET,
        otherCpuPct: m.cpu.otherPct,
        details: { ...details, apiCallsPerSecond: m.rate * 3, loadGenerator: LOAD_GENERATOR },
      },
      { bench: BENCH, figure: 'server CPU per cycle (3 API calls)', value: m.serverCpuUsPerCycle, unit: 'us' },
      { bench: BENCH, figure: 'SQLite, 1 server: audit events linked', value: m.eventsPerSecond, unit: 'events/s', otherCpuPct: m.cpu.otherPct },
    ];
  } finally {
    await hg?.stop();
    tmp.cleanup();
  }
}

async function postgresRun(db: PostgresServer, n: number): Promise<BenchFigure[]> {
  const tmp = tempDir('hg-bench-cycles-pg-');
  let servers: Spawned[] = [];
  try {
    const url = await createStore(db, `cycles_${n}`);
    const configPath = writeFile(join(tmp.dir, 'hourglass.yaml'), configYaml(url));
    servers = await spawnServers(configPath, n);
    const label = n === 1 ? 'PostgreSQL, 1 server' : `PostgreSQL, ${n} servers round-robin`;
    const m = await measure(label, servers, { url, postmasterPid: db.pid });
    const lock = m.chainLock!;
    const contention =
      n > 1 ? `${n} servers, PostgreSQL and the load generator share 2 cores: this shows what the servers cost each other, not how they scale` : undefined;
    const figures: BenchFigure[] = [
      {
        bench: BENCH,
        figure: `${label}: cycles, ${WORKERS} in flight`,
        value: m.rate,
        unit: 'cycles/s',
        ...(n === 1 ? { target: `>= ${TARGET} cycles/s`, pass: m.rate >= TARGET } : {}),
        otherCpuPct: m.cpu.otherPct,
        details: { ...m, apiCallsPerSecond: m.rate * 3, loadGenerator: LOAD_GENERATOR, ...(contention ? { note: contention } : {}) },
      },
      { bench: BENCH, figure: `${label}: audit events linked`, value: m.eventsPerSecond, unit: 'events/s', otherCpuPct: m.cpu.otherPct },
      { bench: BENCH, figure: `${label}: server CPU per cycle (all servers)`, value: m.serverCpuUsPerCycle, unit: 'us' },
      {
        bench: BENCH,
        figure: `${label}: chain lock held`,
        value: lock.heldPct,
        unit: '% of the time',
        otherCpuPct: m.cpu.otherPct,
        details: { ...lock },
      },
      {
        bench: BENCH,
        figure: `${label}: mean wait for the chain lock per linking transaction`,
        value: lock.meanWaitMs,
        unit: 'ms',
        details: { meanHoldMs: lock.meanHoldMs },
      },
    ];
    return figures;
  } finally {
    for (const s of servers) await s.stop();
    tmp.cleanup();
  }
}

export async function run(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  if (SETUPS.includes('sqlite')) figures.push(...(await sqliteRun()));
  const pgSetups = SETUPS.filter((s) => /^pg\d+$/.test(s)).map((s) => Number(s.slice(2)));
  if (pgSetups.length) {
    const db = await startStorePostgres();
    try {
      for (const n of pgSetups) figures.push(...(await postgresRun(db, n)));
    } finally {
      await db.stop();
    }
  }
  return figures;
}

if (isMain(import.meta.url)) {
  runAsScript(run);
}
