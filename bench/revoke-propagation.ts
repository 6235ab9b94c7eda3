/**
 * Revoke propagation between servers: two `hourglass serve` processes (A, B) on one PostgreSQL
 * store. A grant is made on A; once B's /v1/check allows it, it is revoked through A's API, and
 * from the revoke's response on B is probed until it denies. Target: p99 <= 50 ms over at least
 * 200 revokes.
 *
 * Each server answers /v1/check from its in-memory index, which another server's commit reaches
 * by PostgreSQL NOTIFY (a hint to catch up from the audit chain) or else by the index's 1 s poll.
 * Per sample, B is probed from the moment the revoke is sent (B may apply it before A answers,
 * as A's response waits for A's own index), and times are taken from A's revoke response (t0):
 *  - one connection sends B `GET /v1/check` back to back until it answers `allowed: false`: the
 *    lag is that answer's arrival - t0, 0 if it came before t0 (an upper bound: it includes the
 *    probe's round trip; the send time of the last probe that still allowed is the lower bound);
 *  - another polls B's `GET /readyz` back to back until `checks.seq` reaches the revoke's seq
 *    (from A's audit log, `grant.revoked` of the request): when B's index had applied the revoke;
 *  - cross-check: no check sent after B's readyz showed the revoke's seq may allow.
 * Samples alternate direction (A and B swap), start after a random 0-20 ms pause (so they fall
 * anywhere in the index's poll cycle), and use rotating requesters.
 *
 * The probing client, both servers and PostgreSQL share one 2-core machine; the servers are
 * otherwise idle (no other load).
 *
 * Knobs: BENCH_PROPAGATION_SAMPLES (300).
 * Run: npm run build && node --import tsx bench/revoke-propagation.ts
 */
import { join } from 'node:path';
import {
  api,
  CpuMeter,
  isMain,
  log,
  percentile,
  principalYaml,
  prng,
  rawGet,
  RawConnection,
  rawRequest,
  reportWarnings,
  round,
  runAsScript,
  serverYaml,
  sleep,
  tempDir,
  tokenOf,
  waitForQuiet,
  writeFile,
  type BenchFigure,
  type Spawned,
} from './lib.js';
import { ChildrenCpu, createStore, spawnServers, startStorePostgres, type PostgresServer } from './cluster.js';

const BENCH = 'revoke-propagation';
const SAMPLES = Number(process.env.BENCH_PROPAGATION_SAMPLES ?? 300);
const REQUESTERS = 20;
const TARGET_MS = 50;
const GIVE_UP_MS = 5_000;

const requester = (i: number) => `req-${String(i).padStart(2, '0')}`;

function configYaml(store: string): string {
  return `${serverYaml(store)}
principals:
${Array.from({ length: REQUESTERS }, (_, i) => principalYaml(requester(i), ['staff'])).join('\n')}
${principalYaml('admin', [], ['admin', 'auditor'])}
${principalYaml('app', [], ['checker'])}
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

/** Times from the revoke's response on A, 0 when B was there first. */
interface Sample {
  /** -> the first `allowed: false` from B arrived (an upper bound). */
  checkMs: number;
  /** -> the send time of B's last `allowed: true`: a lower bound. */
  lastAllowedMs: number;
  /** From the revoke's request (not its response) to B's first denial. */
  fromSentMs: number;
  /** B denied before A's response arrived. */
  beforeResponse: boolean;
  /** -> B's readyz showing checks.seq >= the revoke's seq. */
  seqMs: number;
  /** The revoke's round trip through A's API. */
  revokeMs: number;
  /** Checks that allowed although sent after B's readyz showed the revoke applied. */
  inconsistent: number;
}

const summary = (v: number[]) => {
  const s = Float64Array.from(v).sort();
  return {
    p50: round(percentile(s, 50), 2),
    p99: round(percentile(s, 99), 2),
    max: round(s[s.length - 1] ?? NaN, 2),
    mean: round(s.reduce((a, b) => a + b, 0) / (s.length || 1), 2),
  };
};

async function connect(url: string): Promise<RawConnection> {
  const u = new URL(url);
  const c = new RawConnection(u.hostname, Number(u.port));
  await c.ready;
  return c;
}

export async function run(): Promise<BenchFigure[]> {
  const tmp = tempDir('hg-bench-propagation-');
  let db: PostgresServer | undefined;
  let servers: Spawned[] = [];
  const conns: RawConnection[] = [];
  try {
    db = await startStorePostgres();
    const url = await createStore(db, 'propagation');
    servers = await spawnServers(writeFile(join(tmp.dir, 'hourglass.yaml'), configYaml(url)), 2);
    log(`[${BENCH}] servers ${servers.map((s) => `${s.url} (pid ${s.pid})`).join(', ')} on one PostgreSQL store; ${SAMPLES} revokes`);
    // Idle keep-alive connections are closed by the servers after a few seconds: open them after the wait.
    await waitForQuiet(BENCH);
    // Per server: one connection for API calls, one for check probes, one for readyz.
    const perServer = await Promise.all(
      servers.map(async (s) => {
        const c = { api: await connect(s.url), check: await connect(s.url), ready: await connect(s.url) };
        conns.push(c.api, c.check, c.ready);
        return c;
      }),
    );
    const admin = tokenOf('admin');
    const checkToken = tokenOf('app');
    const readyRaw = rawGet('/readyz');
    const rnd = prng(11);
    const samples: Sample[] = [];
    const grantMs: number[] = [];
    const meter = new CpuMeter(servers.map((s) => s.pid));
    const pgCpu = new ChildrenCpu(db.pid);
    for (let i = 0; i < SAMPLES; i++) {
      const a = perServer[i % 2]!;
      const b = perServer[(i + 1) % 2]!;
      const who = requester(i % REQUESTERS);
      const checkRaw = rawGet(`/v1/check?principal=${who}&entitlement=db%2Fread`, checkToken);
      const allowedOn = async (c: RawConnection) => {
        const r = await c.request(checkRaw);
        if (r.status !== 200) throw new Error(`check: HTTP ${r.status} ${r.body}`);
        return (JSON.parse(r.body) as { allowed: boolean }).allowed;
      };

      const sub = await a.api.request(rawRequest('POST', '/v1/requests', tokenOf(who), { entitlements: ['db/read'], duration: '1h' }));
      const request = JSON.parse(sub.body) as { id: string; status: string };
      if (sub.status !== 201 || request.status !== 'active') throw new Error(`submit: HTTP ${sub.status} ${sub.body}`);
      const g0 = performance.now();
      while (!(await allowedOn(b.check))) if (performance.now() - g0 > GIVE_UP_MS) throw new Error(`B never allowed ${request.id}`);
      grantMs.push(performance.now() - g0);
      await sleep(rnd() * 20);

      // B is probed from the moment the revoke is sent: B's index may apply it before A answers.
      const r0 = performance.now();
      const revoke: { seq?: number } = {}; // known once A's audit log has answered
      let seqAt: number | undefined;
      const readyLoop = (async () => {
        const seen: { at: number; seq: number }[] = [];
        while (seqAt === undefined) {
          const r = await b.ready.request(readyRaw);
          const at = performance.now();
          seen.push({ at, seq: (JSON.parse(r.body) as { checks: { seq: number } }).checks.seq });
          if (revoke.seq !== undefined) seqAt = seen.find((s) => s.seq >= revoke.seq!)?.at;
          if (at - r0 > GIVE_UP_MS) throw new Error(`B's readyz never reached seq ${revoke.seq}`);
        }
      })();
      const probes: { sent: number; arrived: number; allowed: boolean }[] = [];
      const checkLoop = (async () => {
        for (;;) {
          const sent = performance.now();
          const allowed = await allowedOn(b.check);
          probes.push({ sent, arrived: performance.now(), allowed });
          if (!allowed) return;
          if (sent - r0 > GIVE_UP_MS) throw new Error(`B still allows ${request.id} ${GIVE_UP_MS} ms after the revoke`);
        }
      })();
      const rev = await a.api.request(rawRequest('POST', `/v1/requests/${request.id}/revoke`, admin, { reason: 'propagation bench' }));
      const t0 = performance.now();
      if (rev.status !== 200 || (JSON.parse(rev.body) as { status: string }).status !== 'revoked') throw new Error(`revoke: HTTP ${rev.status} ${rev.body}`);
      const ev = await api<{ events: { seq: number }[] }>(servers[i % 2]!.url, 'GET', `/v1/audit?requestId=${request.id}&type=grant.revoked`, admin);
      if (ev.body.events.length !== 1) throw new Error(`audit log holds ${ev.body.events.length} grant.revoked events of ${request.id}`);
      revoke.seq = ev.body.events[0]!.seq;
      await Promise.all([checkLoop, readyLoop]);
      const denied = probes[probes.length - 1]!;
      const lastAllowed = probes.filter((p) => p.allowed).pop();
      samples.push({
        checkMs: Math.max(0, denied.arrived - t0),
        lastAllowedMs: Math.max(0, (lastAllowed?.sent ?? r0) - t0),
        fromSentMs: denied.arrived - r0,
        beforeResponse: denied.arrived <= t0,
        seqMs: Math.max(0, seqAt! - t0),
        revokeMs: t0 - r0,
        inconsistent: probes.filter((p) => p.allowed && p.sent >= seqAt!).length,
      });
    }
    const cpu = meter.stop(pgCpu.stop());

    const check = summary(samples.map((s) => s.checkMs));
    const lower = summary(samples.map((s) => s.lastAllowedMs));
    const seq = summary(samples.map((s) => s.seqMs));
    const revoke = summary(samples.map((s) => s.revokeMs));
    const grant = summary(grantMs);
    const inconsistent = samples.reduce((n, s) => n + s.inconsistent, 0);
    const fromSent = summary(samples.map((s) => s.fromSentMs));
    const beforeResponse = samples.filter((s) => s.beforeResponse).length;
    log(
      `[${BENCH}] revoke response -> B denies: p50 ${check.p50} ms, p99 ${check.p99} ms, max ${check.max} ms ` +
        `(last allowed probe sent: p99 ${lower.p99} ms; B denied before A's response in ${beforeResponse} of ${samples.length}; from the revoke's request: p50 ${fromSent.p50} ms, p99 ${fromSent.p99} ms)`,
    );
    log(`[${BENCH}] revoke response -> B's readyz checks.seq reaches the revoke: p50 ${seq.p50} ms, p99 ${seq.p99} ms, max ${seq.max} ms`);
    log(`[${BENCH}] revoke round trip on A: p50 ${revoke.p50} ms, p99 ${revoke.p99} ms; grant on A -> B allows: p50 ${grant.p50} ms, p99 ${grant.p99} ms`);
    log(
      `[${BENCH}] cross-check: ${inconsistent} checks allowed after B's readyz showed the revoke applied (machine ${cpu.machinePct}% busy, ${cpu.otherPct}% by others)`,
    );

    const verify = await api<{ ok: boolean; count: number }>(servers[0]!.url, 'GET', '/v1/audit/verify', admin);
    if (!verify.body?.ok) throw new Error(`audit chain does not verify: ${JSON.stringify(verify.body)}`);
    const serverWarnings = servers.reduce((n, s) => n + reportWarnings(BENCH, s), 0);
    const setup = 'PostgreSQL store, 2 servers, revoke on one, check on the other; client, servers and PostgreSQL on the same 2-core machine';
    return [
      {
        bench: BENCH,
        figure: 'revoke on A -> check on B denies, p99',
        value: check.p99,
        unit: 'ms',
        target: `<= ${TARGET_MS} ms`,
        pass: check.p99 <= TARGET_MS && samples.length >= 200 && inconsistent === 0,
        otherCpuPct: cpu.otherPct,
        details: {
          samples: samples.length,
          setup,
          checkMs: check,
          lastAllowedSentMs: lower,
          deniedBeforeResponse: beforeResponse,
          fromRevokeSentMs: fromSent,
          revokeRoundTripMs: revoke,
          cpu,
          serverWarnings,
        },
      },
      { bench: BENCH, figure: 'revoke on A -> check on B denies, max', value: check.max, unit: 'ms', otherCpuPct: cpu.otherPct },
      {
        bench: BENCH,
        figure: "revoke on A -> B's readyz checks.seq reaches the revoke, p99",
        value: seq.p99,
        unit: 'ms',
        otherCpuPct: cpu.otherPct,
        details: { seqMs: seq, inconsistentChecks: inconsistent },
      },
      { bench: BENCH, figure: 'grant on A -> check on B allows, p99', value: grant.p99, unit: 'ms', details: { grantMs: grant } },
    ];
  } finally {
    for (const c of conns) c.close();
    for (const s of servers) await s.stop();
    await db?.stop();
    tmp.cleanup();
  }
}

if (isMain(import.meta.url)) {
  runAsScript(run);
}
