// Runs the real `hourglass` binary for end-to-end tests: `spawnServer` starts
// `node bin/hourglass.js serve` on a free loopback port (port 0, read back from the
// start-up banner) with its own temp directory and SQLite store; `runCli` runs one
// client command and collects its exit code and output. Both need `npx tsup` first
// (bin/hourglass.js imports dist/main.js).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/hourglass.js');
const DEMO_CONFIG = path.join(ROOT, 'examples/demo.yaml');

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const STDERR_KEPT = 8_000;
const LISTENING = /Hourglass is listening on (https?:\/\/\S+)/;

export interface SpawnServerOptions {
  /**
   * The configuration file's text. `{{dir}}` is replaced by the server's temp directory.
   * When it sets no `server.store`, a SQLite store in the temp directory is used.
   * Default: examples/demo.yaml with its store moved to the temp directory.
   */
  configYaml?: string;
  /** Extra environment for the server (HOURGLASS_LISTEN and HOURGLASS_LOG_LEVEL are preset). */
  env?: Record<string, string>;
}

export interface SpawnedServer {
  /** http://127.0.0.1:PORT; stays the same across restart(). */
  url: string;
  /** The temp directory holding the config file and the database; removed by stop(). */
  dir: string;
  configPath: string;
  /** PID of the server process now running. */
  pid(): number | undefined;
  /** What the server wrote on stderr so far (the last few KB). */
  stderr(): string;
  /** SIGTERM (SIGKILL after 10 s), then removes the temp directory. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) and waits for the process to end; keeps the directory. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server gracefully (keeping its directory and database) and starts it again on the same port. */
  restart(): Promise<void>;
}

/** examples/demo.yaml with `server.store` set to `sqlite:{{dir}}/hg.db`. */
export function demoConfigYaml(): string {
  const doc = parseDocument(readFileSync(DEMO_CONFIG, 'utf8'));
  doc.setIn(['server', 'store'], 'sqlite:{{dir}}/hg.db');
  return doc.toString();
}

/** The environment a child gets: the parent's minus every HOURGLASS_* variable, plus `extra`. */
const isolatedConfigHome = mkdtempSync(path.join(os.tmpdir(), 'hourglass-xdg-'));

function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOURGLASS_')) env[k] = v;
  // A login stored on the machine running the tests must never reach a test.
  env.XDG_CONFIG_HOME = isolatedConfigHome;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function assertBuilt() {
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) {
    throw new Error('dist/main.js is missing: run `npx tsup` before these tests (npm test builds first)');
  }
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function spawnServer(opts: SpawnServerOptions = {}): Promise<SpawnedServer> {
  assertBuilt();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-e2e-'));
  const doc = parseDocument((opts.configYaml ?? demoConfigYaml()).split('{{dir}}').join(dir));
  if (!doc.hasIn(['server', 'store'])) doc.setIn(['server', 'store'], `sqlite:${dir}/hg.db`);
  const configPath = path.join(dir, 'hourglass.yaml');
  await writeFile(configPath, doc.toString());

  let child: ChildProcess | undefined;
  let log = '';
  let listen = '127.0.0.1:0';
  let url = '';
  let stopped = false;

  const start = async () => {
    log = '';
    const proc = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
      cwd: dir,
      env: childEnv({ HOURGLASS_LOG_LEVEL: 'warn', ...opts.env, HOURGLASS_LISTEN: listen }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
      log = (log + s).slice(-STDERR_KEPT);
    });
    const address = await new Promise<string>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(new Error(`hourglass serve ${why}; its output ended with:\n${log.slice(-2000) || '(nothing)'}`));
      };
      const timer = setTimeout(() => fail(`did not start within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      proc.stderr!.setEncoding('utf8').on('data', (s: string) => {
        log = (log + s).slice(-STDERR_KEPT);
        const m = LISTENING.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
      proc.once('error', (err) => fail(`could not be started: ${err.message}`));
    });
    url = address;
    listen = new URL(address).host;
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const proc = child;
    if (!proc) return;
    proc.kill(signal);
    await exited(proc);
  };

  const stopProcess = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    proc.kill('SIGTERM');
    await exited(proc);
    clearTimeout(timer);
  };

  try {
    await start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const server: SpawnedServer = {
    url,
    dir,
    configPath,
    pid: () => child?.pid,
    stderr: () => log,
    kill,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopProcess();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopProcess();
      await start();
      server.url = url;
    },
  };
  return server;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/hourglass.js ...args` with the parent's environment minus HOURGLASS_*, plus
 * `env` (e.g. HOURGLASS_URL and HOURGLASS_TOKEN). Resolves when the process exits.
 */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    proc.once('error', (err) => {
      clearTimeout(timer);
      running.delete(proc);
      reject(err);
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(proc);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}
