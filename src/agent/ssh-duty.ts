/**
 * The host agent's ssh duty: keep sshd's TrustedUserCAKeys and RevokedKeys files equal to what
 * Hourglass publishes for one ssh target. sshd re-reads RevokedKeys at every login and refuses
 * every key when it is missing or unreadable, so the file is only ever replaced whole: a
 * download is checked (the KRL's structure, the CA key's form), written to a temporary file in
 * the same directory, flushed, and renamed over the old one. A failed or corrupt download leaves
 * the file in place. The version applied is reported with the next long poll.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkKrl } from '../adapters/connectors/ssh/krl.js';
import { parsePublicKey } from '../adapters/connectors/ssh/public-key.js';
import type { HourglassClient } from '../cli/api-client.js';

export interface SshDutyOptions {
  target: string;
  caFile: string;
  krlFile: string;
  /** The name this host reports under. */
  host: string;
  /** Long-poll wait, in seconds. */
  waitSeconds: number;
  /** How often the CA key is fetched again (ms). */
  caEveryMs: number;
}

export interface DutyLog {
  info(msg: string): void;
  warn(msg: string): void;
}

/** Writes `data` to `file` atomically: a temporary file beside it, fsync, rename, then the directory synced. */
export function replaceAtomically(file: string, data: Buffer | string, mode = 0o644): void {
  const tmp = join(dirname(file), `.${basename(file)}.hourglass-${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  try {
    const dir = openSync(dirname(file), 'r');
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // some file systems cannot sync a directory; the rename is still atomic
  }
}

/** The version of the list already in place, if it is a valid one. */
function versionInPlace(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return checkKrl(readFileSync(file)).version;
  } catch {
    return undefined;
  }
}

export class SshDuty {
  private etag: string | undefined;
  private applied: number | undefined;
  private caFetchedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly client: HourglassClient,
    private readonly opts: SshDutyOptions,
    private readonly log: DutyLog,
  ) {
    this.applied = versionInPlace(opts.krlFile);
  }

  get name(): string {
    return `ssh ${this.opts.target}`;
  }

  get appliedVersion(): number | undefined {
    return this.applied;
  }

  /** One round: the CA key when due, then one (long-polled) revocation list. Throws on failure; the files stay as they were. */
  async round(now: number, signal?: AbortSignal): Promise<void> {
    if (now - this.caFetchedAt >= this.opts.caEveryMs) {
      await this.refreshCa();
      this.caFetchedAt = now;
    }
    const answer = await this.client.sshRevocationList(this.opts.target, {
      ...(this.etag ? { etag: this.etag } : {}),
      wait: this.opts.waitSeconds,
      host: this.opts.host,
      ...(signal ? { signal } : {}),
      ...(this.applied !== undefined ? { applied: this.applied } : {}),
    });
    if (answer.unchanged) return;
    let version: number;
    try {
      version = checkKrl(answer.body).version;
    } catch (err) {
      throw new Error(
        `target ${this.opts.target}: the revocation list downloaded is corrupt (${(err as Error).message}); ${this.opts.krlFile} is left as it was`,
      );
    }
    if (version !== answer.version) throw new Error(`target ${this.opts.target}: the list says version ${version}, the server ${answer.version}; not applied`);
    replaceAtomically(this.opts.krlFile, answer.body);
    if (this.applied !== version) this.log.info(`target ${this.opts.target}: revocation list version ${version} applied to ${this.opts.krlFile}`);
    this.applied = version;
    this.etag = answer.etag;
  }

  private async refreshCa(): Promise<void> {
    const line = (await this.client.sshCaPublicKey(this.opts.target)).trim();
    try {
      parsePublicKey(line);
    } catch (err) {
      throw new Error(
        `target ${this.opts.target}: the CA key downloaded is not a public key (${(err as Error).message}); ${this.opts.caFile} is left as it was`,
      );
    }
    const current = existsSync(this.opts.caFile) ? readFileSync(this.opts.caFile, 'utf8').trim() : undefined;
    if (current === line) return;
    replaceAtomically(this.opts.caFile, `${line}\n`);
    this.log.info(`target ${this.opts.target}: CA key written to ${this.opts.caFile}`);
  }
}
