/** The application: every use case, wired to its ports. The HTTP layer and the CLI call this. */
import { HgError } from '../core/errors.js';
import { subjectMatches } from '../core/policy.js';
import type { Principal } from '../core/types.js';
import type { HourglassConfig } from '../config/types.js';
import { refuseStrandedAccess, strandedAccess, unconfiguredTargets, unknownPrincipals } from './config-change.js';
import type { HeldAccess, StoreTx } from './ports.js';
import { credentialContext } from './access-work.js';
import { AuditService } from './audit.js';
import { checkAccess } from './check-access.js';
import { SYSTEM_ACTOR, stamp, type AppDeps } from './context.js';
import { hasRole } from './directory.js';
import { DueWork } from './due-work.js';
import { EmergencyControls, endRequests } from './emergency.js';
import { RequestService } from './requests.js';

/** Grant pages are ordered by (request id, entitlement); the cursor names the last row seen. */
function parseGrantCursor(cursor: string): { requestId: string; entitlement: string } {
  const i = cursor.indexOf(':');
  if (i < 1) throw new HgError('HG_INVALID_INPUT', 'cursor: use the nextCursor of the previous page');
  return { requestId: cursor.slice(0, i), entitlement: cursor.slice(i + 1) };
}

export class Hourglass {
  readonly requests: RequestService;
  readonly due: DueWork;
  readonly emergency: EmergencyControls;
  readonly audit: AuditService;

  constructor(readonly deps: AppDeps) {
    this.requests = new RequestService(deps);
    this.due = new DueWork(deps);
    this.emergency = new EmergencyControls(deps);
    this.audit = new AuditService(deps);
    const metrics = deps.metrics;
    // After commit, by the server that wrote them: each committed event is counted exactly once.
    if (metrics) deps.store.onAuditCommitted((types) => types.forEach((t) => metrics.eventRecorded(t)));
  }

  check(caller: Principal, principal: string, entitlement: string) {
    return checkAccess(this.deps, caller, principal, entitlement);
  }

  /** What the caller may request, with each applicable policy's terms (break-glass ones marked). */
  entitlementsFor(actor: Principal) {
    const config = this.deps.config.current();
    const out: { entitlement: string; target: string; description?: string; policies: unknown[] }[] = [];
    for (const [targetName, target] of Object.entries(config.targets)) {
      for (const [name, ent] of Object.entries(target.entitlements)) {
        const entitlement = `${targetName}/${name}`;
        const policies = config.policies
          .filter((p) => p.entitlements.includes(entitlement) && subjectMatches(p.subjects, actor))
          .map((p) => ({
            name: p.name,
            breakGlass: p.breakGlass,
            defaultDuration: p.defaultDuration,
            minDuration: p.minDuration,
            maxDuration: p.maxDuration,
            reason: p.reason,
            ticket: p.ticket,
            approvalsRequired: p.approval.required,
            approvers: p.approval.approvers,
            pendingTimeout: p.pendingTimeout,
            extension: p.extension,
            ...(p.when ? { when: p.when } : {}),
            ...(p.review ? { review: p.review } : {}),
          }));
        if (policies.length) {
          out.push({ entitlement, target: targetName, ...(ent.description ? { description: String(ent.description) } : {}), policies });
        }
      }
    }
    return out;
  }

  async grants(actor: Principal, q: { principal?: string; entitlement?: string; limit: number; after?: string }) {
    const privileged = hasRole(actor, 'admin', 'auditor', 'checker');
    if (q.principal && q.principal !== actor.id && !privileged) throw new HgError('HG_FORBIDDEN', 'you may list only your own grants');
    const principal = privileged ? q.principal : actor.id;
    return this.deps.store.listGrants({
      now: this.deps.clock.now(),
      limit: q.limit,
      ...(principal ? { principal } : {}),
      ...(q.entitlement ? { entitlement: q.entitlement } : {}),
      ...(q.after ? { after: parseGrantCursor(q.after) } : {}),
    });
  }

  /**
   * The credentials connectors issued for a grant: to its requester only, only while it is
   * active, and every retrieval is audited (in the same transaction as the read).
   */
  async credentials(actor: Principal, id: string) {
    const now = this.deps.clock.now();
    const config = this.deps.config.current();
    // Read before the transaction: a store call inside it would wait on the transaction itself.
    const rows = await this.deps.store.getCredentials(id);
    return this.deps.store.transaction(async (tx) => {
      const req = await tx.getRequest(id);
      if (!req || req.requester !== actor.id) throw new HgError('HG_NOT_FOUND', `no request ${id}`);
      if (req.status !== 'active' || req.access !== 'present' || (req.expiresAt ?? 0) <= now) {
        throw new HgError('HG_INVALID_TRANSITION', `credentials are available only while the grant is active (it is ${req.status})`);
      }
      const sealer = this.deps.sealer;
      if (rows.length > 0 && !sealer) throw new HgError('HG_INTERNAL', 'no credentials key is configured');
      const targets: Record<string, unknown> = {};
      for (const row of rows) targets[row.target] = JSON.parse(sealer!.open(row.ciphertext, credentialContext(id, row.target)));
      await tx.appendAudit(
        stamp(this.deps, [{ type: 'credentials.retrieved', actor: actor.id, requestId: id, details: { targets: Object.keys(targets) } }], now, req.policyHash),
      );
      return { requestId: id, expiresAt: req.expiresAt!, targets };
    });
  }

  /**
   * Refuses (HG_CONFIG_INVALID) a configuration that drops or retypes a target, or drops an
   * entitlement, that still holds access: call it before putting `next` in force.
   */
  async assertSafeChange(next: HourglassConfig): Promise<void> {
    const held = await this.deps.store.transaction((tx) => tx.heldAccess());
    refuseStrandedAccess(strandedAccess(this.deps.config.current(), next, held));
  }

  /**
   * Records a configuration change; decisions from now on use the new policy hash. Principals
   * the file no longer names lose their grants and pending requests in the same transaction.
   */
  async recordReload(actor: string, previousHash: string): Promise<EndedAccess> {
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      await tx.appendAudit(
        stamp(this.deps, [{ type: 'config.reloaded', actor, details: { previousPolicyHash: previousHash, policyHash: config.policyHash } }], now, config.policyHash),
      );
      return this.endAccessOfUnknownPrincipals(tx, await tx.heldAccess(), now);
    });
  }

  /**
   * Records the start. Principals removed from the file while the server was down lose their
   * access now; access held on targets the file no longer names is raised as an alert (its
   * removal cannot run until the target is configured again).
   */
  async recordStart(details: Record<string, unknown>): Promise<EndedAccess & { unconfiguredTargets: Record<string, string[]> }> {
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      await tx.appendAudit(stamp(this.deps, [{ type: 'server.started', actor: SYSTEM_ACTOR, details }], now, config.policyHash));
      const held = await tx.heldAccess();
      const unconfigured = unconfiguredTargets(config, held);
      const alerts = [...unconfigured].map(([target, requests]) => ({ type: 'alert.target_unconfigured', actor: SYSTEM_ACTOR, details: { target, requests } }));
      if (alerts.length) await tx.appendAudit(stamp(this.deps, alerts, now, config.policyHash));
      const ended = await this.endAccessOfUnknownPrincipals(tx, held, now);
      return { ...ended, unconfiguredTargets: Object.fromEntries(unconfigured) };
    });
  }

  private async endAccessOfUnknownPrincipals(tx: StoreTx, held: readonly HeldAccess[], now: number): Promise<EndedAccess> {
    const ended: EndedAccess = { revoked: [], cancelled: [] };
    for (const principal of unknownPrincipals(this.deps.config.current(), held)) {
      const requests = await tx.openRequestsOf(principal);
      const r = await endRequests(this.deps, tx, SYSTEM_PRINCIPAL, requests, `principal ${principal} is no longer in the configuration`, now);
      ended.revoked.push(...r.revoked);
      ended.cancelled.push(...r.cancelled);
    }
    return ended;
  }
}

export interface EndedAccess {
  revoked: string[];
  cancelled: string[];
}

/** Hourglass itself, ending access the configuration no longer allows. */
const SYSTEM_PRINCIPAL: Principal = Object.freeze({ id: SYSTEM_ACTOR, groups: Object.freeze([]), roles: Object.freeze(['admin']) }) as unknown as Principal;
