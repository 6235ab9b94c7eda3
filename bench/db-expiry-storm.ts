/**
 * Database expiry storm (issue 4): 2,000 grants on a real database target whose `expiresAt` all
 * fall in the same wall-clock second S must all be gone from the target within 30 s of S.
 *
 * For each kind (postgres; redis too unless BENCH_DB_STORM_KINDS says otherwise):
 *  1. A throwaway server from test/support, set up as the tests do, and a REAL Hourglass server in
 *     this process (startServer from src/cli/serve.ts: system clock, real Scheduler at its default
 *     250 ms interval, access worker with its default concurrency, SQLite store in a temp dir).
 *  2. S is fixed LEAD seconds ahead. 32 concurrent clients POST /v1/requests as fast as the server
 *     answers; each asks for the whole number of seconds that puts `expiresAt` (= the server's
 *     now + duration) in second S. A grant whose answer shows `expiresAt` outside S (its request
 *     crossed a second boundary) is cancelled (or released) and replaced, so exactly GRANTS grants end in S.
 *  3. Waits until none is still provisioning, none failed, and the target holds GRANTS accounts.
 *  4. From S - 200 ms, polls the target every 50 ms as its superuser (`pg_roles` with the account
 *     prefix / `ACL USERS`) until no account is left: time to all-gone = that answer's arrival - S
 *     (an upper bound). The series of counts gives the removal rate.
 *  5. The audit log gives when each request turned `expired` (`grant.expired`) and when it showed
 *     `access: removed` (`grant.access_removed`, written in the same transaction); every request
 *     is read back (`expired` / `removed`).
 *
 * Knobs: BENCH_DB_STORM_GRANTS (2000), BENCH_DB_STORM_KINDS ("postgres,redis"),
 * BENCH_DB_STORM_LEAD_S (per kind: postgres 40, redis 25, mariadb 40).
 *
 * Run: node --import tsx bench/db-expiry-storm.ts   (no build needed: it runs src/ in-process)
 */
import { cpus } from 'node:os';
import { api, isMain, runAsScript, log, percentile, round, sleep, tokenOf, waitForQuiet, type BenchFigure } from './lib.js';
import {
  CpuWindow,
  machineFacts,
  registeredKinds,
  startHourglass,
  startTarget,
  type InProcessHourglass,
  type Kind,
  type TargetUnderTest,
} from './revocation-lag.js';

const BENCH = 'db-expiry-storm';
const GRANTS = Number(process.env.BENCH_DB_STORM_GRANTS ?? 2000);
const CLIENTS = 32;
const DEADLINE_MS = 30_000;
const GIVE_UP_MS = 120_000;
const LEAD_S: Record<Kind, number> = { postgres: 40, redis: 25, mariadb: 40 };

interface AuditEvent {
  type: string;
  at: string;
  requestId: string;
}

/** Every audit event of `type` since `since`, oldest first. */
async function auditEvents(url: string, type: string, since: number): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let cursor: number | undefined;
  for (;;) {
    const q = `/v1/audit?type=${type}&since=${encodeURIComponent(new Date(since).toISOString())}&limit=1000${cursor !== undefined ? `&cursor=${cursor}` : ''}`;
    const r = await api(url, 'GET', q, tokenOf('auditor'));
    if (r.status !== 200) throw new Error(`GET ${q}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    out.push(...(r.body.events as AuditEvent[]));
    if (r.body.nextCursor === null || r.body.nextCursor === undefined) return out;
    cursor = r.body.nextCursor;
  }
}

async function storm(kind: Kind): Promise<BenchFigure[]> {
  const busyBefore = await waitForQuiet(`${BENCH} ${kind}`, 20, 60_000);
  const target: TargetUnderTest = await startTarget(kind);
  const principals = Array.from({ length: CLIENTS }, (_, i) => `storm${String(i).padStart(2, '0')}`);
  let hg: InProcessHourglass | undefined;
  try {
    hg = await startHourglass(target, principals, { maxDuration: '10m' });
    const url = hg.url;
    const entitlement = `${target.name}/read`;
    const leadS = Number(process.env.BENCH_DB_STORM_LEAD_S ?? LEAD_S[kind]);
    const S = Math.ceil((Date.now() + leadS * 1000) / 1000) * 1000;
    log(`[${BENCH}] ${kind}: creating ${GRANTS} grants ending in the second starting ${new Date(S).toISOString()} (${leadS} s ahead), ${CLIENTS} clients`);

    // ---- create ----
    const t0 = Date.now();
    const ids = new Set<string>();
    let next = 0;
    let misses = 0;
    await Promise.all(
      principals.map(async (p) => {
        const token = tokenOf(p);
        while (next < GRANTS) {
          next++;
          for (;;) {
            const seconds = S / 1000 - Math.floor(Date.now() / 1000);
            if (seconds < 2) throw new Error(`creating the grants took too long: S is ${S - Date.now()} ms away; raise BENCH_DB_STORM_LEAD_S`);
            const r = await api(url, 'POST', '/v1/requests', token, { entitlements: [entitlement], duration: `${seconds}s` });
            if (r.status !== 201) throw new Error(`POST /v1/requests: HTTP ${r.status} ${JSON.stringify(r.body)}`);
            const expiresAt = Date.parse(r.body.expiresAt);
            if (expiresAt >= S && expiresAt < S + 1000) {
              ids.add(r.body.id);
              break;
            }
            misses++; // crossed a second boundary in flight: give it back and try again
            let end = await api(url, 'POST', `/v1/requests/${r.body.id}/cancel`, token, {}); // still provisioning
            if (end.status === 409) end = await api(url, 'POST', `/v1/requests/${r.body.id}/release`, token, {}); // active already
            if (end.status !== 200) throw new Error(`ending ${r.body.id}: HTTP ${end.status} ${JSON.stringify(end.body)}`);
          }
        }
      }),
    );
    const createMs = Date.now() - t0;
    log(
      `[${BENCH}] ${kind}: ${ids.size} requests created in ${createMs} ms (${round(ids.size / (createMs / 1000), 0)}/s; ${misses} crossed a second boundary and were replaced)`,
    );

    // ---- wait until all active ----
    const auditor = tokenOf('auditor');
    let onTarget = 0;
    for (;;) {
      const provisioning = await api(url, 'GET', '/v1/requests?status=scheduled&limit=1', auditor);
      const failed = await api(url, 'GET', '/v1/requests?status=failed&limit=1', auditor);
      if (failed.body.requests.length) throw new Error(`a grant failed: ${JSON.stringify(failed.body.requests[0]).slice(0, 500)}`);
      if (provisioning.body.requests.length === 0) {
        onTarget = await target.countAccounts();
        if (onTarget === GRANTS) break;
      }
      if (Date.now() > S - 500) {
        throw new Error(
          `not all ${GRANTS} grants were active on the target 500 ms before S (${onTarget} accounts; still provisioning: ${provisioning.body.requests.length > 0}); raise BENCH_DB_STORM_LEAD_S`,
        );
      }
      await sleep(250);
    }
    const activeMs = Date.now() - t0;
    log(
      `[${BENCH}] ${kind}: all ${GRANTS} active with their accounts on the target after ${activeMs} ms (${round(GRANTS / (activeMs / 1000), 0)} grants/s); ${S - Date.now()} ms before S`,
    );

    // ---- the storm ----
    await sleep(Math.max(0, S - 200 - Date.now()));
    const cpu0 = new CpuWindow(target.pid);
    const series: { t: number; n: number }[] = [];
    let firstDropAt = 0;
    let allGoneAt = 0;
    for (;;) {
      const n = await target.countAccounts();
      const t = Date.now();
      series.push({ t: t - S, n });
      if (n < GRANTS && !firstDropAt) firstDropAt = t;
      if (n === 0) {
        allGoneAt = t;
        break;
      }
      if (t > S + GIVE_UP_MS) throw new Error(`${n} accounts still on the target ${GIVE_UP_MS} ms after S`);
      await sleep(50);
    }
    const cpu = cpu0.stop();
    const allGoneMs = allGoneAt - S;
    if (firstDropAt < S) throw new Error(`accounts disappeared before S (${firstDropAt - S} ms): the grants ended early`);

    // ---- every request removed ----
    let removedEvents: AuditEvent[] = [];
    for (const t1 = Date.now(); ;) {
      removedEvents = (await auditEvents(url, 'grant.access_removed', S - 1000)).filter((e) => ids.has(e.requestId));
      if (removedEvents.length >= GRANTS) break;
      if (Date.now() - t1 > GIVE_UP_MS) throw new Error(`only ${removedEvents.length} of ${GRANTS} requests show access removed`);
      await sleep(500);
    }
    const expiredEvents = (await auditEvents(url, 'grant.expired', S - 1000)).filter((e) => ids.has(e.requestId));
    const removedAt = removedEvents.map((e) => Date.parse(e.at) - S);
    const expiredAt = expiredEvents.map((e) => Date.parse(e.at) - S);
    const allRemovedMs = Math.max(...removedAt);
    const allExpiredMs = Math.max(...expiredAt);
    // Read back: every request expired, access removed.
    let ok = 0;
    let cursor: string | null = null;
    do {
      const q: string = `/v1/requests?status=expired&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await api(url, 'GET', q, auditor);
      for (const req of r.body.requests as { id: string; status: string; access: string }[]) if (ids.has(req.id) && req.access === 'removed') ok++;
      cursor = r.body.nextCursor;
    } while (cursor);
    if (ok !== GRANTS) throw new Error(`${ok} of ${GRANTS} requests read back as expired / removed`);

    const sortedRemoved = Float64Array.from(removedAt).sort();
    const sortedExpired = Float64Array.from(expiredAt).sort();
    const removal = {
      firstAccountGoneMs: firstDropAt - S,
      accountsPerSecond: round(GRANTS / ((allGoneAt - firstDropAt) / 1000 || 1), 0),
      expiredMs: { p50: percentile(sortedExpired, 50), p99: percentile(sortedExpired, 99), max: allExpiredMs },
      accessRemovedMs: { p50: percentile(sortedRemoved, 50), p99: percentile(sortedRemoved, 99), max: allRemovedMs },
    };
    const everySecond = series
      .filter((p, i) => i === 0 || Math.floor(p.t / 1000) !== Math.floor(series[i - 1]!.t / 1000))
      .map((p) => `${round(p.t / 1000, 1)}s:${p.n}`);
    log(
      `[${BENCH}] ${kind}: all ${GRANTS} accounts gone from the target ${allGoneMs} ms after S (first gone at +${removal.firstAccountGoneMs} ms; ` +
        `${removal.accountsPerSecond} accounts/s; ${series.length} polls)`,
    );
    log(`[${BENCH}] ${kind}: accounts left over time: ${everySecond.join(' ')}`);
    log(
      `[${BENCH}] ${kind}: requests expired (status final) by +${allExpiredMs} ms (p50 +${removal.expiredMs.p50}); all show access: removed by +${allRemovedMs} ms (p50 +${removal.accessRemovedMs.p50}, p99 +${removal.accessRemovedMs.p99})`,
    );
    log(
      `[${BENCH}] ${kind}: CPU during the storm (% of ${cpus().length} CPUs): machine ${cpu.machinePct}, bench+hourglass process ${cpu.benchProcessPct}, database ${cpu.databasePct}, other ${cpu.otherPct}`,
    );
    if (hg.warnings.count) log(`[${BENCH}] ${kind}: the server logged ${hg.warnings.count} warning(s)/error(s); first: ${hg.warnings.first[0]}`);

    const details = { createMs, activeMs, misses, removal, series: everySecond, cpu, machineBusyBeforePct: busyBefore, serverWarnings: hg.warnings.count };
    return [
      {
        bench: BENCH,
        figure: `${kind}: ${GRANTS} grants ending in one second: all gone from the target after`,
        value: allGoneMs,
        unit: 'ms',
        target: `<= ${DEADLINE_MS} ms`,
        pass: allGoneMs <= DEADLINE_MS,
        details,
      },
      { bench: BENCH, figure: `${kind}: all requests show access: removed after`, value: allRemovedMs, unit: 'ms', details: removal },
    ];
  } finally {
    await hg?.stop();
    await target.stop();
  }
}

export async function run(): Promise<BenchFigure[]> {
  const machine = machineFacts();
  const wanted = (process.env.BENCH_DB_STORM_KINDS ?? 'postgres,redis')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const kinds = registeredKinds().filter((k) => wanted.includes(k));
  log(`[${BENCH}] ${machine.nproc} x ${machine.cpuModel}, node ${machine.node}; kinds: ${kinds.join(', ')}`);
  const figures: BenchFigure[] = [];
  for (const kind of kinds) figures.push(...(await storm(kind)));
  return figures;
}

if (isMain(import.meta.url)) {
  runAsScript(run, { exitWhenDone: true });
}
