import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/store/open-store.js';
import { startCheckpointer, type Checkpointer } from '../../src/adapters/store/sqlite-checkpoints.js';

const dirs: string[] = [];
const tempPath = () => {
  const dir = mkdtempSync(join(tmpdir(), 'hg-ckpt-'));
  dirs.push(dir);
  return join(dir, 'hourglass.db');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A WAL database whose own connection never checkpoints (the backstop off), so only the worker can. */
function walDatabase(path: string) {
  const db = new BetterSqlite3(path, { timeout: 0 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  return db;
}

/** Commits `count` transactions of ~16 KB each (four pages), yielding to the event loop as a server between requests. */
async function write(db: BetterSqlite3.Database, count: number) {
  const insert = db.prepare('INSERT INTO t (v) VALUES (randomblob(16000))');
  for (let i = 0; i < count; i++) {
    insert.run();
    if (i % 5 === 0) await sleep(1);
  }
}

const walBytes = (path: string) => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

describe('SQLite checkpoints in a worker thread', () => {
  let checkpointer: Checkpointer | undefined;
  afterEach(async () => {
    await checkpointer?.stop();
    checkpointer = undefined;
  });

  it('the worker copies the WAL into the database while the server connection writes', async () => {
    const path = tempPath();
    const db = walDatabase(path);
    checkpointer = startCheckpointer(db, path, { intervalMs: 20, restartAfterFrames: Number.MAX_SAFE_INTEGER, journalSizeLimit: 0 });
    await write(db, 300);
    await sleep(200);
    const s = checkpointer.status();
    expect(s.error).toBeUndefined();
    expect(s.passes).toBeGreaterThan(1);
    // Everything committed is in the database file, copied by the worker: this connection never checkpointed.
    expect(s.lastPass!.log).toBeGreaterThan(1000);
    expect(s.lastPass!.checkpointed).toBe(s.lastPass!.log);
    expect(s.finished).toBe(0);
    db.close();
  });

  it('under a steady write load the WAL still starts over, so it stays small', async () => {
    const path = tempPath();
    const db = walDatabase(path);
    // Without a checkpointer the WAL holds everything written: about 20 MB.
    await write(db, 1200);
    const unbounded = walBytes(path);
    expect(unbounded).toBeGreaterThan(18 * 2 ** 20);
    db.pragma('wal_checkpoint(TRUNCATE)');

    checkpointer = startCheckpointer(db, path, { intervalMs: 20, restartAfterFrames: 200, journalSizeLimit: 0 });
    await write(db, 1200);
    const s = checkpointer.status();
    expect(s.error).toBeUndefined();
    expect(s.finished).toBeGreaterThan(2);
    // The WAL started over several times (journal_size_limit 0 cuts it back each time), never holding the 20 MB.
    expect(walBytes(path)).toBeLessThan(unbounded / 2);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2400 });
    db.close();
  });

  it('reports a failing worker once, not every pass, and when it works again', async () => {
    const path = tempPath();
    const db = new BetterSqlite3(':memory:'); // the server's connection: untouched by a worker that fails
    const errors: string[] = [];
    let recovered = 0;
    // The worker's database does not exist yet: every pass fails until it does.
    checkpointer = startCheckpointer(db, path, {
      intervalMs: 10,
      journalSizeLimit: 0,
      onError: (m) => errors.push(m),
      onRecovered: () => recovered++,
    });
    await sleep(150);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/unable to open|does not exist|directory/i);
    expect(checkpointer.status()).toMatchObject({ passes: 0, error: errors[0] });
    walDatabase(path).close();
    await sleep(150);
    expect(recovered).toBe(1);
    expect(checkpointer.status().passes).toBeGreaterThan(0);
    expect(checkpointer.status().error).toBeUndefined();
    db.close();
  });

  it('stops cleanly, and a stopped worker leaves the connection working', async () => {
    const path = tempPath();
    const db = walDatabase(path);
    const c = startCheckpointer(db, path, { intervalMs: 20, journalSizeLimit: 0 });
    await sleep(60);
    await c.stop();
    await write(db, 10);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 10 });
    db.close();
  });
});

describe('a SQLite store on a file', () => {
  it('can be backed up online while the server holds it, and the lock goes with the store', async () => {
    const path = tempPath();
    const opened = await openStore(`sqlite:${path}`, { cwd: '.' });
    try {
      expect(statSync(`${path}-lock`).mode & 0o777).toBe(0o600);
      await opened.store.transaction(async (tx) =>
        tx.appendAudit([{ id: 'ev-1', at: Date.now(), type: 'config.reloaded', actor: 'system', details: { n: 1 }, policyHash: 'h' }]),
      );
      // Another process reads it and takes a consistent copy, as docs/operations.md says.
      const copy = join(path, '..', 'copy.db');
      execFileSync('sqlite3', [path, `.backup ${copy}`], { stdio: 'pipe' });
      const restored = new BetterSqlite3(copy, { readonly: true });
      expect(restored.prepare('SELECT type FROM audit_events').all()).toEqual([{ type: 'config.reloaded' }]);
      restored.close();
      await expect(openStore(`sqlite:${path}`, { cwd: '.' })).rejects.toMatchObject({ code: 'HG_STORE_IN_USE' });
    } finally {
      await opened.close();
    }
    // A clean stop folds the WAL into the file and releases the lock.
    expect(walBytes(path)).toBe(0);
    const again = await openStore(`sqlite:${path}`, { cwd: '.' });
    await again.close();
  });

  it('a process that opens and closes the store ends normally (the worker is waited for, not left behind)', () => {
    const path = tempPath();
    const script = `
      const { openStore } = await import(${JSON.stringify(new URL('../../src/adapters/store/open-store.ts', import.meta.url).href)});
      const s = await openStore(${JSON.stringify(`sqlite:${path}`)}, { cwd: '.' });
      await s.close();
      console.log('closed');`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', stdio: 'pipe' });
    expect(out.trim()).toBe('closed');
    expect(walBytes(path)).toBe(0);
  });
});
