/**
 * Runs due work and links the audit chain on a short interval. The interval bounds how late a
 * transition may run; every run starts from what the store says is due, so nothing is lost
 * across restarts and several servers may run it at once.
 */
import type { Hourglass } from '../app/hourglass.js';
import type { BackgroundWorker } from '../app/ports.js';
import type { Logger } from 'pino';

export interface SchedulerStatus {
  running: boolean;
  lastRunAt?: number;
  lastError?: string;
  lastLagMs: number;
  transitions: number;
}

export class Scheduler {
  readonly status: SchedulerStatus = { running: false, lastLagMs: 0, transitions: 0 };
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;

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

  /** One pass: due transitions, then chain the audit events they wrote. */
  async runOnce(): Promise<void> {
    try {
      const run = await this.app.due.runDue();
      await this.app.audit.chainPending();
      // A failing worker (an unreachable webhook, say) must not hold up expiry or the others.
      for (const worker of this.workers) {
        try {
          await worker.runOnce();
        } catch (err) {
          this.log.error({ worker: worker.name, err: (err as Error).message }, 'background worker failed; retrying next pass');
        }
      }
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

  async stop() {
    this.status.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }
}
