/**
 * Drift reconciliation: compares what each target holds under Hourglass's prefix with the live
 * grants. Accounts no live grant explains are removed and reported; privileges beyond what a
 * grant gives are reported (and trimmed where the target is configured to and the connector
 * can); access missing for a live grant is reported, never silently re-added (someone may have
 * cut it on purpose). Grants still provisioning count as live; grants being removed are left
 * to the access worker.
 */
import type { ConnectorRegistry, FoundAccess, Reconcilable } from './connectors.js';
import type { AccessRequest, AuditDraft, TargetConfig } from '../core/types.js';
import { grantsOnTargets } from './access-work.js';
import { stamp, SYSTEM_ACTOR, targetOf, type AppDeps } from './context.js';
import type { BackgroundWorker } from './ports.js';

export interface DriftReport {
  target: string;
  orphansRemoved: string[];
  missing: { requestId: string; missing: string[] }[];
  extra: { requestId: string; account: string; extra: string[]; trimmed: boolean }[];
  error?: string;
}

const LIVE_ACCESS = new Set(['provisioning', 'present']);

export class Reconciler implements BackgroundWorker {
  readonly name = 'reconcile';
  private readonly lastRun = new Map<string, number>();
  /** Drift already reported, so a standing difference is reported once, not every interval. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly deps: AppDeps,
    private readonly connectors: ConnectorRegistry,
  ) {}

  async runOnce(): Promise<void> {
    const now = this.deps.clock.now();
    for (const [name, target] of Object.entries(this.deps.config.current().targets)) {
      const interval = target.reconcile?.interval ?? 0;
      if (!interval || now - (this.lastRun.get(name) ?? 0) < interval) continue;
      this.lastRun.set(name, now);
      await this.reconcileTarget(name);
    }
  }

  async reconcileTarget(name: string): Promise<DriftReport> {
    const report: DriftReport = { target: name, orphansRemoved: [], missing: [], extra: [] };
    const config = this.deps.config.current();
    const target = config.targets[name];
    // Kinds without reconciliation (they cannot list what they created) are skipped.
    const connector = this.connectors.forTarget(name)?.reconciliation;
    if (!connector || !target) return report;
    const events: AuditDraft[] = [];
    try {
      const found = await connector.list();
      const open = await this.deps.store.transaction((tx) => tx.openRequests());
      const touching = (r: AccessRequest) => r.entitlements.some((e) => targetOf(e) === name);
      const live = new Map(open.filter((r) => touching(r) && LIVE_ACCESS.has(r.access)).map((r) => [r.id, r]));
      const seen = new Set<string>();

      for (const f of found) {
        const req = f.requestId ? live.get(f.requestId) : undefined;
        if (!req) {
          if (f.requestId && (await this.beingRemoved(f.requestId))) continue;
          await connector.removeOrphan(f);
          report.orphansRemoved.push(f.account);
          events.push({
            type: 'drift.orphan_removed',
            actor: SYSTEM_ACTOR,
            ...(f.requestId ? { requestId: f.requestId } : {}),
            details: { target: name, account: f.account, held: f.holds },
          });
          continue;
        }
        seen.add(req.id);
        const grant = grantsOnTargets(config, req).find((g) => g.target.name === name);
        if (!grant) continue;
        const expected = connector.expected(grant);
        const missing = expected.filter((x) => !f.holds.includes(x));
        const extra = f.holds.filter((x) => !expected.includes(x) && x !== 'login');
        if (missing.length) this.reportMissing(events, report, req.id, { target: name, account: f.account, missing });
        if (extra.length) await this.handleExtra(events, report, connector, target, req, f, extra);
      }
      for (const req of live.values()) {
        // A grant still provisioning may not have reached the target yet.
        if (seen.has(req.id) || req.access !== 'present') continue;
        const expected = grantsOnTargets(config, req).find((g) => g.target.name === name);
        const missing = expected ? connector.expected(expected) : [];
        this.reportMissing(events, report, req.id, { target: name, account: null, missing: missing.length ? missing : ['account'] });
      }
    } catch (err) {
      report.error = (err as Error).message;
    }
    if (events.length) {
      const now = this.deps.clock.now();
      await this.deps.store.transaction((tx) => tx.appendAudit(stamp(this.deps, events, now, config.policyHash)));
    }
    return report;
  }

  private async handleExtra(
    events: AuditDraft[],
    report: DriftReport,
    connector: Reconcilable,
    target: TargetConfig,
    req: AccessRequest,
    f: FoundAccess,
    extra: string[],
  ) {
    const trim = target.reconcile?.removeExtraPrivileges === true;
    let trimmed = false;
    if (trim && connector.trimExtra) {
      await connector.trimExtra(f, extra);
      trimmed = true;
    }
    const key = `${req.id}/extra/${extra.join(',')}`;
    if (this.reported.has(key) && !trimmed) return;
    this.reported.add(key);
    report.extra.push({ requestId: req.id, account: f.account, extra, trimmed });
    events.push({
      type: 'drift.extra_privileges',
      actor: SYSTEM_ACTOR,
      requestId: req.id,
      details: { target: target.name, account: f.account, extra, removed: trimmed },
    });
  }

  /** Missing access is reported once per request and finding, not at every interval. */
  private reportMissing(events: AuditDraft[], report: DriftReport, requestId: string, details: { target: string; account: string | null; missing: string[] }) {
    const key = `${requestId}/missing/${JSON.stringify(details)}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    report.missing.push({ requestId, missing: details.missing });
    events.push({ type: 'drift.access_missing', actor: SYSTEM_ACTOR, requestId, details });
  }

  private async beingRemoved(requestId: string): Promise<boolean> {
    const req = await this.deps.store.getRequest(requestId);
    return req?.access === 'removing' || req?.access === 'provisioning';
  }
}
