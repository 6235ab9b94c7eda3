/**
 * /v1/check throughput and latency over a SQLite store holding 100,000 active grants.
 *
 *  1. Seeds the store (bench/seed.ts), writes a config (rate limit off, log level warn) and
 *     spawns `node bin/hourglass.js serve` in its own process; a bare Fastify route runs in a
 *     second process (bench/bare-server.ts). The load generator runs here.
 *  2. Saturation: autocannon, 50 connections, warm-up then BENCH_SECONDS (10) each, on GET /bare
 *     and on GET /v1/check, the latter cycling through 4,000 prepared queries (half held grants,
 *     half not) over 20,000 principals, in a different order on every connection.
 *  3. Fixed load at half the measured check throughput: autocannon `overallRate` (what most
 *     people run, but autocannon meters it per connection per second, so each connection sends a
 *     burst at the top of every second and then idles), and an open-loop, evenly paced generator
 *     (bench/lib.ts pacedLoad) that counts latency from when each request was due.
 *
 * Run: npm run build && node --import tsx bench/check-throughput.ts
 */
import { join } from 'node:path';
import {
  api,
  isMain,
  log,
  pacedLoad,
  prng,
  principalYaml,
  printFigures,
  rawGet,
  round,
  runAutocannon,
  serverYaml,
  slicePerClient,
  spawnBare,
  spawnHourglass,
  tempDir,
  tokenOf,
  writeFile,
  type BenchFigure,
  type Spawned,
} from './lib.js';
import { seedActiveGrants } from './seed.js';

const BENCH = 'check-throughput';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Math.max(1, Math.round(SECONDS / 3));
const GRANTS = Number(process.env.BENCH_GRANTS ?? 100_000);
const CONNECTIONS = 50;
const TARGETS = ['db-a', 'db-b', 'db-c', 'db-d'];
const ROLES = ['r0', 'r1', 'r2', 'r3', 'r4'];
const ENTITLEMENTS = TARGETS.flatMap((t) => ROLES.map((r) => `${t}/${r}`));
const PER_PRINCIPAL = 5;
const PRINCIPALS = Math.ceil(GRANTS / PER_PRINCIPAL);
const MIX = 4000;

const principalId = (i: number) => `u${String(i).padStart(6, '0')}`;
/** Principal i holds entitlements i*7 .. i*7+4 (mod 20); i*7+5 .. i*7+9 are misses. */
const entitlementOf = (i: number, k: number) => ENTITLEMENTS[(i * 7 + k) % ENTITLEMENTS.length]!;

function configYaml(storePath: string): string {
  return `${serverYaml(storePath)}
principals:
${principalYaml('app', [], ['checker'])}
targets:
${TARGETS.map((t) => `  ${t}:\n    type: hourglass\n    entitlements:\n${ROLES.map((r) => `      ${r}: {}`).join('\n')}`).join('\n')}
policies:
  - name: staff-self-service
    subjects: { groups: [staff] }
    entitlements: [${ENTITLEMENTS.join(', ')}]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;
}

const checkPath = (p: string, e: string) => `/v1/check?principal=${encodeURIComponent(p)}&entitlement=${encodeURIComponent(e)}`;

export async function run(): Promise<BenchFigure[]> {
  const tmp = tempDir('hg-bench-check-');
  const storePath = join(tmp.dir, 'hourglass.db');
  const configPath = writeFile(join(tmp.dir, 'hourglass.yaml'), configYaml(storePath));
  const token = tokenOf('app');
  const servers: Spawned[] = [];
  try {
    log(`[${BENCH}] seeding ${GRANTS} active grants for ${PRINCIPALS} principals ...`);
    const now = Date.now();
    const seed = await seedActiveGrants({
      storePath,
      yaml: configYaml(storePath),
      count: GRANTS,
      item: (n) => ({
        principal: { id: principalId(n % PRINCIPALS), groups: ['staff'], roles: [] },
        entitlement: entitlementOf(n % PRINCIPALS, Math.floor(n / PRINCIPALS)),
        duration: '8h',
        now: now + Math.floor(n / 100), // 100 grants per millisecond, in time order
      }),
    });
    log(`[${BENCH}] seeded in ${seed.seedMs} ms, audit chain of ${seed.auditEvents} events linked and verified in ${seed.chainMs} ms`);

    const startAt = performance.now();
    const hg = await spawnHourglass(configPath);
    servers.push(hg);
    log(`[${BENCH}] hourglass pid ${hg.pid} ready in ${Math.round(performance.now() - startAt)} ms at ${hg.url}`);
    const bare = await spawnBare();
    servers.push(bare);
    log(`[${BENCH}] bare fastify pid ${bare.pid} at ${bare.url}`);

    // The request mix: half held grants, half not, over random principals.
    const rnd = prng(42);
    const mix: { path: string; hit: boolean }[] = [];
    for (let i = 0; i < MIX; i++) {
      const p = Math.floor(rnd() * PRINCIPALS);
      const k = Math.floor(rnd() * PER_PRINCIPAL);
      const hit = i % 2 === 0;
      mix.push({ path: checkPath(principalId(p), entitlementOf(p, hit ? k : k + PER_PRINCIPAL)), hit });
    }
    // Correctness first: every prepared answer is what the seed says.
    for (const m of mix.slice(0, 200)) {
      const r = await api<{ allowed: boolean }>(hg.url, 'GET', m.path, token);
      if (r.status !== 200 || r.body.allowed !== m.hit) throw new Error(`check ${m.path} answered ${r.status} ${JSON.stringify(r.body)}, expected allowed=${m.hit}`);
    }
    log(`[${BENCH}] 200 sample checks answered as seeded`);

    const auth = { authorization: `Bearer ${token}` };
    const checkRequests = mix.map((m) => ({ method: 'GET', path: m.path, headers: auth }));
    const saturate = async (url: string, requests: { method: string; path: string; headers: Record<string, string> }[], label: string) => {
      await runAutocannon({ url, connections: CONNECTIONS, duration: WARMUP_SECONDS, setupClient: slicePerClient(requests, CONNECTIONS) });
      const r = await runAutocannon({ url, connections: CONNECTIONS, duration: SECONDS, setupClient: slicePerClient(requests, CONNECTIONS) });
      if (r.errors || r.timeouts || r.non2xx) throw new Error(`${label}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx`);
      // Mean of the per-second samples (autocannon's "Req/Sec Avg").
      const rps = round(r.requests.mean, 0);
      log(`[${BENCH}] ${label}: ${rps} req/s (latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${r.requests.total} requests in ${r.duration} s)`);
      return { rps, result: r };
    };

    const bareRun = await saturate(bare.url, [{ method: 'GET', path: '/bare', headers: auth }], 'bare /bare at saturation');
    const checkRun = await saturate(hg.url, checkRequests, '/v1/check at saturation');
    const ratio = round((checkRun.rps / bareRun.rps) * 100, 1);

    const rate = Math.floor(checkRun.rps / 2);
    log(`[${BENCH}] fixed load of ${rate} req/s (half the check throughput) ...`);
    const ac = await runAutocannon({
      url: hg.url,
      connections: CONNECTIONS,
      duration: SECONDS,
      overallRate: rate,
      setupClient: slicePerClient(checkRequests, CONNECTIONS),
    });
    if (ac.errors || ac.timeouts || ac.non2xx) throw new Error(`fixed-rate autocannon: ${ac.errors} errors, ${ac.timeouts} timeouts, ${ac.non2xx} non-2xx`);
    log(`[${BENCH}] autocannon overallRate ${rate}: ${round(ac.requests.mean, 0)} req/s, p50 ${ac.latency.p50} ms, p99 ${ac.latency.p99} ms, max ${ac.latency.max} ms`);

    const buffers = mix.map((m) => rawGet(m.path, token));
    let i = 0;
    const paced = await pacedLoad({ url: hg.url, rate, durationSec: SECONDS, connections: CONNECTIONS, next: () => buffers[i++ % buffers.length]! });
    if (paced.errors || paced.non2xx) throw new Error(`paced load: ${paced.errors} errors, ${paced.non2xx} non-2xx`);
    log(
      `[${BENCH}] paced open-loop ${rate} req/s: achieved ${paced.achievedRate} req/s, p50 ${paced.p50} ms, p90 ${paced.p90} ms, p99 ${paced.p99} ms, p99.9 ${paced.p999} ms, max ${paced.max} ms`,
    );

    return [
      { bench: BENCH, figure: 'bare Fastify GET /bare', value: bareRun.rps, unit: 'req/s', details: { latency: bareRun.result.latency } },
      {
        bench: BENCH,
        figure: `GET /v1/check (${GRANTS / 1000}k grants)`,
        value: checkRun.rps,
        unit: 'req/s',
        details: { latency: checkRun.result.latency, connections: CONNECTIONS, seconds: SECONDS },
      },
      { bench: BENCH, figure: 'check / bare', value: ratio, unit: '%', target: '>= 50 %', pass: ratio >= 50 },
      {
        bench: BENCH,
        figure: `check p50 at ${rate} req/s (paced)`,
        value: paced.p50,
        unit: 'ms',
        details: { ...paced },
      },
      { bench: BENCH, figure: `check p99 at ${rate} req/s (paced)`, value: paced.p99, unit: 'ms', target: '< 5 ms', pass: paced.p99 < 5 },
      {
        bench: BENCH,
        figure: `check p99 at ${rate} req/s (autocannon overallRate)`,
        value: ac.latency.p99,
        unit: 'ms',
        target: '< 5 ms',
        pass: ac.latency.p99 < 5,
        details: { latency: ac.latency, achievedRate: round(ac.requests.mean, 0) },
      },
    ];
  } finally {
    for (const s of servers.reverse()) await s.stop();
    tmp.cleanup();
  }
}

if (isMain(import.meta.url)) {
  run().then(
    (figures) => printFigures(figures),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
