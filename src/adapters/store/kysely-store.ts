/**
 * The one store implementation, over Kysely, for SQLite and PostgreSQL alike. Requests are kept
 * whole as JSON with the columns queries need beside them; `grants` is an index of live grants
 * maintained in the same transaction as the request, so /v1/check is one indexed lookup.
 */
import type { IdentityTx } from '../../app/identity/ports.js';
import { identityTx } from './identity-store.js';
import type { MfaTx } from '../../app/identity/mfa-ports.js';
import { mfaTx } from './mfa-store.js';
import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, type Kysely, type Selectable, type Transaction, sql } from 'kysely';
import { dueAt, needsTargetExtension } from '../../core/lifecycle.js';
import type { AccessRequest } from '../../core/types.js';
import { eventHash, GENESIS_HASH, storedDetails, type StoredChainLink } from '../../core/audit-chain.js';
import { ChainRowReader } from './chain-rows.js';
import { liveGrantsOf } from '../../core/grant-index.js';
import type {
  AuditEvent,
  AuditFilter,
  AuditPage,
  CommittedChange,
  GrantRow,
  HeldAccess,
  IdempotencyRecord,
  IssuedRecord,
  Lock,
  RequestFilter,
  Store,
  StoreTx,
} from '../../app/ports.js';
import { insertIssued, insertSigningKey } from './issued-store.js';
import type { AuditEventsTable, Database } from './schema.js';
import { KyselyStatsQueries } from './stats-store.js';

type Db = Kysely<Database> | Transaction<Database>;
type AuditRow = Selectable<AuditEventsTable>;
type Kind = 'principal' | 'target';

const OPEN_STATUSES = ['pending', 'scheduled', 'active'];
/** Advisory lock id that lets only one transaction at a time link the audit chain on PostgreSQL. */
export const CHAIN_LOCK_ID = 4_842_001;
/** The PostgreSQL channel every commit that links audit events notifies (payload: its last seq), delivered on commit only. */
export const CHANGES_CHANNEL = 'hourglass_changes';
/** Rows per INSERT: well under PostgreSQL's 65535 bind parameters at 10 columns a row. */
const AUDIT_INSERT_ROWS = 1000;
/** Values per IN list (SQLite binds at most 32766 parameters a statement). */
const IN_LIST_MAX = 500;

function toRow(req: AccessRequest) {
  return {
    id: req.id,
    status: req.status,
    access: req.access,
    requester: req.requester,
    due_at: dueAt(req) ?? null,
    access_due_at: req.access === 'provisioning' || req.access === 'removing' || needsTargetExtension(req) ? (req.accessNextAt ?? req.requestedAt) : null,
    requested_at: req.requestedAt,
    version: req.version,
    body: JSON.stringify(req),
    // A lease that ended (leaseUntil gone) names no one, whatever the body kept.
    lease_owner: req.leaseUntil !== undefined ? (req.leaseOwner ?? null) : null,
  };
}

const parse = (row: { body: string }): AccessRequest => JSON.parse(row.body) as AccessRequest;

function grantRows(req: AccessRequest) {
  return liveGrantsOf(req).map((g) => ({ request_id: req.id, principal: req.requester, entitlement: g.entitlement, expires_at: g.expiresAt }));
}

function toLock(row: { subject: string; by_principal: string; at: number; reason: string | null }): Lock {
  return { subject: row.subject, by: row.by_principal, at: Number(row.at), ...(row.reason ? { reason: row.reason } : {}) };
}

function toEvent(row: AuditRow): AuditEvent & { pos: number } {
  const e: AuditEvent & { pos: number } = {
    pos: Number(row.pos),
    id: row.id,
    at: Number(row.at),
    type: row.type,
    actor: row.actor,
  };
  if (row.request_id) e.requestId = row.request_id;
  if (row.details) e.details = JSON.parse(row.details);
  if (row.policy_hash) e.policyHash = row.policy_hash;
  if (row.seq !== null) {
    e.seq = Number(row.seq);
    e.prevHash = row.prev_hash!;
    e.hash = row.hash!;
  }
  return e;
}

function toLink(row: AuditRow): StoredChainLink {
  return {
    seq: Number(row.seq),
    id: row.id,
    at: Number(row.at),
    type: row.type,
    actor: row.actor,
    requestId: row.request_id,
    details: row.details === null ? null : JSON.parse(row.details),
    policyHash: row.policy_hash,
    prevHash: row.prev_hash ?? '',
    hash: row.hash ?? '',
  };
}

/** The newest link, read by the unique index on seq (a backward scan that stops at once). */
async function readHead(db: Db): Promise<{ seq: number; hash: string; at: number } | undefined> {
  const row = await db.selectFrom('audit_events').select(['seq', 'hash', 'at']).where('seq', 'is not', null).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? { seq: Number(row.seq), hash: row.hash!, at: Number(row.at) } : undefined;
}

class KyselyTx implements StoreTx {
  /** Events appended in this transaction, written and linked by `linkAudit` just before commit. */
  private pending: AuditEvent[] | undefined;
  /** Requests whose live grants this transaction changed, with what each grants now: each must be named by one of its events (the check index's feed). */
  private regranted: Map<string, CommittedChange['regranted'][number]> | undefined;
  readonly identity: IdentityTx;
  readonly mfa: MfaTx;

  constructor(
    private readonly db: Db,
    private readonly dialect: 'sqlite' | 'postgres' = 'sqlite',
  ) {
    this.identity = identityTx(db, dialect);
    this.mfa = mfaTx(db, dialect);
  }

  async getRequest(id: string) {
    const row = await this.db.selectFrom('requests').select('body').where('id', '=', id).executeTakeFirst();
    return row ? parse(row) : undefined;
  }

  async insertRequest(req: AccessRequest) {
    await this.db.insertInto('requests').values(toRow(req)).execute();
    const grants = grantRows(req);
    if (grants.length) {
      await this.db.insertInto('grants').values(grants).execute();
      this.regrant(req);
    }
  }

  async updateRequest(prev: AccessRequest, next: AccessRequest) {
    const res = await this.db.updateTable('requests').set(toRow(next)).where('id', '=', prev.id).where('version', '=', prev.version).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    if (prev.status !== next.status || prev.expiresAt !== next.expiresAt) {
      await this.db.deleteFrom('grants').where('request_id', '=', prev.id).execute();
      const grants = grantRows(next);
      if (grants.length) await this.db.insertInto('grants').values(grants).execute();
      if (grants.length || liveGrantsOf(prev).length) this.regrant(next);
    }
    return true;
  }

  /** Notes what `req` grants as this transaction leaves it (a later write of the same request replaces it). */
  private regrant(req: AccessRequest) {
    (this.regranted ??= new Map()).set(req.id, { requestId: req.id, principal: req.requester, entitlements: req.entitlements, grants: liveGrantsOf(req) });
  }

  async lockRequest(req: AccessRequest) {
    // A no-op update takes the row lock (PostgreSQL) and, under READ COMMITTED, re-reads the row
    // once a concurrent transition commits, so a moved-on version is seen. SQLite has one writer.
    const res = await this.db
      .updateTable('requests')
      .set({ version: req.version })
      .where('id', '=', req.id)
      .where('version', '=', req.version)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async claimRequests(ids: readonly string[]) {
    if (this.dialect !== 'postgres' || ids.length === 0) return new Set(ids);
    const rows = await this.db.selectFrom('requests').select('id').where('id', 'in', ids).forUpdate().skipLocked().execute();
    return new Set(rows.map((r) => r.id));
  }

  recordIssued(record: IssuedRecord) {
    return insertIssued(this.db, record);
  }

  recordSigningKey(target: string, kid: string, publicKey: string) {
    return insertSigningKey(this.db, target, kid, publicKey);
  }

  async openRequestsOf(requester: string) {
    const rows = await this.db.selectFrom('requests').select('body').where('requester', '=', requester).where('status', 'in', OPEN_STATUSES).execute();
    return rows.map(parse);
  }

  async openRequests() {
    const rows = await this.db.selectFrom('requests').select('body').where('status', 'in', OPEN_STATUSES).execute();
    return rows.map(parse);
  }

  /** Requests that hold access other than as active grants (pending, scheduled, removal not yet confirmed): few, read whole. */
  private async heldOthers(): Promise<AccessRequest[]> {
    const rows = await this.db
      .selectFrom('requests')
      .select('body')
      .where((eb) => eb.or([eb('status', 'in', ['pending', 'scheduled']), eb('access', 'in', ['provisioning', 'removing'])]))
      .execute();
    return rows.map(parse);
  }

  // Active grants are read from their indexes, distinct values only: a start or a reload over a
  // million grants reads what it needs to judge, not a row per grant.
  async heldEntitlements(): Promise<string[]> {
    const active = await this.db.selectFrom('grants').select('entitlement').distinct().execute();
    const out = new Set(active.map((r) => r.entitlement));
    for (const req of await this.heldOthers()) for (const e of req.entitlements) out.add(e);
    return [...out];
  }

  async heldAccessOn(entitlements: readonly string[]): Promise<HeldAccess[]> {
    if (entitlements.length === 0) return [];
    const wanted = new Set(entitlements);
    const out: HeldAccess[] = [];
    for (let i = 0; i < entitlements.length; i += IN_LIST_MAX) {
      const rows = await this.db
        .selectFrom('grants')
        .select(['request_id', 'principal', 'entitlement'])
        .where('entitlement', 'in', entitlements.slice(i, i + IN_LIST_MAX))
        .execute();
      for (const r of rows) out.push({ requestId: r.request_id, requester: r.principal, entitlement: r.entitlement, open: true });
    }
    for (const req of await this.heldOthers()) {
      const open = OPEN_STATUSES.includes(req.status);
      for (const entitlement of req.entitlements) if (wanted.has(entitlement)) out.push({ requestId: req.id, requester: req.requester, entitlement, open });
    }
    return out;
  }

  async openRequesters(): Promise<string[]> {
    const active = await this.db.selectFrom('grants').select('principal').distinct().execute();
    const out = new Set(active.map((r) => r.principal));
    for (const req of await this.heldOthers()) if (OPEN_STATUSES.includes(req.status)) out.add(req.requester);
    return [...out];
  }

  async appendAudit(events: AuditEvent[]) {
    if (events.length === 0) return;
    (this.pending ??= []).push(...events);
  }

  /**
   * Writes this transaction's events already linked onto the chain head: the server links only
   * what it writes itself, so a row without a seq is never its own. Done last, right before
   * commit, so on PostgreSQL the chain lock (held until commit) is taken after every row lock the
   * transaction needs: audit writers queue only for the insert and never deadlock on it. On SQLite
   * transactions are already exclusive. `at` is stamped no earlier than the head's, so servers
   * with slightly skewed clocks never make time go backwards along the chain.
   */
  async linkAudit(): Promise<{ types: string[]; commit: CommittedChange } | undefined> {
    const events = this.pending;
    if (this.regranted) {
      // Fail closed: a grant change no event names would never reach another server's check index.
      const named = new Set(events?.map((e) => e.requestId));
      const unnamed = [...this.regranted.keys()].filter((id) => !named.has(id));
      if (unnamed.length) throw new Error(`live grants of ${unnamed.join(', ')} changed without an audit event naming the request`);
    }
    if (!events) return undefined;
    this.pending = undefined;
    if (this.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${CHAIN_LOCK_ID})`.execute(this.db);
    const head = await readHead(this.db);
    let seq = head?.seq ?? 0;
    let prev = head?.hash ?? GENESIS_HASH;
    let lastAt = head?.at ?? Number.NEGATIVE_INFINITY;
    const rows = events.map((e) => {
      seq += 1;
      const at = Math.max(Math.floor(e.at), lastAt);
      const details = storedDetails(e.details);
      const requestId = e.requestId ?? null;
      const policyHash = e.policyHash ?? null;
      // The hash covers the details as they will be read back, as verification sees them; stored
      // canonical, verification can hash the stored text as it is.
      const content = { seq, id: e.id, at, type: e.type, actor: e.actor, requestId, details: details === null ? null : JSON.parse(details), policyHash };
      const hash = eventHash(content, prev);
      const row = { id: e.id, at, type: e.type, actor: e.actor, request_id: requestId, details, policy_hash: policyHash, seq, prev_hash: prev, hash };
      prev = hash;
      lastAt = at;
      return row;
    });
    for (let i = 0; i < rows.length; i += AUDIT_INSERT_ROWS) {
      await this.db
        .insertInto('audit_events')
        .values(rows.slice(i, i + AUDIT_INSERT_ROWS))
        .execute();
    }
    // Only a hint for other servers' check indexes (they poll as well): sent if and when this commits.
    if (this.dialect === 'postgres') await sql`SELECT pg_notify(${CHANGES_CHANNEL}, ${String(seq)})`.execute(this.db);
    return { types: events.map((e) => e.type), commit: { afterSeq: head?.seq ?? 0, seq, regranted: [...(this.regranted?.values() ?? [])] } };
  }

  async getIdempotency(principal: string, key: string): Promise<IdempotencyRecord | undefined> {
    const row = await this.db
      .selectFrom('idempotency')
      .select(['fingerprint', 'request_id'])
      .where('principal', '=', principal)
      .where('key', '=', key)
      .executeTakeFirst();
    return row ? { fingerprint: row.fingerprint, requestId: row.request_id } : undefined;
  }

  async putIdempotency(principal: string, key: string, record: IdempotencyRecord, at: number) {
    await this.db.insertInto('idempotency').values({ principal, key, fingerprint: record.fingerprint, request_id: record.requestId, created_at: at }).execute();
  }

  getLock(kind: Kind, subject: string) {
    return getLock(this.db, kind, subject);
  }

  async setLock(kind: Kind, lock: Lock) {
    await this.db.deleteFrom('locks').where('kind', '=', kind).where('subject', '=', lock.subject).execute();
    await this.db
      .insertInto('locks')
      .values({ kind, subject: lock.subject, by_principal: lock.by, at: lock.at, reason: lock.reason ?? null })
      .execute();
  }

  async clearLock(kind: Kind, subject: string) {
    const res = await this.db.deleteFrom('locks').where('kind', '=', kind).where('subject', '=', subject).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}

async function getLock(db: Db, kind: Kind, subject: string): Promise<Lock | undefined> {
  const row = await db
    .selectFrom('locks')
    .select(['subject', 'by_principal', 'at', 'reason'])
    .where('kind', '=', kind)
    .where('subject', '=', subject)
    .executeTakeFirst();
  return row ? toLock(row) : undefined;
}

export class KyselyStore implements Store {
  private grantQuery: CompiledQuery | undefined;
  private grantStatement: BetterSqlite3.Statement | undefined;

  constructor(
    /** Exposed for migrations and for tests that must tamper with rows behind the store's back. */
    readonly db: Kysely<Database>,
    readonly dialect: 'sqlite' | 'postgres',
    private readonly onClose: () => Promise<void> = async () => {},
    /** The SQLite connection itself, for the check fast path. */
    private readonly sqlite?: BetterSqlite3.Database,
  ) {
    this.chainRows = new ChainRowReader(db, dialect, sqlite);
  }

  private readonly chainRows: ChainRowReader;

  private readonly auditListeners: ((types: readonly string[]) => void)[] = [];
  private readonly commitHooks: { hook: (commit: CommittedChange) => Promise<void>; onError: (err: unknown) => void }[] = [];

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    let linked: { types: string[]; commit: CommittedChange } | undefined;
    const result = await this.db.transaction().execute(async (trx) => {
      const tx = new KyselyTx(trx, this.dialect);
      const value = await fn(tx);
      linked = await tx.linkAudit();
      return value;
    });
    // After commit: a rolled-back transaction's events are never reported.
    if (linked) {
      for (const listener of this.auditListeners) listener(linked.types);
      for (const { hook, onError } of this.commitHooks) await hook(linked.commit).catch(onError);
    }
    return result;
  }

  onAuditCommitted(listener: (types: readonly string[]) => void) {
    this.auditListeners.push(listener);
  }

  afterCommit(hook: (commit: CommittedChange) => Promise<void>, onError: (err: unknown) => void) {
    this.commitHooks.push({ hook, onError });
  }

  async changesSince(seq: number, limit: number) {
    const rows = await this.db.selectFrom('audit_events').select(['seq', 'request_id']).where('seq', '>', seq).orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ seq: Number(r.seq), requestId: r.request_id }));
  }

  async getRequests(ids: readonly string[]) {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('requests').select('body').where('id', 'in', ids).execute();
    return rows.map(parse);
  }

  getRequest(id: string) {
    return new KyselyTx(this.db).getRequest(id);
  }

  async listRequests(filter: RequestFilter) {
    let q = this.db.selectFrom('requests').select('body').orderBy('id', 'desc').limit(filter.limit);
    if (filter.status?.length) q = q.where('status', 'in', filter.status);
    if (filter.requester) q = q.where('requester', '=', filter.requester);
    if (filter.before) q = q.where('id', '<', filter.before);
    return (await q.execute()).map(parse);
  }

  async findDue(now: number, limit: number) {
    let q = this.db.selectFrom('requests').select('body').where('due_at', 'is not', null).where('due_at', '<=', now).orderBy('due_at').limit(limit);
    // Outside a transaction the row locks go at once; what SKIP LOCKED leaves out is the rows
    // other servers' due batches hold (claimRequests), so this server reads past them.
    if (this.dialect === 'postgres') q = q.forUpdate().skipLocked();
    return (await q.execute()).map(parse);
  }

  async nextDueAt() {
    // Two index probes in one statement (it runs after every change, to re-arm the due timer):
    // the next transition, and the next work on a target (a revoke's removal, a retry).
    const { rows } = await sql<{ due: number | string | null; access: number | string | null }>`
      SELECT (SELECT due_at FROM requests WHERE due_at IS NOT NULL ORDER BY due_at LIMIT 1) AS due,
             (SELECT access_due_at FROM requests WHERE access_due_at IS NOT NULL ORDER BY access_due_at LIMIT 1) AS access`.execute(this.db);
    const times = [rows[0]?.due, rows[0]?.access].filter((t) => t != null).map(Number);
    return times.length ? Math.min(...times) : undefined;
  }

  async findAccessWork(now: number, limit: number) {
    const rows = await this.db
      .selectFrom('requests')
      .select('body')
      .where('access_due_at', 'is not', null)
      .where('access_due_at', '<=', now)
      // Taking access away never waits behind creating it.
      .orderBy(sql`CASE WHEN access = 'removing' THEN 0 ELSE 1 END`)
      .orderBy('access_due_at')
      .limit(limit)
      .execute();
    return rows.map(parse);
  }

  async orphanedWork(owner: string, now: number, limit: number) {
    const rows = await this.db
      .selectFrom('requests')
      .select('body')
      .where('lease_owner', 'is not', null)
      .where('lease_owner', '<>', owner)
      .where('access_due_at', '>', now)
      .where((eb) =>
        eb.exists(eb.selectFrom('servers').select('servers.id').whereRef('servers.id', '=', 'requests.lease_owner').where('servers.alive_until', '<=', now)),
      )
      .orderBy('access_due_at')
      .limit(limit)
      .execute();
    return rows.map(parse);
  }

  async beat(id: string, startedAt: number, aliveUntil: number) {
    await this.db
      .insertInto('servers')
      .values({ id, started_at: startedAt, alive_until: aliveUntil })
      .onConflict((oc) => oc.column('id').doUpdateSet({ alive_until: aliveUntil }))
      .execute();
  }

  async leave(id: string) {
    await this.db.deleteFrom('servers').where('id', '=', id).execute();
  }

  async forgetServers(before: number) {
    await this.db.deleteFrom('servers').where('alive_until', '<', before).execute();
  }

  async putCredentials(requestId: string, target: string, ciphertext: string, at: number) {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('credentials').where('request_id', '=', requestId).where('target', '=', target).execute();
      await trx.insertInto('credentials').values({ request_id: requestId, target, ciphertext, created_at: at }).execute();
    });
  }

  async getCredentials(requestId: string) {
    const rows = await this.db.selectFrom('credentials').select(['target', 'ciphertext']).where('request_id', '=', requestId).execute();
    return rows;
  }

  async deleteCredentials(requestId: string) {
    await this.db.deleteFrom('credentials').where('request_id', '=', requestId).execute();
  }

  /**
   * The hot path of /v1/check. The query is built and compiled once, not per call. On SQLite the
   * statement is also prepared once and answered synchronously (no promise, so the HTTP handler
   * can reply in the same tick), but only while no transaction is open on the connection, so it
   * never reads another transaction's uncommitted rows. LIMIT is a literal: bound as a parameter
   * it makes SQLite's lookup three times slower.
   */
  findGrant(principal: string, entitlement: string, now: number): GrantRow | undefined | Promise<GrantRow | undefined> {
    const compiled = (this.grantQuery ??= this.db
      .selectFrom('grants')
      .select(['request_id', 'expires_at'])
      .where('principal', '=', '')
      .where('entitlement', '=', '')
      .where('expires_at', '>', 0)
      .orderBy('expires_at', 'desc')
      .limit(sql.lit(1))
      .compile());
    // expires_at is an integer column: `expires_at > floor(now)` is the same test for any now.
    const at = Math.floor(now);
    const toGrant = (requestId: string | undefined, expiresAt: number | bigint | undefined): GrantRow | undefined =>
      requestId === undefined ? undefined : { requestId, principal, entitlement, expiresAt: Number(expiresAt) };
    if (this.sqlite && !this.sqlite.inTransaction) {
      // Raw rows (arrays) and `now` bound as an integer, as the column is: both measurably cheaper.
      this.grantStatement ??= this.sqlite.prepare(compiled.sql).raw(true);
      const row = this.grantStatement.get(principal, entitlement, BigInt(at)) as [string, number] | undefined;
      return row ? toGrant(row[0], row[1]) : undefined;
    }
    return this.db
      .executeQuery<{ request_id: string; expires_at: number }>(CompiledQuery.raw(compiled.sql, [principal, entitlement, at]))
      .then(({ rows: [row] }) => toGrant(row?.request_id, row?.expires_at));
  }

  async listGrants(filter: Parameters<Store['listGrants']>[0]) {
    let q = this.db.selectFrom('grants').selectAll().where('expires_at', '>', filter.now).orderBy('request_id').orderBy('entitlement').limit(filter.limit);
    if (filter.principal) q = q.where('principal', '=', filter.principal);
    if (filter.entitlement) q = q.where('entitlement', '=', filter.entitlement);
    const after = filter.after;
    // A row comparison, so both databases seek in the primary key instead of filtering from its start.
    if (after) q = q.where(sql<boolean>`(request_id, entitlement) > (${after.requestId}, ${after.entitlement})`);
    return (await q.execute()).map((r) => ({
      requestId: r.request_id,
      principal: r.principal,
      entitlement: r.entitlement,
      expiresAt: Number(r.expires_at),
    }));
  }

  async listLocks(kind: Kind) {
    const rows = await this.db.selectFrom('locks').select(['subject', 'by_principal', 'at', 'reason']).where('kind', '=', kind).orderBy('subject').execute();
    return rows.map(toLock);
  }

  getLock(kind: Kind, subject: string) {
    return getLock(this.db, kind, subject);
  }

  async listAudit(filter: AuditFilter): Promise<AuditPage> {
    let q = this.db.selectFrom('audit_events').selectAll().orderBy('pos').limit(filter.limit);
    if (filter.requestId) q = q.where('request_id', '=', filter.requestId);
    if (filter.actor) q = q.where('actor', '=', filter.actor);
    if (filter.type) q = filter.type.endsWith('*') ? q.where('type', 'like', `${filter.type.slice(0, -1)}%`) : q.where('type', '=', filter.type);
    if (filter.since !== undefined) q = q.where('at', '>=', filter.since);
    if (filter.until !== undefined) q = q.where('at', '<', filter.until);
    if (filter.after !== undefined) q = q.where('pos', '>', filter.after);
    const rows = await q.execute();
    return { events: rows.map(toEvent) };
  }

  async readChain(fromSeq: number, limit: number) {
    const rows = await this.db.selectFrom('audit_events').selectAll().where('seq', '>=', fromSeq).orderBy('seq').limit(limit).execute();
    return rows.map(toLink);
  }

  readChainRows(fromSeq: number, limit: number) {
    return this.chainRows.rows(fromSeq, limit);
  }

  readChainEventJson(fromSeq: number, limit: number) {
    return this.chainRows.eventJson(fromSeq, limit);
  }

  async auditHead() {
    const head = await readHead(this.db);
    return head ? { seq: head.seq, hash: head.hash } : undefined;
  }

  async countChained(upToSeq: number) {
    const row = await this.db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('seq', '>=', 1)
      .where('seq', '<=', upToSeq)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async unchainedAudit() {
    // Both from the partial index audit_unchained, which holds only rows without a seq.
    const [count, first] = await Promise.all([
      this.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('seq', 'is', null)
        .executeTakeFirst(),
      this.db.selectFrom('audit_events').select(['pos', 'id']).where('seq', 'is', null).orderBy('pos').limit(1).executeTakeFirst(),
    ]);
    const n = Number(count?.n ?? 0);
    return n > 0 && first ? { count: n, first: { pos: Number(first.pos), id: first.id } } : { count: n };
  }

  // The dashboard's aggregates (stats-store.ts).
  private statsQueries: KyselyStatsQueries | undefined;
  private get stats() {
    return (this.statsQueries ??= new KyselyStatsQueries(this.db, this.dialect));
  }
  countEventsBetween(bounds: readonly number[], types: readonly string[]) {
    return this.stats.countEventsBetween(bounds, types);
  }
  topActivated(since: number, until: number, limit: number) {
    return this.stats.topActivated(since, until, limit);
  }
  approvalTimes(since: number, until: number, qs: readonly number[]) {
    return this.stats.approvalTimes(since, until, qs);
  }
  latestEvents(type: string, since: number, until: number, limit: number) {
    return this.stats.latestEvents(type, since, until, limit);
  }
  grantsEnding(from: number, to: number, limit: number) {
    return this.stats.grantsEnding(from, to, limit);
  }
  removingRequests(limit: number) {
    return this.stats.removingRequests(limit);
  }

  async getState(key: string) {
    const row = await this.db.selectFrom('hg_state').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  async setState(key: string, value: string) {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('hg_state').where('key', '=', key).execute();
      await trx.insertInto('hg_state').values({ key, value }).execute();
    });
  }

  async initState(key: string, value: string) {
    await this.db
      .insertInto('hg_state')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    return (await this.getState(key))!;
  }

  async ping() {
    await sql`SELECT 1`.execute(this.db);
  }

  async close() {
    await this.db.destroy();
    await this.onClose();
  }
}
