/**
 * The stored login of `hourglass login`: `{url, token}` in
 * `$XDG_CONFIG_HOME/hourglass/credentials.json` (or `~/.config/hourglass/credentials.json`),
 * the directory mode 0700 and the file mode 0600. The token is only ever sent to the URL it was
 * stored with.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';

export interface StoredCredentials {
  url: string;
  token: string;
  /** A signed-in session (hourglass login --sso): the refresh token and when `token` ends (epoch ms). */
  refreshToken?: string;
  expiresAt?: number;
}

export class CredentialsFileError extends Error {}

/** Where the credentials live for this environment (HOME and XDG_CONFIG_HOME come from `env`). */
export function credentialsPath(env: Record<string, string | undefined>): string {
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec says relative paths are to be ignored.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'hourglass', 'credentials.json');
}

/** The same server? Compares origin and path, ignoring a trailing slash and default ports. */
export function sameServer(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.origin === y.origin && x.pathname.replace(/\/+$/, '') === y.pathname.replace(/\/+$/, '');
  } catch {
    return false;
  }
}

/** The stored credentials, or undefined when there are none. Warns (via `warn`) when the file is readable by others. */
export function readCredentials(file: string, warn?: (msg: string) => void): StoredCredentials | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredentialsFileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (warn && process.platform !== 'win32') {
    try {
      const mode = statSync(file).mode & 0o777;
      if (mode & 0o077) warn(`hourglass: warning: ${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${file}\n`);
    } catch {
      // the file went away meanwhile: nothing to warn about
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CredentialsFileError(`${file} is not valid JSON; run hourglass login again (or hourglass logout)`);
  }
  const c = parsed as Partial<StoredCredentials> | null;
  if (!c || typeof c.url !== 'string' || typeof c.token !== 'string' || !c.url || !c.token) {
    throw new CredentialsFileError(`${file} does not hold {url, token}; run hourglass login again (or hourglass logout)`);
  }
  const session = typeof c.refreshToken === 'string' && typeof c.expiresAt === 'number' ? { refreshToken: c.refreshToken, expiresAt: c.expiresAt } : {};
  return { url: c.url, token: c.token, ...session };
}

/** Writes the credentials atomically: directory 0700, file 0600 from the moment it exists. */
export function writeCredentials(file: string, creds: StoredCredentials): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is only used when it creates the directory; this one is ours either way.
  chmodSync(dir, 0o700);
  const tmp = path.join(dir, `.credentials.${process.pid}.${Date.now()}.tmp`);
  try {
    const session = creds.refreshToken ? { refreshToken: creds.refreshToken, expiresAt: creds.expiresAt } : {};
    writeFileSync(tmp, `${JSON.stringify({ url: creds.url, token: creds.token, ...session }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Removes the stored credentials; false when there were none. */
export function removeCredentials(file: string): boolean {
  if (!existsSync(file)) return false;
  rmSync(file, { force: true });
  return true;
}

/** A lock older than this was left by a command that died: a live holder is done within its refresh's 30 s time limit. */
const STALE_LOCK_MS = 60_000;
const LOCK_WAIT_MS = 40_000;

/**
 * Runs `fn` holding `FILE.lock` (created exclusively, mode 0600), so that two commands never
 * refresh one stored session at once: a refresh token works once, and the server ends a session
 * whose refresh token is presented twice.
 */
export async function withCredentialsLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const giveUpAt = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let age = 0;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile: try again at once
    }
    if (age > STALE_LOCK_MS) rmSync(lock, { force: true });
    else if (Date.now() > giveUpAt) throw new CredentialsFileError(`${lock} is held by another hourglass command; remove it if none is running`);
    else await sleep(50);
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}
