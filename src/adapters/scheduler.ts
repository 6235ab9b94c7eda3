/**
 * Runs due work and the background workers on a short interval, and at the moment the next
 * transition is due: after every pass, and after every change this server commits, the timer is
 * armed for the earliest `due_at` in the store when that comes before the next pass, so an expiry
 * flips (and its revocation starts) at `expiresAt` itself. The interval stays the safety net (for
 * changes committed by other servers, a clock jump). Every run starts from what the store says is
 * due, so nothing is lost across restarts and several servers may run it at once.
 */
import type { Hourglass } from '../app/hourglass.js';
import type { BackgroundWorker, SchedulerStatus } from '../app/ports.js';
import type { Logger } from 'pino';

export type { SchedulerStatus };

/** A pass woken by a change runs at least this long after the previous one began. */
const EARLY_GAP_MS = 20;

export class Scheduler {
  readonly status: SchedulerStatus = { running: false, lastLagMs: 0, transitions: 0 };
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (ms since the epoch, by the app's clock). */
  private fireAt = Infinity;
  private current: Promise<void> | undefined;
  /** A look at the next due time is on its way; `again`: a change arrived meanwhile. */
  private looking = false;
  private again = false;
  /** A change was committed while no timer was armed. */
  private missed = false;
  private lastPassAt = -Infinity;
  /** Each worker's run still going; a worker is not started again until its run ends. */
  private readonly runs = new Map<BackgroundWorker, Promise<void>>();

  constructor(
    private readonly app: Hourglass,
    private readonly intervalMs: () => number,
    private readonly log: Logger,
    private readonly workers: readonly BackgroundWorker[] = [],
  ) {}

  start() {
    if (this.status.running) return;
    this.status.running = true;
    this.app.deps.store.onAuditCommitted(() => void this.lookAhead());
    this.schedule(0);
  }

  private schedule(delay: number) {
    if (!this.status.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.fireAt = this.app.deps.clock.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fireAt = Infinity;
      this.lastPassAt = this.app.deps.clock.now();
      this.current = this.runOnce().finally(() => this.afterPass());
    }, delay);
    this.timer.unref?.();
    // A change committed while no timer was armed (a pass, or the look after it, was running).
    if (this.missed) {
      this.missed = false;
      void this.lookAhead();
    }
  }

  /**
   * The next pass: at the interval, or sooner when something becomes due sooner (also when it fell
   * due while this pass ran). Something that was due when the pass began and is due still was held
   * back (a ticket system that cannot be asked): it waits for the interval, so passes never spin.
   */
  private async afterPass() {
    const interval = this.intervalMs();
    const next = await this.nextDue();
    const now = this.app.deps.clock.now();
    if (next === undefined || next <= this.lastPassAt) this.schedule(interval);
    else this.schedule(Math.min(interval, Math.max(0, next - now, this.lastPassAt + EARLY_GAP_MS - now)));
  }

  /** A change was committed: it may have made something due before the timer fires (a 1-minute grant). */
  private async lookAhead() {
    if (!this.status.running) return;
    if (!this.timer) {
      // A pass runs: the look after it may have read the store before this change; look once armed.
      this.missed = true;
      return;
    }
    if (this.looking) {
      // A change committed during the look may not be in its answer: look once more after it.
      this.again = true;
      return;
    }
    this.looking = true;
    try {
      do {
        this.again = false;
        const next = await this.nextDue();
        // Never sooner than EARLY_GAP_MS after the last pass began: a storm of changes while
        // something due is held back (a ticket system down) must not run passes back to back.
        const at = next === undefined ? undefined : Math.max(next, this.lastPassAt + EARLY_GAP_MS);
        if (at !== undefined && this.timer && at < this.fireAt) this.schedule(Math.max(0, at - this.app.deps.clock.now()));
      } while (this.again);
    } finally {
      this.looking = false;
    }
  }

  private async nextDue(): Promise<number | undefined> {
    try {
      return await this.app.deps.store.nextDueAt();
    } catch {
      return undefined; // the store is down: the interval's pass reports it
    }
  }

  /**
   * One pass: due transitions, then start the background workers without waiting for them. Status transitions never wait on a target, a webhook
   * receiver or a signer: a worker still running from an earlier pass is left to finish (the
   * access worker itself starts new due work on every call; see app/access-work.ts).
   */
  async runOnce(): Promise<void> {
    try {
      const run = await this.app.due.runDue();
      for (const worker of this.workers) this.startWorker(worker);
      this.status.lastRunAt = this.app.deps.clock.now();
      this.status.lastLagMs = run.maxLagMs;
      this.status.transitions += run.transitions;
      if (this.status.lastError) this.log.info('scheduler recovered');
      delete this.status.lastError;
    } catch (err) {
      const message = (err as Error).message;
      if (this.status.lastError !== message) this.log.error({ err: message }, 'scheduler pass failed; retrying');
      this.status.lastError = message;
    }
  }

  private startWorker(worker: BackgroundWorker) {
    if (this.runs.has(worker)) return;
    const run = Promise.resolve()
      .then(() => worker.runOnce())
      .catch((err: unknown) => {
        // A failing worker (an unreachable webhook, say) must not hold up expiry or the others.
        this.log.error({ worker: worker.name, err: (err as Error).message }, 'background worker failed; retrying next pass');
      })
      .finally(() => this.runs.delete(worker));
    this.runs.set(worker, run);
  }

  /** Resolves when the workers' runs started so far have ended, and detached work they own too. */
  async idle(): Promise<void> {
    while (this.runs.size) await Promise.all(this.runs.values());
    for (const worker of this.workers) await (worker as { idle?: () => Promise<void> }).idle?.();
  }

  async stop() {
    this.status.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
    await this.idle();
  }
}
