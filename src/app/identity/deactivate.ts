/**
 * Ending a principal that its identity source deactivated or deleted (SCIM, an admin retiring a
 * machine): in the caller's transaction, so the principal's state, the end of every grant and
 * request, the end of every session and token, and the audit events commit together or not at
 * all. The connectors then remove the access on the targets as for any revocation.
 */
import type { Principal } from '../../core/types.js';
import { stamp, type AppDeps } from '../context.js';
import { endRequests } from '../emergency.js';
import type { StoreTx, StoredPrincipal } from '../ports.js';

/** Who asked, for the audit log: the SCIM call or the admin's request. */
export interface DeactivationCause {
  actor: Principal;
  /** `scim`, `admin`. */
  via: string;
  /** E.g. `PATCH /scim/v2/Users/alice@example.com` and the request id. */
  call?: string;
  requestId?: string;
}

export async function deactivateIn(
  deps: AppDeps,
  tx: StoreTx,
  principal: StoredPrincipal,
  cause: DeactivationCause,
  now: number,
): Promise<{ revoked: string[]; cancelled: string[]; sessions: number; tokens: number }> {
  const config = deps.config.current();
  await tx.identity.putPrincipal({ ...principal, active: false, version: (principal.version ?? 0) + 1, updatedAt: now });
  const sessions = await tx.identity.revokeSessionsOf(principal.id, now);
  const tokens = await tx.identity.revokeTokensOf(principal.id, now);
  const ended = await endRequests(deps, tx, cause.actor, await tx.openRequestsOf(principal.id), `principal ${principal.id} deactivated (${cause.via})`, now);
  await tx.appendAudit(
    stamp(
      deps,
      [
        {
          type: 'principal.deactivated',
          actor: cause.actor.id,
          details: { principal: principal.id, via: cause.via, call: cause.call, requestId: cause.requestId, ...ended, sessions, tokens },
        },
      ],
      now,
      config.policyHash,
    ),
  );
  return { ...ended, sessions, tokens };
}
