/**
 * ssh targets (issue 11): what issuing a certificate costs, how big and how fast the revocation
 * list is, and how soon an early revoke is refused on a host. Every figure has a baseline
 * measured in the same run.
 *
 *  1. Certificate issue latency: BENCH_SSH_ISSUES (2000) `POST /v1/requests/{id}/credentials
 *     {publicKey}` against a spawned server (SQLite store, ssh target with a CA key made by
 *     ssh-keygen), back to back on one keep-alive connection, then from 4 clients in parallel
 *     (each its own principal, request and connection, a quarter of the issues each), after an
 *     unrecorded warm-up. Baseline: `ssh-keygen -s CA -I id -n root -V +1h -z SERIAL key.pub`
 *     spawned per certificate for the same key, as many times, sequentially and 4 at a time.
 *  2. Revocation list for BENCH_KRL_SERIALS (100,000) revoked serials, two distributions: (a)
 *     every other serial of twice as many, (b) random distinct serials below ten times as many
 *     (a fixed seed). `buildKrl` in this process (median of 5 builds) against `ssh-keygen -k -f
 *     out.krl -s ca.pub SPEC` with the same serials as `serial: N` lines (median of 5 runs); both
 *     lists are read back (`ssh-keygen -Q -l`, and a KRL reader in this file for lists ssh-keygen
 *     cannot read) and must hold exactly the serials. End to end: a store the server migrated,
 *     seeded with issued_credentials rows (every serial up to the largest, the chosen ones
 *     revoked; direct inserts) and the revocation_versions row, a server on it, then the list
 *     served by `GET /v1/targets/hosts/ssh/krl`: the first (built at the first request) and,
 *     median of 5, the list rebuilt after one more real revoke (request, certificate, revoke,
 *     version moved on).
 *  3. Early revoke -> the agent's list refuses the certificate: a spawned server, a real sshd
 *     (test/support/sshd-server.ts) and a real `hourglass agent` process with its default
 *     `--wait` writing sshd's TrustedUserCAKeys and RevokedKeys files. BENCH_SSH_TRIALS (40)
 *     trials: request (self-service), certify our own key, wait until the agent's long poll has
 *     the current list (its report says so), wait a random 0-250 ms (the scheduler's interval, so
 *     revokes fall evenly over its phase), POST revoke, then run `ssh-keygen -Q -f KRL CERT`
 *     every ~10 ms until it says REVOKED. The figure is the time from the revoke's answer to that REVOKED (an upper
 *     bound: it includes the check that saw it). In the first 3 trials sshd must accept the
 *     certificate before and refuse it after. Baseline: the same with cron-style polling instead,
 *     `hourglass agent --once` started every 1 s (a tick is skipped while a run is still going),
 *     the random wait before the revoke up to 1 s. Target: p99 < 2 s with the default poll.
 *
 * Knobs: BENCH_SSH_ISSUES (2000), BENCH_KRL_SERIALS (100000), BENCH_SSH_TRIALS (40),
 * BENCH_SSH_PARTS (issue,krl,revoke: the parts to run).
 *
 * Run: npm run build && node --import tsx bench/ssh-certificates.ts
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { buildKrl } from '../src/adapters/connectors/ssh/krl.js';
import { SshReader } from '../src/adapters/connectors/ssh/wire.js';
import { sshLogin, startSshd } from '../test/support/sshd-server.js';
import {
  api,
  CpuMeter,
  isMain,
  log,
  percentile,
  prng,
  principalYaml,
  processCpuMs,
  rawRequest,
  RawConnection,
  reportWarnings,
  round,
  ROOT,
  runAsScript,
  serverYaml,
  sleep,
  spawnHourglass,
  tempDir,
  tokenOf,
  waitForQuiet,
  writeFile,
  type BenchFigure,
  type Spawned,
} from './lib.js';

const BENCH = 'ssh-certificates';
const ISSUES = Number(process.env.BENCH_SSH_ISSUES ?? 2000);
const KRL_SERIALS = Number(process.env.BENCH_KRL_SERIALS ?? 100_000);
const TRIALS = Number(process.env.BENCH_SSH_TRIALS ?? 40);
const PARTS = new Set((process.env.BENCH_SSH_PARTS ?? 'issue,krl,revoke').split(',').map((s) => s.trim()));
const CLIENTS = 4;
const WARMUP_ISSUES = 200;
const KRL_RUNS = 5;
const SSHD_TRIALS = 3;
const POLL_MS = 10;
const GIVE_UP_MS = 15_000;
const CRON_MS = 1_000;
/** The server's default scheduler interval (the access worker revokes on its passes). */
const SCHEDULER_MS = 250;
const TARGET_MS = 2_000;
const TARGET = 'hosts';
const USERS = Array.from({ length: CLIENTS }, (_, i) => `ssh-user-${i}`);
const LOGIN = userInfo().username;

// ---- helpers ------------------------------------------------------------------------------------

interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

function stats(values: number[], digits = 2): Stats {
  const s = Float64Array.from(values).sort();
  const mean = values.reduce((a, b) => a + b, 0) / (values.length || 1);
  return {
    n: s.length,
    p50: round(percentile(s, 50), digits),
    p90: round(percentile(s, 90), digits),
    p99: round(percentile(s, 99), digits),
    max: round(s[s.length - 1] ?? NaN, digits),
    mean: round(mean, digits),
  };
}

const fmt = (s: Stats, unit = 'ms') => `p50 ${s.p50}  p90 ${s.p90}  p99 ${s.p99}  max ${s.max} ${unit} (n=${s.n})`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program to its end; `ms` is from the spawn to the exit. Never throws for a non-zero exit. */
function exec(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Exec> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: opts.env ?? process.env, timeout: opts.timeout ?? 30_000, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      const code: unknown = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

async function mustExec(file: string, args: string[]): Promise<Exec> {
  const r = await exec(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  return r;
}

/** CPU time (user + system) of this process's children that have ended (reaped), in ms. */
function reapedChildrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return 0;
  }
}

/** An ed25519 key pair made by ssh-keygen: the private key's path and the public key's text. */
async function newKey(path: string): Promise<{ file: string; pub: string }> {
  await mustExec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', path]);
  return { file: path, pub: readFileSync(`${path}.pub`, 'utf8').trim() };
}

function configYaml(storePath: string, caKeyFile: string): string {
  return `${serverYaml(storePath)}principals:
${USERS.map((u) => principalYaml(u, ['ssh-users'])).join('\n')}
${principalYaml('admin', [], ['admin', 'auditor'])}
${principalYaml('host-agent', [], ['agent'])}
targets:
  ${TARGET}:
    type: ssh
    ca: { keyFile: "${caKeyFile}" }
    entitlements:
      login: { principals: [${LOGIN}], extensions: [permit-pty] }
policies:
  - name: ssh-self-service
    subjects: { groups: [ssh-users] }
    entitlements: [${TARGET}/login]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;
}

/** A request for TARGET/login by `user`, polled until active; its id. */
async function activeRequest(url: string, user: string): Promise<string> {
  const res = await api(url, 'POST', '/v1/requests', tokenOf(user), { entitlements: [`${TARGET}/login`], duration: '8h' });
  if (res.status !== 201) throw new Error(`POST /v1/requests: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  const id = res.body.id as string;
  for (let i = 0; ; i++) {
    const r = await api(url, 'GET', `/v1/requests/${id}`, tokenOf(user));
    if (r.body.status === 'active') return id;
    if (r.body.status !== 'scheduled' || i > 500) throw new Error(`request ${id} is ${r.body.status}, not active`);
    await sleep(10);
  }
}

interface IssuedCert {
  serial: number;
  certificate: string;
}

function certOf(body: any): IssuedCert {
  const c = body?.targets?.[TARGET]?.credentials?.[0];
  if (!c?.certificate || typeof c.serial !== 'number') throw new Error(`no certificate in ${JSON.stringify(body).slice(0, 300)}`);
  return { serial: c.serial, certificate: c.certificate };
}

async function certify(url: string, user: string, id: string, publicKey: string): Promise<IssuedCert> {
  const r = await api(url, 'POST', `/v1/requests/${id}/credentials`, tokenOf(user), { publicKey });
  if (r.status !== 200) throw new Error(`POST credentials: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return certOf(r.body);
}

async function startServer(dir: string, caKeyFile: string): Promise<Spawned> {
  mkdirSync(dir, { recursive: true });
  const configPath = writeFile(join(dir, 'hourglass.yaml'), configYaml(join(dir, 'hourglass.db'), caKeyFile));
  return spawnHourglass(configPath);
}

// ---- KRL reading --------------------------------------------------------------------------------

/**
 * The certificate serials a KRL revokes, read by this file (PROTOCOL.krl: serial lists, ranges,
 * bitmaps; key ids are counted, nothing else is expected): for lists `ssh-keygen -Q -l` refuses.
 */
function krlSerials(buf: Buffer): Set<number> {
  const magic = 'SSHKRL\n\0';
  if (buf.subarray(0, 8).toString('latin1') !== magic) throw new Error('not a KRL');
  const r = new SshReader(buf.subarray(8));
  r.uint32();
  r.uint64();
  r.uint64();
  r.uint64();
  r.string();
  r.string();
  const out = new Set<number>();
  while (r.remaining > 0) {
    const type = r.byte();
    const section = new SshReader(r.string());
    if (type !== 1) throw new Error(`unexpected KRL section ${type}`);
    section.string();
    section.string();
    while (section.remaining > 0) {
      const sub = section.byte();
      const data = new SshReader(section.string());
      if (sub === 0x20) while (data.remaining > 0) out.add(Number(data.uint64()));
      else if (sub === 0x21) {
        const lo = Number(data.uint64());
        const hi = Number(data.uint64());
        for (let s = lo; s <= hi; s++) out.add(s);
      } else if (sub === 0x22) {
        const offset = Number(data.uint64());
        const bits = data.mpint();
        for (let i = 0; i < bits.length; i++) {
          const byte = bits[bits.length - 1 - i]!;
          for (let b = 0; b < 8; b++) if (byte & (1 << b)) out.add(offset + i * 8 + b);
        }
      } else throw new Error(`unexpected KRL certificate subsection ${sub}`);
    }
  }
  return out;
}

/** `ssh-keygen -Q -l -f FILE`: the serials it lists, or why it could not read the file. */
async function sshKeygenSerials(file: string): Promise<{ serials?: Set<number>; error?: string }> {
  const r = await exec('ssh-keygen', ['-Q', '-l', '-f', file]);
  if (r.code !== 0) return { error: (r.stderr || r.stdout).trim() };
  const out = new Set<number>();
  for (const line of r.stdout.split('\n')) {
    const m = /^serial: (\d+)(?:-(\d+))?$/.exec(line.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    for (let s = lo; s <= hi; s++) out.add(s);
  }
  return { serials: out };
}

const sameSet = (a: Set<number>, b: Set<number>) => a.size === b.size && [...a].every((s) => b.has(s));

interface Distribution {
  key: 'a' | 'b';
  label: string;
  serials: number[];
}

function distributions(n: number): Distribution[] {
  const a = Array.from({ length: n }, (_, i) => 2 * i + 1);
  const rand = prng(11);
  const set = new Set<number>();
  while (set.size < n) set.add(1 + Math.floor(rand() * (10 * n - 1)));
  const b = [...set].sort((x, y) => x - y);
  return [
    { key: 'a', label: `every other of ${2 * n}`, serials: a },
    { key: 'b', label: `random below ${10 * n}`, serials: b },
  ];
}

// ---- 1. certificate issue latency ----------------------------------------------------------------

async function issuePart(dir: string, ca: string, key: { file: string; pub: string }): Promise<BenchFigure[]> {
  const hg = await startServer(join(dir, 'issue'), ca);
  const conns: RawConnection[] = [];
  try {
    const u = new URL(hg.url);
    const ids = await Promise.all(USERS.map((user) => activeRequest(hg.url, user)));
    const raws = USERS.map((user, i) => rawRequest('POST', `/v1/requests/${ids[i]}/credentials`, tokenOf(user), { publicKey: key.pub }));
    for (let i = 0; i < CLIENTS; i++) {
      const c = new RawConnection(u.hostname, Number(u.port));
      await c.ready;
      conns.push(c);
    }
    const serials: number[] = [];
    let failures = 0;
    let firstFailure = '';
    const issueOn = async (c: number, count: number, lat: number[] | undefined) => {
      for (let k = 0; k < count; k++) {
        const t0 = performance.now();
        const r = await conns[c]!.request(raws[c]!);
        const ms = performance.now() - t0;
        if (r.status !== 200) {
          failures++;
          firstFailure ||= `HTTP ${r.status} ${r.body.slice(0, 200)}`;
          continue;
        }
        if (lat) {
          lat.push(ms);
          serials.push(certOf(JSON.parse(r.body)).serial);
        }
      }
    };
    await Promise.all(conns.map((_, c) => issueOn(c, WARMUP_ISSUES / CLIENTS, undefined)));

    const measure = async (label: string, clients: number) => {
      await waitForQuiet(`${BENCH} issue ${label}`);
      const lat: number[] = [];
      const cpu = new CpuMeter([hg.pid]);
      const server0 = processCpuMs(hg.pid);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: clients }, (_, c) => issueOn(c, Math.ceil(ISSUES / clients), lat)));
      const seconds = (performance.now() - t0) / 1000;
      const serverMs = processCpuMs(hg.pid) - server0;
      const c = cpu.stop();
      const s = stats(lat);
      const perSecond = round(lat.length / seconds, 0);
      const cpuPerIssueUs = round((serverMs * 1000) / (lat.length || 1), 0);
      log(`[${BENCH}] issue over HTTP, ${label}: ${fmt(s)}; ${perSecond} /s; server CPU ${cpuPerIssueUs} µs per certificate; other CPU ${c.otherPct} %`);
      return { stats: s, perSecond, serverCpuPerIssueUs: cpuPerIssueUs, cpu: c };
    };
    const sequential = await measure('sequential', 1);
    const parallel = await measure(`${CLIENTS} clients`, CLIENTS);
    if (failures) log(`[${BENCH}] ${failures} issues failed; first: ${firstFailure}`);
    if (new Set(serials).size !== serials.length) throw new Error('two certificates share a serial');

    // The last certificate, read back by ssh-keygen.
    const certFile = join(dir, 'issued-cert.pub');
    const last = certOf((await api(hg.url, 'POST', `/v1/requests/${ids[0]}/credentials`, tokenOf(USERS[0]!), { publicKey: key.pub })).body);
    writeFileSync(certFile, `${last.certificate}\n`);
    const listed = (await mustExec('ssh-keygen', ['-L', '-f', certFile])).stdout;
    if (!listed.includes(`Serial: ${last.serial}`) || !listed.includes(LOGIN))
      throw new Error(`ssh-keygen -L does not show the certificate's fields:\n${listed}`);
    reportWarnings(BENCH, hg);

    // Baseline: ssh-keygen -s per certificate, same key (a copy per parallel worker: it writes KEY-cert.pub beside it).
    const keyFiles = Array.from({ length: CLIENTS }, (_, i) => {
      const f = join(dir, `baseline-key-${i}.pub`);
      writeFileSync(f, `${key.pub}\n`);
      return f;
    });
    let serial = 1;
    const sign = (c: number, lat: number[] | undefined) => async (count: number) => {
      for (let k = 0; k < count; k++) {
        const r = await exec('ssh-keygen', ['-q', '-s', ca, '-I', 'id', '-n', 'root', '-V', '+1h', '-z', String(serial++), keyFiles[c]!]);
        if (r.code !== 0) throw new Error(`ssh-keygen -s: ${r.stderr}`);
        lat?.push(r.ms);
      }
    };
    await Promise.all(keyFiles.map((_, c) => sign(c, undefined)(Math.ceil(WARMUP_ISSUES / CLIENTS / 4))));
    const baseline = async (label: string, clients: number) => {
      await waitForQuiet(`${BENCH} ssh-keygen -s ${label}`);
      const lat: number[] = [];
      const cpu = new CpuMeter([]);
      const children0 = reapedChildrenCpuMs();
      const t0 = performance.now();
      await Promise.all(Array.from({ length: clients }, (_, c) => sign(c, lat)(Math.ceil(ISSUES / clients))));
      const seconds = (performance.now() - t0) / 1000;
      const childrenMs = reapedChildrenCpuMs() - children0;
      const c = cpu.stop(childrenMs);
      const s = stats(lat);
      const perSecond = round(lat.length / seconds, 0);
      const cpuPerIssueUs = round((childrenMs * 1000) / (lat.length || 1), 0);
      log(
        `[${BENCH}] baseline ssh-keygen -s per certificate, ${label}: ${fmt(s)}; ${perSecond} /s; ssh-keygen CPU ${cpuPerIssueUs} µs per certificate; other CPU ${c.otherPct} %`,
      );
      return { stats: s, perSecond, cpuPerIssueUs, cpu: c };
    };
    const bSequential = await baseline('sequential', 1);
    const bParallel = await baseline(`${CLIENTS} in parallel`, CLIENTS);
    const details = { issues: ISSUES, clients: CLIENTS, sequential, parallel, baseline: { sequential: bSequential, parallel: bParallel }, failures };
    return [
      {
        bench: BENCH,
        figure: `certificate issue over HTTP, ${CLIENTS} clients, p99`,
        value: parallel.stats.p99,
        unit: 'ms',
        otherCpuPct: parallel.cpu.otherPct,
        details,
      },
      { bench: BENCH, figure: 'certificate issue over HTTP, sequential, p99', value: sequential.stats.p99, unit: 'ms', otherCpuPct: sequential.cpu.otherPct },
      {
        bench: BENCH,
        figure: `baseline: ssh-keygen -s per certificate, ${CLIENTS} in parallel, p99`,
        value: bParallel.stats.p99,
        unit: 'ms',
        otherCpuPct: bParallel.cpu.otherPct,
      },
      {
        bench: BENCH,
        figure: 'baseline: ssh-keygen -s per certificate, sequential, p99',
        value: bSequential.stats.p99,
        unit: 'ms',
        otherCpuPct: bSequential.cpu.otherPct,
      },
    ];
  } finally {
    for (const c of conns) c.close();
    await hg.stop();
  }
}

// ---- 2. revocation list --------------------------------------------------------------------------

/**
 * Adds to a migrated store issued_credentials rows for every serial from 1 to the largest of
 * `revoked` (those revoked, the others not), unexpired, and the target's revocation_versions row
 * as if each revoked serial had been its own early end: direct inserts, one transaction.
 */
function seedKrlStore(storePath: string, revoked: number[], fingerprint: string): { rows: number; ms: number } {
  const t0 = performance.now();
  const db = new BetterSqlite3(storePath);
  try {
    const now = Date.now();
    const isRevoked = new Set(revoked);
    const last = revoked[revoked.length - 1] ?? 0;
    const insert = db.prepare(
      'INSERT INTO issued_credentials (serial, target, request_id, principal, entitlement, ref, issued_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    db.transaction(() => {
      for (let s = 1; s <= last; s++) {
        const issuedAt = now - 3_600_000 + Math.floor((s / last) * 3_000_000);
        const req = `req_seed${String(s).padStart(8, '0')}`;
        insert.run(s, TARGET, req, USERS[s % CLIENTS], 'login', fingerprint, issuedAt, now + 8 * 3_600_000, isRevoked.has(s) ? issuedAt + 60_000 : null);
      }
      db.prepare('INSERT INTO revocation_versions (target, version, changed_at) VALUES (?, ?, ?)').run(TARGET, revoked.length, now);
    })();
    return { rows: last, ms: round(performance.now() - t0, 0) };
  } finally {
    db.close();
  }
}

async function krlPart(dir: string, ca: string, key: { file: string; pub: string }): Promise<BenchFigure[]> {
  const caPub = readFileSync(`${ca}.pub`, 'utf8').trim();
  const caBlob = Buffer.from(caPub.split(' ')[1]!, 'base64');
  const fingerprint = (await mustExec('ssh-keygen', ['-l', '-f', `${key.file}.pub`])).stdout.split(' ')[1]!;
  const figures: BenchFigure[] = [];
  for (const d of distributions(KRL_SERIALS)) {
    const name = `${KRL_SERIALS} serials, ${d.label}`;
    const want = new Set(d.serials);
    await waitForQuiet(`${BENCH} krl ${d.key}`);

    // Ours, in this process.
    const cpu = new CpuMeter([]);
    const buildMs: number[] = [];
    let ours: Buffer = Buffer.alloc(0);
    for (let i = 0; i < KRL_RUNS; i++) {
      const t0 = performance.now();
      ours = buildKrl({ caBlob, serials: d.serials, version: d.serials.length, generatedAt: Math.floor(Date.now() / 1000) });
      buildMs.push(performance.now() - t0);
    }
    const oursCpu = cpu.stop();
    const oursFile = join(dir, `ours-${d.key}.krl`);
    writeFileSync(oursFile, ours);
    const oursRead = await sshKeygenSerials(oursFile);
    const oursOk = oursRead.serials !== undefined && sameSet(oursRead.serials, want) && sameSet(krlSerials(ours), want);

    // Baseline: ssh-keygen -k with the same serials.
    const spec = writeFile(join(dir, `spec-${d.key}.txt`), `${d.serials.map((s) => `serial: ${s}`).join('\n')}\n`);
    const theirsFile = join(dir, `ssh-keygen-${d.key}.krl`);
    const bcpu = new CpuMeter([]);
    const children0 = reapedChildrenCpuMs();
    const keygenMs: number[] = [];
    for (let i = 0; i < KRL_RUNS; i++) keygenMs.push((await mustExec('ssh-keygen', ['-k', '-f', theirsFile, '-s', `${ca}.pub`, spec])).ms);
    const theirsCpu = bcpu.stop(reapedChildrenCpuMs() - children0);
    const theirs = readFileSync(theirsFile);
    const theirsRead = await sshKeygenSerials(theirsFile);
    const theirsOk = sameSet(krlSerials(theirs), want);

    const ourMedian = round(median(buildMs), 1);
    const theirMedian = round(median(keygenMs), 1);
    log(
      `[${BENCH}] KRL ${name}: buildKrl median ${ourMedian} ms (first ${round(buildMs[0]!, 1)} ms), ${ours.length} bytes, ` +
        `ssh-keygen -Q -l reads it: ${oursRead.error ? `NO (${oursRead.error})` : 'yes'}, same serials: ${oursOk ? 'yes' : 'NO'}`,
    );
    log(
      `[${BENCH}] KRL ${name}: baseline ssh-keygen -k median ${theirMedian} ms, ${theirs.length} bytes, ` +
        `ssh-keygen -Q -l reads it: ${theirsRead.error ? `NO (${theirsRead.error})` : 'yes'}, same serials (read here): ${theirsOk ? 'yes' : 'NO'}`,
    );
    if (!oursOk) throw new Error(`the list buildKrl wrote for ${name} does not hold exactly the serials`);

    // End to end: the list a server on a seeded store serves.
    const e2eDir = join(dir, `krl-${d.key}`);
    // The server migrates the store (its dist/ build: src/ may be ahead of it), stops, is seeded, starts again.
    await (await startServer(e2eDir, ca)).stop();
    const seeded = seedKrlStore(join(e2eDir, 'hourglass.db'), d.serials, fingerprint);
    const hg = await startServer(e2eDir, ca);
    let served: Record<string, unknown>;
    try {
      await waitForQuiet(`${BENCH} krl ${d.key} served`);
      const get = async () => {
        const t0 = performance.now();
        const res = await fetch(`${hg.url}/v1/targets/${TARGET}/ssh/krl`, { headers: { authorization: `Bearer ${tokenOf('admin')}` } });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200) throw new Error(`GET krl: HTTP ${res.status}`);
        return { ms: performance.now() - t0, body, version: Number(res.headers.get('hourglass-krl-version')) };
      };
      const first = await get();
      const cached = await get();
      const firstFile = join(e2eDir, 'served.krl');
      writeFileSync(firstFile, first.body);
      const servedRead = await sshKeygenSerials(firstFile);
      const servedOk = servedRead.serials !== undefined && sameSet(servedRead.serials, want);
      // Rebuilds: one more real early end each time, then the list is asked for again.
      const rebuildMs: number[] = [];
      const extra: number[] = [];
      let version = first.version;
      let last = first;
      for (let i = 0; i < KRL_RUNS; i++) {
        const id = await activeRequest(hg.url, USERS[0]!);
        extra.push((await certify(hg.url, USERS[0]!, id, key.pub)).serial);
        const rv = await api(hg.url, 'POST', `/v1/requests/${id}/revoke`, tokenOf('admin'), { reason: 'bench' });
        if (rv.status !== 200) throw new Error(`revoke: HTTP ${rv.status}`);
        for (let k = 0; ; k++) {
          const h = await api(hg.url, 'GET', `/v1/targets/${TARGET}/ssh/hosts`, tokenOf('admin'));
          if (h.body.version > version) break;
          if (k > 500) throw new Error('the revocation version did not move on');
          await sleep(10);
        }
        last = await get();
        rebuildMs.push(last.ms);
        version = last.version;
      }
      const lastFile = join(e2eDir, 'served-last.krl');
      writeFileSync(lastFile, last.body);
      const lastRead = await sshKeygenSerials(lastFile);
      const lastOk = lastRead.serials !== undefined && sameSet(lastRead.serials, new Set([...d.serials, ...extra]));
      served = {
        seededRows: seeded.rows,
        seedMs: seeded.ms,
        firstMs: round(first.ms, 1),
        cachedMs: round(cached.ms, 1),
        rebuildMedianMs: round(median(rebuildMs), 1),
        rebuildMs: rebuildMs.map((v) => round(v, 1)),
        bytes: first.body.length,
        version: first.version,
        sameSerials: servedOk,
        afterRevokesSameSerials: lastOk,
      };
      log(
        `[${BENCH}] KRL ${name}: served by GET .../ssh/krl on a store of ${seeded.rows} issued rows (seeded in ${seeded.ms} ms): ` +
          `first ${served.firstMs} ms, cached ${served.cachedMs} ms, rebuilt after a revoke median ${served.rebuildMedianMs} ms; ` +
          `${first.body.length} bytes, version ${first.version}; same serials: ${servedOk ? 'yes' : `NO (${servedRead.error ?? 'differ'})`}, ` +
          `after ${KRL_RUNS} more revokes: ${lastOk ? 'yes' : 'NO'}`,
      );
      reportWarnings(BENCH, hg);
      if (!servedOk || !lastOk) throw new Error(`the served list for ${name} does not hold exactly the revoked serials`);
    } finally {
      await hg.stop();
    }

    const details = {
      serials: KRL_SERIALS,
      distribution: d.label,
      buildKrl: {
        medianMs: ourMedian,
        runsMs: buildMs.map((v) => round(v, 1)),
        bytes: ours.length,
        sshKeygenReads: !oursRead.error,
        sameSerials: oursOk,
        cpu: oursCpu,
      },
      sshKeygen: {
        medianMs: theirMedian,
        runsMs: keygenMs.map((v) => round(v, 1)),
        bytes: theirs.length,
        sshKeygenReads: !theirsRead.error,
        readError: theirsRead.error,
        sameSerials: theirsOk,
        cpu: theirsCpu,
      },
      served,
    };
    const short = d.key === 'a' ? 'every other' : 'random';
    figures.push(
      { bench: BENCH, figure: `KRL build, ${KRL_SERIALS} serials (${short}), median`, value: ourMedian, unit: 'ms', otherCpuPct: oursCpu.otherPct, details },
      { bench: BENCH, figure: `KRL size, ${KRL_SERIALS} serials (${short})`, value: ours.length, unit: 'bytes' },
      { bench: BENCH, figure: `baseline: ssh-keygen -k, same serials (${short}), median`, value: theirMedian, unit: 'ms', otherCpuPct: theirsCpu.otherPct },
      { bench: BENCH, figure: `baseline: ssh-keygen -k size (${short})`, value: theirs.length, unit: 'bytes' },
      {
        bench: BENCH,
        figure: `KRL served after a revoke, ${KRL_SERIALS} revoked rows (${short}), median`,
        value: served.rebuildMedianMs as number,
        unit: 'ms',
      },
    );
  }
  return figures;
}

// ---- 3. early revoke -> refused ---------------------------------------------------------------------

interface Trial {
  /** From the revoke's answer to ssh-keygen -Q saying REVOKED (observed at the check's end). */
  refusedMs: number;
  /** From the revoke's answer to the KRL file's modification time. */
  fileMs: number;
  revokeAnswerMs: number;
  checks: number;
  sshd?: { before: boolean; after: boolean };
}

async function revokePart(dir: string, ca: string, key: { file: string; pub: string }): Promise<BenchFigure[]> {
  const hg = await startServer(join(dir, 'revoke'), ca);
  const sshd = await startSshd({ caPublicKey: 'placeholder: the agent writes the key\n' });
  let agent: ChildProcess | undefined;
  let agentLog = '';
  const agentArgs = (host: string) => [
    'bin/hourglass.js',
    'agent',
    '--ssh-target',
    TARGET,
    '--ca-file',
    sshd.caFile,
    '--krl-file',
    sshd.krlFile,
    '--host',
    host,
    '--url',
    hg.url,
  ];
  const agentEnv = { ...process.env, HOURGLASS_TOKEN: tokenOf('host-agent') };
  const hosts = async () =>
    (await api(hg.url, 'GET', `/v1/targets/${TARGET}/ssh/hosts`, tokenOf('admin'))).body as {
      version: number;
      hosts: { host: string; appliedVersion: number }[];
    };
  const isRevoked = async (cert: string) => {
    const r = await exec('ssh-keygen', ['-Q', '-f', sshd.krlFile, cert]);
    if (r.code === 0) return false;
    if (r.code === 1 && r.stdout.includes('REVOKED')) return true;
    throw new Error(`ssh-keygen -Q: exit ${r.code}: ${r.stderr || r.stdout}`);
  };
  let trialNo = 0;

  /**
   * One trial. `ready` waits until the agent has the current list; `spreadMs`: the revoke comes
   * after a random wait up to this long, so it falls evenly over the phase of what it waits for
   * (the server's scheduler, or the cron ticks).
   */
  const trial = async (ready: () => Promise<void>, withSshd: boolean, spreadMs: number): Promise<Trial> => {
    const user = USERS[trialNo % CLIENTS]!;
    const id = await activeRequest(hg.url, user);
    const cert = join(dir, `trial-${trialNo++}-cert.pub`);
    writeFileSync(cert, `${(await certify(hg.url, user, id, key.pub)).certificate}\n`);
    await ready();
    if (await isRevoked(cert)) throw new Error('a fresh certificate is already revoked');
    const sshdBefore = withSshd ? (await sshLogin(sshd, key.file, cert)).stdout.includes('hourglass-ok') : undefined;
    await sleep(Math.random() * spreadMs);
    const t0 = performance.now();
    const rv = await api(hg.url, 'POST', `/v1/requests/${id}/revoke`, tokenOf('admin'), { reason: 'bench' });
    const answered = performance.now();
    const answeredWall = Date.now();
    if (rv.status !== 200) throw new Error(`revoke: HTTP ${rv.status} ${JSON.stringify(rv.body)}`);
    let checks = 0;
    for (;;) {
      checks++;
      if (await isRevoked(cert)) break;
      if (performance.now() - answered > GIVE_UP_MS) throw new Error(`not refused ${GIVE_UP_MS} ms after the revoke; agent log:\n${agentLog}`);
      await sleep(POLL_MS);
    }
    const refusedMs = performance.now() - answered;
    const fileMs = statSync(sshd.krlFile).mtimeMs - answeredWall;
    const sshdAfter = withSshd ? (await sshLogin(sshd, key.file, cert)).code !== 0 : undefined;
    return {
      refusedMs,
      fileMs,
      revokeAnswerMs: answered - t0,
      checks,
      ...(withSshd ? { sshd: { before: sshdBefore!, after: sshdAfter! } } : {}),
    };
  };

  const summarize = (label: string, trials: Trial[], meter: ReturnType<CpuMeter['stop']>) => {
    const refused = stats(
      trials.map((t) => t.refusedMs),
      0,
    );
    const file = stats(
      trials.map((t) => t.fileMs),
      0,
    );
    const answer = stats(trials.map((t) => t.revokeAnswerMs));
    const logins = trials.filter((t) => t.sshd);
    const sshdOk = logins.every((t) => t.sshd!.before && t.sshd!.after);
    log(`[${BENCH}] ${label}: revoke answered -> ssh-keygen -Q says REVOKED: ${fmt(refused)}`);
    log(`[${BENCH}] ${label}: revoke answered -> KRL file replaced (mtime): ${fmt(file)}; the revoke itself answered in ${fmt(answer)}`);
    log(
      `[${BENCH}] ${label}: sshd accepted before and refused after the revoke in ${logins.filter((t) => t.sshd!.before && t.sshd!.after).length} of ${logins.length} trials; other CPU ${meter.otherPct} %`,
    );
    return { refused, fileReplaced: file, revokeAnswer: answer, sshdTrials: logins.length, sshdOk, cpu: meter, trials: trials.length };
  };

  try {
    // The agent with its default --wait.
    agent = spawn(process.execPath, agentArgs('bench-longpoll'), { cwd: ROOT, env: agentEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr!.on('data', (b: Buffer) => (agentLog = (agentLog + b.toString()).slice(-4000)));
    const longPollReady = async () => {
      for (let k = 0; ; k++) {
        const h = await hosts();
        if (h.hosts.find((x) => x.host === 'bench-longpoll')?.appliedVersion === h.version) break;
        if (k > 1000) throw new Error(`the agent did not apply version ${h.version}; log:\n${agentLog}`);
        await sleep(10);
      }
    };
    await longPollReady();
    await waitForQuiet(`${BENCH} revoke`);
    const meter = new CpuMeter([hg.pid, agent.pid!]);
    const children0 = reapedChildrenCpuMs();
    const agentCpu0 = processCpuMs(agent.pid!);
    const longPoll: Trial[] = [];
    for (let i = 0; i < TRIALS; i++) longPoll.push(await trial(longPollReady, i < SSHD_TRIALS, SCHEDULER_MS));
    const agentCpuMs = processCpuMs(agent.pid!) - agentCpu0;
    const lp = { ...summarize('agent (default --wait)', longPoll, meter.stop(reapedChildrenCpuMs() - children0)), agentCpuMs };
    agent.kill('SIGTERM');
    await new Promise((r) => agent!.once('exit', r));
    agent = undefined;

    // Baseline: cron-style, `hourglass agent --once` started every second (a tick is skipped while one still runs).
    let stopCron = false;
    let runs = 0;
    let skipped = 0;
    let failed = 0;
    let running: Promise<Exec> | undefined;
    const cron = (async () => {
      let next = performance.now();
      while (!stopCron) {
        if (running) skipped++;
        else {
          runs++;
          running = exec(process.execPath, [...agentArgs('bench-cron'), '--once'], { env: agentEnv }).then((r) => {
            if (r.code !== 0) failed++;
            running = undefined;
            return r;
          });
        }
        next += CRON_MS;
        await sleep(Math.max(0, next - performance.now()));
      }
      await running;
    })();
    const cronReady = async () => {
      for (let k = 0; ; k++) {
        const h = await hosts();
        if (h.hosts.find((x) => x.host === 'bench-cron')?.appliedVersion === h.version) break;
        if (k > 1000) throw new Error(`agent --once did not apply version ${h.version}`);
        await sleep(20);
      }
    };
    let cronSummary;
    try {
      await cronReady();
      await waitForQuiet(`${BENCH} revoke baseline`);
      const bmeter = new CpuMeter([hg.pid]);
      const bchildren0 = reapedChildrenCpuMs();
      const cronTrials: Trial[] = [];
      for (let i = 0; i < TRIALS; i++) cronTrials.push(await trial(async () => {}, i < SSHD_TRIALS, CRON_MS));
      cronSummary = {
        ...summarize(`baseline: agent --once every ${CRON_MS / 1000} s`, cronTrials, bmeter.stop(reapedChildrenCpuMs() - bchildren0)),
        runs,
        skipped,
        failed,
      };
    } finally {
      stopCron = true;
      await cron;
    }
    reportWarnings(BENCH, hg);
    const details = { trials: TRIALS, agent: lp, baseline: cronSummary, hosts: await hosts() };
    return [
      {
        bench: BENCH,
        figure: 'early revoke -> agent list refuses the certificate, p99',
        value: lp.refused.p99,
        unit: 'ms',
        target: `< ${TARGET_MS} ms`,
        pass: lp.refused.p99 < TARGET_MS && lp.sshdOk && longPoll.length >= TRIALS,
        otherCpuPct: lp.cpu.otherPct,
        details,
      },
      {
        bench: BENCH,
        figure: `baseline: agent --once every ${CRON_MS / 1000} s, p99`,
        value: cronSummary.refused.p99,
        unit: 'ms',
        otherCpuPct: cronSummary.cpu.otherPct,
      },
    ];
  } finally {
    if (agent) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent!.once('exit', r));
    }
    await sshd.stop();
    await hg.stop();
  }
}

// ---- all ----------------------------------------------------------------------------------------------

export async function run(): Promise<BenchFigure[]> {
  const tmp = tempDir('hg-bench-ssh-');
  try {
    const ca = join(tmp.dir, 'ssh-ca');
    await newKey(ca);
    const key = await newKey(join(tmp.dir, 'user-key'));
    log(`[${BENCH}] parts: ${[...PARTS].join(', ')}; ${ISSUES} issues, ${KRL_SERIALS} KRL serials, ${TRIALS} revoke trials; logins as ${LOGIN}`);
    const figures: BenchFigure[] = [];
    if (PARTS.has('issue')) figures.push(...(await issuePart(tmp.dir, ca, key)));
    if (PARTS.has('krl')) figures.push(...(await krlPart(tmp.dir, ca, key)));
    if (PARTS.has('revoke')) figures.push(...(await revokePart(tmp.dir, ca, key)));
    return figures;
  } finally {
    tmp.cleanup();
  }
}

if (isMain(import.meta.url)) {
  runAsScript(run, { exitWhenDone: true });
}
