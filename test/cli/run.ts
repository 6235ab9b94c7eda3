// Helpers for the CLI end-to-end tests: run the real binary with stdin, and keep every run away
// from the developer's own stored login.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT, runCli, type CliResult } from '../support/spawn-server.js';

/**
 * Points XDG_CONFIG_HOME (and HOME) of this test process, and so of every child runCli starts,
 * at an empty temp directory: a login stored on the machine running the tests must not leak in.
 */
export function isolateCredentials(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hourglass-cli-home-'));
  process.env.XDG_CONFIG_HOME = path.join(dir, 'xdg');
  process.env.HOME = dir;
  return dir;
}

/** Like runCli, with `input` written to the command's stdin. */
export function runCliInput(args: string[], env: Record<string, string | undefined>, input: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HOURGLASS_')) childEnv[k] = v;
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    proc.stdin.end(input);
  });
}

/** Runs a client command as a demo principal (token `<principal>-demo-token`). */
export type RunAs = (principal: string, ...args: string[]) => Promise<CliResult>;

/**
 * The `as(principal, ...args)` of the CLI tests, against the server `server()` returns when the
 * command runs (it is started in beforeAll, after the test file defines `as`); `env` is added to
 * the command's environment.
 */
export function cliAs(server: () => { url: string }, env: Record<string, string> = {}): RunAs {
  return (principal, ...args) => runCli(args, { HOURGLASS_URL: server().url, HOURGLASS_TOKEN: `${principal}-demo-token`, ...env });
}

/** The command's stdout as JSON, or a failure that shows what it printed instead. */
export function json<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  }
}
