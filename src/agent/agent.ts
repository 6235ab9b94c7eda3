/**
 * `hourglass agent`: the long-running process on a host (or one per fleet) that does Hourglass's
 * host-side work with its own machine credential (a principal with the `agent` role). Today its
 * duty is ssh (the CA key and revocation list sshd reads); later duties (firewall openings) are
 * further classes with a `round`. Each duty runs its own loop: a failed round is logged and
 * retried with backoff, and never touches what is in place.
 */
import type { DutyLog } from './ssh-duty.js';

export interface Duty {
  readonly name: string;
  /** One round; `signal` aborts a long poll in flight (agent stop). */
  round(now: number, signal?: AbortSignal): Promise<void>;
}

export interface AgentOptions {
  /** Ends every loop (SIGTERM, SIGINT). */
  signal: AbortSignal;
  log: DutyLog;
  /** One round of each duty, then return (cron, tests); a failed round is then an error. */
  once?: boolean;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function loop(duty: Duty, opts: AgentOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? abortableSleep;
  let backoff = BACKOFF_MIN_MS;
  let failing = false;
  while (!opts.signal.aborted) {
    try {
      await duty.round(now(), opts.signal);
      if (failing) opts.log.info(`${duty.name}: working again`);
      failing = false;
      backoff = BACKOFF_MIN_MS;
    } catch (err) {
      if (opts.signal.aborted) return;
      opts.log.warn(`${duty.name}: ${(err as Error).message}; retrying in ${Math.round(backoff / 1000)} s`);
      failing = true;
      // Jitter spreads a fleet's retries after a server restart.
      await sleep(backoff * (0.5 + Math.random() / 2), opts.signal);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }
}

/** Runs every duty until the signal aborts (or once each, with `once`). */
export async function runAgent(duties: readonly Duty[], opts: AgentOptions): Promise<void> {
  if (opts.once) {
    for (const d of duties) await d.round((opts.now ?? Date.now)());
    return;
  }
  await Promise.all(duties.map((d) => loop(d, opts)));
}
