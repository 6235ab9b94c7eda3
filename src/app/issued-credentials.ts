/**
 * Credentials issued on request (SSH certificates, tokens): issuing them while a grant is active,
 * the revocation list of the certificates whose grant ended early and the host agents that apply
 * it, the keys tokens are verified with, and introspection. Issuing locks the request's row in the same transaction that records the serial and
 * its audit event, so a certificate is either recorded before the grant ends (and then revoked
 * with it) or not issued at all.
 */
import { createHash } from 'node:crypto';
import { HgError } from '../core/errors.js';
import type { AccessRequest, Principal } from '../core/types.js';
import type { Connector, ConnectorRegistry, GrantOnTarget, IssueInput, PublicJwk } from './connectors.js';
import { stamp, SYSTEM_ACTOR, type AppDeps } from './context.js';
import { hasRole } from './directory.js';
import type { BackgroundWorker, IssuedRecord, StoreTx } from './ports.js';
import type { Timers } from './target-lanes.js';
import { realTimers } from './target-lanes.js';
import { targetsOf } from './access-work.js';

export interface RevocationState {
  version: number;
  changedAt: number;
}

export interface AgentReport {
  target: string;
  host: string;
  agent: string;
  version: number;
  seenAt: number;
  appliedAt: number;
  /** The version it was behind on when alert.agent_behind was last raised for it. */
  alertedVersion: number | null;
}

/** The store's side: tables from migrations 0007 and 0008. */
export interface IssuedCredentialStore {
  /** Marks the request's unexpired credentials on the target revoked and moves the target's version on if any were. Idempotent. */
  revokeFor(target: string, requestId: string, now: number): Promise<number>;
  /** The current version (0 and changedAt 0 before the first revocation). */
  revocationState(target: string): Promise<RevocationState>;
  /** Serials revoked on the target whose credentials have not expired at `now`. */
  revokedSerials(target: string, now: number): Promise<number[]>;
  recordAgentReport(report: { target: string; host: string; agent: string; version: number; at: number }): Promise<void>;
  agentReports(target: string): Promise<AgentReport[]>;
  markAlerted(target: string, host: string, version: number): Promise<void>;
  /** One issued credential by the kind's reference (a token's jti). */
  find(target: string, ref: string): Promise<IssuedRow | undefined>;
  /** The public keys (JWK JSON) of the target that signed credentials still alive at `now`. */
  liveSigningKeys(target: string, now: number): Promise<string[]>;
}

export interface IssuedRow extends IssuedRecord {
  serial: number;
  revokedAt: number | null;
}

/** A revocation list as served: its bytes and what names them. */
export interface PublishedList {
  version: number;
  changedAt: number;
  etag: string;
  body: Buffer;
}

export interface HostStatus extends AgentReport {
  /** The host has not applied the current version, and it came out more than agentAlertAfter ago. */
  behind: boolean;
}

/** How long a revocation-list request may wait for a change (long poll). */
export const MAX_WAIT_MS = 60_000;
/** How often a waiting request looks at the store (another server may have revoked). */
const WAIT_POLL_MS = 250;
/** Lists are rebuilt at least this often, so expired serials leave them. */
const REBUILD_AFTER_MS = 10 * 60_000;

/** How often hosts are looked at for alert.agent_behind. */
const ALERT_PASS_MS = 15_000;

const issuedDetails = (target: string, entitlement: string, serial: number, details: Record<string, unknown>) => ({ target, entitlement, serial, ...details });

export class IssuedCredentials implements BackgroundWorker {
  readonly name = 'agents';
  private lastAlertPass = Number.NEGATIVE_INFINITY;
  private readonly cache = new Map<string, PublishedList & { builtAt: number }>();
  private readonly wakers = new Map<string, Set<() => void>>();
  private readonly states = new Map<string, { at: number; state: Promise<RevocationState> }>();
  private stopping = false;

  constructor(
    private readonly deps: AppDeps,
    private readonly connectors: ConnectorRegistry,
    private readonly store: IssuedCredentialStore,
    private readonly timers: Timers = realTimers,
  ) {}

  /**
   * The request's targets whose connector issues on request, with their grants: only `only` when
   * given; else those whose input (`needs`) the caller sent, so a plain retrieval of database
   * credentials does not need a key.
   */
  issuingTargets(req: AccessRequest, input: IssueInput, only?: string): { grant: GrantOnTarget; connector: Connector }[] {
    const out: { grant: GrantOnTarget; connector: Connector }[] = [];
    for (const grant of targetsOf(this.deps.config.current(), req).grants) {
      if (only !== undefined && grant.target.name !== only) continue;
      const connector = this.connectors.forTarget(grant.target.name);
      const needs = connector?.issuer?.needs;
      if (connector?.issuer && (only !== undefined || needs === undefined || input[needs] !== undefined)) out.push({ grant, connector });
    }
    return out;
  }

  /**
   * Issues the credentials of `targets` in the caller's transaction: the request row is locked
   * (it must be the version read) and every credential's serial and audit event are written.
   */
  async issueIn(tx: StoreTx, req: AccessRequest, actor: Principal, targets: { grant: GrantOnTarget; connector: Connector }[], input: IssueInput, now: number) {
    // Cut (and checked) before the serials are taken: a refused key leaves nothing behind.
    const prepared = targets.map(({ grant, connector }) => ({ grant, connector, list: connector.issuer!.prepare(grant, input, now) }));
    if (!(await tx.lockRequest(req))) throw new HgError('HG_CONCURRENT_UPDATE', 'the request changed while credentials were issued; ask again');
    const out: Record<string, { kind: string; credentials: Record<string, unknown>[] }> = {};
    for (const { grant, list, connector } of prepared) {
      const issued: Record<string, unknown>[] = [];
      const key = connector.tokens?.publicKey;
      if (key && list.length > 0) await tx.recordSigningKey(grant.target.name, key.kid, JSON.stringify(key));
      for (const p of list) {
        const record: IssuedRecord = {
          target: grant.target.name,
          requestId: req.id,
          principal: req.requester,
          entitlement: p.entitlement,
          ref: p.ref,
          issuedAt: now,
          expiresAt: Math.min(p.expiresAt, req.expiresAt ?? 0),
          ...(p.signer !== undefined ? { signer: p.signer } : {}),
        };
        const serial = await tx.recordIssued(record);
        issued.push({ entitlement: p.entitlement, ...(await p.sign(serial)) });
        const event = {
          type: 'credentials.issued' as const,
          actor: actor.id,
          requestId: req.id,
          details: issuedDetails(grant.target.name, p.entitlement, serial, p.details),
        };
        await tx.appendAudit(stamp(this.deps, [event], now, req.policyHash));
      }
      out[grant.target.name] = { kind: grant.target.type, credentials: issued };
    }
    return out;
  }

  private authority(targetName: string) {
    const authority = this.connectors.forTarget(targetName)?.authority;
    if (!authority) throw new HgError('HG_NOT_FOUND', `no ssh target ${targetName}`);
    return authority;
  }

  /** The CA public key of an ssh target (public: hosts fetch it without a credential). */
  caPublicKey(targetName: string): string {
    return `${this.authority(targetName).publicKey()}\n`;
  }

  /** The target's revocation version, read at most once per WAIT_POLL_MS however many agents wait on it. */
  private stateOf(targetName: string): Promise<RevocationState> {
    const now = this.deps.clock.now();
    const hit = this.states.get(targetName);
    if (hit && now - hit.at < WAIT_POLL_MS) return hit.state;
    const state = this.store.revocationState(targetName);
    this.states.set(targetName, { at: now, state });
    state.catch(() => this.states.delete(targetName));
    return state;
  }

  private async published(targetName: string): Promise<PublishedList> {
    const authority = this.authority(targetName);
    const state = await this.stateOf(targetName);
    const now = this.deps.clock.now();
    const cached = this.cache.get(targetName);
    if (cached && cached.version === state.version && now - cached.builtAt < REBUILD_AFTER_MS) return cached;
    // Dated by the version, not the build: servers of a deployment that hold the same serials
    // serve the same bytes under the same ETag, so an agent that moves between them fetches nothing.
    const body = authority.revocationList(await this.store.revokedSerials(targetName, now), state.version, state.changedAt);
    const etag = `"${state.version}-${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
    const list = { ...state, body, etag, builtAt: now };
    this.cache.set(targetName, list);
    return list;
  }

  /**
   * The revocation list of an ssh target, for its agents (role agent) and admins. With
   * `ifNoneMatch` equal to the current ETag and `waitMs`, answers when the list changes or the
   * wait is over (`unchanged`). An agent naming its host and the version it applied is recorded.
   */
  async revocationList(
    actor: Principal,
    targetName: string,
    q: { ifNoneMatch?: string; waitMs?: number; host?: string; applied?: number } = {},
  ): Promise<PublishedList & { unchanged: boolean }> {
    if (!hasRole(actor, 'agent', 'admin')) throw new HgError('HG_FORBIDDEN', 'the agent or admin role is needed');
    let list = await this.published(targetName);
    if (q.host !== undefined && q.applied !== undefined) {
      await this.store.recordAgentReport({ target: targetName, host: q.host, agent: actor.id, version: q.applied, at: this.deps.clock.now() });
    }
    const deadline = Math.min(q.waitMs ?? 0, MAX_WAIT_MS);
    let waited = 0;
    while (q.ifNoneMatch === list.etag && waited < deadline && !this.stopping) {
      const step = Math.min(WAIT_POLL_MS, deadline - waited);
      await this.wait(targetName, step);
      waited += step;
      list = await this.published(targetName);
    }
    return { ...list, unchanged: q.ifNoneMatch === list.etag };
  }

  /** Sleeps `ms`, or less when this server revokes on the target. */
  private wait(targetName: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.wakers.get(targetName);
      if (!set) this.wakers.set(targetName, (set = new Set()));
      const wake = () => {
        cancel();
        set!.delete(wake);
        resolve();
      };
      const cancel = this.timers.after(ms, wake);
      set.add(wake);
    });
  }

  /** Server stop: long polls answer now (304), so they never hold the shutdown for their wait. */
  stopWaiting(): void {
    this.stopping = true;
    for (const set of this.wakers.values()) for (const wake of [...set]) wake();
  }

  /** Revokes what was issued for a request on a target (the access worker, before the connector's revoke); waiting agents look at once. */
  async revokeFor(targetName: string, requestId: string): Promise<void> {
    const count = await this.store.revokeFor(targetName, requestId, this.deps.clock.now());
    if (count === 0) return;
    this.states.delete(targetName);
    for (const wake of [...(this.wakers.get(targetName) ?? [])]) wake();
  }

  /** Raises alert.agent_behind once per host and version for hosts that have not applied the current list in time. */
  async runOnce(): Promise<void> {
    const now = this.deps.clock.now();
    if (now - this.lastAlertPass < ALERT_PASS_MS) return;
    this.lastAlertPass = now;
    const config = this.deps.config.current();
    for (const name of Object.keys(config.targets)) {
      if (!config.capabilities[name]?.issuesOnDemand || !this.connectors.forTarget(name)?.authority) continue;
      const status = await this.hostStatus(name, now);
      for (const h of status.hosts) {
        if (!h.behind || h.alertedVersion === status.version) continue;
        const details = {
          target: name,
          host: h.host,
          agent: h.agent,
          appliedVersion: h.version,
          currentVersion: status.version,
          since: new Date(status.changedAt).toISOString(),
        };
        await this.deps.store.transaction((tx) =>
          tx.appendAudit(stamp(this.deps, [{ type: 'alert.agent_behind', actor: SYSTEM_ACTOR, details }], now, config.policyHash)),
        );
        await this.store.markAlerted(name, h.host, status.version);
      }
    }
  }

  /**
   * The public keys of token targets (all of them, or one): the key in force, and every earlier
   * key while a token it signed has not expired (a rotation never strands a live token).
   */
  async jwks(targetName?: string): Promise<{ keys: PublicJwk[] }> {
    const config = this.deps.config.current();
    const names = targetName !== undefined ? [targetName] : Object.keys(config.targets).filter((n) => config.capabilities[n]?.issuesOnDemand);
    const now = this.deps.clock.now();
    const keys = new Map<string, PublicJwk>();
    for (const name of names) {
      const tokens = this.connectors.forTarget(name)?.tokens;
      if (!tokens) {
        if (targetName !== undefined) throw new HgError('HG_NOT_FOUND', `no token target ${name}`);
        continue;
      }
      keys.set(tokens.publicKey.kid, tokens.publicKey);
      for (const text of await this.store.liveSigningKeys(name, now)) {
        const jwk = JSON.parse(text) as PublicJwk;
        if (!keys.has(jwk.kid)) keys.set(jwk.kid, jwk);
      }
    }
    return { keys: [...keys.values()] };
  }

  /**
   * RFC 7662 introspection for resource servers (roles checker, admin): active only when the
   * token verifies (signature, issuer, audience, time), was issued by this store, was not
   * revoked, and its grant is still active, so an early end answers `active: false` at once.
   */
  async introspect(actor: Principal, targetName: string, token: string): Promise<Record<string, unknown>> {
    if (!hasRole(actor, 'checker', 'admin')) throw new HgError('HG_FORBIDDEN', 'the checker or admin role is needed');
    const tokens = this.connectors.forTarget(targetName)?.tokens;
    if (!tokens) throw new HgError('HG_NOT_FOUND', `no token target ${targetName}`);
    const now = this.deps.clock.now();
    const inactive = { active: false };
    const { keys } = await this.jwks(targetName);
    const claims = token.length > 8192 ? undefined : await tokens.verify(token, keys, now);
    if (!claims || typeof claims.jti !== 'string') return inactive;
    const row = await this.store.find(targetName, claims.jti);
    if (!row || row.revokedAt !== null || row.expiresAt <= now) return inactive;
    const req = await this.deps.store.getRequest(row.requestId);
    if (!req || req.status !== 'active' || (req.expiresAt ?? 0) <= now) return inactive;
    return { ...claims, active: true, token_type: 'Bearer', username: row.principal };
  }

  /** Each host's last report on an ssh target (admins and auditors). */
  async hosts(actor: Principal, targetName: string): Promise<{ version: number; changedAt: number; hosts: HostStatus[] }> {
    if (!hasRole(actor, 'admin', 'auditor')) throw new HgError('HG_FORBIDDEN', 'the admin or auditor role is needed');
    this.authority(targetName);
    return this.hostStatus(targetName, this.deps.clock.now());
  }

  async hostStatus(targetName: string, now: number) {
    const state = await this.store.revocationState(targetName);
    const alertAfter = Number(this.deps.config.current().targets[targetName]?.agentAlertAfter ?? 120_000);
    const hosts = (await this.store.agentReports(targetName)).map((r) => ({
      ...r,
      behind: r.version < state.version && now - state.changedAt > alertAfter,
    }));
    return { ...state, hosts };
  }
}
