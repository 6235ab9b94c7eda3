/**
 * The notification outbox on both stores: fan-out by compare-and-swap (once, from several servers),
 * rows never duplicated, claims with a lease (disjoint between two servers on PostgreSQL), a stale
 * claim's finish ignored, and one-time links used once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openStore, type OpenedStore } from '../../src/adapters/store/open-store.js';
import type { NewNotificationRow, NotificationAttempt } from '../../src/app/notifications/ports.js';
import { freshStoreUrl, T0, type Dialect, type StoreHandle } from '../support/app-harness.js';
import { undoFrom0014 } from '../support/undo-migrations.js';

const row = (i: number, over: Partial<NewNotificationRow> = {}): NewNotificationRow => ({
  id: `n${String(i).padStart(3, '0')}`,
  destination: 'email',
  eventId: `e${i}`,
  eventSeq: i,
  topic: 'approval.requested',
  recipient: 'bob',
  requestId: 'r1',
  payload: '{}',
  createdAt: T0,
  ...over,
});

const attempt = (id: string, n: number, outcome: NotificationAttempt['outcome']): NotificationAttempt => ({
  notificationId: id,
  destination: 'email',
  recipient: 'bob',
  topic: 'approval.requested',
  eventId: 'e',
  requestId: 'r1',
  attempt: n,
  at: T0,
  outcome,
  durationMs: 1,
  error: outcome === 'sent' ? null : 'boom',
});

describe.each<Dialect>(['sqlite', 'postgres'])('notification outbox: %s', (dialect) => {
  let handle: StoreHandle;
  let a: OpenedStore;
  let b: OpenedStore;

  beforeAll(async () => {
    handle = await freshStoreUrl(dialect);
    a = await openStore(handle.url, { cwd: '.' });
    b = dialect === 'postgres' ? await openStore(handle.url, { cwd: '.' }) : a;
  });
  afterAll(async () => {
    if (b !== a) await b?.close();
    await a?.close();
    await handle?.cleanup();
  });

  it('moves the cursor once between racing servers, and never writes a row twice', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => row(i + 1));
    // Migration 0013 starts the cursor at the chain's head (0 on a new store).
    expect(await a.notifications.getCursor()).toBe(0);
    const [x, y] = await Promise.all([a.notifications.fanOut(0, 40, rows), b.notifications.fanOut(0, 40, rows)]);
    expect([x, y].filter(Boolean)).toHaveLength(1);
    expect(await a.notifications.getCursor()).toBe(40);
    // The same (destination, event, topic, recipient) again, under a new id: skipped.
    expect(await a.notifications.fanOut(40, 41, [row(1, { id: 'dup' }), row(41)])).toBe(true);
    expect(await a.notifications.fanOut(40, 42, [])).toBe(false);
    const n = await a.store.db
      .selectFrom('notifications')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(41);
  });

  it('hands each due row to one claim, and ignores the finish of a claim whose lease ran out', async () => {
    const [x, y] = await Promise.all([a.notifications.claimDue(T0, 30, T0 + 60_000), b.notifications.claimDue(T0, 30, T0 + 60_000)]);
    const ids = [...x, ...y].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(41);
    const first = [...x, ...y][0]!;
    // The lease runs out: another claim takes the row and sends it.
    const again = (await a.notifications.claimDue(T0 + 60_001, 100, T0 + 120_000)).find((r) => r.id === first.id)!;
    expect(again.attempts).toBe(first.attempts + 1);
    await a.notifications.finishAttempt(again, attempt(again.id, again.attempts, 'sent'), { status: 'sent', ref: 'ref-1' });
    // The first claim finishes late, failed: the row stays sent.
    await a.notifications.finishAttempt(first, attempt(first.id, first.attempts, 'failed'), { status: 'pending', nextAttemptAt: T0 });
    const [stored] = await a.notifications.prompts('r1').then((rs) => rs.filter((r) => r.id === first.id));
    expect(stored).toMatchObject({ status: 'sent', ref: 'ref-1' });
    const log = await a.notifications.listAttempts({ limit: 10, requestId: 'r1' });
    expect(log.map((l) => l.outcome)).toEqual(['failed', 'sent']);
  });

  it('uses a link once', async () => {
    await a.notifications.putLink({ digest: 'd1', purpose: 'approval', principal: 'bob', requestId: 'r1', subject: null, expiresAt: T0 + 1000, usedAt: null });
    const [x, y] = await Promise.all([a.notifications.useLink('d1', T0), b.notifications.useLink('d1', T0)]);
    expect([x, y].filter(Boolean)).toHaveLength(1);
    expect((await a.notifications.getLink('d1'))?.usedAt).toBe(T0);
  });

  it('starts the cursor at the head when a store with history is upgraded, so its history is never sent', async () => {
    const db = a.store.db;
    await sql`INSERT INTO audit_events (id, at, type, actor, seq, prev_hash, hash) VALUES ('old-1', ${T0}, 'server.started', 'system', 7, 'p', 'h')`.execute(
      db,
    );
    // As before migration 0013 (and the later ones).
    await undoFrom0014(db);
    await sql`DELETE FROM hg_migrations WHERE name >= '0013'`.execute(db);
    for (const table of ['notifications', 'notification_attempts', 'one_time_links']) await sql`DROP TABLE ${sql.table(table)}`.execute(db);
    await sql`DELETE FROM hg_state WHERE key = 'notifications.cursor'`.execute(db);
    // SQLite serves one server at a time: the store is closed first and the reopened one kept.
    if (dialect === 'sqlite') await a.close();
    const reopened = await openStore(handle.url, { cwd: '.' });
    expect(await reopened.notifications.getCursor()).toBe(7);
    if (dialect === 'sqlite') a = b = reopened;
    else await reopened.close();
  });
});
