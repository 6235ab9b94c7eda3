/**
 * What a new configuration may not do to access that exists. A target (or an entitlement) that
 * still holds access cannot leave the file, nor change kind: its grants could no longer be
 * revoked, and Hourglass would never again reach the accounts it created there. Principals may
 * leave: their access ends with the reload (see endAccessOfUnknownPrincipals).
 */
import { formatPath } from '../config/schema.js';
import type { HourglassConfig } from '../config/types.js';
import { HgError } from '../core/errors.js';
import type { AccessRequest } from '../core/types.js';
import { targetOf } from './context.js';

export interface ConfigChangeProblem {
  path: (string | number)[];
  message: string;
}

/** Request ids shown per problem; the rest are counted. */
const SHOWN = 5;

function listed(ids: string[]): string {
  const shown = ids.slice(0, SHOWN).join(', ');
  return ids.length > SHOWN ? `${shown} and ${ids.length - SHOWN} more` : shown;
}

/**
 * Problems with moving from `current` to `next` while `holding` (open requests, and ended ones
 * whose access is not confirmed gone) exist. Empty: the change is safe.
 */
export function strandedAccess(current: HourglassConfig, next: HourglassConfig, holding: readonly AccessRequest[]): ConfigChangeProblem[] {
  const byTarget = new Map<string, Set<string>>();
  const byEntitlement = new Map<string, Set<string>>();
  for (const req of holding) {
    for (const e of req.entitlements) {
      const t = targetOf(e);
      (byTarget.get(t) ?? byTarget.set(t, new Set()).get(t)!).add(req.id);
      (byEntitlement.get(e) ?? byEntitlement.set(e, new Set()).get(e)!).add(req.id);
    }
  }
  const problems: ConfigChangeProblem[] = [];
  const advice = 'end those grants (revoke, or freeze the target) and reload once their access is removed';
  for (const [name, ids] of byTarget) {
    const before = current.targets[name];
    const after = next.targets[name];
    const reqs = [...ids].sort();
    if (!after) {
      problems.push({ path: ['targets', name], message: `target ${name} is gone from the file (removed or renamed) but holds access for ${listed(reqs)}: ${advice}` });
    } else if (before && before.type !== after.type) {
      problems.push({ path: ['targets', name, 'type'], message: `target ${name} changes type from ${before.type} to ${after.type} but holds access for ${listed(reqs)}: ${advice}` });
    }
  }
  for (const [entitlement, ids] of byEntitlement) {
    const t = targetOf(entitlement);
    const role = entitlement.slice(t.length + 1);
    const target = next.targets[t];
    if (!target || target.entitlements[role]) continue; // a missing target is reported above
    problems.push({
      path: ['targets', t, 'entitlements', role],
      message: `entitlement ${entitlement} is gone from the file but holds access for ${listed([...ids].sort())}: ${advice}`,
    });
  }
  return problems;
}

export function refuseStrandedAccess(problems: ConfigChangeProblem[]): void {
  if (problems.length === 0) return;
  throw new HgError(
    'HG_CONFIG_INVALID',
    `the new configuration would strand access on targets: ${problems.map((p) => p.message).join('; ')}`,
    { problems: problems.map((p) => ({ path: formatPath(p.path), message: p.message })) },
  );
}

/** Requests held by principals the configuration no longer names. */
export function ofUnknownPrincipals(config: HourglassConfig, requests: readonly AccessRequest[]): AccessRequest[] {
  const known = new Set(config.principals.map((p) => p.id));
  return requests.filter((r) => !known.has(r.requester));
}
