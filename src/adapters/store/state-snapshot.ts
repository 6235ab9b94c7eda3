/**
 * The store-backed figures the metrics gauges show at scrape time, read straight from the tables
 * (src/adapters/metrics.ts turns them into gauges; openStore hands out the reader).
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** A revocation whose request ended longer ago than this and is still `removing` is overdue. */
export const REVOCATION_OVERDUE_MS = 60_000;
const OPEN_STATUSES = ['pending', 'scheduled', 'active'] as const;

export interface StoreSnapshot {
  /** Open requests (pending, scheduled, active) by status. */
  requests: Record<string, number>;
  /** Live grants (one per entitlement) by target. */
  grantsByTarget: Record<string, number>;
  revocationsPending: number;
  revocationsOverdue: number;
  auditChainLength: number;
  auditUnchained: number;
  lastCheckpointAt: number | undefined;
  outboxPending: number;
  outboxOldestPendingAt: number | undefined;
}

const targetOf = (entitlement: string) => {
  const slash = entitlement.indexOf('/');
  return slash < 0 ? entitlement : entitlement.slice(0, slash);
};

/**
 * The store-backed figures, each from an indexed query: requests by open status (index
 * requests_status), live grants (a table of live grants only), the chain head (unique seq),
 * unchained events (partial index), the outbox (index on status), the last checkpoint (its key).
 * Revocations in progress are found by `access = 'removing'` (see docs/operations.md).
 */
export async function readStoreSnapshot(db: Kysely<Database>, now: number): Promise<StoreSnapshot> {
  const [statusRows, grantRows, removing, head, unchained, checkpoint, outbox] = await Promise.all([
    db
      .selectFrom('requests')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('status', 'in', [...OPEN_STATUSES])
      .groupBy('status')
      .execute(),
    db
      .selectFrom('grants')
      .select(['entitlement', (eb) => eb.fn.countAll<number>().as('n')])
      .where('expires_at', '>', now)
      .groupBy('entitlement')
      .execute(),
    db.selectFrom('requests').select('body').where('access', '=', 'removing').limit(10_000).execute(),
    db.selectFrom('audit_events').select('seq').where('seq', 'is not', null).orderBy('seq', 'desc').limit(1).executeTakeFirst(),
    db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('seq', 'is', null)
      .executeTakeFirst(),
    db.selectFrom('audit_checkpoints').select('at').orderBy('seq', 'desc').limit(1).executeTakeFirst(),
    db
      .selectFrom('webhook_outbox')
      .select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.min('created_at').as('oldest')])
      .where('status', '=', 'pending')
      .executeTakeFirst(),
  ]);

  const requests: Record<string, number> = Object.fromEntries(OPEN_STATUSES.map((s) => [s, 0]));
  for (const r of statusRows) requests[r.status] = Number(r.n);
  const grantsByTarget: Record<string, number> = {};
  for (const g of grantRows) {
    const t = targetOf(g.entitlement);
    grantsByTarget[t] = (grantsByTarget[t] ?? 0) + Number(g.n);
  }
  let overdue = 0;
  for (const row of removing) {
    const endedAt = (JSON.parse(row.body) as { endedAt?: number }).endedAt;
    if (endedAt !== undefined && now - endedAt > REVOCATION_OVERDUE_MS) overdue += 1;
  }
  const oldest = outbox?.oldest;
  return {
    requests,
    grantsByTarget,
    revocationsPending: removing.length,
    revocationsOverdue: overdue,
    auditChainLength: head ? Number(head.seq) : 0,
    auditUnchained: Number(unchained?.n ?? 0),
    lastCheckpointAt: checkpoint ? Number(checkpoint.at) : undefined,
    outboxPending: Number(outbox?.n ?? 0),
    outboxOldestPendingAt: oldest === null || oldest === undefined ? undefined : Number(oldest),
  };
}
