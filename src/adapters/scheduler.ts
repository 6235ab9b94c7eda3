/**
 * Runs due work and the background workers on a short interval. The interval bounds how late a
 * transition may run; every run starts from what the store says is due, so nothing is lost
 * across restarts and several servers may run it at once.
 */
import type { Hourglass } from '../app/hourglass.js';
import type { BackgroundWorker, SchedulerStatus } from '../app/ports.js';
import type { Logger } from 'pino';

export type { SchedulerStatus };

export class Scheduler {
  readonly status: SchedulerStatus = { running: false, lastLagMs: 0, transitions: 0 };
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
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
    this.schedule(0);
  }

  private schedule(delay: number) {
    if (!this.status.running) return;
    this.timer = setTimeout(() => {
      this.current = this.runOnce().finally(() => this.schedule(this.intervalMs()));
    }, delay);
    this.timer.unref?.();
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
