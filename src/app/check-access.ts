import { HgError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { GrantRow } from './ports.js';
import type { AppDeps } from './context.js';
import { hasRole } from './directory.js';

export interface CheckResult {
  allowed: boolean;
  requestId?: string;
  expiresAt?: number;
}

/**
 * Does `principal` hold `entitlement` right now? Answers from the grant index with the clock's
 * `now`, so a grant is denied from its `expiresAt` on even before the expiry transition has run.
 * Synchronous when the store answers synchronously (see Store.findGrant).
 */
export function checkAccess(deps: AppDeps, caller: Principal, principal: string, entitlement: string): CheckResult | Promise<CheckResult> {
  if (!hasRole(caller, 'checker', 'admin')) throw new HgError('HG_FORBIDDEN', 'the checker or admin role is needed to call check');
  const grant = deps.store.findGrant(principal, entitlement, deps.clock.now());
  return grant instanceof Promise ? grant.then(resultOf) : resultOf(grant);
}

function resultOf(grant: GrantRow | undefined): CheckResult {
  return grant ? { allowed: true, requestId: grant.requestId, expiresAt: grant.expiresAt } : { allowed: false };
}
