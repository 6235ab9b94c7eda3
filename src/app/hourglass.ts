/** The application: every use case, wired to its ports. The HTTP layer and the CLI call this. */
import { HgError } from '../core/errors.js';
import { subjectMatches } from '../core/policy.js';
import type { AuditDraft, Principal } from '../core/types.js';
import type { HourglassConfig } from '../config/types.js';
import {
  entitlementsAtRisk,
  knownPrincipals,
  refuseStrandedAccess,
  strandedAccess,
  unconfiguredEntitlements,
  unconfiguredTargets,
  unknownPrincipals,
} from './config-change.js';
import type { AppLog, ReloadableConfig, StoreTx } from './ports.js';
import { credentialContext } from './access-work.js';
import { AuditService } from './audit.js';
import { CheckpointService, type CheckpointSigner, type CheckpointStore } from './checkpoints.js';
import { checkAccess } from './check-access.js';
import { SYSTEM_ACTOR, stamp, type AppDeps } from './context.js';
import { SYSTEM_PRINCIPAL } from './system-principal.js';
import { directoryOf, hasRole } from './directory.js';
import { DueWork } from './due-work.js';
import { EmergencyControls, endRequests } from './emergency.js';
import { explain, type ExplainInput, type ExplainResult } from './explain.js';
import { RequestService } from './requests.js';
import type { StepUpProof } from './identity/step-up.js';
import { mfaFor, requestDigest, requireStepUp } from './step-up-gate.js';
import type { IssuedCredentials } from './issued-credentials.js';
import type { IssueInput } from './connectors.js';
import type { NotificationChannel } from './notify.js';
import { WebhookService, type WebhookOptions, type WebhookStore } from './webhooks.js';
import { NotificationService, type NotificationOptions } from './notifications/service.js';
import type { MessageChannel, NotificationStore, SlackApi } from './notifications/ports.js';
import { ChatDecisions } from './notifications/chat-decisions.js';
import { TicketChecks } from './tickets/checks.js';
import { TicketWatch } from './tickets/watch.js';
import type { PrincipalStore } from './ports.js';

/**
 * The ports beside AppDeps that some use cases need; the composition root (src/compose.ts) gives
 * them all. Absent: those use cases answer that the server runs without them.
 */
export interface AppPorts {
  /** The outbox and the notification channels it delivers through (app/notify.ts): webhook admin use cases. */
  webhooks?: { store: WebhookStore; channels: readonly NotificationChannel[]; options: WebhookOptions & { random: () => number } };
  /** Notifications to people: their outbox and the message channels (app/notifications). */
  notifications?: {
    store: NotificationStore;
    channels: readonly MessageChannel[];
    principals?: PrincipalStore;
    slack?: SlackApi;
    options: NotificationOptions;
  };
  /** The checkpoint table and the key configured now (read on every call, so a reload applies). */
  checkpoints?: { store: CheckpointStore; key: () => CheckpointSigner | undefined };
  /** The configuration file, for reloadConfig; absent when the server was started without one. */
  configFile?: ReloadableConfig;
  /** Credentials issued on request (SSH certificates), their revocation lists and host agents. */
  issued?: IssuedCredentials;
  log?: AppLog;
}

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
  /** Access tied to tickets: polled, and re-checked when a ticket system pushes an event. */
  readonly tickets: TicketWatch;
  private readonly webhookService: WebhookService | undefined;
  private readonly notificationService: NotificationService | undefined;
  private readonly chatDecisions: ChatDecisions | undefined;
  private readonly checkpointService: CheckpointService | undefined;

  constructor(
    readonly deps: AppDeps,
    private readonly ports: AppPorts = {},
  ) {
    this.requests = new RequestService(deps);
    this.due = new DueWork(deps);
    this.emergency = new EmergencyControls(deps);
    this.audit = new AuditService(deps);
    this.tickets = new TicketWatch(deps, new TicketChecks(deps, deps.ticketSystems ?? []), ports.log);
    const w = ports.webhooks;
    this.webhookService = w ? new WebhookService(deps, w.store, w.channels, w.options) : undefined;
    const n = ports.notifications;
    this.notificationService = n ? new NotificationService(deps, n.store, n.channels, n.principals, n.options) : undefined;
    this.chatDecisions =
      n && this.notificationService ? new ChatDecisions(deps, this.requests, this.notificationService.links, n.slack, n.principals) : undefined;
    const c = ports.checkpoints;
    this.checkpointService = c ? new CheckpointService(deps, this.audit, c.store, c.key) : undefined;
    const metrics = deps.metrics;
    // After commit, by the server that wrote them: each committed event is counted exactly once.
    if (metrics) deps.store.onAuditCommitted((types) => types.forEach((t) => metrics.eventRecorded(t)));
  }

  /** Notifications to people: fan-out, delivery, the log and one-time links. */
  get notifications(): NotificationService {
    if (!this.notificationService) throw new HgError('HG_INTERNAL', 'this server runs without notifications');
    return this.notificationService;
  }

  /** Approving from Slack, and the Slack accounts principals linked. */
  get chat(): ChatDecisions {
    if (!this.chatDecisions) throw new HgError('HG_INTERNAL', 'this server runs without notifications');
    return this.chatDecisions;
  }

  /** Webhook endpoints, the delivery log and redelivery (each use case checks the caller's roles). */
  get webhooks(): WebhookService {
    if (!this.webhookService) throw new HgError('HG_INTERNAL', 'this server runs without the webhook outbox');
    return this.webhookService;
  }

  /** Signed audit checkpoints: list, public key, verify (each use case checks the caller's roles). */
  get checkpoints(): CheckpointService {
    if (!this.checkpointService) throw new HgError('HG_INTERNAL', 'this server runs without audit checkpoints');
    return this.checkpointService;
  }

  /** The caller, and whether they are locked. */
  async me(actor: Principal) {
    const lock = await this.deps.store.getLock('principal', actor.id);
    return { id: actor.id, groups: actor.groups, roles: actor.roles, locked: Boolean(lock) };
  }

  /** For readiness: does the store answer? */
  async storeHealth(): Promise<{ ok: boolean; error?: string }> {
    try {
      await this.deps.store.ping();
      return { ok: true };
    } catch {
      return { ok: false, error: 'store unreachable' };
    }
  }

  /** The metrics exposition, for principals with the `metrics` or `admin` role. */
  async metricsText(actor: Principal, source: { metrics(): Promise<string> }): Promise<string> {
    if (!hasRole(actor, 'metrics', 'admin')) throw new HgError('HG_FORBIDDEN', 'the metrics or admin role is needed');
    return source.metrics();
  }

  /**
   * explain() for a caller: for themselves, or for anyone with the admin or auditor role; the
   * locks and freezes in force are taken into account, `at` defaults to now.
   */
  async explain(caller: Principal, q: Omit<ExplainInput, 'principal' | 'at' | 'locks'> & { principal?: string; at?: number }): Promise<ExplainResult> {
    const principal = q.principal ?? caller.id;
    if (principal !== caller.id && !hasRole(caller, 'admin', 'auditor')) {
      throw new HgError('HG_FORBIDDEN', 'you may explain only your own requests; the admin or auditor role is needed for others');
    }
    const config = this.deps.config.current();
    const targets = [...new Set(q.entitlements.map((e) => e.split('/')[0]!).filter(Boolean))];
    const { store } = this.deps;
    const directory = directoryOf(this.deps);
    const [found, everyone, lock, ...frozen] = await Promise.all([
      directory.find(principal),
      directory.all(),
      store.getLock('principal', principal),
      ...targets.map((t) => store.getLock('target', t)),
    ]);
    return explain(
      config,
      {
        ...q,
        principal,
        at: q.at ?? this.deps.clock.now(),
        locks: { principal: Boolean(lock), frozenTargets: targets.filter((_, i) => frozen[i]) },
      },
      // explain is synchronous: the asked principal is looked up here, once.
      { find: (id) => (id === principal ? found : undefined), all: () => everyone as Iterable<Principal> },
    );
  }

  check(caller: Principal, principal: string, entitlement: string) {
    return checkAccess(this.deps, caller, principal, entitlement);
  }

  /** What the caller may request, with each applicable policy's terms (break-glass ones marked). */
  entitlementsFor(actor: Principal) {
    const config = this.deps.config.current();
    const out: {
      entitlement: string;
      target: string;
      kind: string;
      description?: string;
      credentials: 'kept' | 'on-demand' | null;
      usage?: string;
      policies: unknown[];
    }[] = [];
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
            ...(p.mfa ? { mfa: { for: p.mfa.for, maxAge: p.mfa.maxAgeMs } } : {}),
          }));
        if (policies.length) {
          const caps = config.capabilities[targetName];
          const delivers = caps?.issuesCredentials ? 'kept' : caps?.issuesOnDemand ? 'on-demand' : null;
          out.push({
            entitlement,
            target: targetName,
            kind: target.type,
            ...(ent.description ? { description: String(ent.description) } : {}),
            credentials: delivers,
            ...(caps?.usage ? { usage: caps.usage } : {}),
            policies,
          });
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
   * The credentials of a grant: to its requester only, only while it is active. Those a connector
   * created at grant time are opened (every retrieval audited); those its kind issues on request
   * (an SSH certificate for `input.publicKey`) are issued now, each with a serial and an audit
   * event. `input.target` narrows the answer to one target. All in one transaction.
   */
  async credentials(actor: Principal, id: string, input: IssueInput & { target?: string; mfa?: StepUpProof } = {}) {
    const asked = await this.deps.store.getRequest(id);
    if (asked?.requester === actor.id) {
      // Fetching credentials is where access is used: a policy may want a fresh second factor for it.
      await requireStepUp(
        this.deps,
        actor,
        { action: 'credentials', requestId: id, digest: requestDigest(asked) },
        mfaFor(asked.terms, 'credentials'),
        input.mfa,
      );
    }
    const now = this.deps.clock.now();
    // Read before the transaction: a store call inside it would wait on the transaction itself.
    const rows = (await this.deps.store.getCredentials(id)).filter((r) => input.target === undefined || r.target === input.target);
    return this.deps.store.transaction(async (tx) => {
      const req = await tx.getRequest(id);
      if (!req || req.requester !== actor.id) throw new HgError('HG_NOT_FOUND', `no request ${id}`);
      if (req.status !== 'active' || req.access !== 'present' || (req.expiresAt ?? 0) <= now) {
        throw new HgError('HG_INVALID_TRANSITION', `credentials are available only while the grant is active (it is ${req.status})`);
      }
      if (input.target !== undefined && !req.entitlements.some((e) => e.startsWith(`${input.target}/`))) {
        throw new HgError('HG_INVALID_INPUT', `the request has no entitlement on target ${input.target}`);
      }
      const sealer = this.deps.sealer;
      if (rows.length > 0 && !sealer) throw new HgError('HG_INTERNAL', 'no credentials key is configured');
      const targets: Record<string, unknown> = {};
      for (const row of rows) targets[row.target] = JSON.parse(sealer!.open(row.ciphertext, credentialContext(id, row.target)));
      const issuing = this.ports.issued?.issuingTargets(req, input, input.target) ?? [];
      if (issuing.length > 0) Object.assign(targets, await this.ports.issued!.issueIn(tx, req, actor, issuing, input, now));
      if (rows.length > 0 || issuing.length === 0) {
        const opened = rows.map((r) => r.target);
        await tx.appendAudit(
          stamp(this.deps, [{ type: 'credentials.retrieved', actor: actor.id, requestId: id, details: { targets: opened } }], now, req.policyHash),
        );
      }
      return { requestId: id, expiresAt: req.expiresAt!, targets };
    });
  }

  /** Credentials issued on request: revocation lists, CA keys, host agents (ssh targets). */
  get issued(): IssuedCredentials {
    if (!this.ports.issued) throw new HgError('HG_INTERNAL', 'this server runs without issued credentials');
    return this.ports.issued;
  }

  /**
   * Refuses (HG_CONFIG_INVALID) a configuration that drops or retypes a target, or drops an
   * entitlement, that still holds access: call it before putting `next` in force.
   */
  async assertSafeChange(next: HourglassConfig): Promise<void> {
    const current = this.deps.config.current();
    const held = await this.deps.store.transaction(async (tx) => tx.heldAccessOn(entitlementsAtRisk(current, next, await tx.heldEntitlements())));
    refuseStrandedAccess(strandedAccess(current, next, held));
  }

  /**
   * Re-reads the configuration file and puts it in force (admin; SIGHUP acts as SYSTEM_PRINCIPAL).
   * Refused, the old configuration stays: a file with problems, or one that strands held access.
   * server.listen and server.store keep their values until the next restart.
   */
  async reloadConfig(actor: Principal): Promise<{ policyHash: string; previousPolicyHash: string } & EndedAccess> {
    if (!hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', 'only an admin can reload the configuration');
    const file = this.ports.configFile;
    if (!file) throw new HgError('HG_INVALID_TRANSITION', 'this server was not started from a configuration file');
    const current = file.current();
    const previousPolicyHash = current.policyHash;
    const next = file.load();
    // Before the swap: a target that still holds access may not leave (config-change.ts).
    await this.assertSafeChange(next);
    const { listen, store } = current.server;
    if (next.server.store !== store || next.server.listen.port !== listen.port || next.server.listen.host !== listen.host) {
      this.ports.log?.warn({}, 'server.listen and server.store changes take effect at the next restart');
    }
    file.replace({ ...next, server: { ...next.server, listen, store } });
    const policyHash = next.policyHash;
    this.ports.log?.info({ policyHash, previousPolicyHash }, 'configuration reloaded');
    const ended = await this.recordReload(actor.id, previousPolicyHash);
    return { policyHash, previousPolicyHash, ...ended };
  }

  /**
   * Records a configuration change; decisions from now on use the new policy hash. Principals
   * the file no longer names lose their grants and pending requests in the same transaction.
   */
  async recordReload(actor: string, previousHash: string): Promise<EndedAccess> {
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    const known = await knownPrincipals(directoryOf(this.deps));
    return this.deps.store.transaction(async (tx) => {
      await tx.appendAudit(
        stamp(
          this.deps,
          [{ type: 'config.reloaded', actor, details: { previousPolicyHash: previousHash, policyHash: config.policyHash } }],
          now,
          config.policyHash,
        ),
      );
      return this.endAccessOfUnknownPrincipals(tx, known, now);
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
    const known = await knownPrincipals(directoryOf(this.deps));
    return this.deps.store.transaction(async (tx) => {
      await tx.appendAudit(stamp(this.deps, [{ type: 'server.started', actor: SYSTEM_ACTOR, details }], now, config.policyHash));
      const unconfigured = unconfiguredTargets(config, await tx.heldAccessOn(unconfiguredEntitlements(config, await tx.heldEntitlements())));
      const alerts = [...unconfigured].map(([target, requests]): AuditDraft => ({
        type: 'alert.target_unconfigured',
        actor: SYSTEM_ACTOR,
        details: { target, requests },
      }));
      if (alerts.length) await tx.appendAudit(stamp(this.deps, alerts, now, config.policyHash));
      const ended = await this.endAccessOfUnknownPrincipals(tx, known, now);
      return { ...ended, unconfiguredTargets: Object.fromEntries(unconfigured) };
    });
  }

  private async endAccessOfUnknownPrincipals(tx: StoreTx, known: ReadonlySet<string>, now: number): Promise<EndedAccess> {
    const ended: EndedAccess = { revoked: [], cancelled: [] };
    for (const principal of unknownPrincipals(known, await tx.openRequesters())) {
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

export { SYSTEM_PRINCIPAL };
