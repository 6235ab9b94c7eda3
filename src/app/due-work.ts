/**
 * Due transitions (scheduled start, expiry, pending timeout, overdue review) driven by the
 * persisted `due_at` of each request, so they survive restarts and run on any server.
 */
import * as lifecycle from '../core/lifecycle.js';
import type { AccessRequest } from '../core/types.js';
import { commitOutcome, factsFor, type AppDeps } from './context.js';

const BATCH = 100;

export interface DueRun {
  transitions: number;
  conflicts: number;
  /** How late the most overdue item was, in ms (0 when nothing was due). */
  maxLagMs: number;
}

export class DueWork {
  constructor(private readonly deps: AppDeps) {}

  /** Runs everything due at the current time; returns when nothing due is left (or `maxRounds` ran). */
  async runDue(maxRounds = 100): Promise<DueRun> {
    const run: DueRun = { transitions: 0, conflicts: 0, maxLagMs: 0 };
    for (let round = 0; round < maxRounds; round++) {
      const now = this.deps.clock.now();
      const due = await this.deps.store.findDue(now, BATCH);
      if (due.length === 0) break;
      const config = this.deps.config.current();
      // On-call escalation tiers due now: who is on call is read once per batch, outside the transaction.
      const schedules = due.flatMap((r) => dueOnCallTiers(r, now));
      const onCall = schedules.length && this.deps.onCall ? await this.deps.onCall(schedules, now) : undefined;
      // One transaction per batch keeps an expiry storm fast; each request still moves by CAS,
      // so a request another server (or an API call) changed meanwhile is skipped, not clobbered.
      await this.deps.store.transaction(async (tx) => {
        for (const req of due) {
          const at = lifecycle.dueAt(req);
          if (at !== undefined) {
            run.maxLagMs = Math.max(run.maxLagMs, now - at);
            this.deps.metrics?.dueLag(Math.max(0, now - at));
          }
          const outcome = lifecycle.tick(req, { ...factsFor(config, req.entitlements, now), ...(onCall ? { onCall } : {}) });
          if (!outcome) continue;
          if (await commitOutcome(this.deps, tx, req, outcome, now)) run.transitions += 1;
          else run.conflicts += 1;
        }
      });
      if (due.length < BATCH) break;
      // With SQLite every await resolves at once: yield so checks are served during a storm.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return run;
  }
}

/** The schedules of on-call escalation tiers this pending request reaches at `now`. */
function dueOnCallTiers(req: AccessRequest, now: number): string[] {
  if (req.status !== 'pending' || req.escalation?.nextAt === undefined || req.escalation.nextAt > now) return [];
  return req.terms.flatMap((t) => {
    const tier = t.approval.escalation?.[req.escalation?.tiers[t.name] ?? 0];
    return tier?.onCall && req.requestedAt + tier.afterMs <= now ? [tier.onCall] : [];
  });
}
