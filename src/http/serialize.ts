/** The public JSON shapes of API v1. Fields may be added, never removed. Times are ISO-8601 UTC. */
import { approverSets } from '../core/lifecycle.js';
import type { AccessRequest, Approval, RequestApprovers } from '../core/types.js';
import type { AuditEvent, GrantRow } from '../app/ports.js';
import type { CheckResult } from '../app/check-access.js';

export const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

const approvalJson = (a: Approval) => ({ by: a.by, at: iso(a.at), comment: a.comment ?? null, for: a.for ?? [] });

export function requestJson(r: AccessRequest) {
  const policyNames = [...new Set(Object.values(r.policies))];
  return {
    id: r.id,
    status: r.status,
    access: r.access,
    requester: r.requester,
    entitlements: r.entitlements,
    reason: r.reason ?? null,
    ticket: r.ticket ?? null,
    ticketInfo: r.ticketInfo
      ? {
          system: r.ticketInfo.system,
          summary: r.ticketInfo.summary,
          state: r.ticketInfo.state,
          url: r.ticketInfo.url ?? null,
          checkedAt: iso(r.ticketInfo.checkedAt),
        }
      : null,
    durationSeconds: Math.round(r.durationMs / 1000),
    requestedAt: iso(r.requestedAt),
    startAt: iso(r.startAt),
    activatedAt: iso(r.activatedAt),
    expiresAt: iso(r.expiresAt),
    endedAt: iso(r.endedAt),
    pendingUntil: r.status === 'pending' ? iso(r.pendingUntil) : null,
    approvals: r.approvals.map(approvalJson),
    approvalsRequired: Object.fromEntries(r.terms.map((t) => [t.name, t.approval.required])),
    awaiting: awaiting(r),
    decision: r.decision ? { by: r.decision.by, at: iso(r.decision.at), comment: r.decision.comment ?? null } : null,
    policy: policyNames.length === 1 ? policyNames[0] : policyNames.join(','),
    policies: r.policies,
    policyHash: r.policyHash,
    breakGlass: r.breakGlass,
    review: r.review ? { by: r.review.by, at: iso(r.review.at), comment: r.review.comment } : null,
    reviewDueAt: iso(r.reviewDueAt),
    extensions: r.extensions.map((e) => ({ by: e.by, at: iso(e.at), durationSeconds: Math.round(e.durationMs / 1000), reason: e.reason ?? null })),
    pendingExtension: r.pendingExtension
      ? {
          by: r.pendingExtension.by,
          at: iso(r.pendingExtension.at),
          durationSeconds: Math.round(r.pendingExtension.durationMs / 1000),
          reason: r.pendingExtension.reason ?? null,
          approvals: r.pendingExtension.approvals.map(approvalJson),
        }
      : null,
    endedBy: r.endedBy ?? null,
    endReason: r.endReason ?? null,
    error: r.error ?? null,
    version: r.version,
  };
}

/** Who still has to approve, per policy: for the request while pending, or for a pending extension. */
/** Several approver sets as one: every group, every user, the manager if any names one. */
function approversJson(sets: readonly RequestApprovers[]) {
  return {
    groups: [...new Set(sets.flatMap((s) => s.groups))],
    users: [...new Set(sets.flatMap((s) => s.users))],
    manager: sets.find((s) => s.manager !== undefined)?.manager ?? null,
  };
}

function awaiting(r: AccessRequest) {
  const approvals = r.status === 'pending' ? r.approvals : r.status === 'active' ? r.pendingExtension?.approvals : undefined;
  if (!approvals) return [];
  const terms = r.status === 'pending' ? r.terms : r.terms.filter((t) => t.extension.requiresApproval);
  return terms
    .map((t) => ({
      policy: t.name,
      remaining: approvals.some((a) => a.auto && a.for?.includes(t.name))
        ? 0
        : Math.max(0, t.approval.required - new Set(approvals.filter((a) => a.for?.includes(t.name)).map((a) => a.by)).size),
      // With the escalation tiers reached so far (extensions are asked of the policy's own approvers).
      approvers: approversJson(r.status === 'pending' ? approverSets(r, t) : [t.approval.approvers]),
      mfaMaxAgeSeconds: t.mfa?.for.includes('approve') ? t.mfa.maxAgeMs / 1000 : null,
    }))
    .filter((a) => a.remaining > 0);
}

export function grantJson(g: GrantRow) {
  return { requestId: g.requestId, principal: g.principal, entitlement: g.entitlement, expiresAt: iso(g.expiresAt) };
}

export function auditJson(e: AuditEvent & { pos?: number }) {
  return {
    id: e.id,
    seq: e.seq ?? null,
    at: iso(e.at),
    type: e.type,
    actor: e.actor,
    requestId: e.requestId ?? null,
    details: e.details ?? null,
    policyHash: e.policyHash ?? null,
    prevHash: e.prevHash ?? null,
    hash: e.hash ?? null,
  };
}

/** The JSON body of a check answer (GET /v1/check, its fast path, and each pair of the batch form). */
export function checkAnswerJson(r: CheckResult) {
  if (r.allowed) return { allowed: true, requestId: r.requestId, expiresAt: iso(r.expiresAt) };
  return r.reason ? { allowed: false, reason: r.reason, detail: r.detail } : { allowed: false };
}
