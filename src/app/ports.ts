/**
 * The narrow interfaces the use cases need. Adapters implement them; tests use the real ones
 * (SQLite and PostgreSQL stores, a manual clock).
 */
import type { HourglassConfig } from '../config/types.js';
import type { IdentityTx } from './identity/ports.js';
import type { MfaTx } from './identity/mfa-ports.js';
import type { AccessRequest, AuditDraft, Principal, RequestStatus } from '../core/types.js';
import type { EventJsonRow, StoredChainLink, StoredChainRow } from '../core/audit-chain.js';

export interface Clock {
  now(): number;
}

export interface IdGenerator {
  /** Time-ordered, unguessable request id. */
  requestId(): string;
  eventId(): string;
}

/** The configuration in force; `reload` swaps it, and each decision reads it once. */
export interface ConfigSource {
  current(): HourglassConfig;
}

/**
 * A configuration read from a file that can be read again (POST /v1/reload, SIGHUP). The
 * composition root knows the file and the environment; the reload use case decides what to keep.
 */
export interface ReloadableConfig extends ConfigSource {
  /** Reads the file again with every check the start ran; throws HG_CONFIG_INVALID listing the problems. */
  load(): HourglassConfig;
  /** Puts `next` in force. */
  replace(next: HourglassConfig): void;
}

/**
 * What a caller presents to prove who they are. `sourceIp` may be computed when read (behind
 * trusted proxies it parses X-Forwarded-For): read it only when the decision needs it.
 */
export interface Credential {
  /** `cookie`: the browser's session cookie (writes then need the CSRF token, route.ts). */
  scheme: 'bearer' | 'cookie';
  token: string;
  readonly sourceIp: string;
}

/**
 * Turns a credential into a principal (API tokens now; OIDC sessions, SAML, personal access
 * tokens next). May answer synchronously, and a source that can (a map lookup) must: /v1/check
 * then replies in the same tick (docs/benchmarks.md); the HTTP layer awaits only a promise.
 */
export interface Authenticator {
  authenticate(credential: Credential): Principal | undefined | Promise<Principal | undefined>;
}

/**
 * Who the principals are (the configuration now; an IdP or SCIM-provisioned store next): a
 * principal the directory knows can be locked, approve and be audited, and keeps its access
 * when the configuration is reloaded.
 */
export interface Directory {
  find(id: string): Principal | undefined | Promise<Principal | undefined>;
  /** Every principal it can list, in a stable order (explain: who could approve or review). */
  all(): Iterable<Principal> | Promise<Iterable<Principal>>;
}

/**
 * A principal kept in the store, known from an identity source (SCIM, an OIDC or SAML sign-in)
 * rather than the configuration file. It holds no roles: roles come from the configuration only,
 * so an identity source can never make anyone an admin.
 */
export interface StoredPrincipal {
  id: string;
  /** The identity source that wrote it (`scim`, `oidc`, `saml`). */
  source: string;
  /** Its id in that source, when it has one of its own. */
  externalId?: string;
  displayName?: string;
  email?: string;
  groups: string[];
  /** The principal id of their manager. */
  manager?: string;
  /** False once the source deactivated or deleted it: unknown to the directory from then on. */
  active: boolean;
  /** `machine`: a CI job, bot or agent an admin registered (signs in with tokens only). Default `human`. */
  kind?: 'human' | 'machine';
  /** SCIM userName (unique without regard to case). */
  userName?: string;
  /** The source's other attributes (SCIM name, emails, title...), kept to answer it. */
  attributes?: Record<string, unknown>;
  /** Raised by every write (SCIM ETags). */
  version?: number;
  createdAt: number;
  updatedAt: number;
}

/** The store's principals (migration 0009). */
export interface PrincipalStore {
  /** Creates or replaces the principal with this id (createdAt kept from the first write). */
  put(principal: StoredPrincipal): Promise<void>;
  get(id: string): Promise<StoredPrincipal | undefined>;
  /** Every active principal, by id. */
  active(): Promise<StoredPrincipal[]>;
}

/** Operational log lines from use cases (a pino logger fits). */
export interface AppLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the scheduler reports for readiness and metrics. */
export interface SchedulerStatus {
  running: boolean;
  lastRunAt?: number;
  lastError?: string;
  lastLagMs: number;
  transitions: number;
}

/**
 * An event as stored and read back. Its `type` is a plain string: the server writes only
 * AuditEventType values (AuditDraft), but a row read from the store may be foreign.
 */
export interface AuditEvent extends Omit<AuditDraft, 'type'> {
  type: string;
  id: string;
  at: number;
  policyHash?: string;
  /** Set when the event is written: linked onto the chain in the writing transaction. */
  seq?: number;
  prevHash?: string;
  hash?: string;
}

export interface Lock {
  subject: string;
  by: string;
  at: number;
  reason?: string;
}

export interface IdempotencyRecord {
  fingerprint: string;
  requestId: string;
}

export interface GrantRow {
  requestId: string;
  principal: string;
  entitlement: string;
  expiresAt: number;
}

export interface RequestFilter {
  status?: RequestStatus[];
  requester?: string;
  /** Ids strictly below this (pages go from newest to oldest). */
  before?: string;
  limit: number;
}

export interface AuditFilter {
  requestId?: string;
  actor?: string;
  type?: string;
  since?: number;
  until?: number;
  /** Insertion position strictly after this (pages go oldest first). */
  after?: number;
  limit: number;
}

export interface AuditPage {
  events: (AuditEvent & { pos: number })[];
}

export interface HeldAccess {
  requestId: string;
  requester: string;
  entitlement: string;
  /** Open (pending, scheduled, active): the request itself can still be ended. */
  open: boolean;
}

/** Everything a use case may do inside one transaction. */
/** A credential issued on request (SSH certificate, token): what revokes and explains it, never the credential. */
export interface IssuedRecord {
  target: string;
  requestId: string;
  principal: string;
  entitlement: string;
  /** The kind's reference: the certified key's fingerprint, the token id. */
  ref: string;
  issuedAt: number;
  expiresAt: number;
  /** The id of the key that signed it (a token's kid), when the kind publishes its keys. */
  signer?: string;
}

export interface StoreTx {
  getRequest(id: string): Promise<AccessRequest | undefined>;
  insertRequest(req: AccessRequest): Promise<void>;
  /** Compare-and-swap on `prev.version`; false when another change won. Maintains the grant index. */
  updateRequest(prev: AccessRequest, next: AccessRequest): Promise<boolean>;
  /** Non-final requests of a principal (for lock) or touching a target (for freeze). */
  openRequestsOf(requester: string): Promise<AccessRequest[]>;
  openRequests(): Promise<AccessRequest[]>;
  /**
   * Held access: every request that holds access or may still come to (open requests, and ended
   * ones whose removal is not confirmed), per entitlement. Read in three narrow ways so that a
   * start or a reload over a million grants reads what it judges, not a row per grant:
   * the entitlements held (distinct), the held rows of a few entitlements, and the requesters
   * of open requests (distinct).
   */
  heldEntitlements(): Promise<string[]>;
  heldAccessOn(entitlements: readonly string[]): Promise<HeldAccess[]>;
  openRequesters(): Promise<string[]>;
  /**
   * Records events in this transaction, linked onto the hash chain (seq, prevHash, hash) as part
   * of it; `at` may be moved forward to the chain head's, never back.
   */
  appendAudit(events: AuditEvent[]): Promise<void>;
  /**
   * Locks the request's row until commit if it is still at `req.version` (false if it moved on):
   * what is written meanwhile cannot race a transition of the request.
   */
  lockRequest(req: AccessRequest): Promise<boolean>;
  /**
   * Locks, until commit, the rows of those of `ids` no other transaction holds, without waiting
   * for the others (PostgreSQL: FOR UPDATE SKIP LOCKED), and returns the ids it locked. Servers
   * working through the same due rows at once so take disjoint ones. SQLite (one writer): all.
   */
  claimRequests(ids: readonly string[]): Promise<Set<string>>;
  /** Records a credential issued on request; returns its serial (unique in the store, from 1). */
  recordIssued(record: IssuedRecord): Promise<number>;
  /** Keeps a signing key's public half (once per target and kid): it is published while credentials it signed live. */
  recordSigningKey(target: string, kid: string, publicKey: string): Promise<void>;
  getIdempotency(principal: string, key: string): Promise<IdempotencyRecord | undefined>;
  putIdempotency(principal: string, key: string, record: IdempotencyRecord, at: number): Promise<void>;
  getLock(kind: 'principal' | 'target', subject: string): Promise<Lock | undefined>;
  setLock(kind: 'principal' | 'target', lock: Lock): Promise<void>;
  clearLock(kind: 'principal' | 'target', subject: string): Promise<boolean>;
  /** Principals, identity links, sessions and tokens (src/app/identity/ports.ts). */
  readonly identity: IdentityTx;
  /** Step-up MFA factors, recovery codes and challenges (src/app/identity/mfa-ports.ts). */
  readonly mfa: MfaTx;
}

/**
 * State key written by the migration that moved linking into the writing transaction: JSON
 * `{seq, linkedAtUpgrade}`, the last link made by the previous version (which did not keep time
 * order). Absent: every link is held to time order.
 */
export const AUDIT_TIME_ORDER_KEY = 'audit.time_order_from';

/**
 * Aggregates for the dashboard (GET /v1/stats, src/app/stats.ts), computed by the database: none
 * reads every event of a period into memory.
 */
export interface StatsQueries {
  /** Events of `types` in each interval [bounds[i], bounds[i + 1]), counted by type; pairs without any are left out. */
  countEventsBetween(bounds: readonly number[], types: readonly string[]): Promise<{ interval: number; type: string; count: number }[]>;
  /** Entitlements by how many grant.activated events in [since, until) named them, most first (ties by name). */
  topActivated(since: number, until: number, limit: number): Promise<{ entitlement: string; count: number }[]>;
  /**
   * Submission-to-approval times of the requests whose approvals were completed in [since, until):
   * how many, and the quantiles `qs` of their times in ms (linear interpolation; null when none).
   */
  approvalTimes(since: number, until: number, qs: readonly number[]): Promise<{ count: number; quantiles: (number | null)[] }>;
  /** Events of `type` in [since, until), newest first: how many, and the latest `limit`. */
  latestEvents(type: string, since: number, until: number, limit: number): Promise<{ count: number; events: AuditEvent[] }>;
  /** Live grants (one row per entitlement) ending in (from, to], soonest first: how many, and the first `limit`. */
  grantsEnding(from: number, to: number, limit: number): Promise<{ count: number; grants: GrantRow[] }>;
  /** Requests whose access is being removed (`access` removing), at most `limit`, by the time their next attempt is due. */
  removingRequests(limit: number): Promise<AccessRequest[]>;
}

/** What one commit of this server linked and changed: enough for its check index to take it in without reading it back. */
export interface CommittedChange {
  /** The seq of the event before this transaction's first one (the chain head it linked onto). */
  afterSeq: number;
  /** The seq of its last event. */
  seq: number;
  /** Every request whose live grants it changed, with what the request grants now (liveGrantsOf). */
  regranted: { requestId: string; principal: string; entitlements: readonly string[]; grants: { entitlement: string; expiresAt: number }[] }[];
}

export interface Store extends StatsQueries {
  readonly dialect: 'sqlite' | 'postgres';
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  getRequest(id: string): Promise<AccessRequest | undefined>;
  listRequests(filter: RequestFilter): Promise<AccessRequest[]>;
  /**
   * Requests with work due at or before `now`, oldest due first; on PostgreSQL without the rows
   * another transaction holds (another server's due batch), so each server reads its own share.
   */
  findDue(now: number, limit: number): Promise<AccessRequest[]>;
  /** The earliest `due_at` or `access_due_at` of any request (the scheduler arms its timer for it); undefined when nothing is ever due. */
  nextDueAt(): Promise<number | undefined>;
  /** Requests whose work on a target (provisioning, removing) is due at `now`, oldest first. */
  findAccessWork(now: number, limit: number): Promise<AccessRequest[]>;
  /**
   * Requests whose target work is leased, until after `now`, to a server other than `owner`
   * that has stopped saying it is alive (presence.ts): work to take over before the lease ends.
   */
  orphanedWork(owner: string, now: number, limit: number): Promise<AccessRequest[]>;
  /** Server `id` is alive until `aliveUntil` (insert or renew). */
  beat(id: string, startedAt: number, aliveUntil: number): Promise<void>;
  /** Server `id` stopped cleanly. */
  leave(id: string): Promise<void>;
  /** Drops the rows of servers not alive since `before`. */
  forgetServers(before: number): Promise<void>;
  /** Credentials issued by connectors, encrypted by the caller; one row per (request, target). */
  putCredentials(requestId: string, target: string, ciphertext: string, at: number): Promise<void>;
  getCredentials(requestId: string): Promise<{ target: string; ciphertext: string }[]>;
  deleteCredentials(requestId: string): Promise<void>;
  /**
   * The live grant of `entitlement` to `principal` that lasts longest, if any, at `now`. A store
   * that can answer without waiting (embedded SQLite) answers synchronously: /v1/check is the
   * hottest path and then replies in the same tick.
   */
  findGrant(principal: string, entitlement: string, now: number): GrantRow | undefined | Promise<GrantRow | undefined>;
  listGrants(filter: {
    principal?: string;
    entitlement?: string;
    now: number;
    limit: number;
    after?: { requestId: string; entitlement: string };
  }): Promise<GrantRow[]>;
  listLocks(kind: 'principal' | 'target'): Promise<Lock[]>;
  getLock(kind: 'principal' | 'target', subject: string): Promise<Lock | undefined>;

  listAudit(filter: AuditFilter): Promise<AuditPage>;
  /** Chained links in sequence order from `fromSeq` (inclusive). */
  readChain(fromSeq: number, limit: number): Promise<StoredChainLink[]>;
  /** The same links as stored rows, details as their text unparsed (verifyRows). */
  readChainRows(fromSeq: number, limit: number): Promise<StoredChainRow[]>;
  /** The same links with the text each hash covers, built by the database (verifyEventJson). */
  readChainEventJson(fromSeq: number, limit: number): Promise<EventJsonRow[]>;
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;
  /** How many links have a seq from 1 to `upToSeq`: `upToSeq` itself when none is missing. */
  countChained(upToSeq: number): Promise<number>;
  /** Rows without a seq: the server never writes one, so each is foreign. `first` by insertion position. */
  unchainedAudit(): Promise<{ count: number; first?: { pos: number; id: string } }>;
  /** Called after each commit that wrote audit events, with their types (for metrics). */
  onAuditCommitted(listener: (types: readonly string[]) => void): void;
  /**
   * Awaited after each commit that linked audit events, before `transaction` returns: the check
   * index takes the commit in there, so whoever revoked on this server is never answered from
   * before the revocation. A failing hook is reported to `onError` and never fails the committed
   * transaction.
   */
  afterCommit(hook: (commit: CommittedChange) => Promise<void>, onError: (err: unknown) => void): void;
  /** The check index's feed (src/app/check-index.ts): changes by audit seq, requests by id. */
  changesSince(seq: number, limit: number): Promise<{ seq: number; requestId: string | null }[]>;
  /** The requests with these ids that exist (any order). */
  getRequests(ids: readonly string[]): Promise<AccessRequest[]>;
  getState(key: string): Promise<string | undefined>;
  setState(key: string, value: string): Promise<void>;
  /** Stores `value` under `key` unless one is there; returns the stored one (the first writer's, among servers starting at once). */
  initState(key: string, value: string): Promise<string>;

  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Observations for monitoring (Prometheus in production, a no-op in most tests). Every method
 * must be cheap and must never throw.
 */
export interface Metrics {
  /** A committed audit event (decisions and state changes are counted by type). */
  eventRecorded(type: string): void;
  /** How late a due transition ran, in ms. */
  dueLag(ms: number): void;
  /** A /v1/check answered, in seconds. */
  checkLatency(seconds: number, allowed: boolean): void;
  /** A webhook delivery attempt ended. */
  webhookDelivery(endpoint: string, outcome: 'delivered' | 'failed' | 'refused'): void;
  /** A notification attempt ended, by channel kind (email, slack, teams). */
  notificationAttempt(channel: string, outcome: 'sent' | 'skipped' | 'failed'): void;
  /** A revocation on a target had to be retried (connectors; a later issue). */
  revocationRetry(target: string): void;
}

export const noMetrics: Metrics = {
  eventRecorded() {},
  dueLag() {},
  checkLatency() {},
  webhookDelivery() {},
  notificationAttempt() {},
  revocationRetry() {},
};

/** Work the scheduler runs on every pass, after due transitions (webhook delivery, checkpoints, ...). */
export interface BackgroundWorker {
  readonly name: string;
  runOnce(): Promise<void>;
}

/** Seals secrets kept at rest (connector credentials); `context` binds a ciphertext to its row. */
export interface CredentialSealer {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
}
