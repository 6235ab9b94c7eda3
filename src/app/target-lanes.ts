/**
 * One lane per target for connector calls: each target has its own concurrency limit and per-call
 * timeout, so a target whose calls hang (a GRANT waiting on a lock, a firewall dropping packets)
 * fills only its own slots and never delays another target's grants or revocations.
 *
 * A call that times out is reported as a failure at once, but it keeps its slot until it really
 * ends: retries cannot pile up unbounded work on a target that is already stuck. Calls for the
 * same request on the same target run one after another, so a revoke never overtakes a grant
 * that timed out here but may still commit on the target (it would find nothing, and the grant
 * would then leave an account behind).
 */
import { HgError } from '../core/errors.js';

export interface LaneLimits {
  /** Calls to the target at once. */
  concurrency: number;
  /** How long a call may take, waiting for a slot included. */
  callTimeoutMs: number;
}

/** A watchdog on wall time: a hung call hangs in real time, whatever the Clock port says. */
export interface Timers {
  after(ms: number, fn: () => void): () => void;
}

export const realTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};

/** True for a call that timed out while running: it may still take effect on the target. */
export function abandonedCall(err: unknown): boolean {
  return err instanceof HgError && (err.details as { abandoned?: boolean } | undefined)?.abandoned === true;
}

interface Lane {
  limit: number;
  running: number;
  waiting: (() => void)[];
  /** The last call per request id (settled or not): the next call for that request waits for it. */
  last: Map<string, Promise<unknown>>;
}

export class TargetLanes {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly timers: Timers = realTimers) {}

  /** Calls to `target` running now (timed-out calls that have not ended included). */
  inFlight(target: string): number {
    return this.lanes.get(target)?.running ?? 0;
  }

  /** Calls to `target` waiting for a slot. */
  queued(target: string): number {
    return this.lanes.get(target)?.waiting.length ?? 0;
  }

  /**
   * Runs `call` in the target's lane. Rejects with HG_TARGET_UNAVAILABLE when no slot freed up or
   * the call did not answer within `callTimeoutMs`; the call's own result is then ignored, and
   * `details.abandoned` says it may still be running (and take effect) on the target.
   */
  run<T>(target: string, requestId: string, limits: LaneLimits, what: string, call: () => Promise<T>): Promise<T> {
    const lane = this.lane(target);
    lane.limit = Math.max(1, limits.concurrency); // a reload applies to the next call
    const before = lane.last.get(requestId);
    let settleCall!: () => void;
    const callDone = new Promise<void>((r) => (settleCall = r));
    lane.last.set(requestId, callDone);

    return new Promise<T>((resolve, reject) => {
      let finished = false;
      let state: 'ordering' | 'waiting' | 'running' = 'ordering';
      const finish = (fn: () => void) => {
        if (finished) return;
        finished = true;
        cancelTimer();
        fn();
      };
      const cancelTimer = this.timers.after(limits.callTimeoutMs, () => {
        if (state === 'waiting') lane.waiting.splice(lane.waiting.indexOf(start), 1);
        if (state !== 'running') settle();
        const abandoned = state === 'running';
        const where = abandoned ? 'no answer' : state === 'waiting' ? 'no free slot (its calls are stuck)' : 'an earlier call of this request has not ended';
        const message = `target "${target}": ${what}: ${where} within ${limits.callTimeoutMs} ms (callTimeout)`;
        finish(() => reject(new HgError('HG_TARGET_UNAVAILABLE', message, { details: { target, ...(abandoned ? { abandoned: true } : {}) } })));
      });
      const settle = () => {
        settleCall();
        if (lane.last.get(requestId) === callDone) lane.last.delete(requestId);
      };
      const start = () => {
        if (finished) return settle();
        state = 'running';
        lane.running++;
        let p: Promise<T>;
        try {
          p = call();
        } catch (err) {
          p = Promise.reject(err);
        }
        p.then(
          (v) => finish(() => resolve(v)),
          (err: unknown) => finish(() => reject(err)),
        ).finally(() => {
          lane.running--;
          settle();
          this.next(lane);
        });
      };
      const enter = () => {
        if (finished) return settle();
        if (lane.running < lane.limit) start();
        else {
          state = 'waiting';
          lane.waiting.push(start);
        }
      };
      if (before) void before.then(enter);
      else enter();
    });
  }

  private next(lane: Lane) {
    while (lane.running < lane.limit && lane.waiting.length) lane.waiting.shift()!();
  }

  private lane(target: string): Lane {
    let lane = this.lanes.get(target);
    if (!lane) {
      lane = { limit: 1, running: 0, waiting: [], last: new Map() };
      this.lanes.set(target, lane);
    }
    return lane;
  }
}
