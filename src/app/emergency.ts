/** Incident response: lock a principal, freeze a target; each one call, all audited. */
import { HgError } from '../core/errors.js';
import * as lifecycle from '../core/lifecycle.js';
import type { AccessRequest, Principal } from '../core/types.js';
import { commitOutcome, factsFor, stamp, targetOf, type AppDeps } from './context.js';
import { directoryOf, hasRole } from './directory.js';
import type { StoreTx } from './ports.js';

export interface EmergencyResult {
  locked?: boolean;
  frozen?: boolean;
  changed: boolean;
  revoked: string[];
  cancelled: string[];
}

export class EmergencyControls {
  constructor(private readonly deps: AppDeps) {}

  private assertAdmin(actor: Principal) {
    if (!hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', 'only an admin can do this');
  }

  /** Locked principals and frozen targets (admin, auditor). */
  async listLocks(actor: Principal) {
    if (!hasRole(actor, 'admin', 'auditor')) throw new HgError('HG_FORBIDDEN', 'the admin or auditor role is needed');
    const [principals, targets] = await Promise.all([this.deps.store.listLocks('principal'), this.deps.store.listLocks('target')]);
    return { principals, targets };
  }

  async lockPrincipal(actor: Principal, id: string, reason?: string): Promise<EmergencyResult> {
    this.assertAdmin(actor);
    const config = this.deps.config.current();
    // A principal gone from the directory may still hold (or have held) grants: lockable all the same.
    if (!(await directoryOf(this.deps).find(id)) && (await this.deps.store.listRequests({ requester: id, limit: 1 })).length === 0) {
      throw new HgError('HG_NOT_FOUND', `no principal ${id}`);
    }
    if (id === actor.id) throw new HgError('HG_FORBIDDEN', 'an admin cannot lock themselves');
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const changed = !(await tx.getLock('principal', id));
      await tx.setLock('principal', { subject: id, by: actor.id, at: now, ...(reason ? { reason } : {}) });
      await tx.appendAudit(
        stamp(
          this.deps,
          [
            { type: 'principal.locked', actor: actor.id, details: { principal: id, reason } },
            { type: 'alert.principal_locked', actor: actor.id, details: { principal: id, reason } },
          ],
          now,
          config.policyHash,
        ),
      );
      const ended = await this.endAll(tx, actor, await tx.openRequestsOf(id), `principal ${id} locked`, now);
      return { locked: true, changed, ...ended };
    });
  }

  async unlockPrincipal(actor: Principal, id: string): Promise<EmergencyResult> {
    this.assertAdmin(actor);
    return this.clear(actor, 'principal', id, 'principal.unlocked');
  }

  async freezeTarget(actor: Principal, name: string, reason?: string): Promise<EmergencyResult> {
    this.assertAdmin(actor);
    const config = this.deps.config.current();
    if (!config.targets[name]) throw new HgError('HG_NOT_FOUND', `no target ${name}`);
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const changed = !(await tx.getLock('target', name));
      await tx.setLock('target', { subject: name, by: actor.id, at: now, ...(reason ? { reason } : {}) });
      await tx.appendAudit(stamp(this.deps, [{ type: 'target.frozen', actor: actor.id, details: { target: name, reason } }], now, config.policyHash));
      const touching = (await tx.openRequests()).filter((r) => r.entitlements.some((e) => targetOf(e) === name));
      const ended = await this.endAll(tx, actor, touching, `target ${name} frozen`, now);
      return { frozen: true, changed, ...ended };
    });
  }

  async unfreezeTarget(actor: Principal, name: string): Promise<EmergencyResult> {
    this.assertAdmin(actor);
    return this.clear(actor, 'target', name, 'target.unfrozen');
  }

  private async clear(
    actor: Principal,
    kind: 'principal' | 'target',
    subject: string,
    type: 'principal.unlocked' | 'target.unfrozen',
  ): Promise<EmergencyResult> {
    const now = this.deps.clock.now();
    const config = this.deps.config.current();
    return this.deps.store.transaction(async (tx) => {
      const changed = await tx.clearLock(kind, subject);
      if (changed) {
        await tx.appendAudit(stamp(this.deps, [{ type, actor: actor.id, details: { [kind]: subject } }], now, config.policyHash));
      }
      return { ...(kind === 'principal' ? { locked: false } : { frozen: false }), changed, revoked: [], cancelled: [] };
    });
  }

  private endAll(tx: StoreTx, actor: Principal, requests: AccessRequest[], reason: string, now: number) {
    return endRequests(this.deps, tx, actor, requests, reason, now);
  }
}

/**
 * Ends open requests in the caller's transaction: active and scheduled grants are revoked,
 * pending requests cancelled. A request that changed meanwhile fails the whole transaction. The
 * caller has judged the actor's authority (an admin's lock, an identity source's deactivation).
 */
export async function endRequests(deps: AppDeps, tx: StoreTx, actor: Principal, requests: readonly AccessRequest[], reason: string, now: number) {
  const config = deps.config.current();
  const revoked: string[] = [];
  const cancelled: string[] = [];
  for (const req of requests) {
    if (!OPEN.has(req.status)) continue;
    const facts = factsFor(config, req.entitlements, now);
    const outcome = req.status === 'pending' ? lifecycle.cancel(req, actor, reason, facts, true) : lifecycle.revoke(req, actor, reason, facts, true);
    if (!(await commitOutcome(deps, tx, req, outcome, now))) {
      throw new HgError('HG_CONCURRENT_UPDATE', `request ${req.id} changed meanwhile; retry`);
    }
    (req.status === 'pending' ? cancelled : revoked).push(req.id);
  }
  return { revoked, cancelled };
}

const OPEN: ReadonlySet<string> = new Set(['pending', 'scheduled', 'active']);
