import { HgError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { GrantRow } from './ports.js';
import type { AppDeps } from './context.js';
import { hasRole } from './directory.js';

export type CheckResult =
  | { allowed: true; requestId: string; expiresAt: number }
  | { allowed: false; reason?: undefined }
  /** Refused because this server could not confirm its view of the grants is current (store unreachable). */
  | { allowed: false; reason: 'stale_index'; detail: string };

const DENIED: CheckResult = { allowed: false };

/**
 * Does `principal` hold `entitlement` right now? Answers from the in-memory check index once
 * the server has loaded it (src/app/check-index.ts), else from the store's grant table; either
 * way with the clock's `now`, so a grant is denied from its `expiresAt` on even before the
 * expiry transition has run. Synchronous whenever the source is (the index always is).
 */
export function checkAccess(deps: AppDeps, caller: Principal, principal: string, entitlement: string): CheckResult | Promise<CheckResult> {
  if (!hasRole(caller, 'checker', 'admin')) throw new HgError('HG_FORBIDDEN', 'the checker or admin role is needed to call check');
  const now = deps.clock.now();
  if (deps.checkIndex) {
    const answer = deps.checkIndex.lookup(principal, entitlement, now);
    if (answer.stale) return staleAnswer(answer.ageMs, deps.checkIndex.status().staleAfterMs);
    return answer.grant ? { allowed: true, requestId: answer.grant.requestId, expiresAt: answer.grant.expiresAt } : DENIED;
  }
  const grant = deps.store.findGrant(principal, entitlement, now);
  return grant instanceof Promise ? grant.then(resultOf) : resultOf(grant);
}

function staleAnswer(ageMs: number, limitMs: number): CheckResult {
  const age = Number.isFinite(ageMs) ? `for ${(ageMs / 1000).toFixed(1)} s` : 'since it started';
  return {
    allowed: false,
    reason: 'stale_index',
    detail: `this server has not confirmed its view of the grants ${age} (the limit is ${limitMs / 1000} s): the store may be unreachable; ask another server or retry`,
  };
}

function resultOf(grant: GrantRow | undefined): CheckResult {
  return grant ? { allowed: true, requestId: grant.requestId, expiresAt: grant.expiresAt } : DENIED;
}
