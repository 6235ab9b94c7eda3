/**
 * The webhook outbox and delivery log over the same Kysely database as the main store (tables
 * from migration 0002). Claims are one UPDATE ... RETURNING with a lease; on PostgreSQL the rows
 * are picked with FOR UPDATE SKIP LOCKED, so servers running delivery at once take disjoint rows.
 */
import { type Kysely, type Selectable, type Transaction, sql } from 'kysely';
import type { StoredChainLink } from '../../core/audit-chain.js';
import {
  REFUSED_PREFIX,
  type AttemptRecord,
  type DeliveryFilter,
  type DeliveryLogEntry,
  type EndpointStats,
  type NewOutboxRow,
  type OutboxRow,
  type WebhookStore,
} from '../../app/webhooks.js';
import type { Database, WebhookDeliveriesTable, WebhookOutboxTable } from './schema.js';

/** hg_state key of the fan-out cursor: the last audit seq turned into outbox rows. */
export const CURSOR_KEY = 'webhooks.cursor';
/** Rows per INSERT (13 columns each: well under SQLite's bound-parameter limit). */
const INSERT_CHUNK = 200;

function toOutbox(r: Selectable<WebhookOutboxTable>): OutboxRow {
  return {
    id: r.id,
    endpoint: r.endpoint,
    eventId: r.event_id,
    eventSeq: Number(r.event_seq),
    eventType: r.event_type,
    payload: r.payload,
    status: r.status === 'delivered' ? 'delivered' : 'pending',
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
  };
}

function toAttempt(
  r: Pick<Selectable<WebhookDeliveriesTable>, 'outbox_id' | 'endpoint' | 'attempt' | 'at' | 'status_code' | 'duration_ms' | 'error'>,
): AttemptRecord {
  return {
    outboxId: r.outbox_id,
    endpoint: r.endpoint,
    attempt: Number(r.attempt),
    at: Number(r.at),
    statusCode: r.status_code === null ? null : Number(r.status_code),
    durationMs: Number(r.duration_ms),
    error: r.error,
  };
}

const newRow = (r: NewOutboxRow) => ({
  id: r.id,
  endpoint: r.endpoint,
  event_id: r.eventId,
  event_seq: r.eventSeq,
  event_type: r.eventType,
  payload: r.payload,
  status: 'pending',
  attempts: 0,
  next_attempt_at: r.createdAt,
  last_status: null,
  last_error: null,
  created_at: r.createdAt,
  delivered_at: null,
});

/**
 * Makes due now the pending rows of an outbox whose claim is held by a server that stopped
 * saying it is alive (presence.ts): their attempt died with it, so they go out again at once
 * rather than when the claim's lease ends. Returns how many.
 */
export async function releaseClaimsOfDead(db: Kysely<Database>, table: 'webhook_outbox' | 'notifications', now: number): Promise<number> {
  const r = await db
    .updateTable(table)
    .set({ next_attempt_at: now, claimed_by: null })
    .where('claimed_by', 'is not', null)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '>', now)
    .where('claimed_by', 'in', (eb) => eb.selectFrom('servers').select('id').where('alive_until', '<=', now))
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * Moves an outbox's fan-out cursor (an hg_state row) from `expected` to `next` inside `trx`; false,
 * writing nothing, when another server moved it first. The cursor goes first in the transaction: on
 * PostgreSQL a second server's update waits on this row, then finds it changed and backs off before
 * inserting anything.
 */
export async function moveCursor(trx: Transaction<Database>, key: string, expected: number | undefined, next: number): Promise<boolean> {
  if (expected === undefined) {
    const r = await trx
      .insertInto('hg_state')
      .values({ key, value: String(next) })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('key')
      .executeTakeFirst();
    return r !== undefined;
  }
  const r = await trx
    .updateTable('hg_state')
    .set({ value: String(next) })
    .where('key', '=', key)
    .where('value', '=', String(expected))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export class KyselyWebhookStore implements WebhookStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async getCursor() {
    const row = await this.db.selectFrom('hg_state').select('value').where('key', '=', CURSOR_KEY).executeTakeFirst();
    return row ? Number(row.value) : undefined;
  }

  fanOut(expected: number | undefined, next: number, rows: NewOutboxRow[], requeue: NewOutboxRow[], now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await moveCursor(trx, CURSOR_KEY, expected, next))) return false;
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        await trx
          .insertInto('webhook_outbox')
          .values(rows.slice(i, i + INSERT_CHUNK).map(newRow))
          .onConflict((oc) => oc.columns(['endpoint', 'event_id']).doNothing())
          .execute();
      }
      // One statement each: PostgreSQL refuses an upsert touching the same row twice.
      for (const r of requeue) {
        await trx
          .insertInto('webhook_outbox')
          .values(newRow(r))
          .onConflict((oc) =>
            oc
              .columns(['endpoint', 'event_id'])
              .doUpdateSet({ status: 'pending', next_attempt_at: now, delivered_at: null, last_status: null, last_error: null }),
          )
          .execute();
      }
      return true;
    });
  }

  async findChainedEvent(id: string): Promise<StoredChainLink | undefined> {
    const r = await this.db.selectFrom('audit_events').selectAll().where('id', '=', id).where('seq', 'is not', null).executeTakeFirst();
    if (!r) return undefined;
    return {
      seq: Number(r.seq),
      id: r.id,
      at: Number(r.at),
      type: r.type,
      actor: r.actor,
      requestId: r.request_id,
      details: r.details === null ? null : JSON.parse(r.details),
      policyHash: r.policy_hash,
      prevHash: r.prev_hash ?? '',
      hash: r.hash ?? '',
    };
  }

  releaseClaimsOfDead(now: number): Promise<number> {
    return releaseClaimsOfDead(this.db, 'webhook_outbox', now);
  }

  async claimDue(now: number, endpoints: readonly string[], limit: number, leaseUntil: number, owner?: string): Promise<OutboxRow[]> {
    if (endpoints.length === 0 || limit <= 0) return [];
    let pick = this.db
      .selectFrom('webhook_outbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where('endpoint', 'in', [...endpoints])
      .orderBy('next_attempt_at')
      .orderBy('event_seq')
      .limit(limit);
    if (this.dialect === 'postgres') pick = pick.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('webhook_outbox')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: leaseUntil, claimed_by: owner ?? null }))
      .where('id', 'in', pick)
      // Re-checked on the row itself, so a row another claim just leased is left alone.
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .returningAll()
      .execute();
    return rows.map(toOutbox).sort((a, b) => a.eventSeq - b.eventSeq || (a.endpoint < b.endpoint ? -1 : 1));
  }

  finishAttempt(row: OutboxRow, attempt: AttemptRecord, result: { delivered: true } | { delivered: false; nextAttemptAt: number }): Promise<void> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('webhook_deliveries')
        .values({
          outbox_id: attempt.outboxId,
          endpoint: attempt.endpoint,
          attempt: attempt.attempt,
          at: attempt.at,
          status_code: attempt.statusCode,
          duration_ms: attempt.durationMs,
          error: attempt.error,
        })
        .execute();
      if (result.delivered) {
        // Whoever delivered it, it is delivered.
        await trx
          .updateTable('webhook_outbox')
          .set({ status: 'delivered', delivered_at: attempt.at, last_status: attempt.statusCode, last_error: null, claimed_by: null })
          .where('id', '=', row.id)
          .where('status', '=', 'pending')
          .execute();
      } else {
        // Only while the row is still this claim's: a later claim (lease ran out) owns it now.
        await trx
          .updateTable('webhook_outbox')
          .set({ next_attempt_at: result.nextAttemptAt, last_status: attempt.statusCode, last_error: attempt.error, claimed_by: null })
          .where('id', '=', row.id)
          .where('status', '=', 'pending')
          .where('attempts', '=', row.attempts)
          .execute();
      }
    });
  }

  async stats(): Promise<Map<string, EndpointStats>> {
    const tried = sql<number>`CASE WHEN last_status IS NULL AND last_error IS NULL THEN 0 ELSE 1 END`;
    const rows = await this.db
      .selectFrom('webhook_outbox')
      .select((eb) => ['endpoint', 'status', tried.as('tried'), eb.fn.countAll<number>().as('n'), eb.fn.min('created_at').as('oldest')])
      .groupBy(['endpoint', 'status', tried])
      .execute();
    const out = new Map<string, EndpointStats>();
    for (const r of rows) {
      const s = out.get(r.endpoint) ?? { pending: 0, failing: 0, delivered: 0, oldestUndeliveredAt: null };
      const n = Number(r.n);
      if (r.status === 'delivered') s.delivered += n;
      else {
        if (Number(r.tried) === 1) s.failing += n;
        else s.pending += n;
        const oldest = Number(r.oldest);
        s.oldestUndeliveredAt = s.oldestUndeliveredAt === null ? oldest : Math.min(s.oldestUndeliveredAt, oldest);
      }
      out.set(r.endpoint, s);
    }
    return out;
  }

  async lastAttempts(endpoints: readonly string[]): Promise<Map<string, AttemptRecord>> {
    const out = new Map<string, AttemptRecord>();
    for (const endpoint of endpoints) {
      const r = await this.db.selectFrom('webhook_deliveries').selectAll().where('endpoint', '=', endpoint).orderBy('pos', 'desc').limit(1).executeTakeFirst();
      if (r) out.set(endpoint, toAttempt(r));
    }
    return out;
  }

  async listDeliveries(filter: DeliveryFilter): Promise<DeliveryLogEntry[]> {
    let q = this.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_outbox as o', 'o.id', 'd.outbox_id')
      .select(['d.pos', 'd.outbox_id', 'd.endpoint', 'd.attempt', 'd.at', 'd.status_code', 'd.duration_ms', 'd.error', 'o.event_id', 'o.event_type'])
      .orderBy('d.pos', 'desc')
      .limit(filter.limit);
    if (filter.endpoint) q = q.where('d.endpoint', '=', filter.endpoint);
    if (filter.eventId) q = q.where('o.event_id', '=', filter.eventId);
    if (filter.before !== undefined) q = q.where('d.pos', '<', filter.before);
    const refused = `${REFUSED_PREFIX}%`;
    if (filter.outcome === 'delivered') q = q.where('d.status_code', '>=', 200).where('d.status_code', '<', 300);
    if (filter.outcome === 'refused') q = q.where('d.status_code', 'is', null).where('d.error', 'like', refused);
    if (filter.outcome === 'failed') {
      q = q.where((eb) =>
        eb.or([
          eb.and([eb('d.status_code', 'is not', null), eb.or([eb('d.status_code', '<', 200), eb('d.status_code', '>=', 300)])]),
          eb.and([eb('d.status_code', 'is', null), eb.or([eb('d.error', 'is', null), eb('d.error', 'not like', refused)])]),
        ]),
      );
    }
    const rows = await q.execute();
    return rows.map((r) => ({ ...toAttempt(r), pos: Number(r.pos), eventId: r.event_id, eventType: r.event_type }));
  }
}
