/**
 * WAL checkpoints off the event loop. A checkpoint copies the WAL's pages into the database file
 * and syncs both; with a million grants one every ~40 MB of WAL took about 250 ms, and run by the
 * server's own connection (SQLite's autocheckpoint, inside a commit) it held every check for that
 * long. Here a worker thread with a connection of its own does the copying (PASSIVE: it never
 * takes the write lock, so the server's writes never wait for it).
 *
 * A PASSIVE checkpoint copies only what was committed when it began, and the WAL starts over from
 * its beginning only once every frame in it is copied; under a steady write load the worker alone
 * never gets there. So after a pass of the worker's has left little behind, the server's
 * connection, the only writer, runs one more PASSIVE checkpoint between two of its transactions:
 * it copies the few frames written during the pass and the next write starts the WAL over.
 * SQLite's own autocheckpoint stays on as the backstop should the worker stop.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

export interface CheckpointerOptions {
  /** How often the worker checkpoints, ms (default 100). */
  intervalMs?: number;
  /** WAL frames (pages) after which the server's connection finishes a pass and the WAL starts over (default 2,000: 8 MB). */
  restartAfterFrames?: number;
  /** Frames a pass may leave behind for the server's connection to copy (default 256: 1 MB). */
  maxLeftFrames?: number;
  /** The WAL size kept after it starts over, bytes (journal_size_limit). */
  journalSizeLimit: number;
  /** The worker failed (once per outage, not per pass); SQLite's autocheckpoint keeps the WAL bounded meanwhile. */
  onError?: (message: string) => void;
  /** It works again. */
  onRecovered?: () => void;
}

export interface CheckpointerStatus {
  /** Checkpoint passes the worker ran. */
  passes: number;
  /** Times the server's connection finished a pass (each lets the WAL start over). */
  finished: number;
  /** What the worker's last pass found: frames in the WAL, and how many of them are copied into the database. */
  lastPass?: { log: number; checkpointed: number };
  /** The worker's last failure (the backstop autocheckpoint keeps the WAL bounded meanwhile). */
  error?: string;
}

export interface Checkpointer {
  status(): CheckpointerStatus;
  /** Stops the worker and closes its connection (the last connection to close folds the WAL in). */
  stop(): Promise<void>;
}

interface PassReport {
  busy?: number;
  log?: number;
  checkpointed?: number;
  error?: string;
}

/** The worker, as CommonJS source: it needs nothing of the server but the driver and the path. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
let timer;
let stopped = false;
const pass = () => {
  if (stopped) return;
  try {
    if (!db) {
      db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
      db.pragma('journal_size_limit = ' + workerData.journalSizeLimit);
    }
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
  timer = setTimeout(pass, workerData.intervalMs);
};
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  stopped = true;
  clearTimeout(timer);
  try { db?.close(); } finally { parentPort.close(); }
});
pass();
`;

export function startCheckpointer(sqlite: BetterSqlite3.Database, path: string, opts: CheckpointerOptions): Checkpointer {
  const restartAfter = opts.restartAfterFrames ?? 2000;
  const maxLeft = opts.maxLeftFrames ?? 256;
  const state: CheckpointerStatus = { passes: 0, finished: 0 };
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      path,
      intervalMs: opts.intervalMs ?? 100,
      journalSizeLimit: opts.journalSizeLimit,
    },
  });
  // A store someone forgot to close must not keep the process alive.
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const fail = (message: string) => {
    if (state.error === undefined) opts.onError?.(message);
    state.error = message;
  };
  worker.on('error', (err) => fail(err.message));
  worker.on('message', (r: PassReport) => {
    if (r.error !== undefined) return fail(r.error);
    state.passes += 1;
    if (state.error !== undefined) opts.onRecovered?.();
    delete state.error;
    const log = r.log ?? 0;
    const left = log - (r.checkpointed ?? 0);
    state.lastPass = { log, checkpointed: r.checkpointed ?? 0 };
    // Between transactions only: inside one, a checkpoint cannot copy what it has not committed.
    if (r.busy === 0 && log >= restartAfter && left <= maxLeft && sqlite.open && !sqlite.inTransaction) {
      try {
        sqlite.pragma('wal_checkpoint(PASSIVE)');
        state.finished += 1;
      } catch {
        // Refused (the connection busy or closing): the next pass tries again, and the backstop is there.
      }
    }
  });
  return {
    status: () => ({ ...state }),
    async stop() {
      // Held until it has closed its connection: unreferenced, the process could end while waiting.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
