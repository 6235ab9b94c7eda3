/**
 * This server's presence on a shared store: a row renewed every second that says until when it
 * is alive. The access worker names it in every lease it takes, so when a server dies its work
 * on targets is taken over within seconds (`TAKEOVER_AFTER_MS`) instead of when the lease runs
 * out. A server that is alive but cannot renew (a store blip) may see its work taken over: every
 * target call is idempotent and every commit a compare-and-swap, so that costs a repeated call,
 * never a second outcome.
 */
import type { Clock, Store } from './ports.js';

export const HEARTBEAT_MS = 1000;
/** A server that has not renewed for this long counts as dead. */
export const TAKEOVER_AFTER_MS = 3000;
/** Rows of servers gone for longer than this are dropped at start (their leases ran out long ago). */
const FORGET_AFTER_MS = 24 * 3_600_000;

export class Presence {
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  /** Renewal is failing: reported once per outage, not every second. */
  private failing = false;

  constructor(
    private readonly store: Pick<Store, 'beat' | 'leave' | 'forgetServers'>,
    private readonly clock: Clock,
    readonly id: string,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async start(): Promise<void> {
    this.startedAt = this.clock.now();
    await this.store.forgetServers(this.startedAt - FORGET_AFTER_MS);
    await this.beat();
    this.timer = setInterval(
      () =>
        void this.beat().then(
          () => (this.failing = false),
          (err: unknown) => {
            if (!this.failing) this.onError(err);
            this.failing = true;
          },
        ),
      HEARTBEAT_MS,
    );
    this.timer.unref();
  }

  /** Stops renewing and removes the row (a server that stops cleanly holds no leases any more). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.store.leave(this.id).catch(this.onError);
  }

  private beat(): Promise<void> {
    return this.store.beat(this.id, this.startedAt, this.clock.now() + TAKEOVER_AFTER_MS);
  }
}
