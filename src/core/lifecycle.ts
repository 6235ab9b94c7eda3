/**
 * Request lifecycle as pure functions: each takes a request and the facts of the moment and
 * returns the next request and the audit events describing the change, or throws an HgError.
 * The caller persists both in one transaction with a compare-and-swap on `version`.
 */
import { formatDuration } from './duration.js';
import { HgError } from './errors.js';
import { subjectMatches, windowViolations } from './policy.js';
import type { AccessRequest, AuditDraft, AuditEventType, Extension, PolicyTerms, Principal, RequestApprovers } from './types.js';
import { FINAL_STATUSES } from './types.js';

export interface Outcome {
  request: AccessRequest;
  events: AuditDraft[];
}

/**
 * `inline`: every target of the request keeps its grant inside Hourglass (the built-in
 * `hourglass` target), so access exists the moment the transaction commits. Otherwise access
 * goes through `provisioning`/`removing` and a connector confirms it after commit.
 */
export interface Facts {
  now: number;
  inline: boolean;
  /** How long before a pending timeout or an expiry to remind; 0 or absent: never. */
  reminders?: { beforeExpiryMs: number; beforePendingTimeoutMs: number };
  /** The shortest provisioningTimeout of the request's targets (not inline). */
  provisioningTimeoutMs?: number;
  /** Who is on call now, by schedule name (principal ids), for the schedules this transition asks about. */
  onCall?: Readonly<Record<string, readonly string[]>>;
}

/** The reminder due for a request in its current state, if any still lies ahead. */
function reminderFor(req: AccessRequest, facts: Pick<Facts, 'now' | 'reminders'>): number | undefined {
  const r = facts.reminders;
  if (!r) return undefined;
  let at: number | undefined;
  if (req.status === 'pending' && req.pendingUntil !== undefined && r.beforePendingTimeoutMs > 0) at = req.pendingUntil - r.beforePendingTimeoutMs;
  if (req.status === 'active' && req.expiresAt !== undefined && r.beforeExpiryMs > 0) at = req.expiresAt - r.beforeExpiryMs;
  return at !== undefined && at > facts.now ? at : undefined;
}

/** Sets or clears `remindAt` to match the request's new state. */
function withReminder(req: AccessRequest, facts: Pick<Facts, 'now' | 'reminders'>): AccessRequest {
  const at = reminderFor(req, facts);
  const { remindAt: _old, ...rest } = req;
  return at === undefined ? rest : { ...rest, remindAt: at };
}

/** When the next escalation tier of any policy is due, from submission; undefined when none is left. */
function nextEscalationAt(req: AccessRequest): number | undefined {
  const times = req.terms.flatMap((t) => {
    const tier = t.approval.required > 0 ? t.approval.escalation?.[req.escalation?.tiers[t.name] ?? 0] : undefined;
    return tier ? [req.requestedAt + tier.afterMs] : [];
  });
  return times.length ? Math.min(...times) : undefined;
}

/** Sets `escalation.nextAt` for a pending request whose policies escalate. */
function withEscalation(req: AccessRequest): AccessRequest {
  const nextAt = nextEscalationAt(req);
  if (nextAt === undefined && !req.escalation) return req;
  return { ...req, escalation: { tiers: req.escalation?.tiers ?? {}, ...(nextAt !== undefined ? { nextAt } : {}) } };
}

const SYSTEM = 'system';

function next(req: AccessRequest, patch: Partial<AccessRequest>): AccessRequest {
  return { ...req, ...patch, version: req.version + 1 };
}

function event(req: AccessRequest, type: AuditEventType, actor: string, details?: Record<string, unknown>): AuditDraft {
  const e: AuditDraft = { type, actor, requestId: req.id };
  if (details) e.details = details;
  return e;
}

function illegal(req: AccessRequest, action: string): HgError {
  return new HgError('HG_INVALID_TRANSITION', `cannot ${action} a request that is ${req.status}`, {
    details: { status: req.status },
  });
}

export function isFinal(req: AccessRequest): boolean {
  return FINAL_STATUSES.includes(req.status);
}

// ---- submission and approval --------------------------------------------------------------------

/** A newly submitted request: pending if any policy needs approvals (break-glass never waits). */
export function open(req: AccessRequest, facts: Facts): Outcome {
  // The manager frozen as an approver: who it was at submission is part of the record an auditor reads.
  const manager = req.terms.map((t) => t.approval.approvers.manager ?? t.review?.approvers.manager).find((m) => m !== undefined);
  const submitted = event(req, 'request.submitted', req.requester, {
    entitlements: req.entitlements,
    durationMs: req.durationMs,
    reason: req.reason,
    ticket: req.ticket,
    startAt: req.startAt,
    policies: req.policies,
    breakGlass: req.breakGlass,
    sourceIp: req.sourceIp,
    ...(manager !== undefined ? { manager } : {}),
  });
  // On call now on a policy's schedule: that policy needs no approver (and the grant gets reviewed).
  const onCall = req.breakGlass
    ? []
    : req.terms.filter((t) => t.approval.required > 0 && t.approval.onCall && facts.onCall?.[t.approval.onCall]?.includes(req.requester));
  const auto = onCall.map((t) => ({ by: `oncall:${t.approval.onCall}`, at: facts.now, for: [t.name], auto: 'oncall' as const }));
  const withAuto = auto.length ? { ...req, approvals: [...req.approvals, ...auto] } : req;
  const autoEvents = onCall.map((t) => event(req, 'request.auto_approved', SYSTEM, { policy: t.name, onCall: t.approval.onCall }));
  if (!req.breakGlass && !quorumMet(req.terms, withAuto.approvals)) {
    return { request: withEscalation(withReminder(withAuto, facts)), events: [submitted, ...autoEvents] };
  }
  const admitted = admit(withAuto, facts, req.requester);
  return { request: withReminder(admitted.request, facts), events: [submitted, ...autoEvents, ...admitted.events] };
}

export function needsApproval(terms: readonly PolicyTerms[]): boolean {
  return terms.some((t) => t.approval.required > 0);
}

/** A policy's approvers in force for this request: those it froze, and every escalation tier reached since. */
export function approverSets(req: Pick<AccessRequest, 'escalation'>, t: PolicyTerms): RequestApprovers[] {
  const reached = req.escalation?.tiers[t.name] ?? 0;
  const tiers = (t.approval.escalation ?? []).slice(0, reached);
  // An on-call tier is whoever was on call when it was reached, frozen then.
  return [t.approval.approvers, ...tiers.map((tier, i) => tier.approvers ?? { groups: [], users: req.escalation?.onCall?.[t.name]?.[i] ?? [] })];
}

/** A grant someone must review afterwards: break-glass, or approved because the requester was on call. */
export function needsReview(req: Pick<AccessRequest, 'breakGlass' | 'approvals'>): boolean {
  return req.breakGlass || req.approvals.some((a) => a.auto === 'oncall');
}

/** May `p` approve for this policy of the request now (whoever the requester)? */
export function approvesFor(req: Pick<AccessRequest, 'escalation'>, t: PolicyTerms, p: Principal): boolean {
  return t.approval.required > 0 && approverSets(req, t).some((set) => subjectMatches(set, p));
}

/** Policies (by name) for which `approver` may approve; never the requester's own request. */
export function approverFor(req: AccessRequest, approver: Principal): string[] {
  if (approver.id === req.requester) throw new HgError('HG_SELF_APPROVAL');
  const names = req.terms.filter((t) => approvesFor(req, t, approver));
  if (names.length === 0) throw new HgError('HG_NOT_APPROVER', `${approver.id} is not an approver for this request`);
  return names.map((t) => t.name);
}

/** Every policy's quorum is met by distinct approvers who were eligible for it when they approved. */
export function quorumMet(terms: readonly PolicyTerms[], approvals: readonly { by: string; for?: string[]; auto?: 'oncall' }[]): boolean {
  return terms.every((t) => {
    if (approvals.some((a) => a.auto && a.for?.includes(t.name))) return true;
    const voters = new Set(approvals.filter((a) => a.for?.includes(t.name)).map((a) => a.by));
    return voters.size >= t.approval.required;
  });
}

export function approve(req: AccessRequest, approver: Principal, comment: string | undefined, facts: Facts): Outcome {
  if (req.status === 'active' && req.pendingExtension) return approveExtension(req, approver, comment, facts);
  assertStillPending(req, facts.now, 'approve');
  const eligibleFor = approverFor(req, approver);
  if (req.approvals.some((a) => a.by === approver.id)) throw new HgError('HG_ALREADY_APPROVED');
  const approval = { by: approver.id, at: facts.now, for: eligibleFor, ...(comment ? { comment } : {}) };
  const approvals = [...req.approvals, approval];
  const approved = next(req, { approvals });
  const events = [event(req, 'request.approved', approver.id, { comment, for: eligibleFor, count: approvals.length })];
  if (!quorumMet(req.terms, approvals)) return { request: approved, events };
  const admitted = admit({ ...approved, version: approved.version - 1 }, facts, approver.id);
  return { request: withReminder(admitted.request, facts), events: [...events, ...admitted.events] };
}

export function deny(req: AccessRequest, approver: Principal, comment: string | undefined, facts: Facts): Outcome {
  if (req.status === 'active' && req.pendingExtension) {
    approverFor(req, approver);
    const { pendingExtension: _dropped, ...rest } = req;
    return {
      request: next(rest, {}),
      events: [event(req, 'grant.extension_denied', approver.id, { comment, durationMs: _dropped.durationMs })],
    };
  }
  assertStillPending(req, facts.now, 'deny');
  approverFor(req, approver);
  return {
    request: next(req, {
      status: 'denied',
      endedAt: facts.now,
      endedBy: approver.id,
      decision: { by: approver.id, at: facts.now, ...(comment ? { comment } : {}) },
    }),
    events: [event(req, 'request.denied', approver.id, { comment })],
  };
}

/** A request past its pending timeout is dead even if the scheduler has not caught up yet. */
function assertStillPending(req: AccessRequest, now: number, action: string) {
  if (req.status !== 'pending') throw illegal(req, action);
  if (req.pendingUntil !== undefined && req.pendingUntil <= now) {
    throw new HgError('HG_INVALID_TRANSITION', `cannot ${action} a request past its pending timeout`, { details: { status: 'expired' } });
  }
}

/** Approved: wait for `startAt`, or start creating the access now. */
function admit(req: AccessRequest, facts: Facts, actor: string): Outcome {
  if (req.startAt !== undefined && req.startAt > facts.now) {
    return {
      request: next(req, { status: 'scheduled', access: 'none' }),
      events: [event(req, 'request.scheduled', actor, { startAt: req.startAt })],
    };
  }
  return activate(req, facts, actor);
}

/** Time windows are checked again at activation; a window closing later never shortens a grant. */
export function activate(req: AccessRequest, facts: Facts, actor: string = SYSTEM): Outcome {
  const outside = req.terms.flatMap((t) => (t.when ? windowViolations(t.when, facts.now) : []));
  if (outside.length > 0) {
    const error = `outside the policy time window at activation: ${outside.join('; ')}`;
    return {
      request: next(req, { status: 'failed', access: 'none', endedAt: facts.now, endedBy: SYSTEM, error }),
      events: [event(req, 'request.failed', SYSTEM, { error })],
    };
  }
  const expiresAt = facts.now + req.durationMs;
  const patch: Partial<AccessRequest> = { expiresAt };
  const events: AuditDraft[] = [];
  if (facts.inline) {
    Object.assign(patch, { status: 'active', access: 'present', activatedAt: facts.now });
    events.push(event(req, 'grant.activated', actor, { expiresAt, entitlements: req.entitlements }));
  } else {
    Object.assign(patch, {
      status: 'scheduled',
      access: 'provisioning',
      accessNextAt: facts.now,
      accessAttempts: 0,
      provisioningDeadline: facts.now + (facts.provisioningTimeoutMs ?? 120_000),
    });
    events.push(event(req, 'grant.provisioning', actor, { expiresAt, entitlements: req.entitlements }));
  }
  if (needsReview(req) && !req.breakGlass) {
    const withins = req.terms.flatMap((t) => (t.review ? [t.review.within] : []));
    if (withins.length) patch.reviewDueAt = facts.now + Math.min(...withins);
  }
  if (req.breakGlass) {
    // Several break-glass policies: the strictest review deadline applies.
    const withins = req.terms.flatMap((t) => (t.review ? [t.review.within] : []));
    if (withins.length) patch.reviewDueAt = facts.now + Math.min(...withins);
    events.push(
      event(req, 'alert.break_glass_used', req.requester, {
        entitlements: req.entitlements,
        reason: req.reason,
        reviewDueAt: patch.reviewDueAt,
      }),
    );
  }
  return { request: next(req, patch), events };
}

/** The handles connectors returned (target -> handle) merged over those kept: the latest per target wins. */
function withHandles(req: AccessRequest, handles: Record<string, string> | undefined): AccessRequest {
  if (!handles || !Object.keys(handles).length) return req;
  return { ...req, handles: { ...req.handles, ...handles } };
}

/** A connector confirmed that the access exists on every target; `handles` are what their grants returned. */
export function provisioned(req: AccessRequest, facts: Pick<Facts, 'now' | 'reminders'>, handles?: Record<string, string>): Outcome {
  if (req.status !== 'scheduled' || req.access !== 'provisioning') throw illegal(req, 'confirm access for');
  return {
    request: withReminder(
      next(clearAccessWork(withHandles(req, handles)), {
        status: 'active',
        access: 'present',
        activatedAt: facts.now,
        ...(req.expiresAt !== undefined ? { targetExpiresAt: req.expiresAt } : {}),
      }),
      facts,
    ),
    events: [event(req, 'grant.activated', SYSTEM, { expiresAt: req.expiresAt, entitlements: req.entitlements })],
  };
}

/**
 * The access worker's claim: server `owner` owns the request's target work until `now + leaseMs`.
 * `accessNextAt` moves past the lease too, so other servers' passes skip the request meanwhile.
 * Not a decision, so no audit event; a lease that runs out makes the work due again, and one
 * whose owner stopped saying it is alive is taken over before that (access-work.ts).
 */
export function lease(req: AccessRequest, now: number, leaseMs: number, owner: string): AccessRequest {
  return next(req, { accessNextAt: now + leaseMs, leaseUntil: now + leaseMs, leaseOwner: owner });
}

/** True when an active grant's targets still hold an older end than expiresAt. */
export function needsTargetExtension(req: AccessRequest): boolean {
  return req.status === 'active' && req.targetExpiresAt !== undefined && req.targetExpiresAt !== req.expiresAt;
}

/** The targets were told the grant's new end. */
export function extendedOnTarget(req: AccessRequest): Outcome {
  if (!needsTargetExtension(req)) throw illegal(req, 'confirm an extension on the target for');
  const { accessNextAt: _n, accessAttempts: _a, accessError: _e, leaseUntil: _l, leaseOwner: _o, ...rest } = req;
  return { request: next(rest, { targetExpiresAt: req.expiresAt! }), events: [event(req, 'grant.extended_on_target', SYSTEM, { expiresAt: req.expiresAt })] };
}

/** A connector confirmed that the access is gone from every target. */
export function removed(req: AccessRequest): Outcome {
  if (req.access !== 'removing') throw illegal(req, 'confirm removal for');
  return { request: next(clearAccessWork(req), { access: 'removed' }), events: [event(req, 'grant.access_removed', SYSTEM)] };
}

export function fail(req: AccessRequest, error: string, facts: Facts): Outcome {
  if (req.status !== 'scheduled') throw illegal(req, 'fail');
  const access = req.access === 'none' ? 'none' : facts.inline ? 'removed' : 'removing';
  const removal = access === 'removing' ? startRemoving(req, facts.now) : {};
  return {
    request: next(req, { status: 'failed', access, endedAt: facts.now, endedBy: SYSTEM, error, ...removal }),
    events: [event(req, 'request.failed', SYSTEM, { error })],
  };
}

/**
 * Removal starts now, unless a server holds the provisioning lease: its grant may still commit
 * on the target after a removal that ran now found nothing. Removal then waits for the lease
 * (the provisioning server takes it over as soon as its commit loses, see access-work.ts).
 */
function startRemoving(req: AccessRequest, now: number): Partial<AccessRequest> {
  const at = req.access === 'provisioning' ? Math.max(now, req.leaseUntil ?? now) : now;
  return { accessNextAt: at, accessAttempts: 0, removingSince: now, removalAlerted: false };
}

function clearAccessWork(req: AccessRequest): AccessRequest {
  const { accessNextAt: _n, accessAttempts: _a, accessError: _e, provisioningDeadline: _d, leaseUntil: _l, leaseOwner: _o, ...rest } = req;
  return rest;
}

/** Backoff before attempt `n` (1-based) on a target: doubling from 1 s, capped, with jitter supplied by the caller. */
export function accessBackoffMs(attempt: number, removing: boolean, jitter: number): number {
  const cap = removing ? 30_000 : 60_000;
  const base = Math.min(cap, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.5 + jitter / 2));
}

/**
 * A connector call failed. Provisioning retries until its deadline, then the request fails (and
 * anything half-created is removed). Removal retries for ever; past `alertAfterMs` it raises one
 * overdue-revocation alert. `/v1/check` denies from expiresAt regardless.
 *
 * The lease ends with the attempt, unless `keepLease`: a grant call that timed out may still
 * commit on the target, so neither a retry nor a removal may start before the lease runs out.
 */
export function accessAttemptFailed(
  current: AccessRequest,
  error: string,
  facts: Facts & { jitter: number; alertAfterMs: number; keepLease?: boolean; handles?: Record<string, string> },
): Outcome {
  if (current.access !== 'provisioning' && current.access !== 'removing' && !needsTargetExtension(current)) throw illegal(current, 'retry access work for');
  // Handles of the targets whose grant succeeded this attempt: a removal after it gets them.
  const req = current.access === 'provisioning' ? withHandles(current, facts.handles) : current;
  const attempts = (req.accessAttempts ?? 0) + 1;
  const removing = req.access === 'removing';
  const keep = facts.keepLease === true && req.access === 'provisioning' && (req.leaseUntil ?? 0) > facts.now;
  const { leaseUntil: _lease, leaseOwner: _owner, ...unleased } = req;
  if (!removing && req.status === 'scheduled' && req.provisioningDeadline !== undefined && facts.now >= req.provisioningDeadline) {
    const failed = fail(keep ? req : unleased, `provisioning failed: ${error}`, facts);
    return { request: { ...failed.request, accessAttempts: 0 }, events: failed.events };
  }
  const retryAt = facts.now + accessBackoffMs(attempts, removing, facts.jitter);
  const patch: Partial<AccessRequest> = {
    accessAttempts: attempts,
    accessError: error,
    accessNextAt: keep ? Math.max(retryAt, req.leaseUntil!) : retryAt,
  };
  const events: AuditDraft[] = [];
  if (removing && !req.removalAlerted && facts.now - (req.removingSince ?? facts.now) >= facts.alertAfterMs) {
    patch.removalAlerted = true;
    events.push(event(req, 'alert.revocation_overdue', SYSTEM, { since: req.removingSince, attempts, error }));
  }
  return { request: next(keep ? req : unleased, patch), events };
}

// ---- ending ---------------------------------------------------------------------------------------

type Ending = { status: 'expired' | 'revoked' | 'cancelled'; by: string; type: AuditEventType; reason?: string };

/** Status turns final at once; `access` follows when the target confirms (or at once if inline). */
function end(req: AccessRequest, ending: Ending, facts: Facts): Outcome {
  const hadAccess = req.access === 'present' || req.access === 'provisioning';
  const access = hadAccess ? (facts.inline ? 'removed' : 'removing') : req.access;
  const { pendingExtension: _drop, remindAt: _reminder, ...rest } = req;
  const patch: Partial<AccessRequest> = { status: ending.status, access, endedAt: facts.now, endedBy: ending.by };
  if (ending.reason) patch.endReason = ending.reason;
  if (access === 'removing') Object.assign(patch, startRemoving(req, facts.now));
  return {
    request: next(rest, patch),
    events: [event(req, ending.type, ending.by, ending.reason ? { reason: ending.reason } : undefined)],
  };
}

export function cancel(req: AccessRequest, actor: Principal, reason: string | undefined, facts: Facts, onBehalf = false): Outcome {
  if (!onBehalf && actor.id !== req.requester) {
    throw new HgError('HG_FORBIDDEN', 'only the requester can cancel a request; approvers deny, admins revoke');
  }
  if (req.status !== 'pending' && req.status !== 'scheduled') throw illegal(req, 'cancel');
  return end(req, { status: 'cancelled', by: actor.id, type: 'request.cancelled', ...(reason ? { reason } : {}) }, facts);
}

/** Is `actor` among the approvers or reviewers the request froze at submission (whoever the requester)? */
export function approvesOrReviews(req: Pick<AccessRequest, 'terms' | 'escalation'>, actor: Principal): boolean {
  return req.terms.some(
    (t) => approverSets(req, t).some((set) => subjectMatches(set, actor)) || (t.review ? subjectMatches(t.review.approvers, actor) : false),
  );
}

/** May `actor` end this grant for someone else? Admins, and anyone who may approve it. */
export function mayRevoke(req: AccessRequest, actor: Principal): boolean {
  if (actor.roles.includes('admin')) return true;
  if (actor.id === req.requester) return false;
  return approvesOrReviews(req, actor);
}

/** `onBehalf`: the caller has judged the actor's authority (an admin's lock, an identity source's deactivation). */
export function revoke(req: AccessRequest, actor: Principal, reason: string | undefined, facts: Facts, onBehalf = false): Outcome {
  if (!onBehalf && !mayRevoke(req, actor)) throw new HgError('HG_FORBIDDEN', 'only an admin or an approver of this request can revoke it');
  if (req.status !== 'active' && req.status !== 'scheduled') throw illegal(req, 'revoke');
  return end(req, { status: 'revoked', by: actor.id, type: 'grant.revoked', ...(reason ? { reason } : {}) }, facts);
}

/** The requester ends their own grant early (task done). */
export function release(req: AccessRequest, actor: Principal, reason: string | undefined, facts: Facts): Outcome {
  if (actor.id !== req.requester) throw new HgError('HG_FORBIDDEN', 'only the requester can release a grant');
  if (req.status !== 'active') throw illegal(req, 'release');
  const why = reason?.trim() ? `released by requester: ${reason.trim()}` : 'released by requester';
  return end(req, { status: 'revoked', by: actor.id, type: 'grant.released', reason: why }, facts);
}

// ---- extension and review ---------------------------------------------------------------------------

export function extend(req: AccessRequest, actor: Principal, durationMs: number, reason: string | undefined, facts: Facts): Outcome {
  if (actor.id !== req.requester) throw new HgError('HG_FORBIDDEN', 'only the requester can extend a grant');
  if (req.status !== 'active' || (req.expiresAt ?? 0) <= facts.now) throw illegal(req, 'extend');
  if (req.pendingExtension) throw new HgError('HG_INVALID_TRANSITION', 'an extension is already awaiting approval');
  const refusals = req.terms.filter((t) => !t.extension.allowed).map((t) => `policy ${t.name} does not allow extensions`);
  const total = req.durationMs + req.extensions.reduce((s, e) => s + e.durationMs, 0) + durationMs;
  const maxTotal = Math.min(...req.terms.map((t) => t.extension.maxTotal));
  if (refusals.length === 0 && total > maxTotal) {
    refusals.push(`total duration would be ${formatDuration(total)}, above the maximum ${formatDuration(maxTotal)} (extension.maxTotal)`);
  }
  if (refusals.length > 0) throw new HgError('HG_TERMS_NOT_MET', refusals.join('; '), { details: { reasons: refusals } });
  const extension: Extension = { by: actor.id, at: facts.now, durationMs, approvals: [], ...(reason ? { reason } : {}) };
  if (req.terms.some((t) => t.extension.requiresApproval && t.approval.required > 0)) {
    return {
      request: next(req, { pendingExtension: extension }),
      events: [event(req, 'grant.extension_requested', actor.id, { durationMs, reason })],
    };
  }
  return applyExtension(req, extension, actor.id, facts);
}

function applyExtension(req: AccessRequest, extension: Extension, actor: string, facts: Facts): Outcome {
  const expiresAt = (req.expiresAt ?? 0) + extension.durationMs;
  const { pendingExtension: _drop, ...rest } = req;
  // Targets that enforce expiry themselves are told the new end after commit (see extendedOnTarget).
  const tell = req.targetExpiresAt !== undefined ? { accessNextAt: facts.now } : {};
  return {
    request: withReminder(next(rest, { expiresAt, extensions: [...req.extensions, extension], ...tell }), facts),
    events: [event(req, 'grant.extended', actor, { durationMs: extension.durationMs, expiresAt, reason: extension.reason })],
  };
}

function approveExtension(req: AccessRequest, approver: Principal, comment: string | undefined, facts: Facts): Outcome {
  const pending = req.pendingExtension!;
  if ((req.expiresAt ?? 0) <= facts.now) throw new HgError('HG_INVALID_TRANSITION', 'the grant has run out; request access anew');
  const eligibleFor = approverFor(req, approver);
  if (pending.approvals.some((a) => a.by === approver.id)) throw new HgError('HG_ALREADY_APPROVED');
  const approvals = [...pending.approvals, { by: approver.id, at: facts.now, for: eligibleFor, ...(comment ? { comment } : {}) }];
  const ext = { ...pending, approvals };
  const events = [event(req, 'grant.extension_approved', approver.id, { comment, count: approvals.length })];
  const needing = req.terms.filter((t) => t.extension.requiresApproval);
  if (!quorumMet(needing, approvals)) return { request: next(req, { pendingExtension: ext }), events };
  const applied = applyExtension(req, ext, approver.id, facts);
  return { request: applied.request, events: [...events, ...applied.events] };
}

export function review(req: AccessRequest, reviewer: Principal, comment: string, facts: Pick<Facts, 'now'>): Outcome {
  if (!needsReview(req) || req.activatedAt === undefined) throw illegal(req, 'review');
  if (req.review) throw new HgError('HG_INVALID_TRANSITION', 'this grant was already reviewed');
  if (reviewer.id === req.requester) throw new HgError('HG_SELF_APPROVAL');
  if (!req.terms.some((t) => t.review && subjectMatches(t.review.approvers, reviewer))) {
    throw new HgError('HG_NOT_APPROVER', `${reviewer.id} is not a reviewer for this break-glass grant`);
  }
  return {
    request: next(req, { review: { by: reviewer.id, at: facts.now, comment } }),
    events: [event(req, 'breakglass.reviewed', reviewer.id, { comment })],
  };
}

// ---- due work -----------------------------------------------------------------------------------------

/** The next instant at which `tick` has something to do for this request, if any. */
export function dueAt(req: AccessRequest): number | undefined {
  const times: number[] = [];
  if (req.status === 'pending' && req.pendingUntil !== undefined) times.push(req.pendingUntil);
  if (req.status === 'scheduled' && req.access === 'none' && req.startAt !== undefined) times.push(req.startAt);
  if ((req.status === 'active' || req.access === 'provisioning') && !isFinal(req) && req.expiresAt !== undefined) {
    times.push(req.expiresAt);
  }
  if (req.status === 'pending' && req.escalation?.nextAt !== undefined) times.push(req.escalation.nextAt);
  if (needsReview(req) && req.reviewDueAt !== undefined && !req.review && !req.reviewAlerted) times.push(req.reviewDueAt);
  if (req.remindAt !== undefined && !isFinal(req)) times.push(req.remindAt);
  return times.length ? Math.min(...times) : undefined;
}

/** Performs whatever is due at `now`: pending timeout, scheduled start, expiry, overdue review. */
export function tick(req: AccessRequest, facts: Facts): Outcome | undefined {
  const now = facts.now;
  if (req.status === 'pending' && req.pendingUntil !== undefined && req.pendingUntil <= now) {
    return end(req, { status: 'expired', by: SYSTEM, type: 'request.expired', reason: 'pending timeout' }, facts);
  }
  if (req.status === 'pending' && req.escalation?.nextAt !== undefined && req.escalation.nextAt <= now) return escalate(req, facts);
  if (req.status === 'scheduled' && req.access === 'none' && req.startAt !== undefined && req.startAt <= now) {
    const started = activate(req, facts);
    return { request: withReminder(started.request, facts), events: started.events };
  }
  if (!isFinal(req) && req.status !== 'pending' && req.expiresAt !== undefined && req.expiresAt <= now) {
    return end(req, { status: 'expired', by: SYSTEM, type: 'grant.expired' }, facts);
  }
  if (needsReview(req) && req.reviewDueAt !== undefined && req.reviewDueAt <= now && !req.review && !req.reviewAlerted) {
    return {
      request: next(req, { reviewAlerted: true }),
      events: [event(req, 'alert.review_overdue', SYSTEM, { reviewDueAt: req.reviewDueAt })],
    };
  }
  if (req.remindAt !== undefined && req.remindAt <= now && !isFinal(req)) {
    const { remindAt: _sent, ...rest } = req;
    const type = req.status === 'pending' ? 'reminder.pending_timeout' : 'reminder.grant_expiring';
    const until = req.status === 'pending' ? req.pendingUntil : req.expiresAt;
    return {
      request: next(rest, {}),
      events: [event(req, type, SYSTEM, { at: until, requester: req.requester, entitlements: req.entitlements })],
    };
  }
  return undefined;
}

/** Every policy whose next tier is due moves up one tier: its approvers join, and are told (`request.escalated`). */
function escalate(req: AccessRequest, facts: Facts): Outcome {
  const now = facts.now;
  const tiers = { ...(req.escalation?.tiers ?? {}) };
  const reached: Record<string, number> = {};
  const approvers: Record<string, RequestApprovers> = {};
  const onCall: Record<string, Record<number, string[]>> = structuredClone(req.escalation?.onCall ?? {});
  for (const t of req.terms) {
    const at = tiers[t.name] ?? 0;
    const tier = t.approval.required > 0 ? t.approval.escalation?.[at] : undefined;
    if (!tier || req.requestedAt + tier.afterMs > now) continue;
    tiers[t.name] = at + 1;
    reached[t.name] = at + 1;
    if (tier.onCall) {
      // Whoever is on call now, never the requester; nobody when the schedule could not be read.
      const users = (facts.onCall?.[tier.onCall] ?? []).filter((id) => id !== req.requester);
      (onCall[t.name] ??= {})[at] = [...users];
      approvers[t.name] = { groups: [], users: [...users] };
    } else approvers[t.name] = tier.approvers!;
  }
  const hasOnCall = Object.keys(onCall).length > 0;
  const moved: AccessRequest = { ...req, escalation: { tiers, ...(hasOnCall ? { onCall } : {}) } };
  const nextAt = nextEscalationAt(moved);
  return {
    request: next(moved, { escalation: { tiers, ...(nextAt !== undefined ? { nextAt } : {}), ...(hasOnCall ? { onCall } : {}) } }),
    events: [event(req, 'request.escalated', SYSTEM, { tiers: reached, approvers, approvals: req.approvals.length })],
  };
}
