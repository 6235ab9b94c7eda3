/**
 * Work on targets, after commit, driven by the persisted `access` state: create access
 * (`provisioning`), tell targets a new end (`targetExpiresAt` behind `expiresAt`), and take
 * access away (`removing`). Every connector call is idempotent, so a crash or a second server
 * repeating a step is harmless; the state moves by compare-and-swap only after the target
 * confirmed. Removal never gives up.
 */
import type { Connector, ConnectorRegistry, Credentials, GrantOnTarget } from './connectors.js';
import * as lifecycle from '../core/lifecycle.js';
import type { AccessRequest } from '../core/types.js';
import type { HourglassConfig } from '../config/types.js';
import { commitOutcome, factsFor, targetOf, type AppDeps } from './context.js';
import type { BackgroundWorker } from './ports.js';

export interface AccessWorkOptions {
  connectors: ConnectorRegistry;
  /** Uniform in [0, 1): jitter for retry backoff. */
  random: () => number;
  /** Requests worked on at once. */
  concurrency?: number;
}

const BATCH = 200;
/** `revocationAlertAfter` when a target does not say (the config default). */
const DEFAULT_ALERT_AFTER_MS = 300_000;
/** How long a server owns a request's target work before another may take it over. */
const LEASE_MS = 60_000;

export function credentialContext(requestId: string, target: string): string {
  return `credentials/${requestId}/${target}`;
}

/** A request's access grouped by target, as connectors see it. */
export function grantsOnTargets(config: HourglassConfig, req: AccessRequest): GrantOnTarget[] {
  const byTarget = new Map<string, GrantOnTarget>();
  for (const entitlement of req.entitlements) {
    const targetName = targetOf(entitlement);
    const target = config.targets[targetName];
    if (!target || target.type === 'hourglass') continue;
    const name = entitlement.slice(targetName.length + 1);
    let g = byTarget.get(targetName);
    if (!g) {
      g = { requestId: req.id, principal: req.requester, target, entitlements: [], expiresAt: req.expiresAt ?? 0 };
      byTarget.set(targetName, g);
    }
    g.entitlements.push({ name, config: (target.entitlements[name] ?? {}) as Record<string, unknown> });
  }
  return [...byTarget.values()];
}

export class AccessWork implements BackgroundWorker {
  readonly name = 'access';

  constructor(
    private readonly deps: AppDeps,
    private readonly opts: AccessWorkOptions,
  ) {}

  async runOnce(): Promise<void> {
    const due = await this.deps.store.findAccessWork(this.deps.clock.now(), BATCH);
    const queue = [...due];
    const lanes = Array.from({ length: Math.min(this.opts.concurrency ?? 16, queue.length) }, async () => {
      for (let req = queue.shift(); req; req = queue.shift()) await this.work(req);
    });
    await Promise.all(lanes);
  }

  private connector(target: string): Connector {
    const c = this.opts.connectors.forTarget(target);
    if (!c) throw new Error(`target ${target} is not configured (or its kind is unknown): cannot reach it`);
    return c;
  }

  /**
   * Leases the request to this server before touching targets: a compare-and-swap that moves
   * `accessNextAt` past the lease, so another server's pass skips it. Without it two servers
   * could interleave grants (each setting a new password) and keep credentials that no longer
   * match. Not a decision, so no audit event; an expired lease simply makes the work due again.
   */
  private async claim(req: AccessRequest): Promise<AccessRequest | undefined> {
    const leased: AccessRequest = { ...req, accessNextAt: this.deps.clock.now() + LEASE_MS, version: req.version + 1 };
    const won = await this.deps.store.transaction((tx) => tx.updateRequest(req, leased));
    return won ? leased : undefined;
  }

  private async work(due: AccessRequest): Promise<void> {
    const req = await this.claim(due);
    if (!req) return;
    const config = this.deps.config.current();
    const grants = grantsOnTargets(config, req);
    try {
      if (req.access === 'provisioning') await this.provision(req, grants);
      else if (req.access === 'removing') await this.remove(req, grants);
      else if (lifecycle.needsTargetExtension(req)) {
        for (const g of grants) await this.connector(g.target.name).extend(g);
        await this.commit(req, () => lifecycle.extendedOnTarget(req));
      }
    } catch (err) {
      if (req.access === 'removing') for (const g of grants) this.deps.metrics?.revocationRetry(g.target.name);
      const alertAfterMs = grants.length ? Math.min(...grants.map((g) => Number(g.target.revocationAlertAfter ?? DEFAULT_ALERT_AFTER_MS))) : DEFAULT_ALERT_AFTER_MS;
      const now = this.deps.clock.now();
      const message = (err as Error).message || String(err);
      await this.commit(req, () =>
        lifecycle.accessAttemptFailed(req, message, { ...factsFor(config, req.entitlements, now), jitter: this.opts.random(), alertAfterMs }),
      );
    }
  }

  private async provision(req: AccessRequest, grants: GrantOnTarget[]) {
    for (const g of grants) {
      const connector = this.connector(g.target.name);
      if (connector.capabilities.issuesCredentials && !this.deps.sealer) {
        throw new Error('no credentials key is configured (credentials.key or credentials.keyFile): credentials cannot be kept');
      }
      const { credentials } = await connector.grant(g);
      if (credentials) await this.keep(req.id, g.target.name, credentials);
    }
    const now = this.deps.clock.now();
    await this.commit(req, () => lifecycle.provisioned(req, factsFor(this.deps.config.current(), req.entitlements, now)));
  }

  private async keep(requestId: string, target: string, credentials: Credentials) {
    const sealed = this.deps.sealer!.seal(JSON.stringify(credentials), credentialContext(requestId, target));
    await this.deps.store.putCredentials(requestId, target, sealed, this.deps.clock.now());
  }

  private async remove(req: AccessRequest, grants: GrantOnTarget[]) {
    // Revoke on every target even if one fails, so one broken target never keeps access alive elsewhere.
    const failures: string[] = [];
    for (const g of grants) {
      try {
        await this.connector(g.target.name).revoke(g);
      } catch (err) {
        failures.push(`${g.target.name}: ${(err as Error).message}`);
      }
    }
    if (failures.length) throw new Error(failures.join('; '));
    await this.deps.store.deleteCredentials(req.id);
    await this.commit(req, () => lifecycle.removed(req));
  }

  /** Applies an outcome to the request as read; a request that changed meanwhile is left for the next pass. */
  private async commit(req: AccessRequest, outcome: () => lifecycle.Outcome): Promise<boolean> {
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const fresh = await tx.getRequest(req.id);
      if (!fresh || fresh.version !== req.version) return false;
      return commitOutcome(this.deps, tx, req, outcome(), now);
    });
  }
}
