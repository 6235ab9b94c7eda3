/**
 * postgres membership mode: GRANT the entitlement roles to the principal's existing user and
 * REVOKE them at the end, reference-counted in a bookkeeping table so that a membership Hourglass
 * did not add, or that another live grant still needs, is never revoked. See docs/targets/postgres.md.
 */
import type pg from 'pg';
import type { Credentials, FoundAccess, GrantOnTarget } from '../../../app/connectors.js';
import { ident, isGone, lit, pgCode, TERMINATE_WAIT_MS, type PgAdmin, type PostgresMode, type ServerInfo } from './admin-connection.js';
import type { PostgresSettings } from './settings.js';

/** The membership-mode bookkeeping table (in the target database). */
export const BOOKKEEPING_SCHEMA = 'hourglass';
export const BOOKKEEPING_TABLE = `${BOOKKEEPING_SCHEMA}.memberships`;
const BOOKKEEPING_LOCK = 'hourglass.memberships';

export class MembershipMode implements PostgresMode {
  private bookkeeping?: Promise<void>;

  constructor(private readonly a: PgAdmin) {}

  private get s(): PostgresSettings {
    return this.a.s;
  }

  async revoke(g: GrantOnTarget): Promise<void> {
    await this.revokeRequest(g.requestId);
  }

  async extend(g: GrantOnTarget): Promise<void> {
    const until = new Date(g.expiresAt).toISOString();
    try {
      if (!(await this.hasBookkeeping())) throw this.a.refuse(`no membership of request ${g.requestId} is recorded`, 'missing');
      const { rowCount } = await this.a.query(`UPDATE ${BOOKKEEPING_TABLE} SET expires_at = $3 WHERE target = $1 AND request_id = $2`, [
        this.s.targetName,
        g.requestId,
        until,
      ]);
      if (!rowCount) throw this.a.refuse(`no membership of request ${g.requestId} is recorded`, 'missing');
    } catch (e) {
      throw this.a.fail('extending the grant', e);
    }
  }

  list(): Promise<FoundAccess[]> {
    return this.listMemberships();
  }

  expected(g: GrantOnTarget): string[] {
    return this.a.rolesOf(g);
  }

  async removeOrphan(found: FoundAccess): Promise<void> {
    if (!found.requestId) throw this.a.refuse(`membership of "${found.account}" names no request; not removed`, 'not-ours');
    await this.revokeRequest(found.requestId);
  }

  /** Nothing: the user's other memberships were never Hourglass's to take. */
  async trimExtra(): Promise<void> {}

  async checkHealth(info: ServerInfo, _problems: string[], notes: string[]): Promise<void> {
    await this.ensureBookkeeping();
    const { rows } = await this.a.query<{ stats: boolean; signal: boolean }>(
      `SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS stats, pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal`,
    );
    if (!info.superuser && !(rows[0]?.stats && rows[0]?.signal)) {
      notes.push(
        'sessions that SET ROLE to a granted role are not ended at revoke (grant pg_read_all_stats and pg_signal_backend to the admin role to enable it)',
      );
    }
  }

  private memberOf(g: GrantOnTarget): string {
    return this.s.userTemplate.split('{principal}').join(g.principal);
  }

  private async hasBookkeeping(c: pg.ClientBase | pg.Pool = this.a.pool): Promise<boolean> {
    const { rows } = await c.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [BOOKKEEPING_TABLE]);
    return rows[0]?.ok === true;
  }

  /** Creates the bookkeeping schema and table when missing (once per connector). */
  private ensureBookkeeping(): Promise<void> {
    this.bookkeeping ??= (async () => {
      if (await this.hasBookkeeping()) return;
      const { rows } = await this.a.query<{ ok: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok`, [BOOKKEEPING_SCHEMA]);
      try {
        if (!rows[0]?.ok) await this.a.query(`CREATE SCHEMA IF NOT EXISTS ${BOOKKEEPING_SCHEMA}`);
        await this.a.query(
          `CREATE TABLE IF NOT EXISTS ${BOOKKEEPING_TABLE} (
             target text NOT NULL,
             request_id text NOT NULL,
             member text NOT NULL,
             role text NOT NULL,
             preexisting boolean NOT NULL,
             expires_at timestamptz NOT NULL,
             granted_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (target, request_id, role)
           )`,
        );
        await this.a.query(
          `COMMENT ON TABLE ${BOOKKEEPING_TABLE} IS ${lit(
            'Hourglass: role memberships granted for live requests (membership mode); preexisting = the membership existed before and is never revoked by Hourglass',
          )}`,
        );
      } catch (e) {
        if (pgCode(e) === '23505' || pgCode(e) === '42P06' || pgCode(e) === '42P07') {
          if (await this.hasBookkeeping()) return; // created concurrently
        }
        if (pgCode(e) === '42501') {
          throw this.a.refuse(
            `the admin role may not create the bookkeeping table ${BOOKKEEPING_TABLE}: run "CREATE SCHEMA ${BOOKKEEPING_SCHEMA} AUTHORIZATION ${this.s.user}" in database "${this.s.database}" (docs/targets/postgres.md)`,
            'bookkeeping',
          );
        }
        throw e;
      }
    })();
    this.bookkeeping.catch(() => {
      this.bookkeeping = undefined;
    });
    return this.bookkeeping;
  }

  async grant(g: GrantOnTarget): Promise<{ credentials?: Credentials }> {
    const roles = this.a.rolesOf(g);
    const member = this.memberOf(g);
    try {
      await this.ensureBookkeeping();
      const info = await this.a.info();
      await this.a.tx(async (c) => {
        await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [BOOKKEEPING_LOCK]);
        await this.a.assertSafe(c, roles, info);
        const { rows: users } = await c.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [member]);
        if (users.length === 0) throw this.a.refuse(`database user "${member}" (userTemplate "${this.s.userTemplate}") does not exist`, 'no-user');
        for (const role of roles) {
          const { rows: mine } = await c.query(`SELECT 1 FROM ${BOOKKEEPING_TABLE} WHERE target = $1 AND request_id = $2 AND role = $3`, [
            this.s.targetName,
            g.requestId,
            role,
          ]);
          if (mine.length > 0) continue; // a retried grant: already recorded (and granted in the same transaction)
          const { rows: present } = await c.query<{ present: boolean; preexisting: boolean | null }>(
            `SELECT EXISTS (SELECT 1 FROM pg_auth_members m
                              JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                             WHERE r.rolname = $2 AND u.rolname = $1) AS present,
                    (SELECT bool_or(preexisting) FROM ${BOOKKEEPING_TABLE} WHERE member = $1 AND role = $2) AS preexisting`,
            [member, role],
          );
          let preexisting: boolean;
          if (present[0]?.present) {
            // Present and not recorded: someone else's membership, never revoked by Hourglass.
            preexisting = present[0].preexisting ?? true;
          } else {
            await c.query(`GRANT ${ident(role)} TO ${ident(member)}`);
            // The membership is now Hourglass's, whatever earlier rows thought.
            await c.query(`UPDATE ${BOOKKEEPING_TABLE} SET preexisting = false WHERE member = $1 AND role = $2`, [member, role]);
            preexisting = false;
          }
          await c.query(`INSERT INTO ${BOOKKEEPING_TABLE} (target, request_id, member, role, preexisting, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`, [
            this.s.targetName,
            g.requestId,
            member,
            role,
            preexisting,
            new Date(g.expiresAt).toISOString(),
          ]);
        }
      });
    } catch (e) {
      throw this.a.fail(`granting roles to "${member}"`, e);
    }
    return {};
  }

  /**
   * Ends a request's memberships: drops its bookkeeping rows and REVOKEs each role that no other
   * live grant still needs and that Hourglass added itself. Then, best effort, terminates the
   * member's sessions whose last statement was SET ROLE to a revoked role.
   */
  private async revokeRequest(requestId: string): Promise<void> {
    let revoked: { member: string; role: string }[] = [];
    try {
      if (!(await this.hasBookkeeping())) return;
      revoked = await this.a.tx(async (c) => {
        await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [BOOKKEEPING_LOCK]);
        const { rows } = await c.query<{ member: string; role: string; preexisting: boolean }>(
          `DELETE FROM ${BOOKKEEPING_TABLE} WHERE target = $1 AND request_id = $2 RETURNING member, role, preexisting`,
          [this.s.targetName, requestId],
        );
        const out: { member: string; role: string }[] = [];
        for (const r of rows) {
          if (r.preexisting) continue;
          const { rows: left } = await c.query(`SELECT 1 FROM ${BOOKKEEPING_TABLE} WHERE member = $1 AND role = $2 LIMIT 1`, [r.member, r.role]);
          if (left.length > 0) continue; // another live grant needs it
          await c.query('SAVEPOINT hg_revoke');
          try {
            await c.query(`REVOKE ${ident(r.role)} FROM ${ident(r.member)}`);
            await c.query('RELEASE SAVEPOINT hg_revoke');
          } catch (e) {
            if (!isGone(e)) throw e; // the user or the role was dropped meanwhile: nothing to revoke
            await c.query('ROLLBACK TO SAVEPOINT hg_revoke');
          }
          out.push({ member: r.member, role: r.role });
        }
        return out;
      });
    } catch (e) {
      throw this.a.fail(`revoking memberships of request ${requestId}`, e);
    }
    await this.endSetRoleSessions(revoked).catch(() => {});
  }

  /**
   * PostgreSQL does not show another session's current role (SET ROLE) anywhere; the only
   * hint is pg_stat_activity.query, the session's last statement. Sessions whose last statement
   * set the role to a revoked one are terminated; nothing else of the user is touched.
   * Needs pg_read_all_stats (to read query) and pg_signal_backend (to terminate).
   */
  private async endSetRoleSessions(revoked: { member: string; role: string }[]): Promise<void> {
    const members = [...new Set(revoked.map((r) => r.member))];
    for (const member of members) {
      const roles = new Set(revoked.filter((r) => r.member === member).map((r) => r.role));
      const { rows } = await this.a.query<{ pid: number; query: string | null }>(
        `SELECT pid, query FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
        [member],
      );
      for (const row of rows) {
        if (!row.query || !setsRole(row.query, roles)) continue;
        await this.a.query(`SELECT pg_terminate_backend($1, ${TERMINATE_WAIT_MS})`, [row.pid]).catch(() => {});
      }
    }
  }

  private async listMemberships(): Promise<FoundAccess[]> {
    if (!(await this.hasBookkeeping())) return [];
    const { rows } = await this.a.query<{ request_id: string; member: string; holds: string[] }>(
      `SELECT b.request_id, b.member,
              COALESCE(array_agg(b.role ORDER BY b.role) FILTER (WHERE EXISTS (
                SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                 WHERE r.rolname = b.role AND u.rolname = b.member)), '{}') AS holds
         FROM ${BOOKKEEPING_TABLE} b
        WHERE b.target = $1
        GROUP BY b.request_id, b.member
        ORDER BY b.request_id`,
      [this.s.targetName],
    );
    return rows.map((r) => ({ account: r.member, requestId: r.request_id, holds: r.holds }));
  }
}

/** Whether a statement text contains SET [SESSION|LOCAL] ROLE to one of the roles. */
export function setsRole(query: string, roles: Set<string>): boolean {
  const re = /\bset\s+(?:session\s+|local\s+)?role\s+(?:to\s+|=\s*)?(?:"((?:[^"]|"")+)"|'((?:[^']|'')+)'|([A-Za-z_][A-Za-z0-9_$]*))/gi;
  for (const m of query.matchAll(re)) {
    const name = m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2] !== undefined ? m[2].replace(/''/g, "'") : m[3]!.toLowerCase();
    if (roles.has(name)) return true;
  }
  return false;
}
