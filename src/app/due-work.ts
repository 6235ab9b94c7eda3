/**
 * Due transitions (scheduled start, expiry, pending timeout, escalation, overdue review) driven by the
 * persisted `due_at` of each request, so they survive restarts and run on any server.
 */
import * as lifecycle from '../core/lifecycle.js';
import type { AccessRequest } from '../core/types.js';
import { isHgError } from '../core/errors.js';
import { commitOutcome, factsFor, type AppDeps } from './context.js';
import { SYSTEM_PRINCIPAL } from './system-principal.js';
import { TicketChecks } from './tickets/checks.js';

const BATCH = 100;

export interface DueRun {
  transitions: number;
  conflicts: number;
  /** How late the most overdue item was, in ms (0 when nothing was due). */
  maxLagMs: number;
}

/** A ticket system that could not be asked at a scheduled start is asked again after this. */
const TICKET_RETRY_MS = 15_000;

export class DueWork {
  private readonly tickets: TicketChecks;
  /** Scheduled starts waiting for their ticket system: request id -> when to ask again. */
  private readonly ticketRetry = new Map<string, number>();

  constructor(private readonly deps: AppDeps) {
    this.tickets = new TicketChecks(deps, deps.ticketSystems ?? []);
  }

  /**
   * Scheduled starts whose policies check the ticket: asked again now, outside the transaction.
   * A ticket no longer allowed cancels the start (its reason); a system that cannot be asked
   * holds the start back (fail closed) and is asked again shortly.
   */
  private async ticketsAtStart(due: readonly AccessRequest[], now: number): Promise<Map<string, string | 'wait'>> {
    const out = new Map<string, string | 'wait'>();
    for (const req of due) {
      if (req.status !== 'scheduled' || req.access !== 'none' || req.startAt === undefined || req.startAt > now || !req.ticket) continue;
      if (!req.terms.some((t) => t.ticket)) continue;
      if ((this.ticketRetry.get(req.id) ?? 0) > now) {
        out.set(req.id, 'wait');
        continue;
      }
      try {
        await this.tickets.check(req.terms, req.ticket);
        this.ticketRetry.delete(req.id);
      } catch (err) {
        if (isHgError(err) && err.code === 'HG_TERMS_NOT_MET') out.set(req.id, `at its start, ${err.message}`);
        else {
          this.ticketRetry.set(req.id, now + TICKET_RETRY_MS);
          out.set(req.id, 'wait');
        }
      }
    }
    return out;
  }

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
      const tickets = await this.ticketsAtStart(due, now);
      // One transaction per batch keeps an expiry storm fast; each request still moves by CAS,
      // so a request another server (or an API call) changed meanwhile is skipped, not clobbered.
      let claimed = 0;
      await this.deps.store.transaction(async (tx) => {
        // Rows another server's batch holds are its to move: skipped here, not waited for.
        const mine = await tx.claimRequests(due.map((r) => r.id));
        claimed = mine.size;
        for (const req of due) {
          if (!mine.has(req.id)) continue;
          const at = lifecycle.dueAt(req);
          if (at !== undefined) {
            run.maxLagMs = Math.max(run.maxLagMs, now - at);
            this.deps.metrics?.dueLag(Math.max(0, now - at));
          }
          const facts = { ...factsFor(config, req.entitlements, now), ...(onCall ? { onCall } : {}) };
          const ticket = tickets.get(req.id);
          if (ticket === 'wait') continue;
          const outcome = ticket ? lifecycle.cancel(req, SYSTEM_PRINCIPAL, ticket, facts, true) : lifecycle.tick(req, facts);
          if (!outcome) continue;
          if (await commitOutcome(this.deps, tx, req, outcome, now)) run.transitions += 1;
          else run.conflicts += 1;
        }
      });
      if (due.length < BATCH || claimed === 0) break;
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
