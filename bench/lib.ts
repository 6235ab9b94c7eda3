/**
 * Shared helpers for the benchmarks: spawning servers in their own processes, configuration
 * files with bench principals, HTTP clients and load generation (autocannon for saturation, an
 * open-loop paced generator for latency at a fixed rate), CPU accounting and result records.
 * Seeding lives in seed.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon, { type AutocannonOptions, type AutocannonResult } from 'autocannon';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

// ---- results ----------------------------------------------------------------------------------

export interface BenchFigure {
  bench: string;
  figure: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. ">= 500 /s". */
  target?: string;
  pass?: boolean;
  /** Share of all CPUs that other processes used while the figure was measured, in %. */
  otherCpuPct?: number;
  details?: Record<string, unknown>;
}

export function log(msg: string) {
  process.stdout.write(`${msg}\n`);
}

export const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** True when this module is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === metaUrl;
}

/**
 * A benchmark run as a script: prints its figures, or the error with exit code 1. `exitWhenDone`
 * ends the process at once afterwards (for benches whose target clients keep handles open).
 */
export function runAsScript(run: () => Promise<BenchFigure[]>, opts: { exitWhenDone?: boolean } = {}): void {
  run().then(
    (figures) => {
      printFigures(figures);
      if (opts.exitWhenDone) process.exit(process.exitCode ?? 0);
    },
    (err) => {
      console.error(err);
      if (opts.exitWhenDone) process.exit(1);
      process.exitCode = 1;
    },
  );
}

export function printFigures(figures: BenchFigure[]) {
  const rows = figures.map((f) => [
    f.bench,
    f.figure,
    `${f.value} ${f.unit}`,
    f.target ?? '',
    f.pass === undefined ? '' : f.pass ? 'PASS' : 'FAIL',
    f.otherCpuPct === undefined ? '' : `${f.otherCpuPct} %`,
  ]);
  const head = ['bench', 'figure', 'value', 'target', 'result', 'other CPU'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  log(line(head));
  log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) log(line(r));
}

// ---- temp dirs, tokens, configuration ---------------------------------------------------------

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const tokenOf = (id: string) => `${id}-bench-token`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function principalYaml(id: string, groups: string[] = [], roles: string[] = []): string {
  return `  - { id: ${id}, groups: [${groups.join(', ')}], roles: [${roles.join(', ')}], apiTokens: [{ sha256: ${sha256(tokenOf(id))} }] }`;
}

/**
 * Principals without tokens (seeded requesters): they must be in the file, since a server ends
 * the access of principals its configuration does not name (docs/configuration.md#reloading).
 */
export function requestersYaml(ids: Iterable<string>, groups: string[]): string {
  return [...ids].map((id) => `  - { id: ${id}, groups: [${groups.join(', ')}] }`).join('\n');
}

/**
 * `server:` block: the store (a SQLite file path, or a store URL `sqlite:PATH` or
 * `postgres://...`), rate limit off; the listen address comes from HOURGLASS_LISTEN.
 */
export function serverYaml(store: string, extra = ''): string {
  const url = /^(sqlite:|postgres(ql)?:\/\/)/.test(store) ? store : `sqlite:${store}`;
  return `server:
  listen: 127.0.0.1:0
  store: "${url}"
  rateLimit: { perMinute: 0 }
${extra}`;
}

export function writeFile(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

// ---- child processes ----------------------------------------------------------------------------

export interface Spawned {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Log lines at warn level or above (pino JSON on stdout) seen so far, at most 20. */
  warnings(): string[];
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
});

/**
 * Spawns a server and waits for the line that tells its URL (matched by `ready` on stderr).
 * stdout (pino logs) is drained and kept short, so a full pipe never stalls the server.
 */
export function spawnServer(args: string[], env: Record<string, string>, ready: RegExp, timeoutMs = 60_000): Promise<Spawned> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  const warnings: string[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    keep(chunk);
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const level = /"level":(\d+)/.exec(line)?.[1];
      if (level && Number(level) >= 40 && warnings.length < 20) warnings.push(line.slice(0, 500));
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    children.delete(child);
  };
  return new Promise<Spawned>((resolve, reject) => {
    let err = '';
    let started = false;
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${err}${tail}`));
    }, timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (started) return;
      err += chunk.toString();
      const m = ready.exec(err);
      if (m) {
        clearTimeout(timer);
        started = true;
        resolve({ url: m[1]!, pid: child.pid!, child, stop, warnings: () => [...warnings] });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before it was ready:\n${err}${tail}`));
    });
  });
}

/** Prints what the server logged at warn level or above during a benchmark; returns the count. */
export function reportWarnings(bench: string, server: Spawned): number {
  const w = server.warnings();
  if (w.length) log(`[${bench}] the server logged ${w.length}${w.length >= 20 ? '+' : ''} warning(s) or error(s); first: ${w[0]}`);
  return w.length;
}

/**
 * `node bin/hourglass.js serve --config FILE` on a free loopback port. BENCH_SERVER_NODE_ARGS
 * adds node options for the server only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 */
export function spawnHourglass(
  configPath: string,
  extraEnv: Record<string, string> = {},
  opts: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<Spawned> {
  const nodeArgs = [...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean), ...(opts.nodeArgs ?? [])];
  return spawnServer(
    [...nodeArgs, 'bin/hourglass.js', 'serve', '--config', configPath],
    { HOURGLASS_LISTEN: '127.0.0.1:0', HOURGLASS_LOG_LEVEL: 'warn', ...extraEnv },
    /Hourglass is listening on (http:\/\/\S+)/,
    opts.timeoutMs,
  );
}

export function spawnBare(): Promise<Spawned> {
  return spawnServer(['--import', 'tsx', 'bench/bare-server.ts'], {}, /bare listening on (http:\/\/\S+)/);
}

// ---- HTTP client ------------------------------------------------------------------------------------

export interface JsonResponse<T = any> {
  status: number;
  body: T;
}

/** The benchmarks' own occasional API calls (fetch); the load generators use RawConnection or autocannon. */
export async function api<T = any>(base: string, method: string, path: string, token?: string, body?: unknown): Promise<JsonResponse<T>> {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * A minimal HTTP/1.1 keep-alive connection: one request at a time, responses framed by
 * Content-Length (all Fastify JSON responses have one). Cheap enough that the load generator
 * does not starve the server on a 2-core machine.
 */
export class RawConnection {
  private socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private pending: ((r: { status: number; body: string }) => void) | undefined;
  private failed: ((e: Error) => void) | undefined;
  readonly ready: Promise<void>;
  busy = false;

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (e) => this.failed?.(e));
    this.socket.on('close', () => this.failed?.(new Error('connection closed')));
  }

  private onData(chunk: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (this.buf.length < end + 4 + len) return;
    const status = Number(head.slice(9, 12));
    const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
    this.buf = this.buf.subarray(end + 4 + len);
    const done = this.pending;
    this.pending = undefined;
    this.failed = undefined;
    this.busy = false;
    done?.({ status, body });
  }

  request(raw: Buffer): Promise<{ status: number; body: string }> {
    this.busy = true;
    return new Promise((resolve, reject) => {
      this.pending = resolve;
      this.failed = reject;
      this.socket.write(raw);
    });
  }

  close() {
    this.socket.destroy();
  }
}

export function rawGet(path: string, token?: string): Buffer {
  return rawRequest('GET', path, token);
}

export function rawRequest(method: string, path: string, token?: string, body?: unknown): Buffer {
  const auth = token ? `authorization: Bearer ${token}\r\n` : '';
  if (body === undefined) return Buffer.from(`${method} ${path} HTTP/1.1\r\nhost: bench\r\n${auth}\r\n`, 'latin1');
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const head = `${method} ${path} HTTP/1.1\r\nhost: bench\r\n${auth}content-type: application/json\r\ncontent-length: ${payload.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

// ---- load generation ----------------------------------------------------------------------------------

export function runAutocannon(opts: AutocannonOptions): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** The useful part of an autocannon latency histogram (ms; autocannon records whole milliseconds). */
export function latencySummary(h: AutocannonResult['latency']) {
  return { mean: h.mean, p50: h.p50, p90: h.p90, p99: h.p99, p99_9: h.p99_9, max: h.max };
}

/**
 * Gives each autocannon connection its own slice of the prepared requests, shuffled (pass it as
 * `setupClient` and leave `requests` unset). autocannon builds every request of a connection
 * synchronously while it creates the connections, after the first ones have already sent: with
 * the whole list on every connection that takes seconds, and the first responses are charged
 * with it. Slices keep the build to a few milliseconds while all requests are still used.
 */
export function slicePerClient<T>(requests: T[], connections: number): (client: { setRequests(r: T[]): void }) => void {
  const size = Math.max(1, Math.ceil(requests.length / connections));
  let n = 0;
  return (client) => {
    const from = (n++ % connections) * size;
    const slice = requests.slice(from, from + size);
    client.setRequests(shuffle(slice.length ? slice : [...requests]));
  };
}

export function shuffle<T>(a: T[], rnd: () => number = Math.random): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** A small deterministic PRNG (mulberry32), so seeded data and request mixes repeat run to run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PacedResult {
  offeredRate: number;
  achievedRate: number;
  sent: number;
  completed: number;
  errors: number;
  non2xx: number;
  /**
   * Latency in ms: from when the request was sent, or, for a request that had to wait for a free
   * connection (the server was behind), from when it was due (coordinated-omission corrected).
   */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  /** How late the generator's own timer sent requests that found a free connection, p99, in ms (not charged to the server). */
  sendLateP99: number;
}

/** The middle element by `key` (the upper middle for an even count); the runs of a repeated measurement stand for it. */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  if (items.length === 0) throw new Error('medianBy: no items');
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor(items.length / 2)]!;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * Open-loop load at a fixed rate, evenly spaced: request k is due at start + k/rate and is sent
 * on the first idle connection. A request that must wait for a connection (every one is busy: the
 * server is behind) counts its latency from when it was due, so a stalled server cannot hide its
 * stall by slowing the generator down. A request that finds a free connection counts from when
 * it was sent: the generator's timer ticks about every 1.2 ms, and that lateness is the
 * generator's, not the server's (it is reported as `sendLateP99`).
 *
 * `warmupSec` first runs the same load on the same connections without recording it. A freshly
 * started generator runs cold code for its first few hundred milliseconds; that made it slow to
 * read responses, its connections stayed busy, requests queued and their wait was counted as
 * server latency (1,000-3,700 requests of 179,000 per run: enough on its own to decide a p99).
 */
export async function pacedLoad(opts: {
  url: string;
  rate: number;
  durationSec: number;
  warmupSec?: number;
  /** Called when the measured window starts (after the warm-up). */
  onMeasure?: () => void;
  connections: number;
  next: () => Buffer;
  ok?: (status: number, body: string) => boolean;
}): Promise<PacedResult> {
  const u = new URL(opts.url);
  const conns = Array.from({ length: opts.connections }, () => new RawConnection(u.hostname, Number(u.port)));
  await Promise.all(conns.map((c) => c.ready));
  try {
    if (opts.warmupSec) await paceWindow(conns, { ...opts, durationSec: opts.warmupSec });
    opts.onMeasure?.();
    const w = await paceWindow(conns, opts);
    const sorted = w.lat.slice().sort();
    const mean = sorted.reduce((s, v) => s + v, 0) / (sorted.length || 1);
    return {
      offeredRate: opts.rate,
      achievedRate: round(sorted.length / w.elapsedSec, 0),
      sent: w.sent,
      completed: sorted.length,
      errors: w.errors,
      non2xx: w.non2xx,
      p50: round(percentile(sorted, 50), 2),
      p90: round(percentile(sorted, 90), 2),
      p99: round(percentile(sorted, 99), 2),
      p999: round(percentile(sorted, 99.9), 2),
      max: round(sorted[sorted.length - 1] ?? NaN, 2),
      mean: round(mean, 2),
      sendLateP99: round(percentile(w.late.slice().sort(), 99), 2),
    };
  } finally {
    for (const c of conns) c.close();
  }
}

/** One window of paced load on open connections (see pacedLoad); latencies and send lateness in ms. */
async function paceWindow(
  conns: RawConnection[],
  opts: { rate: number; durationSec: number; next: () => Buffer; ok?: (status: number, body: string) => boolean },
): Promise<{ lat: Float64Array; late: Float64Array; sent: number; errors: number; non2xx: number; elapsedSec: number }> {
  const idle = [...conns];
  const queue: number[] = []; // due times (hrtime ms) of requests waiting for a connection
  const total = Math.floor(opts.rate * opts.durationSec);
  // Preallocated: the generator should not collect garbage it made for its own bookkeeping.
  const lat = new Float64Array(total);
  const late = new Float64Array(total);
  let completed = 0;
  let lateCount = 0;
  let sent = 0;
  let errors = 0;
  let non2xx = 0;
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const start = now();
  const interval = 1000 / opts.rate;
  let scheduled = 0;

  const fire = (conn: RawConnection, due: number) => {
    sent++;
    conn.request(opts.next()).then(
      (r) => {
        lat[completed++] = now() - due;
        if (r.status < 200 || r.status >= 300 || (opts.ok && !opts.ok(r.status, r.body))) non2xx++;
        const waiting = queue.shift();
        if (waiting !== undefined) fire(conn, waiting);
        else idle.push(conn);
      },
      () => {
        errors++;
      },
    );
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const t = now();
      while (scheduled < total && start + scheduled * interval <= t) {
        const due = start + scheduled * interval;
        scheduled++;
        const conn = idle.pop();
        if (conn) {
          late[lateCount++] = t - due;
          fire(conn, t);
        } else queue.push(due);
      }
      if (scheduled < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  // Let the last requests finish (bounded).
  const deadline = now() + 10_000;
  while (completed + errors < sent + queue.length && now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const elapsedSec = (now() - start) / 1000;
  return { lat: lat.subarray(0, completed), late: late.subarray(0, lateCount), sent, errors, non2xx, elapsedSec };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux; NaN elsewhere). */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ticks of 1/100 s (CLK_TCK)
  } catch {
    return NaN;
  }
}

/** Resident memory of a process now and at its peak (VmRSS, VmHWM in /proc/PID/status), in MB (Linux; NaN elsewhere). */
export function processMemoryMb(pid: number): { rssMb: number; peakMb: number } {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // not Linux, or gone: NaN below
  }
  const mb = (field: string) => {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    return kb === undefined ? NaN : round(Number(kb) / 1024, 1);
  };
  return { rssMb: mb('VmRSS'), peakMb: mb('VmHWM') };
}

/**
 * CPU accounting for one measurement window: the whole machine's busy time (/proc/stat) against
 * what the processes under measurement used (/proc/PID/stat, process.cpuUsage), so a figure
 * taken while something else was busy on the machine says so. `otherPct` is in percent of all
 * CPUs and approximate (interrupt time is not always charged to the process that caused it).
 */
export class CpuMeter {
  private machine0 = machineBusyMs();
  private self0 = process.cpuUsage();
  private pids0: number[];
  private t0 = performance.now();

  constructor(private readonly pids: number[]) {
    this.pids0 = pids.map(processCpuMs);
  }

  /** `extraMs`: CPU time of measured processes this meter cannot see (a child that reports its own). */
  stop(extraMs = 0) {
    const wallMs = performance.now() - this.t0;
    const machine = machineBusyMs() - this.machine0;
    const self = process.cpuUsage(this.self0);
    const pids = this.pids.map((p, i) => processCpuMs(p) - this.pids0[i]!);
    const ours = pids.reduce((a, b) => a + b, 0) + (self.user + self.system) / 1000 + extraMs;
    const capacity = wallMs * cpus().length;
    return {
      machinePct: round((machine / capacity) * 100, 0),
      oursPct: round((ours / capacity) * 100, 0),
      otherPct: round((Math.max(0, machine - ours) / capacity) * 100, 0),
    };
  }
}

/** The CPU model as /proc/cpuinfo names it (Node's own name elsewhere). */
export function cpuModelName(): string | undefined {
  try {
    return /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpus()[0]?.model;
  } catch {
    return cpus()[0]?.model;
  }
}

/** Busy CPU time of the whole machine so far, in ms (/proc/stat; NaN elsewhere). */
export function machineBusyMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user + nice + system + irq + softirq (loopback networking is largely softirq), in 1/100 s
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) * 10;
  } catch {
    return NaN;
  }
}

/**
 * The machine is shared (other builds and test runs come and go): before a measurement, wait
 * until the whole machine is below `maxBusyPct` busy over half a second (the servers under test
 * idle meanwhile), for at most `maxWaitMs`, and say so when it had to wait or gave up.
 */
export async function waitForQuiet(label: string, maxBusyPct = 15, maxWaitMs = 20_000): Promise<number> {
  const t0 = performance.now();
  let busy = 0;
  for (;;) {
    const m0 = machineBusyMs();
    const w0 = performance.now();
    await sleep(500);
    busy = round(((machineBusyMs() - m0) / ((performance.now() - w0) * cpus().length)) * 100, 0);
    if (!(busy > maxBusyPct)) break;
    if (performance.now() - t0 > maxWaitMs) {
      log(`[${label}] the machine is still ${busy}% busy with other work after ${maxWaitMs / 1000} s; measuring anyway`);
      return busy;
    }
  }
  const waited = performance.now() - t0;
  if (waited > 1500) log(`[${label}] waited ${round(waited / 1000, 1)} s for other work on the machine to finish`);
  return busy;
}

/**
 * Lets the machine settle between phases: flushes dirty pages (a freshly seeded store is
 * hundreds of MB that the kernel would otherwise write back in the middle of a measurement,
 * slowing every fsync of the server under test), then waits a moment.
 */
export async function settle(ms = 1000) {
  try {
    execFileSync('sync');
  } catch {
    /* not available: just wait */
  }
  await sleep(ms);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a bench script in its own process with `input` as JSON on stdin and resolves the last line
 * it prints, parsed as JSON. `nodeArgs` go to node before the script (e.g. heap settings).
 */
export function runJsonChild<T>(script: string, input: unknown, args: string[] = [], nodeArgs: string[] = []): Promise<T> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin!.end(JSON.stringify(input));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      children.delete(child);
      if (code !== 0) return reject(new Error(`${script} exited with ${code}: ${out}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** Reads the JSON a parent passed with runJsonChild. */
export async function readJsonInput<T>(): Promise<T> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text) as T;
}

/** What bench/paced-client.ts is given: the pacedLoad options, with GET paths instead of a request builder. */
export interface PacedClientOptions {
  url: string;
  rate: number;
  durationSec: number;
  /** Unrecorded load at the same rate first (see pacedLoad). */
  warmupSec?: number;
  connections: number;
  paths: string[];
  token?: string;
}

/** Runs bench/paced-client.ts in its own process and returns its result. */
export function pacedLoadInChild(opts: PacedClientOptions): Promise<PacedResult & { generatorMaxStallMs: number; generatorCpuMs: number }> {
  return runJsonChild('bench/paced-client.ts', opts);
}
