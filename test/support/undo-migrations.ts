/**
 * Upgrade tests put a store back as an older version left it: this undoes the migrations from
 * 0014 on (server presence, lease owners, outbox claims). Each test drops the tables of the
 * earlier migrations it undoes itself.
 */
import { sql, type Kysely } from 'kysely';

export async function undoFrom0014(db: Kysely<any>): Promise<void> {
  await sql`DELETE FROM hg_migrations WHERE name >= '0014'`.execute(db);
  await sql`DROP TABLE IF EXISTS servers`.execute(db);
  for (const [table, column, index] of [
    ['requests', 'lease_owner', 'requests_leased'],
    ['webhook_outbox', 'claimed_by', 'webhook_outbox_claimed'],
    ['notifications', 'claimed_by', 'notifications_claimed'],
  ] as const) {
    await sql`DROP INDEX IF EXISTS ${sql.raw(index)}`.execute(db);
    await sql`ALTER TABLE ${sql.table(table)} DROP COLUMN ${sql.raw(column)}`.execute(db);
  }
}
