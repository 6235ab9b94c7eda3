/**
 * Audiences to people: who the requester, the approvers (all of them, or the tiers an escalation
 * just reached), the reviewers and the admins are, from the directory in force.
 */
import * as lifecycle from '../../core/lifecycle.js';
import type { Audience } from '../../core/notify-plan.js';
import { subjectMatches } from '../../core/policy.js';
import type { AccessRequest, Principal } from '../../core/types.js';

/** Principal ids, in directory order. Never the requester for approvers and reviewers; never anyone who approved already. */
export function audienceOf(audience: Audience, req: AccessRequest | undefined, everyone: readonly Principal[]): string[] {
  switch (audience.kind) {
    case 'requester':
      return req ? [req.requester] : [];
    case 'admins':
      return everyone.filter((p) => p.roles.includes('admin')).map((p) => p.id);
    case 'reviewers':
      if (!req) return [];
      return everyone
        .filter((p) => p.id !== req.requester && req.terms.some((t) => (t.review ? subjectMatches(t.review.approvers, p) : false)))
        .map((p) => p.id);
    case 'approvers': {
      if (!req) return [];
      if (audience.extension) {
        // An extension is decided by the policies' own approvers (those that ask approval for it).
        const done = new Set((req.pendingExtension?.approvals ?? []).map((a) => a.by));
        return everyone
          .filter((p) => p.id !== req.requester && !done.has(p.id))
          .filter((p) => req.terms.some((t) => t.extension.requiresApproval && t.approval.required > 0 && subjectMatches(t.approval.approvers, p)))
          .map((p) => p.id);
      }
      const approved = new Set(req.approvals.map((a) => a.by));
      const tiers = audience.tiers;
      return everyone
        .filter((p) => p.id !== req.requester && !approved.has(p.id))
        .filter((p) =>
          tiers
            ? // Only the tiers just reached, and only people not asked before (an earlier tier's or the policy's own).
              req.terms.some((t) => {
                const reached = tiers[t.name];
                if (reached === undefined) return false;
                const sets = lifecycle.approverSets(req, t);
                const set = sets[reached];
                return set !== undefined && subjectMatches(set, p) && !sets.slice(0, reached).some((s) => subjectMatches(s, p));
              })
            : req.terms.some((t) => lifecycle.approvesFor(req, t, p)),
        )
        .map((p) => p.id);
    }
  }
}
