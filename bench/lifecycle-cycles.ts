/**
 * Request -> approve -> active -> revoke cycles per second through the real HTTP API of a
 * spawned server (SQLite store, rate limit off, log level warn).
 *
 * A policy needs one approval from an SRE lead. 32 workers run cycles back to back, so 32
 * cycles are in flight; each worker is its own requester (dev-NN) on its own keep-alive
 * connection, approved and revoked by one of 4 leads:
 *   POST /v1/requests                 (requester)  -> 201 pending
 *   POST /v1/requests/:id/approve     (lead)       -> 200 active
 *   POST /v1/requests/:id/revoke      (lead)       -> 200 revoked
 * Every response's status and body are checked. A warm-up precedes the measured BENCH_SECONDS
 * (10); afterwards /v1/check must deny a revoked grant and the audit chain must verify.
 *
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

const BENCH = 'lifecycle-cycles';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const WORKERS = 32;
const LEADS = 4;
const MAX_CYCLES = Number(process.env.BENCH_MAX_CYCLES ?? 1_000_000);

const dev = (i: number) => `dev-${String(i).padStart(2, '0')}`;
const lead = (i: number) => `lead-${i}`;

function configYaml(storePath: string): string {
  return `${serverYaml(storePath)}
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

export async function run(): Promise<BenchFigure[]> {
  const tmp = tempDir('hg-bench-cycles-');
  const storePath = join(tmp.dir, 'hourglass.db');
  const configPath = writeFile(join(tmp.dir, 'hourglass.yaml'), configYaml(storePath));
  let hg: Spawned | undefined;
  const conns: RawConnection[] = [];
  try {
    hg = await spawnHourglass(configPath);
    await waitForQuiet(BENCH);
    log(`[${BENCH}] hourglass pid ${hg.pid} at ${hg.url}; ${WORKERS} cycles in flight`);
    const u = new URL(hg.url);

    const stepMs: Record<'submit' | 'approve' | 'revoke', number[]> = { submit: [], approve: [], revoke: [] };
    const cycleMs: number[] = [];
    let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
    let stopNow = () => {};
    const stopped = new Promise<void>((resolve) => (stopNow = resolve));
    let cycles = 0;
    let lastRevoked = '';
    const failures: string[] = [];

    const worker = async (w: number) => {
      const conn = new RawConnection(u.hostname, Number(u.port));
      conns.push(conn);
      await conn.ready;
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
        const sub = await call(conn, submitRaw);
        expect('submit', sub, 201, 'pending');
        const id = sub.body.id!;
        const t1 = performance.now();
        expect('approve', await call(conn, rawRequest('POST', `/v1/requests/${id}/approve`, approver, { comment: 'ok' })), 200, 'active');
        const t2 = performance.now();
        expect('revoke', await call(conn, rawRequest('POST', `/v1/requests/${id}/revoke`, approver, { reason: 'done' })), 200, 'revoked');
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
    const cpu0 = processCpuMs(hg.pid);
    const meter = new CpuMeter([hg.pid]);
    const t0 = performance.now();
    phase = 'measure';
    await Promise.race([sleep(SECONDS * 1000), stopped]);
    const elapsed = (performance.now() - t0) / 1000;
    const cpuMs = processCpuMs(hg.pid) - cpu0;
    const cpu = meter.stop();
    phase = 'stop';
    await Promise.all(workers);
    if (failures.length) throw new Error(`${failures.length} worker(s) failed; first: ${failures[0]}`);
    if (cycles === 0) throw new Error('no cycle completed in the measured window');

    const rate = round(cycles / elapsed, 0);
    const pct = (a: number[], p: number) => round(percentile(Float64Array.from(a).sort(), p), 1);
    log(
      `[${BENCH}] ${cycles} cycles in ${round(elapsed, 2)} s: ${rate} cycles/s (${rate * 3} API calls/s); ` +
        `cycle p50 ${pct(cycleMs, 50)} ms p99 ${pct(cycleMs, 99)} ms; server CPU ${round((cpuMs * 1000) / cycles, 0)} us/cycle ` +
        `(machine ${cpu.machinePct}% busy, ${cpu.otherPct}% by other processes)`,
    );
    for (const k of ['submit', 'approve', 'revoke'] as const) log(`[${BENCH}]   ${k}: p50 ${pct(stepMs[k], 50)} ms, p99 ${pct(stepMs[k], 99)} ms`);

    // Afterwards: a revoked grant is denied and the chain of all those events verifies.
    const check = await api(hg.url, 'GET', `/v1/check?principal=${dev(0)}&entitlement=db/admin`, tokenOf('app'));
    const one = await api(hg.url, 'GET', `/v1/requests/${lastRevoked}`, tokenOf('auditor'));
    const verifyStart = performance.now();
    const verify = await api<{ ok: boolean; count: number }>(hg.url, 'GET', '/v1/audit/verify', tokenOf('auditor'));
    const verifyMs = Math.round(performance.now() - verifyStart);
    if (check.body?.allowed !== false) throw new Error(`check after revoke answered ${JSON.stringify(check.body)}`);
    if (one.body?.status !== 'revoked') throw new Error(`request ${lastRevoked} is ${one.body?.status}`);
    if (!verify.body?.ok) throw new Error(`audit chain does not verify: ${JSON.stringify(verify.body)}`);
    log(`[${BENCH}] afterwards: check denies, audit chain of ${verify.body.count} events verifies (${verifyMs} ms)`);

    const serverWarnings = reportWarnings(BENCH, hg);
    return [
      {
        bench: BENCH,
        figure: `request->approve->revoke cycles, ${WORKERS} in flight`,
        value: rate,
        unit: 'cycles/s',
        target: '>= 500 cycles/s',
        pass: rate >= 500,
        otherCpuPct: cpu.otherPct,
        details: {
          serverWarnings,
          cycles,
          seconds: round(elapsed, 2),
          apiCallsPerSecond: rate * 3,
          serverCpuUsPerCycle: round((cpuMs * 1000) / cycles, 0),
          cpu,
          cycleMs: { p50: pct(cycleMs, 50), p99: pct(cycleMs, 99) },
          stepMs: Object.fromEntries(Object.entries(stepMs).map(([k, v]) => [k, { p50: pct(v, 50), p99: pct(v, 99) }])),
          auditEvents: verify.body.count,
          auditVerifyMs: verifyMs,
        },
      },
      { bench: BENCH, figure: 'server CPU per cycle (3 API calls)', value: round((cpuMs * 1000) / cycles, 0), unit: 'us' },
    ];
  } finally {
    for (const c of conns) c.close();
    await hg?.stop();
    tmp.cleanup();
  }
}

if (isMain(import.meta.url)) {
  runAsScript(run);
}
