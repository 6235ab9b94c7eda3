/**
 * Expiry storm: 10,000 grants whose expiresAt fall in the same wall-clock second S, a few
 * seconds after the server starts, must all be `expired` within 5 s of S, and /v1/check must
 * deny each of them from its expiresAt on.
 *
 *  1. Seeds the grants (bench/seed.ts) with a clock set so that request i was activated ten
 *     minutes before S + (i mod 1000) ms and lasts ten minutes: expiresAt spreads evenly over
 *     [S, S + 1 s). Then spawns `node bin/hourglass.js serve` (real Scheduler, system clock,
 *     default 250 ms scheduler interval).
 *  2. From before S until the end, 8 connections probe /v1/check for 500 of the grants in a
 *     closed loop. A probe sent at wall time t >= expiresAt (t read before sending, so the
 *     server's clock is at least t) that answers allowed=true is a violation; probes before
 *     expiry must answer allowed=true. Their latency during the storm is recorded as well.
 *  3. Another connection polls /v1/requests?status=active&limit=1 every 20 ms; the storm is over
 *     at the first empty answer (time taken when the answer arrives: an upper bound).
 *  4. Afterwards every request is read back (status expired, access removed) and
 *     endedAt - expiresAt gives the per-grant expiry lag.
 *
 * Run: npm run build && node --import tsx bench/expiry-storm.ts
 */
import { join } from 'node:path';
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

const BENCH = 'expiry-storm';
const GRANTS = Number(process.env.BENCH_STORM_GRANTS ?? 10_000);
const LEAD_MS = 10_000; // from seeding start to S: covers seeding, chain verification and server start
const DURATION_MS = 10 * 60_000;
const PROBES = 500;
const PROBE_CONNECTIONS = 8;
const DEADLINE_MS = 5_000;
const GIVE_UP_MS = 60_000;

const principalId = (i: number) => `u${String(i).padStart(5, '0')}`;

function configYaml(storePath: string): string {
  return `${serverYaml(storePath)}
principals:
${principalYaml('app', [], ['checker'])}
${principalYaml('auditor', [], ['auditor'])}
${requestersYaml(
  Array.from({ length: GRANTS }, (_, i) => principalId(i)),
  ['staff'],
)}
targets:
  db:
    type: hourglass
    entitlements:
      read: {}
policies:
  - name: staff-read
    subjects: { groups: [staff] }
    entitlements: [db/read]
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

export async function run(): Promise<BenchFigure[]> {
  const tmp = tempDir('hg-bench-storm-');
  const storePath = join(tmp.dir, 'hourglass.db');
  const configPath = writeFile(join(tmp.dir, 'hourglass.yaml'), configYaml(storePath));
  let hg: Spawned | undefined;
  const conns: RawConnection[] = [];
  try {
    await waitForQuiet(BENCH);
    const S = Math.ceil((Date.now() + LEAD_MS) / 1000) * 1000;
    const expiresAt = (i: number) => S + (i % 1000);
    log(`[${BENCH}] seeding ${GRANTS} grants expiring in the second starting ${new Date(S).toISOString()} ...`);
    const seed = await seedActiveGrants({
      storePath,
      yaml: configYaml(storePath),
      count: GRANTS,
      item: (i) => ({
        principal: { id: principalId(i), groups: ['staff'], roles: [] },
        entitlement: 'db/read',
        duration: '10m',
        now: expiresAt(i) - DURATION_MS,
      }),
    });
    hg = await spawnHourglass(configPath);
    const readyIn = S - Date.now();
    log(`[${BENCH}] seeded in ${seed.seedMs} ms (+${seed.chainMs} ms chain); hourglass pid ${hg.pid} ready ${readyIn} ms before S`);
    if (readyIn < 500) throw new Error(`the server was ready only ${readyIn} ms before the storm second; raise LEAD_MS`);

    const u = new URL(hg.url);
    const connect = async () => {
      const c = new RawConnection(u.hostname, Number(u.port));
      conns.push(c);
      await c.ready;
      return c;
    };
    const checkToken = tokenOf('app');
    const auditorToken = tokenOf('auditor');

    // Probes: closed loop over a random sample of the storm grants.
    const sample = shuffle(
      Array.from({ length: GRANTS }, (_, i) => i),
      prng(7),
    ).slice(0, PROBES);
    const probeRaw = sample.map((i) => ({ i, raw: rawGet(`/v1/check?principal=${principalId(i)}&entitlement=db%2Fread`, checkToken) }));
    let stopProbes = false;
    let doneAt = 0;
    const stats = { beforeExpiry: 0, allowedBeforeExpiry: 0, afterExpiry: 0, violations: 0, errors: 0 };
    const stormLatency: number[] = [];
    const violations: string[] = [];
    const probe = async (k: number) => {
      const conn = await connect();
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
            if (violations.length < 5) violations.push(`${principalId(p.i)} allowed at ${sentAt}, expiresAt ${expiresAt(p.i)}`);
          }
        } else {
          stats.beforeExpiry++;
          if (allowed) stats.allowedBeforeExpiry++;
        }
        if (sentAt >= S && (doneAt === 0 || sentAt <= doneAt)) stormLatency.push(ms);
      }
    };

    await sleep(Math.max(0, S - 300 - Date.now()));
    const meter = new CpuMeter([hg.pid]);
    let probeError: Error | undefined;
    const probes = Array.from({ length: PROBE_CONNECTIONS }, (_, k) =>
      probe(k).catch((err: Error) => {
        probeError ??= err;
      }),
    );

    // Completion: the first empty page of active requests.
    const poller = await connect();
    const activeRaw = rawGet('/v1/requests?status=active&limit=1', auditorToken);
    let polls = 0;
    let firstEmptyAfterS = 0;
    for (;;) {
      const r = await poller.request(activeRaw);
      polls++;
      if (r.status !== 200) throw new Error(`polling active requests: HTTP ${r.status} ${r.body}`);
      const empty = (JSON.parse(r.body) as { requests: unknown[] }).requests.length === 0;
      const now = Date.now();
      if (empty && now < S) throw new Error('no active grant before the storm second: the seed expired early');
      if (empty) {
        firstEmptyAfterS = now;
        break;
      }
      if (now > S + GIVE_UP_MS) throw new Error(`grants still active ${GIVE_UP_MS} ms after the storm second`);
      await sleep(20);
    }
    doneAt = firstEmptyAfterS;
    const cpu = meter.stop();
    await sleep(300); // a few more probes after the end
    stopProbes = true;
    await Promise.all(probes);
    if (probeError) throw new Error(`a check probe failed: ${probeError.message}`);
    const allExpiredMs = doneAt - S;

    // Read every request back: all expired, access removed; lag = endedAt - expiresAt.
    const lags: number[] = [];
    let notExpired = 0;
    let cursor: string | null = null;
    const reader = await connect();
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
    if (notExpired || lags.length !== GRANTS) throw new Error(`${notExpired} requests not expired/removed; ${lags.length}/${GRANTS} read back`);
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
      `[${BENCH}] all ${GRANTS} expired ${allExpiredMs} ms after S (${allExpiredMs - 1000} ms after the last expiresAt; ${polls} polls; ` +
        `machine ${cpu.machinePct}% busy, ${cpu.otherPct}% by other processes)`,
    );
    log(`[${BENCH}] expiry lag endedAt - expiresAt: p50 ${lag.p50} ms, p99 ${lag.p99} ms, max ${lag.max} ms`);
    log(
      `[${BENCH}] check probes: ${stats.beforeExpiry} before expiry (${stats.allowedBeforeExpiry} allowed), ${stats.afterExpiry} from expiresAt on, ` +
        `${stats.violations} allowed after expiry, ${stats.errors} errors; latency during the storm p50 ${probeLat.p50} ms, p99 ${probeLat.p99} ms, max ${probeLat.max} ms`,
    );
    if (violations.length) log(`[${BENCH}] violations: ${violations.join('; ')}`);
    if (stats.allowedBeforeExpiry === 0) throw new Error('no probe saw an active grant before its expiry: the probe is not testing anything');
    if (stats.errors) throw new Error(`${stats.errors} probe errors`);

    const serverWarnings = reportWarnings(BENCH, hg);
    return [
      {
        bench: BENCH,
        figure: `${GRANTS / 1000}k grants ending in one second: all expired after`,
        value: allExpiredMs,
        unit: 'ms',
        target: `<= ${DEADLINE_MS} ms`,
        pass: allExpiredMs <= DEADLINE_MS,
        otherCpuPct: cpu.otherPct,
        details: { serverWarnings, cpu, allExpiredAfterLastExpiresAtMs: allExpiredMs - 1000, expiryLagMs: lag, polls, seed },
      },
      {
        bench: BENCH,
        figure: 'checks allowed from expiresAt on',
        value: stats.violations,
        unit: `of ${stats.afterExpiry}`,
        target: '0',
        pass: stats.violations === 0 && stats.afterExpiry > 0,
        details: { ...stats },
      },
      {
        bench: BENCH,
        figure: 'check latency during the storm, max',
        value: probeLat.max,
        unit: 'ms',
        otherCpuPct: cpu.otherPct,
        details: probeLat,
      },
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
