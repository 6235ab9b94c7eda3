/**
 * Process plumbing shared by the throwaway-server harnesses (PostgreSQL, MariaDB, Redis): a free
 * loopback port, a clean environment and setup tools, the tail of a server's log, stopping a
 * server gracefully then for sure, and killing whatever is still running (and removing its temp
 * directory) if the test process exits without stopping it.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * setpriv(1), when installed: it execs the server in place with a parent-death signal (and, as
 * root, drops to the server's own user first), so a test process killed without running its
 * 'exit' handlers does not leave a server behind.
 */
export const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** This process's environment without the variables `leaky` matches (the developer's PG*, MYSQL_*), in the C locale. */
export function cleanEnv(leaky: RegExp): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!leaky.test(k)) env[k] = v;
  }
  env.LC_ALL = 'C';
  return env;
}

/** Runs a setup tool (initdb, mariadb-install-db, chown) to the end; when it fails, its output is in the error. */
export async function runTool(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await execFileP(cmd, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
    throw new Error(`${[cmd, ...args].join(' ')} failed: ${e.message}\n${out}`);
  }
}

/**
 * Keeps the last `keep` lines a server prints on stdout and stderr, for the error when it fails
 * to start; `tee` also gets every chunk (a log file). Returns a reader of those lines.
 */
export function keepLogTail(child: ChildProcess, keep = 60, tee?: (chunk: Buffer) => void): () => string {
  const lines: string[] = [];
  let partial = '';
  const onData = (buf: Buffer) => {
    tee?.(buf);
    const parts = (partial + buf.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > keep) lines.splice(0, lines.length - keep);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => [...lines, partial].filter(Boolean).join('\n');
}

/** How a spawned server ended, if it has: its start-up loop tells "exited" from "not ready yet". */
export function watchExit(child: ChildProcess): { exited?: { code: number | null; signal: NodeJS.Signals | null }; spawnError?: Error } {
  const ended: ReturnType<typeof watchExit> = {};
  child.once('exit', (code, signal) => {
    ended.exited = { code, signal };
  });
  child.once('error', (err) => {
    ended.spawnError = err;
  });
  return ended;
}

/** For the harnesses' own tests: is something listening on this loopback port? */
export function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** For the harnesses' own tests: is this process still running? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

export function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Sends the server's own shutdown signal, then SIGKILL if it has not exited in time. */
export async function terminate(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  child.kill(signal);
  if (await waitForExit(child, timeoutMs)) return;
  child.kill('SIGKILL');
  await waitForExit(child, timeoutMs);
}

const live = new Map<ChildProcess, { dir: string; signal: NodeJS.Signals }>();
let exitHookInstalled = false;

/** Until `untrack`, the server is killed with `signal` and `dir` removed when the test process exits. */
export function track(child: ChildProcess, dir: string, signal: NodeJS.Signals): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const [c, { dir: d, signal: s }] of live) {
        try {
          c.kill(s);
        } catch {
          // already gone
        }
        try {
          rmSync(d, { recursive: true, force: true, maxRetries: 3 });
        } catch {
          // best effort
        }
      }
      live.clear();
    });
  }
  live.set(child, { dir, signal });
}

export function untrack(child: ChildProcess): void {
  live.delete(child);
}

/** Stops the server (if it was started) and removes its temp directory. */
export async function shutDown(child: ChildProcess | undefined, dir: string, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (child) {
    await terminate(child, signal, timeoutMs);
    untrack(child);
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
