/**
 * Work on targets, after commit, driven by the persisted `access` state: create access
 * (`provisioning`), tell targets a new end (`targetExpiresAt` behind `expiresAt`), and take
 * access away (`removing`). Every connector call is idempotent, so a crash or a second server
 * repeating a step is harmless; the state moves by compare-and-swap only after the target
 * confirmed. Removal never gives up, and is never recorded for a target that was not reached.
 *
 * Each call runs in its target's lane (target-lanes.ts: per-target concurrency and timeout), and
 * the worker runs beside the scheduler's due pass rather than inside it: a stuck target delays
 * only its own requests, never expiry or another target's revocations.
 */
import type { Connector, ConnectorRegistry, Credentials, GrantOnTarget } from './connectors.js';
import * as lifecycle from '../core/lifecycle.js';
import type { AccessRequest, TargetConfig } from '../core/types.js';
import type { HourglassConfig } from '../config/types.js';
import { commitOutcome, factsFor, targetOf, type AppDeps } from './context.js';
import type { BackgroundWorker, StoreTx } from './ports.js';
import { abandonedCall, TargetLanes, type LaneLimits, type Timers } from './target-lanes.js';

export interface AccessWorkOptions {
  connectors: ConnectorRegistry;
  /** Uniform in [0, 1): jitter for retry backoff. */
  random: () => number;
  /** Store transactions (claims, commits) at once. Connector calls are limited per target (`concurrency`). */
  concurrency?: number;
  /**
   * true (the server's scheduler): `runOnce` starts the due work and returns; work still in
   * flight is not started again. false (default: tests, CLI): `runOnce` waits for what it started.
   */
  detached?: boolean;
  /** Watchdog for `callTimeout`; real timers by default. */
  timers?: Timers;
  /** Credentials issued on request: revoked on a target before its connector's revoke (issued-credentials.ts). */
  issued?: { revokeFor(target: string, requestId: string): Promise<void> };
  /** This server's presence id (presence.ts), named in its leases; default: an id of this worker's own, never announced. */
  owner?: string;
}

const BATCH = 200;
/** Requests in work at once on this server; past it, due work waits for the next pass. */
const MAX_IN_FLIGHT = 1000;
/** How long a server owns a request's target work before another may take it over. */
export const LEASE_MS = 60_000;
/** Kept back from the lease for the claim and the commit around the calls (config: callTimeout max). */
const COMMIT_MARGIN_MS = 10_000;
/** The config defaults (commonTargetShape, src/config/sections/targets.ts), for targets built without the loader. */
export const DEFAULT_ALERT_AFTER_MS = 300_000;
const DEFAULT_TARGET_CONCURRENCY = 8;
const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export function credentialContext(requestId: string, target: string): string {
  return `credentials/${requestId}/${target}`;
}

/** A target's lane limits; the timeout never reaches into the commit margin of the lease. */
export function laneLimits(target: TargetConfig): LaneLimits {
  const concurrency = target.concurrency ?? DEFAULT_TARGET_CONCURRENCY;
  const timeout = target.callTimeout ?? DEFAULT_CALL_TIMEOUT_MS;
  return {
    concurrency: Number.isInteger(concurrency) && concurrency > 0 ? concurrency : DEFAULT_TARGET_CONCURRENCY,
    callTimeoutMs: Math.min(timeout > 0 ? timeout : DEFAULT_CALL_TIMEOUT_MS, LEASE_MS - COMMIT_MARGIN_MS),
  };
}

/**
 * A request's access grouped by target, as connectors see it, and the targets it names that are
 * no longer configured (work there cannot be done, so it must fail, never be skipped). Targets
 * of an inline kind (the built-in `hourglass`) keep their grants in Hourglass and are in neither.
 */
export function targetsOf(config: HourglassConfig, req: AccessRequest): { grants: GrantOnTarget[]; unconfigured: string[] } {
  const byTarget = new Map<string, GrantOnTarget>();
  const unconfigured = new Set<string>();
  for (const entitlement of req.entitlements) {
    const targetName = targetOf(entitlement);
    const target = config.targets[targetName];
    if (!target) {
      unconfigured.add(targetName);
      continue;
    }
    if (config.capabilities[targetName]?.inline) continue;
    const name = entitlement.slice(targetName.length + 1);
    let g = byTarget.get(targetName);
    if (!g) {
      const handle = req.handles?.[targetName];
      g = { requestId: req.id, principal: req.requester, target, entitlements: [], expiresAt: req.expiresAt ?? 0, ...(handle !== undefined ? { handle } : {}) };
      byTarget.set(targetName, g);
    }
    g.entitlements.push({ name, config: (target.entitlements[name] ?? {}) as Record<string, unknown> });
  }
  return { grants: [...byTarget.values()], unconfigured: [...unconfigured] };
}

/** The configured targets of a request, as connectors see them (reconciliation's view). */
export function grantsOnTargets(config: HourglassConfig, req: AccessRequest): GrantOnTarget[] {
  return targetsOf(config, req).grants;
}

interface Failure {
  target: string;
  message: string;
  /** The call timed out while running: it may still take effect on the target. */
  abandoned: boolean;
}

interface Calls<T> {
  done: { grant: GrantOnTarget; value: T }[];
  failures: Failure[];
}

type Verb = 'grant' | 'revoke' | 'extend';
const DOING: Record<Verb, string> = { grant: 'create the access', revoke: 'remove the access', extend: 'move the end of the access' };

/** A few store transactions at once, whatever the number of requests waiting on targets. */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

export class AccessWork implements BackgroundWorker {
  readonly name = 'access';
  private readonly lanes: TargetLanes;
  private readonly gate: Gate;
  private readonly inFlight = new Map<string, Promise<void>>();
  private detachedError: unknown;
  private readonly owner: string;

  constructor(
    private readonly deps: AppDeps,
    private readonly opts: AccessWorkOptions,
  ) {
    this.lanes = new TargetLanes(opts.timers);
    this.gate = new Gate(opts.concurrency ?? 16);
    this.owner = opts.owner ?? `worker_${deps.ids.eventId()}`;
  }

  /** Starts the due work not already in flight here. An error of detached work is rethrown by the next call. */
  async runOnce(): Promise<void> {
    const previous = this.detachedError;
    this.detachedError = undefined;
    const now = this.deps.clock.now();
    // Leases of servers that died come first: their removals are the most overdue.
    const orphaned = await this.gate.run(() => this.deps.store.orphanedWork(this.owner, now, BATCH));
    const due = [...orphaned, ...(await this.gate.run(() => this.deps.store.findAccessWork(now, BATCH)))];
    const started: Promise<void>[] = [];
    let error: unknown;
    for (const req of due) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) break;
      if (this.inFlight.has(req.id)) continue;
      const p = this.work(req)
        .catch((err: unknown) => {
          if (this.opts.detached) this.detachedError = err;
          else error ??= err;
        })
        .finally(() => this.inFlight.delete(req.id));
      this.inFlight.set(req.id, p);
      started.push(p);
    }
    if (!this.opts.detached) await Promise.all(started);
    if (error !== undefined) throw error;
    if (previous !== undefined) throw previous;
  }

  /** Resolves when no work is in flight (server stop). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight.values());
  }

  /** Connector calls to `target` running now on this server (timed-out ones not yet ended included). */
  callsInFlight(target: string): number {
    return this.lanes.inFlight(target);
  }

  private tx<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.gate.run(() => this.deps.store.transaction(fn));
  }

  /**
   * Leases the request to this server before touching targets (lifecycle.lease, a compare-and-swap),
   * so another server's pass skips it. Without it two servers could interleave grants (each
   * setting a new password) and keep credentials that no longer match.
   */
  private async claim(req: AccessRequest): Promise<AccessRequest | undefined> {
    const leased = lifecycle.lease(req, this.deps.clock.now(), LEASE_MS, this.owner);
    const won = await this.tx((tx) => tx.updateRequest(req, leased));
    return won ? leased : undefined;
  }

  private async work(due: AccessRequest): Promise<void> {
    const req = await this.claim(due);
    if (!req) return;
    const config = this.deps.config.current();
    if (req.access === 'provisioning') await this.provision(req, config);
    else if (req.access === 'removing') await this.remove(req, config);
    else if (lifecycle.needsTargetExtension(req)) await this.extend(req, config);
  }

  /**
   * One call per target of the request, all at once, each in its target's lane. Never throws: a
   * target that is not configured (or whose kind has no connector) is a failure naming it.
   */
  private async onEachTarget<T>(
    req: AccessRequest,
    config: HourglassConfig,
    verb: Verb,
    call: (c: Connector, g: GrantOnTarget) => Promise<T>,
    only?: GrantOnTarget[],
  ): Promise<Calls<T>> {
    const { grants, unconfigured } = only ? { grants: only, unconfigured: [] } : targetsOf(config, req);
    const out: Calls<T> = { done: [], failures: [] };
    for (const name of unconfigured) {
      out.failures.push({
        target: name,
        message: `target "${name}" is not in the configuration: cannot ${DOING[verb]} there (restore the target to let this finish)`,
        abandoned: false,
      });
    }
    await Promise.all(
      grants.map(async (g) => {
        const name = g.target.name;
        try {
          const connector = this.opts.connectors.forTarget(name);
          if (!connector) throw new Error(`target "${name}": no connector for its kind "${g.target.type}": cannot ${DOING[verb]} there`);
          const value = await this.lanes.run(name, req.id, laneLimits(g.target), verb, () => call(connector, g));
          out.done.push({ grant: g, value });
        } catch (err) {
          out.failures.push({ target: name, message: (err as Error).message || String(err), abandoned: abandonedCall(err) });
        }
      }),
    );
    return out;
  }

  private async provision(req: AccessRequest, config: HourglassConfig) {
    const calls = await this.onEachTarget(req, config, 'grant', async (connector, g) => {
      if (connector.capabilities.issuesCredentials && !this.deps.sealer) {
        throw new Error('no credentials key is configured (credentials.key or credentials.keyFile): credentials cannot be kept');
      }
      return connector.grant(g);
    });
    // Kept even if another target failed: the next attempt grants again and replaces them.
    for (const { grant, value } of calls.done) if (value.credentials) await this.keep(req.id, grant.target.name, value.credentials);
    // What this attempt created, with the handles just returned (an undo after a lost commit revokes with them).
    const granted = calls.done.map(({ grant, value }) => (value.handle !== undefined ? { ...grant, handle: value.handle } : grant));
    const handles = Object.fromEntries(calls.done.flatMap(({ grant, value }) => (value.handle !== undefined ? [[grant.target.name, value.handle]] : [])));
    if (calls.failures.length) return this.failed(req, config, calls.failures, granted, handles);
    const now = this.deps.clock.now();
    const won = await this.commitLeased(req, (r) => lifecycle.provisioned(r, factsFor(this.deps.config.current(), r.entitlements, now), handles));
    if (!won) await this.afterLostProvisioning(req, config, granted);
  }

  private async keep(requestId: string, target: string, credentials: Credentials) {
    const sealed = this.deps.sealer!.seal(JSON.stringify(credentials), credentialContext(requestId, target));
    await this.gate.run(() => this.deps.store.putCredentials(requestId, target, sealed, this.deps.clock.now()));
  }

  /** Revokes on every target even if one fails, so one broken target never keeps access alive elsewhere. */
  private async remove(req: AccessRequest, config: HourglassConfig) {
    const calls = await this.onEachTarget(req, config, 'revoke', (c, g) => this.revokeOn(c, g));
    if (calls.failures.length) {
      for (const f of calls.failures) this.deps.metrics?.revocationRetry(f.target);
      return this.failed(req, config, calls.failures, []);
    }
    await this.gate.run(() => this.deps.store.deleteCredentials(req.id));
    await this.commitLeased(req, (r) => lifecycle.removed(r));
  }

  /** What a kind issued on request goes on its revocation list first; then the connector removes the rest. */
  private async revokeOn(connector: Connector, grant: GrantOnTarget): Promise<void> {
    if (connector.issuer) {
      if (!this.opts.issued) throw new Error(`target "${grant.target.name}" issues credentials on request, but this server runs without their store`);
      await this.gate.run(() => this.opts.issued!.revokeFor(grant.target.name, grant.requestId));
    }
    await connector.revoke(grant);
  }

  private async extend(req: AccessRequest, config: HourglassConfig) {
    const calls = await this.onEachTarget(req, config, 'extend', (c, g) => c.extend(g));
    if (calls.failures.length) return this.failed(req, config, calls.failures, []);
    await this.commitLeased(req, (r) => lifecycle.extendedOnTarget(r));
  }

  private async failed(req: AccessRequest, config: HourglassConfig, failures: Failure[], granted: GrantOnTarget[], handles?: Record<string, string>) {
    const alertAfter = failures.map((f) => config.targets[f.target]?.revocationAlertAfter ?? DEFAULT_ALERT_AFTER_MS);
    const now = this.deps.clock.now();
    const message = failures.map((f) => (f.message.includes(`"${f.target}"`) ? f.message : `${f.target}: ${f.message}`)).join('; ');
    const facts = {
      ...factsFor(config, req.entitlements, now),
      jitter: this.opts.random(),
      alertAfterMs: Math.min(...alertAfter),
      // A grant that timed out may still commit on the target: the lease stays until it runs out.
      keepLease: req.access === 'provisioning' && failures.some((f) => f.abandoned),
      ...(handles ? { handles } : {}),
    };
    const won = await this.commitLeased(req, (r) => lifecycle.accessAttemptFailed(r, message, facts));
    if (!won && req.access === 'provisioning') await this.afterLostProvisioning(req, config, granted);
  }

  /**
   * The request ended (or failed) while this server was granting. Removal waits for this lease
   * (lifecycle.startRemoving), so take it over now; if another server already removes or removed
   * it (the lease ran out first), undo what this server created, which revoke allows twice.
   */
  private async afterLostProvisioning(req: AccessRequest, config: HourglassConfig, granted: GrantOnTarget[]) {
    const fresh = await this.tx((tx) => tx.getRequest(req.id));
    if (!fresh || fresh.access === 'provisioning' || fresh.access === 'present') return; // still wanted: the next pass goes on
    if (fresh.access === 'removing' && fresh.leaseUntil === req.leaseUntil) {
      const claimed = await this.claim(fresh);
      if (claimed) return this.remove(claimed, config);
    }
    const undo = await this.onEachTarget(req, config, 'revoke', (c, g) => this.revokeOn(c, g), granted);
    await this.gate.run(() => this.deps.store.deleteCredentials(req.id));
    if (undo.failures.length) {
      throw new Error(
        `request ${req.id} ended while its access was being created; undoing it failed (reconciliation will remove it): ${undo.failures.map((f) => f.message).join('; ')}`,
      );
    }
  }

  /**
   * Applies an outcome to the request as stored, if this server's lease on it still stands: the
   * same version, or one that only an unrelated change moved on (a reminder, a review alert),
   * with the same access state, lease and end. Otherwise the outcome is dropped (false).
   */
  private async commitLeased(req: AccessRequest, outcome: (r: AccessRequest) => lifecycle.Outcome): Promise<boolean> {
    const now = this.deps.clock.now();
    return this.tx(async (tx) => {
      const fresh = await tx.getRequest(req.id);
      if (!fresh) return false;
      const same =
        fresh.version === req.version ||
        (fresh.status === req.status && fresh.access === req.access && fresh.leaseUntil === req.leaseUntil && fresh.expiresAt === req.expiresAt);
      if (!same) return false;
      return commitOutcome(this.deps, tx, fresh, outcome(fresh), now);
    });
  }
}
