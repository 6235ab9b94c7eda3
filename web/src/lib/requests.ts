/** What the UI says about a request, from its JSON alone (pure: unit-tested). */
import type { EntitlementJson, PolicyTermsJson, RequestJson, RequestStatus } from '../api/types.js';

export const STATUS_LABEL: Record<RequestStatus, string> = {
  pending: 'Waiting for approval',
  scheduled: 'Scheduled',
  active: 'Active',
  denied: 'Denied',
  cancelled: 'Cancelled',
  expired: 'Ended: time ran out',
  revoked: 'Ended early',
  failed: 'Failed',
};

export type Bucket = 'waiting' | 'live' | 'ended';

export function bucketOf(r: RequestJson): Bucket {
  if (r.status === 'pending') return 'waiting';
  if (r.status === 'scheduled' || r.status === 'active') return 'live';
  return 'ended';
}

/** Who still has to approve, in words: `1 more from group sre-leads (policy developers-admin)`. */
export function awaitingText(r: RequestJson): string[] {
  return r.awaiting.map((a) => {
    const who = [...a.approvers.groups.map((g) => `group ${g}`), ...a.approvers.users, ...(a.approvers.manager ? [`${a.approvers.manager} (manager)`] : [])];
    return `${a.remaining} more from ${who.join(', ') || 'nobody'} (policy ${a.policy})`;
  });
}

/** The next instant at which one of these requests changes by itself (a start or an end), if any. */
export function nextChangeAt(requests: readonly RequestJson[], now: number): number | undefined {
  const times = requests
    .flatMap((r) => [r.status === 'scheduled' ? r.startAt : null, r.status === 'active' ? r.expiresAt : null, r.status === 'pending' ? r.pendingUntil : null])
    .filter((t): t is string => t !== null)
    .map((t) => Date.parse(t))
    .filter((t) => t > now);
  return times.length ? Math.min(...times) : undefined;
}

export interface GrantUse {
  /** The commands that use the grant (`hourglass connect req_...`), one per distinct usage of its targets. */
  commands: string[];
  /** Some target hands over credentials (kept, or issued when fetched). */
  delivers: boolean;
  /** The extension terms of the policy deciding the grant (the strictest when several decide it). */
  extension?: NonNullable<PolicyTermsJson['extension']>;
}

/** How a grant is used, from what GET /v1/entitlements says of its entitlements. */
export function grantUse(r: RequestJson, entitlements: readonly EntitlementJson[]): GrantUse {
  const infos = r.entitlements.map((e) => entitlements.find((x) => x.entitlement === e));
  const commands = [...new Set(infos.flatMap((i) => (i?.usage ? [i.usage.replaceAll('{id}', r.id)] : [])))];
  const terms = r.entitlements.flatMap((e, n) => {
    const policy = r.policies[e];
    const t = infos[n]?.policies.find((p) => p.name === policy)?.extension;
    return t ? [t] : [];
  });
  const extension =
    terms.length === r.entitlements.length && terms.length > 0
      ? {
          allowed: terms.every((t) => t.allowed),
          maxTotal: Math.min(...terms.map((t) => t.maxTotal)),
          requiresApproval: terms.some((t) => t.requiresApproval),
        }
      : undefined;
  return { commands, delivers: infos.some((i) => i?.credentials), ...(extension ? { extension } : {}) };
}
