/**
 * postgres account mode (the default): one login role per request, `<accountPrefix><request id>`,
 * with a random password sent as a SCRAM verifier, `VALID UNTIL` the grant's end, membership in
 * the entitlement roles. At the end: NOLOGIN, terminate its backends, REASSIGN OWNED to the owner
 * and DROP OWNED in every database it has objects in, DROP ROLE. See docs/targets/postgres.md.
 */
import pg from 'pg';
import type { Credentials, FoundAccess, GrantOnTarget } from '../../../app/connectors.js';
import { HgError } from '../../../core/errors.js';
import { ident, isGone, lit, pgCode, TERMINATE_WAIT_MS, type PgAdmin, type PostgresMode, type ServerInfo } from './admin-connection.js';
import { accountName, parseRoleComment, roleComment } from './names.js';
import { generatePassword, scramSha256Verifier } from './scram.js';
import type { PostgresSettings } from './settings.js';

/** Concurrent sessions one temporary account may hold. */
export const CONNECTION_LIMIT = 10;

export class AccountMode implements PostgresMode {
  constructor(private readonly a: PgAdmin) {}

  private get s(): PostgresSettings {
    return this.a.s;
  }

  async revoke(g: GrantOnTarget): Promise<void> {
    await this.dropAccount(accountName(this.s.accountPrefix, g.requestId), g.requestId);
  }

  async extend(g: GrantOnTarget): Promise<void> {
    const until = new Date(g.expiresAt).toISOString();
    const name = accountName(this.s.accountPrefix, g.requestId);
    try {
      await this.a.tx(async (c) => {
        const { rows } = await c.query<{ comment: string | null }>(`SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`, [
          name,
        ]);
        if (!rows[0]) throw this.a.refuse(`account "${name}" does not exist (was it removed?)`, 'missing');
        this.assertOurs(name, rows[0].comment);
        await c.query(`ALTER ROLE ${ident(name)} VALID UNTIL ${lit(until)}`);
      });
    } catch (e) {
      throw this.a.fail(`extending account "${name}"`, e);
    }
  }

  list(): Promise<FoundAccess[]> {
    return this.listAccounts();
  }

  expected(g: GrantOnTarget): string[] {
    return ['login', ...this.a.rolesOf(g)];
  }

  async removeOrphan(found: FoundAccess): Promise<void> {
    if (!found.account.startsWith(this.s.accountPrefix)) {
      throw this.a.refuse(`"${found.account}" does not carry the account prefix "${this.s.accountPrefix}"; not removed`, 'not-ours');
    }
    await this.dropAccount(found.account, found.requestId);
  }

  /**
   * Reconciliation with removeExtraPrivileges: revokes role memberships an account holds beyond
   * its grant. The password and live sessions stay (what remains is what was granted). (In
   * membership mode the user's other memberships were never Hourglass's to take.)
   */
  async trimExtra(found: FoundAccess, extra: string[]): Promise<void> {
    if (!found.account.startsWith(this.s.accountPrefix)) return;
    try {
      for (const role of extra.filter((r) => r !== 'login')) {
        await this.a.query(`REVOKE ${ident(role)} FROM ${ident(found.account)}`);
      }
    } catch (e) {
      throw this.a.fail('removing extra privileges', e);
    }
  }

  async checkHealth(info: ServerInfo, problems: string[]): Promise<void> {
    const admin = `"${info.adminUser}"`;
    if (!info.superuser && !info.createrole) problems.push(`the admin role ${admin} lacks CREATEROLE`);
    if (!info.superuser && !info.inherit) problems.push(`the admin role ${admin} must have INHERIT (to REASSIGN/DROP OWNED of ending accounts)`);
    if (this.s.owner && this.s.owner !== info.adminUser) {
      const { rows } = await this.a.query<{ exists: boolean; usable: boolean | null }>(
        `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists,
                CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN pg_has_role(current_user, $1::text::name, 'USAGE') END AS usable`,
        [this.s.owner],
      );
      if (!rows[0]?.exists) problems.push(`owner "${this.s.owner}" does not exist`);
      else if (!rows[0].usable && !info.superuser)
        problems.push(`the admin role ${admin} must be a member of owner "${this.s.owner}" (GRANT ... TO ${info.adminUser}) to REASSIGN OWNED to it`);
    }
  }

  private ownerSql(): string {
    return this.s.owner ? ident(this.s.owner) : 'CURRENT_USER';
  }

  /** Refuses to touch an account another target (sharing the cluster and prefix) created. */
  private assertOurs(name: string, comment: string | null): void {
    const mark = parseRoleComment(comment);
    if (mark && mark.target !== this.s.targetName) {
      throw this.a.refuse(
        `account "${name}" belongs to target "${mark.target}" on the same server; give the targets distinct accountPrefix values`,
        'foreign-account',
      );
    }
  }

  private credentialsFor(username: string, password: string): Credentials {
    const { clientHost: host, clientPort: port, database } = this.s;
    const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    const sslmode = this.s.tls && this.s.tls.mode !== 'disable' ? `?sslmode=${this.s.tls.mode}` : '';
    const enc = encodeURIComponent;
    return {
      username,
      password,
      host,
      port,
      database,
      url: `postgres://${enc(username)}:${enc(password)}@${hostPart}:${port}/${enc(database)}${sslmode}`,
    };
  }

  async grant(g: GrantOnTarget): Promise<{ credentials: Credentials }> {
    const roles = this.a.rolesOf(g);
    const name = accountName(this.s.accountPrefix, g.requestId);
    const password = generatePassword();
    const secrets = [password];
    try {
      const verifier = await scramSha256Verifier(password);
      secrets.push(verifier);
      const info = await this.a.info();
      const until = lit(new Date(g.expiresAt).toISOString());
      const comment = lit(roleComment({ request: g.requestId, target: this.s.targetName }));
      for (let attempt = 1; ; attempt++) {
        try {
          await this.a.tx(async (c) => {
            await this.a.assertSafe(c, roles, info);
            const { rows } = await c.query<{
              comment: string | null;
              rolsuper: boolean;
              rolcreaterole: boolean;
              rolreplication: boolean;
              rolbypassrls: boolean;
            }>(
              `SELECT shobj_description(oid, 'pg_authid') AS comment, rolsuper, rolcreaterole, rolreplication, rolbypassrls
                 FROM pg_roles WHERE rolname = $1`,
              [name],
            );
            const existing = rows[0];
            if (existing) {
              this.assertOurs(name, existing.comment);
              if (existing.rolsuper || existing.rolcreaterole || existing.rolreplication || existing.rolbypassrls) {
                throw this.a.refuse(`account "${name}" exists with privileged attributes; remove it by hand`, 'tampered-account');
              }
              await c.query(`ALTER ROLE ${ident(name)} WITH LOGIN INHERIT CONNECTION LIMIT ${CONNECTION_LIMIT} PASSWORD ${lit(verifier)} VALID UNTIL ${until}`);
            } else {
              await c.query(
                `CREATE ROLE ${ident(name)} WITH LOGIN INHERIT NOCREATEDB NOCREATEROLE CONNECTION LIMIT ${CONNECTION_LIMIT} PASSWORD ${lit(verifier)} VALID UNTIL ${until}`,
              );
            }
            await c.query(`COMMENT ON ROLE ${ident(name)} IS ${comment}`);
            await c.query(`GRANT ${roles.map(ident).join(', ')} TO ${ident(name)}`);
          });
          break;
        } catch (e) {
          // A concurrent grant of the same request created the role first: take the ALTER path.
          if ((pgCode(e) === '42710' || pgCode(e) === '23505') && attempt < 3) continue;
          throw e;
        }
      }
    } catch (e) {
      throw this.a.fail(`granting account "${name}"`, e, secrets);
    }
    return { credentials: this.credentialsFor(name, password) };
  }

  /**
   * Signals every session of the role, then re-checks with a short, growing backoff. (With a
   * timeout argument pg_terminate_backend waits in 100 ms steps, which made every revoke with a
   * live session idle for ~100 ms.)
   */
  private async terminateBackends(c: pg.ClientBase, role: string): Promise<void> {
    const started = Date.now();
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      const { rows } = await c.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
        [role],
      );
      if ((rows[0]?.n ?? 0) === 0) return;
      if (Date.now() - started > TERMINATE_WAIT_MS) break;
      await new Promise((r) => setTimeout(r, wait));
    }
    throw new Error(`sessions of "${role}" are still running after repeated pg_terminate_backend`);
  }

  /**
   * End of an account: NOLOGIN (new logins refused at once), terminate its sessions, REASSIGN
   * OWNED to the owner and DROP OWNED in every database it has objects or privileges in, then
   * DROP ROLE. Each step can be repeated; a role already gone is success.
   */
  private async dropAccount(name: string, requestId?: string): Promise<void> {
    try {
      const info = await this.a.info();
      const { rows } = await this.a.query<{ comment: string | null }>(
        `SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`,
        [name],
      );
      if (!rows[0]) return;
      this.assertOurs(name, rows[0].comment);
      const mark = parseRoleComment(rows[0].comment);
      if (requestId && mark && mark.request !== requestId) {
        throw this.a.refuse(`account "${name}" belongs to request ${mark.request}, not ${requestId}`, 'foreign-account');
      }
      const client = await this.a.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(`ALTER ROLE ${ident(name)} NOLOGIN`);
        // The admin acts for the role (terminate its backends, REASSIGN/DROP OWNED): it needs
        // the role's privileges, which its ADMIN OPTION alone does not give.
        if (!info.superuser) {
          await client.query(`GRANT ${ident(name)} TO CURRENT_USER${info.version >= 160000 ? ' WITH INHERIT TRUE' : ''}`);
        }
        await this.terminateBackends(client, name);
        const { rows: dbs } = await client.query<{ datname: string }>(
          `SELECT DISTINCT d.datname::text AS datname
             FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
            WHERE s.refclassid = 'pg_authid'::regclass
              AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
          [name],
        );
        const others = dbs.map((d) => d.datname).filter((d) => d !== this.s.database);
        await this.reassignAndDropOwned(client, name);
        for (const db of others) {
          const other = new pg.Client(this.a.connectionConfig(db));
          other.on('error', () => {});
          try {
            await other.connect();
            await this.reassignAndDropOwned(other, name);
          } catch (e) {
            throw this.a.fail(`removing objects of "${name}" in database "${db}"`, e);
          } finally {
            await other.end().catch(() => {});
          }
        }
        await client.query(`DROP ROLE IF EXISTS ${ident(name)}`);
      } catch (e) {
        if (!pgCode(e) && !(e instanceof HgError)) broken = e as Error;
        throw e;
      } finally {
        client.release(broken);
      }
    } catch (e) {
      if (isGone(e)) return; // removed concurrently (another revoke): done
      throw this.a.fail(`removing account "${name}"`, e);
    }
  }

  private async reassignAndDropOwned(c: pg.ClientBase, name: string): Promise<void> {
    await c.query('BEGIN');
    try {
      await c.query(`REASSIGN OWNED BY ${ident(name)} TO ${this.ownerSql()}`);
      await c.query(`DROP OWNED BY ${ident(name)}`);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    }
  }

  private async listAccounts(): Promise<FoundAccess[]> {
    const { rows } = await this.a.query<{ name: string; login: boolean; comment: string | null; roles: string[] }>(
      `SELECT r.rolname::text AS name, r.rolcanlogin AS login, shobj_description(r.oid, 'pg_authid') AS comment,
              COALESCE((SELECT array_agg(DISTINCT g.rolname::text ORDER BY g.rolname::text)
                          FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                         WHERE m.member = r.oid), '{}') AS roles
         FROM pg_roles r
        WHERE starts_with(r.rolname::text, $1)
        ORDER BY r.rolname`,
      [this.s.accountPrefix],
    );
    const out: FoundAccess[] = [];
    for (const r of rows) {
      const mark = parseRoleComment(r.comment);
      if (mark && mark.target !== this.s.targetName) continue; // another target's account
      const found: FoundAccess = { account: r.name, holds: [...(r.login ? ['login'] : []), ...r.roles] };
      if (mark) found.requestId = mark.request;
      out.push(found);
    }
    return out;
  }
}
