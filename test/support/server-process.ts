/**
 * Process plumbing shared by the throwaway-server harnesses (PostgreSQL, MariaDB, Redis): a free
 * loopback port, stopping a server gracefully then for sure, and killing whatever is still
 * running (and removing its temp directory) if the test process exits without stopping it.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
