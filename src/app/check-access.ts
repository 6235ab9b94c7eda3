import { HgError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
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
 */
export async function checkAccess(deps: AppDeps, caller: Principal, principal: string, entitlement: string): Promise<CheckResult> {
  if (!hasRole(caller, 'checker', 'admin')) throw new HgError('HG_FORBIDDEN', 'the checker or admin role is needed to call check');
  const grant = await deps.store.findGrant(principal, entitlement, deps.clock.now());
  return grant ? { allowed: true, requestId: grant.requestId, expiresAt: grant.expiresAt } : { allowed: false };
}
