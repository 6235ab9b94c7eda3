/**
 * The dashboard's aggregates (StatsQueries in src/app/ports.ts) as SQL for SQLite and PostgreSQL:
 * counts, groupings and ranks are computed by the database, so a period of millions of events
 * costs index scans, never rows in memory. Only the lists (at most `limit` rows) come back whole.
 */
import { type Kysely, sql } from 'kysely';
import { interpolate, quantileRank } from '../../core/stats.js';
import type { AccessRequest } from '../../core/types.js';
import type { AuditEvent, GrantRow, StatsQueries } from '../../app/ports.js';
import type { Database } from './schema.js';

/** The events that admit an approved request: it is scheduled, or its access is created (or is there at once). */
const ADMITTED = ['request.scheduled', 'grant.provisioning', 'grant.activated'];

function integer(n: number): number {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
  return n;
}

export class KyselyStatsQueries implements StatsQueries {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async countEventsBetween(bounds: readonly number[], types: readonly string[]) {
    if (bounds.length < 2 || types.length === 0) return [];
    // The intervals as a VALUES table (literals: integers checked above, at most a few hundred),
    // joined on the `at` index: one range scan per interval, one row per interval and type back.
    const slots = bounds.slice(0, -1).map((lo, i) => sql`(${sql.lit(i)}, ${sql.lit(integer(lo))}, ${sql.lit(integer(bounds[i + 1]!))})`);
    const { rows } = await sql<{ slot: number; type: string; n: number }>`
      SELECT d.column1 AS slot, e.type AS type, COUNT(*) AS n
      FROM (VALUES ${sql.join(slots)}) AS d
      JOIN audit_events e ON e.at >= d.column2 AND e.at < d.column3
      WHERE e.type IN (${sql.join([...types])})
      GROUP BY d.column1, e.type`.execute(this.db);
    return rows.map((r) => ({ interval: Number(r.slot), type: r.type, count: Number(r.n) }));
  }

  async topActivated(since: number, until: number, limit: number) {
    // grant.activated names its entitlements in details.entitlements (a JSON array in TEXT).
    const each =
      this.dialect === 'postgres'
        ? sql`CROSS JOIN LATERAL jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(CAST(e.details AS jsonb) -> 'entitlements') = 'array' THEN CAST(e.details AS jsonb) -> 'entitlements' ELSE '[]'::jsonb END
          ) AS j(value)`
        : sql`JOIN json_each(e.details, '$.entitlements') AS j`;
    const { rows } = await sql<{ entitlement: string; n: number }>`
      SELECT j.value AS entitlement, COUNT(*) AS n
      FROM audit_events e ${each}
      WHERE e.type = 'grant.activated' AND e.at >= ${since} AND e.at < ${until}
      GROUP BY j.value
      ORDER BY COUNT(*) DESC, j.value
      LIMIT ${sql.lit(integer(limit))}`.execute(this.db);
    return rows.map((r) => ({ entitlement: String(r.entitlement), count: Number(r.n) }));
  }

  async approvalTimes(since: number, until: number, qs: readonly number[]) {
    // A request's approvals are complete at its last request.approved event when an admission
    // follows it (a quorum of two is met at the second approval, not the first); requests that
    // were denied or timed out with approvals missing have none. Break-glass and self-service
    // requests have no request.approved event, so only requests that needed approval count.
    const times = sql`
      WITH approved AS (
        SELECT request_id, MAX(at) AS at FROM audit_events
        WHERE type = 'request.approved' AND at >= ${since} AND at < ${until} AND request_id IS NOT NULL
        GROUP BY request_id
      ), times AS (
        SELECT a.at - MIN(s.at) AS ms
        FROM approved a JOIN audit_events s ON s.request_id = a.request_id AND s.type = 'request.submitted'
        WHERE EXISTS (
          SELECT 1 FROM audit_events x WHERE x.request_id = a.request_id AND x.type IN (${sql.join(ADMITTED)}) AND x.at >= a.at
        )
        GROUP BY a.request_id, a.at
      )`;
    const counted = await sql<{ n: number }>`${times} SELECT COUNT(*) AS n FROM times`.execute(this.db);
    const count = Number(counted.rows[0]?.n ?? 0);
    if (count === 0) return { count, quantiles: qs.map(() => null) };
    // Each quantile reads the one or two values around its rank from the sorted times.
    const quantiles = await Promise.all(
      qs.map(async (q) => {
        const { offset, frac } = quantileRank(count, q);
        const { rows } = await sql<{ ms: number }>`${times} SELECT ms FROM times ORDER BY ms LIMIT 2 OFFSET ${sql.lit(offset)}`.execute(this.db);
        const [lower, upper] = rows.map((r) => Number(r.ms));
        return lower === undefined ? null : Math.round(interpolate(lower, upper, frac));
      }),
    );
    return { count, quantiles };
  }

  async latestEvents(type: string, since: number, until: number, limit: number) {
    const inPeriod = this.db.selectFrom('audit_events').where('type', '=', type).where('at', '>=', since).where('at', '<', until);
    const [counted, rows] = await Promise.all([
      inPeriod.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
      inPeriod.select(['id', 'at', 'type', 'actor', 'request_id', 'details']).orderBy('pos', 'desc').limit(limit).execute(),
    ]);
    const events = rows.map((r): AuditEvent => {
      const e: AuditEvent = { id: r.id, at: Number(r.at), type: r.type, actor: r.actor };
      if (r.request_id) e.requestId = r.request_id;
      if (r.details) e.details = JSON.parse(r.details);
      return e;
    });
    return { count: Number(counted?.n ?? 0), events };
  }

  async grantsEnding(from: number, to: number, limit: number) {
    const ending = this.db.selectFrom('grants').where('expires_at', '>', from).where('expires_at', '<=', to);
    const [counted, rows] = await Promise.all([
      ending.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
      ending.selectAll().orderBy('expires_at').orderBy('request_id').orderBy('entitlement').limit(limit).execute(),
    ]);
    const grants: GrantRow[] = rows.map((r) => ({
      requestId: r.request_id,
      principal: r.principal,
      entitlement: r.entitlement,
      expiresAt: Number(r.expires_at),
    }));
    return { count: Number(counted?.n ?? 0), grants };
  }

  async removingRequests(limit: number) {
    // A removing request always has access_due_at: the partial index requests_access_due holds it.
    const rows = await this.db
      .selectFrom('requests')
      .select('body')
      .where('access_due_at', 'is not', null)
      .where('access', '=', 'removing')
      .orderBy('access_due_at')
      .limit(limit)
      .execute();
    return rows.map((r) => JSON.parse(r.body) as AccessRequest);
  }
}
