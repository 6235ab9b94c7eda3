/** Use cases on requests: submit, decide, end, extend, review, and the queries callers may make. */
import { canonicalJson, sha256Hex } from '../core/audit-chain.js';
import { parseDuration } from '../core/duration.js';
import { HgError, isHgError } from '../core/errors.js';
import * as lifecycle from '../core/lifecycle.js';
import { evaluateRequest, managerOf, namesManager, startAtProblem, subjectMatches, termsOf, type Evaluation } from '../core/policy.js';
import type { AccessRequest, Policy, Principal, RequestStatus } from '../core/types.js';
import { commitOutcome, concurrentUpdate, factsFor, stamp, targetOf, type AppDeps } from './context.js';
import { directoryOf, hasRole } from './directory.js';
import type { StepUpProof } from './identity/step-up.js';
import { TicketChecks } from './tickets/checks.js';
import { mfaFor, requestDigest, requireStepUp, submissionDigest } from './step-up-gate.js';

/** The events a decision writes; `via` is added to these. */
const DECISIONS = new Set<string>(['request.approved', 'request.denied', 'grant.extension_approved', 'grant.extension_denied']);
export interface SubmitInput {
  entitlements: string[];
  duration?: string;
  reason?: string;
  ticket?: string;
  startAt?: number;
  breakGlass?: boolean;
  policy?: string;
}

export interface SubmitContext {
  sourceIp?: string;
  idempotencyKey?: string;
  /** A step-up proof, for policies that require MFA to request (src/app/step-up-gate.ts). */
  mfa?: StepUpProof;
}

type Action = (req: AccessRequest, facts: lifecycle.Facts) => lifecycle.Outcome;

/**
 * A submitted request before `lifecycle.open` decides what happens to it: pending, under the
 * terms of the policies the verdict chose. Pure; also used by the benchmark seeder.
 */
export function newRequest(a: {
  id: string;
  requester: string;
  entitlements: string[];
  verdict: Extract<Evaluation, { ok: true }>;
  policyHash: string;
  now: number;
  reason?: string;
  ticket?: string;
  startAt?: number;
  sourceIp?: string;
  /** The requester's manager as the verdict was asked with (`RequestAsk.manager`): frozen into the terms. */
  manager?: string;
}): AccessRequest {
  const chosen = Object.values(a.verdict.chosen);
  const terms = [...new Map(chosen.map((p) => [p.name, termsOf(p, a.manager)])).values()];
  return {
    id: a.id,
    status: 'pending',
    access: 'none',
    requester: a.requester,
    entitlements: a.entitlements,
    durationMs: a.verdict.durationMs,
    requestedAt: a.now,
    pendingUntil: a.now + Math.min(...chosen.map((p) => p.pendingTimeout)),
    approvals: [],
    policies: Object.fromEntries(Object.entries(a.verdict.chosen).map(([e, p]) => [e, p.name])),
    terms,
    policyHash: a.policyHash,
    breakGlass: terms.some((t) => t.breakGlass),
    reviewAlerted: false,
    extensions: [],
    version: 1,
    ...(a.reason?.trim() ? { reason: a.reason.trim() } : {}),
    ...(a.ticket?.trim() ? { ticket: a.ticket.trim() } : {}),
    ...(a.startAt !== undefined ? { startAt: a.startAt } : {}),
    ...(a.sourceIp ? { sourceIp: a.sourceIp } : {}),
  };
}

export class RequestService {
  private readonly tickets: TicketChecks;

  constructor(private readonly deps: AppDeps) {
    this.tickets = new TicketChecks(deps, deps.ticketSystems ?? []);
  }

  async submit(actor: Principal, input: SubmitInput, ctx: SubmitContext = {}): Promise<{ request: AccessRequest; replayed: boolean }> {
    const { store, clock, config: source } = this.deps;
    const config = source.current();
    const now = clock.now();
    const fingerprint = sha256Hex(canonicalJson(input));
    if (ctx.idempotencyKey) {
      const replay = await this.replay(actor, ctx.idempotencyKey, fingerprint);
      if (replay) return { request: replay, replayed: true };
    }

    const entitlements = [...new Set(input.entitlements)];
    const unknown = entitlements.filter((e) => {
      const [target, name] = e.split('/');
      return !target || !name || !config.targets[target]?.entitlements[name];
    });
    if (unknown.length) throw new HgError('HG_INVALID_INPUT', `unknown entitlement ${unknown.join(', ')} (form: target/role)`);
    const durationMs = input.duration !== undefined ? parseDuration(input.duration) : undefined;
    const startProblem = input.startAt !== undefined ? startAtProblem(input.startAt, now) : undefined;
    if (startProblem) throw new HgError('HG_INVALID_INPUT', startProblem);
    const startAt = input.startAt !== undefined && input.startAt > now ? input.startAt : undefined;
    const manager = await this.managerOf(actor, config.policies);

    const verdict = evaluateRequest(config.policies, {
      requester: actor,
      entitlements,
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      ...(input.ticket !== undefined ? { ticket: input.ticket } : {}),
      ...(startAt !== undefined ? { startAt } : {}),
      ...(ctx.sourceIp !== undefined ? { sourceIp: ctx.sourceIp } : {}),
      ...(input.policy !== undefined ? { policyName: input.policy } : {}),
      ...(manager !== undefined ? { manager } : {}),
      breakGlass: input.breakGlass === true,
      now,
    });
    if (!verdict.ok) {
      await store.transaction((tx) =>
        tx.appendAudit(
          stamp(
            this.deps,
            [{ type: 'request.refused', actor: actor.id, details: { entitlements, code: verdict.code, candidates: verdict.candidates } }],
            now,
            config.policyHash,
          ),
        ),
      );
      throw new HgError(verdict.code, verdict.message, { details: { candidates: verdict.candidates } });
    }
    // The proof binds this very submission: another body (other entitlements, a longer duration) needs its own.
    await requireStepUp(
      this.deps,
      actor,
      { action: 'request', digest: submissionDigest(actor.id, input) },
      mfaFor(Object.values(verdict.chosen), 'request'),
      ctx.mfa,
    );

    // The ticket is asked of its system outside any transaction; an unreachable system refuses (fail closed).
    const ticketInfo = await this.tickets.check(
      Object.values(verdict.chosen).map((p) => termsOf(p)),
      input.ticket?.trim() || undefined,
    );
    const drafted = newRequest({
      id: this.deps.ids.requestId(),
      requester: actor.id,
      entitlements,
      verdict,
      policyHash: config.policyHash,
      now,
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      ...(input.ticket !== undefined ? { ticket: input.ticket } : {}),
      ...(startAt !== undefined ? { startAt } : {}),
      ...(ctx.sourceIp !== undefined ? { sourceIp: ctx.sourceIp } : {}),
      ...(manager !== undefined ? { manager } : {}),
    });
    const request = ticketInfo ? { ...drafted, ticketInfo } : drafted;
    const schedules = [...new Set(Object.values(verdict.chosen).flatMap((p) => (p.approval.onCall ? [p.approval.onCall] : [])))];
    const onCall = schedules.length && this.deps.onCall ? await this.deps.onCall(schedules, now) : undefined;
    const outcome = lifecycle.open(request, { ...factsFor(config, entitlements, now), ...(onCall ? { onCall } : {}) });

    try {
      await store.transaction(async (tx) => {
        await this.assertUnlocked(tx, actor.id, entitlements);
        if (ctx.idempotencyKey) {
          const seen = await tx.getIdempotency(actor.id, ctx.idempotencyKey);
          if (seen) throw new ReplayFound(seen.requestId, seen.fingerprint);
          await tx.putIdempotency(actor.id, ctx.idempotencyKey, { fingerprint, requestId: request.id }, now);
        }
        await tx.insertRequest(outcome.request);
        await tx.appendAudit(stamp(this.deps, outcome.events, now, config.policyHash));
      });
    } catch (err) {
      // Two retries of one POST can race; the loser returns the winner's result.
      if (ctx.idempotencyKey && (err instanceof ReplayFound || !isHgError(err))) {
        const replay = await this.replay(actor, ctx.idempotencyKey, fingerprint);
        if (replay) return { request: replay, replayed: true };
      }
      throw err;
    }
    return { request: outcome.request, replayed: false };
  }

  /**
   * The requester's manager as an approver: only one the directory knows (a manager who left, or
   * was never provisioned, could never approve). Read before the transaction: a store-backed
   * directory cannot be asked inside one.
   */
  private async managerOf(actor: Principal, policies: readonly Policy[]): Promise<string | undefined> {
    const manager = managerOf(actor);
    if (manager === undefined || !policies.some(namesManager)) return undefined;
    return (await directoryOf(this.deps).find(manager)) ? manager : undefined;
  }

  private async replay(actor: Principal, key: string, fingerprint: string): Promise<AccessRequest | undefined> {
    const seen = await this.deps.store.transaction((tx) => tx.getIdempotency(actor.id, key));
    if (!seen) return undefined;
    if (seen.fingerprint !== fingerprint) throw new HgError('HG_IDEMPOTENCY_MISMATCH');
    return this.deps.store.getRequest(seen.requestId);
  }

  private async assertUnlocked(tx: import('./ports.js').StoreTx, principal: string, entitlements: readonly string[]) {
    if (await tx.getLock('principal', principal)) throw new HgError('HG_PRINCIPAL_LOCKED');
    for (const target of new Set(entitlements.map(targetOf))) {
      if (await tx.getLock('target', target)) throw new HgError('HG_TARGET_FROZEN', `target ${target} is frozen`);
    }
  }

  /**
   * Runs one transition under compare-and-swap. `guard` adds lock/freeze checks for actions
   * that give access; actions that take it away always run.
   */
  /** `via`: where the decision was made when not here (`slack`), recorded on its audit events. */
  private async act(id: string, actor: Principal, action: Action, guard: boolean, via?: string): Promise<AccessRequest> {
    const now = this.deps.clock.now();
    const config = this.deps.config.current();
    try {
      return await this.deps.store.transaction(async (tx) => {
        const req = await tx.getRequest(id);
        if (!req || !this.canSee(actor, req)) throw new HgError('HG_NOT_FOUND', `no request ${id}`);
        if (guard) await this.assertUnlocked(tx, actor.id, req.entitlements);
        const decided = action(req, factsFor(config, req.entitlements, now));
        const outcome = via
          ? { ...decided, events: decided.events.map((e) => (DECISIONS.has(e.type) ? { ...e, details: { ...e.details, via } } : e)) }
          : decided;
        if (!(await commitOutcome(this.deps, tx, req, outcome, now))) throw concurrentUpdate();
        return outcome.request;
      });
    } catch (err) {
      if (isHgError(err) && ['HG_SELF_APPROVAL', 'HG_NOT_APPROVER', 'HG_FORBIDDEN'].includes(err.code)) {
        await this.deps.store.transaction((tx) =>
          tx.appendAudit(
            stamp(
              this.deps,
              [{ type: 'decision.refused', actor: actor.id, requestId: id, details: { code: err.code, message: err.message, ...(via ? { via } : {}) } }],
              now,
              config.policyHash,
            ),
          ),
        );
      }
      throw err;
    }
  }

  async approve(id: string, actor: Principal, comment?: string, mfa?: StepUpProof, via?: string) {
    const req = await this.deps.store.getRequest(id);
    // Only someone who may approve is asked for a proof; anyone else gets the refusal they would without MFA.
    if (req && this.isApprovable(actor, req)) {
      await requireStepUp(this.deps, actor, { action: 'approve', requestId: id, digest: requestDigest(req) }, mfaFor(req.terms, 'approve'), mfa);
      // Checked again at each approval: a ticket closed meanwhile backs no access.
      if (req.status === 'pending' && req.ticket) await this.tickets.check(req.terms, req.ticket);
    }
    return this.act(id, actor, (r, f) => lifecycle.approve(r, actor, comment, f), true, via);
  }
  deny(id: string, actor: Principal, comment?: string, via?: string) {
    return this.act(id, actor, (r, f) => lifecycle.deny(r, actor, comment, f), false, via);
  }
  cancel(id: string, actor: Principal, reason?: string) {
    return this.act(id, actor, (r, f) => lifecycle.cancel(r, actor, reason, f), false);
  }
  revoke(id: string, actor: Principal, reason?: string) {
    return this.act(id, actor, (r, f) => lifecycle.revoke(r, actor, reason, f), false);
  }
  release(id: string, actor: Principal, reason?: string) {
    return this.act(id, actor, (r, f) => lifecycle.release(r, actor, reason, f), false);
  }
  extend(id: string, actor: Principal, duration: string, reason?: string) {
    const ms = parseDuration(duration);
    return this.act(id, actor, (r, f) => lifecycle.extend(r, actor, ms, reason, f), true);
  }
  review(id: string, actor: Principal, comment: string) {
    if (!comment.trim()) throw new HgError('HG_INVALID_INPUT', 'a review needs a comment');
    return this.act(id, actor, (r, f) => lifecycle.review(r, actor, comment.trim(), f), false);
  }

  // ---- queries ------------------------------------------------------------------------------------

  /** Requesters see their own; approvers and reviewers what they may act on; admins and auditors all. */
  canSee(actor: Principal, req: AccessRequest): boolean {
    return req.requester === actor.id || hasRole(actor, 'admin', 'auditor') || lifecycle.approvesOrReviews(req, actor);
  }

  /** Waiting for this actor's approval (of the request, or of an extension). */
  isApprovable(actor: Principal, req: AccessRequest): boolean {
    const waiting = req.status === 'pending' ? req.approvals : req.status === 'active' ? req.pendingExtension?.approvals : undefined;
    if (!waiting || req.requester === actor.id || waiting.some((a) => a.by === actor.id)) return false;
    return req.terms.some((t) => lifecycle.approvesFor(req, t, actor));
  }

  /** A break-glass grant that took effect and waits for this actor's review. */
  isReviewable(actor: Principal, req: AccessRequest): boolean {
    if (!lifecycle.needsReview(req) || req.activatedAt === undefined || req.review || req.requester === actor.id) return false;
    return req.terms.some((t) => (t.review ? subjectMatches(t.review.approvers, actor) : false));
  }

  async get(actor: Principal, id: string): Promise<AccessRequest> {
    const req = await this.deps.store.getRequest(id);
    if (!req || !this.canSee(actor, req)) throw new HgError('HG_NOT_FOUND', `no request ${id}`);
    return req;
  }

  async list(
    actor: Principal,
    q: { status?: RequestStatus[]; requester?: string; mine?: boolean; approvable?: boolean; reviewable?: boolean; limit: number; cursor?: string },
  ): Promise<{ requests: AccessRequest[]; nextCursor?: string }> {
    const requester = q.mine ? actor.id : q.requester;
    const status = q.approvable ? (q.status ?? ['pending', 'active']) : q.status;
    const out: AccessRequest[] = [];
    let before = q.cursor;
    // Visibility is decided per request, so scan pages until the caller's page is full.
    for (let round = 0; round < 20 && out.length < q.limit; round++) {
      const page = await this.deps.store.listRequests({
        limit: q.limit,
        ...(status ? { status } : {}),
        ...(requester ? { requester } : {}),
        ...(before ? { before } : {}),
      });
      for (const req of page) {
        if (out.length >= q.limit) break;
        before = req.id;
        if (!this.canSee(actor, req)) continue;
        if (q.approvable && !this.isApprovable(actor, req)) continue;
        if (q.reviewable && !this.isReviewable(actor, req)) continue;
        out.push(req);
      }
      if (page.length < q.limit) return { requests: out };
    }
    return before ? { requests: out, nextCursor: before } : { requests: out };
  }
}

class ReplayFound extends Error {
  constructor(
    readonly requestId: string,
    readonly fingerprint: string,
  ) {
    super('idempotent replay');
  }
}
