/**
 * The notification outbox, its attempt log and one-time links over the main Kysely database
 * (migration 0013). Claims work as the webhook outbox's do: one UPDATE ... RETURNING with a lease,
 * FOR UPDATE SKIP LOCKED on PostgreSQL, so servers delivering at once take disjoint rows.
 */
import { type Kysely, type Selectable, type Transaction } from 'kysely';
import type {
  DestinationStats,
  NewNotificationRow,
  NotificationAttempt,
  NotificationFilter,
  NotificationLogEntry,
  NotificationRow,
  NotificationStatus,
  NotificationStore,
  NotificationTopic,
  OneTimeLink,
} from '../../app/notifications/ports.js';
import type { Database, NotificationAttemptsTable, NotificationsTable } from './schema.js';
import { moveCursor, releaseClaimsOfDead } from './webhook-store.js';

/** hg_state key of the fan-out cursor: the last audit seq planned for notifications. */
export const NOTIFY_CURSOR_KEY = 'notifications.cursor';
/** Rows per INSERT (15 columns each: under SQLite's bound-parameter limit). */
const INSERT_CHUNK = 100;
const PROMPTS: NotificationTopic[] = ['approval.requested', 'approval.escalated'];

function toRow(r: Selectable<NotificationsTable>): NotificationRow {
  return {
    id: r.id,
    destination: r.destination,
    eventId: r.event_id,
    eventSeq: Number(r.event_seq),
    topic: r.topic as NotificationTopic,
    recipient: r.recipient,
    requestId: r.request_id,
    payload: r.payload,
    status: r.status as NotificationStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    lastError: r.last_error,
    ref: r.ref,
    createdAt: Number(r.created_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
  };
}

function toEntry(r: Selectable<NotificationAttemptsTable>): NotificationLogEntry {
  return {
    pos: Number(r.pos),
    notificationId: r.notification_id,
    destination: r.destination,
    recipient: r.recipient,
    topic: r.topic as NotificationTopic,
    eventId: r.event_id,
    requestId: r.request_id,
    attempt: Number(r.attempt),
    at: Number(r.at),
    outcome: r.outcome as NotificationLogEntry['outcome'],
    durationMs: Number(r.duration_ms),
    error: r.error,
  };
}

/** Inserts outbox rows, skipping any (destination, event, topic, recipient) already present. */
async function insertRows(trx: Transaction<Database>, rows: NewNotificationRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await trx
      .insertInto('notifications')
      .values(
        rows.slice(i, i + INSERT_CHUNK).map((r) => ({
          id: r.id,
          destination: r.destination,
          event_id: r.eventId,
          event_seq: r.eventSeq,
          topic: r.topic,
          recipient: r.recipient,
          request_id: r.requestId,
          payload: r.payload,
          status: 'pending',
          attempts: 0,
          next_attempt_at: r.createdAt,
          last_error: null,
          ref: null,
          created_at: r.createdAt,
          finished_at: null,
        })),
      )
      .onConflict((oc) => oc.columns(['destination', 'event_id', 'topic', 'recipient']).doNothing())
      .execute();
  }
}

export class KyselyNotificationStore implements NotificationStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async getCursor() {
    const row = await this.db.selectFrom('hg_state').select('value').where('key', '=', NOTIFY_CURSOR_KEY).executeTakeFirst();
    return row ? Number(row.value) : undefined;
  }

  async enqueue(rows: NewNotificationRow[]): Promise<void> {
    await this.db.transaction().execute((trx) => insertRows(trx, rows));
  }

  fanOut(expected: number | undefined, next: number, rows: NewNotificationRow[]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await moveCursor(trx, NOTIFY_CURSOR_KEY, expected, next))) return false;
      await insertRows(trx, rows);
      return true;
    });
  }
  releaseClaimsOfDead(now: number): Promise<number> {
    return releaseClaimsOfDead(this.db, 'notifications', now);
  }

  async claimDue(now: number, limit: number, leaseUntil: number, owner?: string): Promise<NotificationRow[]> {
    if (limit <= 0) return [];
    let pick = this.db
      .selectFrom('notifications')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .orderBy('event_seq')
      .limit(limit);
    if (this.dialect === 'postgres') pick = pick.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('notifications')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: leaseUntil, claimed_by: owner ?? null }))
      .where('id', 'in', pick)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .returningAll()
      .execute();
    return rows.map(toRow).sort((a, b) => a.eventSeq - b.eventSeq || (a.id < b.id ? -1 : 1));
  }

  finishAttempt(
    row: NotificationRow,
    a: NotificationAttempt,
    result: { status: 'sent'; ref?: string } | { status: 'skipped' } | { status: 'pending'; nextAttemptAt: number },
  ): Promise<void> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notification_attempts')
        .values({
          notification_id: a.notificationId,
          destination: a.destination,
          recipient: a.recipient,
          topic: a.topic,
          event_id: a.eventId,
          request_id: a.requestId,
          attempt: a.attempt,
          at: a.at,
          outcome: a.outcome,
          duration_ms: a.durationMs,
          error: a.error,
        })
        .execute();
      if (result.status === 'pending') {
        // Only while the row is still this claim's: a later claim (the lease ran out) owns it now.
        await trx
          .updateTable('notifications')
          .set({ next_attempt_at: result.nextAttemptAt, last_error: a.error, claimed_by: null })
          .where('id', '=', row.id)
          .where('status', '=', 'pending')
          .where('attempts', '=', row.attempts)
          .execute();
      } else {
        await trx
          .updateTable('notifications')
          .set({
            status: result.status,
            finished_at: a.at,
            last_error: a.error,
            claimed_by: null,
            ...(result.status === 'sent' && result.ref ? { ref: result.ref } : {}),
          })
          .where('id', '=', row.id)
          .where('status', '=', 'pending')
          .execute();
      }
    });
  }

  async prompts(requestId: string): Promise<NotificationRow[]> {
    const rows = await this.db
      .selectFrom('notifications')
      .selectAll()
      .where('request_id', '=', requestId)
      .where('topic', 'in', PROMPTS)
      .orderBy('event_seq')
      .execute();
    return rows.map(toRow);
  }

  async stats(): Promise<Map<string, DestinationStats>> {
    const rows = await this.db
      .selectFrom('notifications')
      .select((eb) => [
        'destination',
        'status',
        eb.fn.countAll<number>().as('n'),
        eb.fn.min('created_at').as('oldest'),
        eb.fn.sum<number>(eb.case().when('last_error', 'is not', null).then(1).else(0).end()).as('failing'),
      ])
      .groupBy(['destination', 'status'])
      .execute();
    const out = new Map<string, DestinationStats>();
    for (const r of rows) {
      const s = out.get(r.destination) ?? { pending: 0, failing: 0, sent: 0, skipped: 0, oldestPendingAt: null };
      const n = Number(r.n);
      if (r.status === 'sent') s.sent += n;
      else if (r.status === 'skipped') s.skipped += n;
      else {
        const failing = Number(r.failing ?? 0);
        s.failing += failing;
        s.pending += n - failing;
        s.oldestPendingAt = s.oldestPendingAt === null ? Number(r.oldest) : Math.min(s.oldestPendingAt, Number(r.oldest));
      }
      out.set(r.destination, s);
    }
    return out;
  }

  async listAttempts(filter: NotificationFilter): Promise<NotificationLogEntry[]> {
    let q = this.db.selectFrom('notification_attempts').selectAll().orderBy('pos', 'desc').limit(filter.limit);
    if (filter.destination) q = q.where('destination', '=', filter.destination);
    if (filter.recipient) q = q.where('recipient', '=', filter.recipient);
    if (filter.requestId) q = q.where('request_id', '=', filter.requestId);
    if (filter.outcome) q = q.where('outcome', '=', filter.outcome);
    if (filter.before !== undefined) q = q.where('pos', '<', filter.before);
    return (await q.execute()).map(toEntry);
  }

  async putLink(link: OneTimeLink): Promise<void> {
    await this.db
      .insertInto('one_time_links')
      .values({
        digest: link.digest,
        purpose: link.purpose,
        principal: link.principal,
        request_id: link.requestId,
        subject: link.subject,
        expires_at: link.expiresAt,
        used_at: link.usedAt,
      })
      .execute();
  }

  async getLink(digest: string): Promise<OneTimeLink | undefined> {
    const r = await this.db.selectFrom('one_time_links').selectAll().where('digest', '=', digest).executeTakeFirst();
    if (!r) return undefined;
    return {
      digest: r.digest,
      purpose: r.purpose as OneTimeLink['purpose'],
      principal: r.principal,
      requestId: r.request_id,
      subject: r.subject,
      expiresAt: Number(r.expires_at),
      usedAt: r.used_at === null ? null : Number(r.used_at),
    };
  }

  async useLink(digest: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('one_time_links').set({ used_at: at }).where('digest', '=', digest).where('used_at', 'is', null).executeTakeFirst();
    // Expired links are kept a day (they answer "expired" rather than "unknown"), then pruned.
    await this.db
      .deleteFrom('one_time_links')
      .where('expires_at', '<', at - 86_400_000)
      .execute();
    return Number(r.numUpdatedRows) === 1;
  }
}
