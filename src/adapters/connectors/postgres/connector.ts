/**
 * The `postgres` connector. Two modes (docs/targets/postgres.md):
 *
 * - account (default): one login role per request, `<accountPrefix><request id>`, with a
 *   random password sent as a SCRAM verifier, `VALID UNTIL` the grant's end, membership in the
 *   entitlement roles. At the end: NOLOGIN, terminate its backends, REASSIGN OWNED to the
 *   owner and DROP OWNED in every database it has objects in, DROP ROLE.
 * - membership: GRANT the entitlement roles to the principal's existing user and REVOKE them
 *   at the end, reference-counted in a bookkeeping table so that a membership Hourglass did not
 *   add, or that another live grant still needs, is never revoked.
 *
 * Every step is idempotent and safe to repeat after a crash; errors are HG_TARGET_UNAVAILABLE
 * with messages scrubbed of the admin password and generated passwords.
 */
import pg from 'pg';
import type {
  Connector,
  ConnectorCapabilities,
  Credentials,
  FoundAccess,
  GrantOnTarget,
} from '../../../app/connectors.js';
import { HgError } from '../../../core/errors.js';
import type { TargetConfig } from '../../../core/types.js';
import { accountName, parseRoleComment, roleComment } from './names.js';
import { checkEntitlementRoles } from './safety.js';
import { generatePassword, scramSha256Verifier } from './scram.js';
import { capabilitiesOf, settingsOf, sslOptions, type PostgresSettings } from './settings.js';

const ident = (name: string): string => pg.escapeIdentifier(name);
const lit = (text: string): string => pg.escapeLiteral(text);

/** Concurrent sessions one temporary account may hold. */
export const CONNECTION_LIMIT = 10;
/** How long pg_terminate_backend waits for a backend to exit. */
const TERMINATE_WAIT_MS = 5_000;
const POOL_SIZE = 4;
/** The membership-mode bookkeeping table (in the target database). */
export const BOOKKEEPING_SCHEMA = 'hourglass';
export const BOOKKEEPING_TABLE = `${BOOKKEEPING_SCHEMA}.memberships`;
const BOOKKEEPING_LOCK = 'hourglass.memberships';

interface ServerInfo {
  adminUser: string;
  version: number;
  superuser: boolean;
  createrole: boolean;
  inherit: boolean;
}

interface PgError {
  message?: string;
  code?: string;
  detail?: string;
}

const pgCode = (e: unknown): string | undefined => (e && typeof e === 'object' ? (e as PgError).code : undefined);
/** undefined_object: the role (or user) is not there. */
const isGone = (e: unknown) => pgCode(e) === '42704';

export class PostgresConnector implements Connector {
  readonly kind = 'postgres';
  readonly capabilities: ConnectorCapabilities;
  private readonly s: PostgresSettings;
  private poolInstance?: pg.Pool;
  private infoPromise?: Promise<ServerInfo>;
  private bookkeeping?: Promise<void>;
  private closed = false;

  constructor(
    target: TargetConfig,
    private readonly opts: { secretsToScrub: (text: string) => string },
  ) {
    this.s = settingsOf(target);
    this.capabilities = capabilitiesOf(this.s.mode);
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  private connectionConfig(database = this.s.database): pg.ClientConfig {
    return {
      host: this.s.host,
      port: this.s.port,
      user: this.s.user,
      password: this.s.password,
      database,
      ssl: sslOptions(this.s.tls),
      application_name: 'hourglass',
      connectionTimeoutMillis: 10_000,
      statement_timeout: 30_000,
      lock_timeout: 10_000,
    };
  }

  private get pool(): pg.Pool {
    if (this.closed) throw new HgError('HG_TARGET_UNAVAILABLE', `postgres target "${this.s.targetName}": the connector is closed`);
    if (!this.poolInstance) {
      const pool = new pg.Pool({ ...this.connectionConfig(), max: POOL_SIZE, idleTimeoutMillis: 30_000 });
      // An idle connection the server closed: the pool drops it; nothing to do here.
      pool.on('error', () => {});
      this.poolInstance = pool;
    }
    return this.poolInstance;
  }

  private scrub(text: string, extra: string[] = []): string {
    let out = this.opts.secretsToScrub(text);
    const secrets = [this.s.password, encodeURIComponent(this.s.password), ...extra].filter((x) => x.length >= 4);
    for (const secret of secrets.sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
    return out;
  }

  /** One error type; the driver's message and detail, scrubbed. */
  private fail(what: string, err: unknown, extraSecrets: string[] = []): HgError {
    if (err instanceof HgError) {
      const message = this.scrub(err.message, extraSecrets);
      return message === err.message ? err : new HgError(err.code, message, err.details);
    }
    const e = (err && typeof err === 'object' ? err : { message: String(err) }) as PgError;
    let message = `postgres target "${this.s.targetName}": ${what}: ${e.message ?? String(err)}`;
    if (e.detail) message += ` (${e.detail})`;
    return new HgError('HG_TARGET_UNAVAILABLE', this.scrub(message, extraSecrets), {
      target: this.s.targetName,
      ...(e.code ? { pgCode: e.code } : {}),
    });
  }

  private refuse(message: string, reason: string): HgError {
    return new HgError('HG_TARGET_UNAVAILABLE', this.scrub(`postgres target "${this.s.targetName}": ${message}`), {
      target: this.s.targetName,
      reason,
    });
  }

  private async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(sql, params);
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch((re: Error) => {
        broken = re;
      });
      throw e;
    } finally {
      client.release(broken);
    }
  }

  private info(refresh = false): Promise<ServerInfo> {
    if (refresh || !this.infoPromise) {
      const p = this.query<{ u: string; v: number; rolsuper: boolean; rolcreaterole: boolean; rolinherit: boolean }>(
        `SELECT current_user::text AS u, current_setting('server_version_num')::int AS v, r.rolsuper, r.rolcreaterole, r.rolinherit
           FROM pg_roles r WHERE r.rolname = current_user`,
      ).then(({ rows: [r] }) => {
        if (!r) throw new Error('the admin role is not in pg_roles');
        return { adminUser: r.u, version: r.v, superuser: r.rolsuper, createrole: r.rolcreaterole, inherit: r.rolinherit };
      });
      p.catch(() => {
        if (this.infoPromise === p) this.infoPromise = undefined;
      });
      this.infoPromise = p;
    }
    return this.infoPromise;
  }

  /** Every role the grant's entitlements name, in order, once. */
  private rolesOf(g: GrantOnTarget): string[] {
    const roles: string[] = [];
    for (const e of g.entitlements) {
      const own = (e.config as { roles?: unknown })?.roles;
      const list = Array.isArray(own) ? own.map(String) : (this.s.entitlements[e.name] ?? []);
      if (list.length === 0) throw this.refuse(`entitlement "${e.name}" names no roles`, 'no-roles');
      for (const r of list) if (!roles.includes(r)) roles.push(r);
    }
    if (roles.length === 0) throw this.refuse('the grant names no entitlements', 'no-roles');
    return roles;
  }

  private async assertSafe(c: pg.ClientBase, roles: string[], info: ServerInfo): Promise<void> {
    const problems = await checkEntitlementRoles(c, roles, {
      allowPrivilegedRoles: this.s.allowPrivilegedRoles,
      accountPrefix: this.s.accountPrefix,
      adminUser: info.adminUser,
    });
    if (problems.length > 0) throw this.refuse(`refusing to grant: ${problems.join('; ')}`, 'role-refused');
  }

  private ownerSql(): string {
    return this.s.owner ? ident(this.s.owner) : 'CURRENT_USER';
  }

  // ---- the contract -----------------------------------------------------------------------------

  async grant(g: GrantOnTarget): Promise<{ credentials?: Credentials }> {
    return this.s.mode === 'account' ? this.grantAccount(g) : this.grantMembership(g);
  }

  async revoke(g: GrantOnTarget): Promise<void> {
    if (this.s.mode === 'account') await this.dropAccount(accountName(this.s.accountPrefix, g.requestId), g.requestId);
    else await this.revokeMembership(g.requestId);
  }

  async extend(g: GrantOnTarget): Promise<void> {
    const until = new Date(g.expiresAt).toISOString();
    if (this.s.mode === 'membership') {
      try {
        if (!(await this.hasBookkeeping())) throw this.refuse(`no membership of request ${g.requestId} is recorded`, 'missing');
        const { rowCount } = await this.query(`UPDATE ${BOOKKEEPING_TABLE} SET expires_at = $3 WHERE target = $1 AND request_id = $2`, [
          this.s.targetName,
          g.requestId,
          until,
        ]);
        if (!rowCount) throw this.refuse(`no membership of request ${g.requestId} is recorded`, 'missing');
      } catch (e) {
        throw this.fail('extending the grant', e);
      }
      return;
    }
    const name = accountName(this.s.accountPrefix, g.requestId);
    try {
      await this.tx(async (c) => {
        const { rows } = await c.query<{ comment: string | null }>(
          `SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`,
          [name],
        );
        if (!rows[0]) throw this.refuse(`account "${name}" does not exist (was it removed?)`, 'missing');
        this.assertOurs(name, rows[0].comment);
        await c.query(`ALTER ROLE ${ident(name)} VALID UNTIL ${lit(until)}`);
      });
    } catch (e) {
      throw this.fail(`extending account "${name}"`, e);
    }
  }

  async list(): Promise<FoundAccess[]> {
    try {
      return this.s.mode === 'account' ? await this.listAccounts() : await this.listMemberships();
    } catch (e) {
      throw this.fail('listing access', e);
    }
  }

  expected(g: GrantOnTarget): string[] {
    const roles = this.rolesOf(g);
    return this.s.mode === 'account' ? ['login', ...roles] : roles;
  }

  async removeOrphan(found: FoundAccess): Promise<void> {
    if (this.s.mode === 'account') {
      if (!found.account.startsWith(this.s.accountPrefix)) {
        throw this.refuse(`"${found.account}" does not carry the account prefix "${this.s.accountPrefix}"; not removed`, 'not-ours');
      }
      await this.dropAccount(found.account, found.requestId);
      return;
    }
    if (!found.requestId) throw this.refuse(`membership of "${found.account}" names no request; not removed`, 'not-ours');
    await this.revokeMembership(found.requestId);
  }

  /**
   * Reconciliation with removeExtraPrivileges: revokes role memberships an account holds beyond
   * its grant. The password and live sessions stay (what remains is what was granted). Account
   * mode only: in membership mode the user's other memberships were never Hourglass's to take.
   */
  async trimExtra(found: FoundAccess, extra: string[]): Promise<void> {
    if (this.s.mode !== 'account' || !found.account.startsWith(this.s.accountPrefix)) return;
    try {
      for (const role of extra.filter((r) => r !== 'login')) {
        await this.query(`REVOKE ${ident(role)} FROM ${ident(found.account)}`);
      }
    } catch (e) {
      throw this.fail('removing extra privileges', e);
    }
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    const problems: string[] = [];
    const notes: string[] = [];
    try {
      const info = await this.info(true);
      await this.query('SELECT 1');
      if (info.version < 140000) problems.push(`PostgreSQL ${info.version} is too old: 14 or later is needed`);
      const admin = `"${info.adminUser}"`;
      if (info.superuser) notes.push(`the admin role ${admin} is a superuser; a CREATEROLE role is enough (docs/targets/postgres.md)`);
      if (this.s.mode === 'account') {
        if (!info.superuser && !info.createrole) problems.push(`the admin role ${admin} lacks CREATEROLE`);
        if (!info.superuser && !info.inherit) problems.push(`the admin role ${admin} must have INHERIT (to REASSIGN/DROP OWNED of ending accounts)`);
        if (this.s.owner && this.s.owner !== info.adminUser) {
          const { rows } = await this.query<{ exists: boolean; usable: boolean | null }>(
            `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists,
                    CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN pg_has_role(current_user, $1::text::name, 'USAGE') END AS usable`,
            [this.s.owner],
          );
          if (!rows[0]?.exists) problems.push(`owner "${this.s.owner}" does not exist`);
          else if (!rows[0].usable && !info.superuser) problems.push(`the admin role ${admin} must be a member of owner "${this.s.owner}" (GRANT ... TO ${info.adminUser}) to REASSIGN OWNED to it`);
        }
      }
      const roles = [...new Set(Object.values(this.s.entitlements).flat())];
      const client = await this.pool.connect();
      try {
        problems.push(
          ...(await checkEntitlementRoles(client, roles, {
            allowPrivilegedRoles: this.s.allowPrivilegedRoles,
            accountPrefix: this.s.accountPrefix,
            adminUser: info.adminUser,
          })),
        );
        const { rows } = await client.query<{ rolname: string; admin: boolean; rolsuper: boolean }>(
          `SELECT rolname::text, rolsuper, pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION') AS admin
             FROM pg_roles WHERE rolname = ANY($1::text[])`,
          [roles],
        );
        for (const r of rows) {
          const canGrant = info.superuser || r.admin || (info.version < 160000 && info.createrole && !r.rolsuper);
          if (!canGrant) problems.push(`the admin role ${admin} cannot grant "${r.rolname}": GRANT ${ident(r.rolname)} TO ${ident(info.adminUser)} WITH ADMIN OPTION`);
        }
      } finally {
        client.release();
      }
      if (this.s.mode === 'membership') {
        await this.ensureBookkeeping();
        const { rows } = await this.query<{ stats: boolean; signal: boolean }>(
          `SELECT pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS stats, pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal`,
        );
        if (!info.superuser && !(rows[0]?.stats && rows[0]?.signal)) {
          notes.push('sessions that SET ROLE to a granted role are not ended at revoke (grant pg_read_all_stats and pg_signal_backend to the admin role to enable it)');
        }
      }
    } catch (e) {
      return { ok: false, detail: this.fail('health check', e).message };
    }
    const detail = [...problems, ...notes].join('; ');
    return problems.length > 0 ? { ok: false, detail } : detail ? { ok: true, detail } : { ok: true };
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.poolInstance;
    this.poolInstance = undefined;
    if (pool) await pool.end().catch(() => {});
  }

  // ---- account mode -----------------------------------------------------------------------------

  /** Refuses to touch an account another target (sharing the cluster and prefix) created. */
  private assertOurs(name: string, comment: string | null): void {
    const mark = parseRoleComment(comment);
    if (mark && mark.target !== this.s.targetName) {
      throw this.refuse(
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

  private async grantAccount(g: GrantOnTarget): Promise<{ credentials: Credentials }> {
    const roles = this.rolesOf(g);
    const name = accountName(this.s.accountPrefix, g.requestId);
    const password = generatePassword();
    const secrets = [password];
    try {
      const verifier = await scramSha256Verifier(password);
      secrets.push(verifier);
      const info = await this.info();
      const until = lit(new Date(g.expiresAt).toISOString());
      const comment = lit(roleComment({ request: g.requestId, target: this.s.targetName }));
      for (let attempt = 1; ; attempt++) {
        try {
          await this.tx(async (c) => {
            await this.assertSafe(c, roles, info);
            const { rows } = await c.query<{ comment: string | null; rolsuper: boolean; rolcreaterole: boolean; rolreplication: boolean; rolbypassrls: boolean }>(
              `SELECT shobj_description(oid, 'pg_authid') AS comment, rolsuper, rolcreaterole, rolreplication, rolbypassrls
                 FROM pg_roles WHERE rolname = $1`,
              [name],
            );
            const existing = rows[0];
            if (existing) {
              this.assertOurs(name, existing.comment);
              if (existing.rolsuper || existing.rolcreaterole || existing.rolreplication || existing.rolbypassrls) {
                throw this.refuse(`account "${name}" exists with privileged attributes; remove it by hand`, 'tampered-account');
              }
              await c.query(
                `ALTER ROLE ${ident(name)} WITH LOGIN INHERIT CONNECTION LIMIT ${CONNECTION_LIMIT} PASSWORD ${lit(verifier)} VALID UNTIL ${until}`,
              );
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
      throw this.fail(`granting account "${name}"`, e, secrets);
    }
    return { credentials: this.credentialsFor(name, password) };
  }

  /** Ends every session of the role; repeats while new ones appear (at most a few rounds). */
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
      const info = await this.info();
      const { rows } = await this.query<{ comment: string | null }>(
        `SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`,
        [name],
      );
      if (!rows[0]) return;
      this.assertOurs(name, rows[0].comment);
      const mark = parseRoleComment(rows[0].comment);
      if (requestId && mark && mark.request !== requestId) {
        throw this.refuse(`account "${name}" belongs to request ${mark.request}, not ${requestId}`, 'foreign-account');
      }
      const client = await this.pool.connect();
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
          const other = new pg.Client(this.connectionConfig(db));
          other.on('error', () => {});
          try {
            await other.connect();
            await this.reassignAndDropOwned(other, name);
          } catch (e) {
            throw this.fail(`removing objects of "${name}" in database "${db}"`, e);
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
      throw this.fail(`removing account "${name}"`, e);
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
    const { rows } = await this.query<{ name: string; login: boolean; comment: string | null; roles: string[] }>(
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

  // ---- membership mode --------------------------------------------------------------------------

  private memberOf(g: GrantOnTarget): string {
    return this.s.userTemplate.split('{principal}').join(g.principal);
  }

  private async hasBookkeeping(c: pg.ClientBase | pg.Pool = this.pool): Promise<boolean> {
    const { rows } = await c.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [BOOKKEEPING_TABLE]);
    return rows[0]?.ok === true;
  }

  /** Creates the bookkeeping schema and table when missing (once per connector). */
  private ensureBookkeeping(): Promise<void> {
    this.bookkeeping ??= (async () => {
      if (await this.hasBookkeeping()) return;
      const { rows } = await this.query<{ ok: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok`, [BOOKKEEPING_SCHEMA]);
      try {
        if (!rows[0]?.ok) await this.query(`CREATE SCHEMA IF NOT EXISTS ${BOOKKEEPING_SCHEMA}`);
        await this.query(
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
        await this.query(
          `COMMENT ON TABLE ${BOOKKEEPING_TABLE} IS ${lit(
            'Hourglass: role memberships granted for live requests (membership mode); preexisting = the membership existed before and is never revoked by Hourglass',
          )}`,
        );
      } catch (e) {
        if (pgCode(e) === '23505' || pgCode(e) === '42P06' || pgCode(e) === '42P07') {
          if (await this.hasBookkeeping()) return; // created concurrently
        }
        if (pgCode(e) === '42501') {
          throw this.refuse(
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

  private async grantMembership(g: GrantOnTarget): Promise<{ credentials?: Credentials }> {
    const roles = this.rolesOf(g);
    const member = this.memberOf(g);
    try {
      await this.ensureBookkeeping();
      const info = await this.info();
      await this.tx(async (c) => {
        await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [BOOKKEEPING_LOCK]);
        await this.assertSafe(c, roles, info);
        const { rows: users } = await c.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [member]);
        if (users.length === 0) throw this.refuse(`database user "${member}" (userTemplate "${this.s.userTemplate}") does not exist`, 'no-user');
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
          await c.query(
            `INSERT INTO ${BOOKKEEPING_TABLE} (target, request_id, member, role, preexisting, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
            [this.s.targetName, g.requestId, member, role, preexisting, new Date(g.expiresAt).toISOString()],
          );
        }
      });
    } catch (e) {
      throw this.fail(`granting roles to "${member}"`, e);
    }
    return {};
  }

  /**
   * Ends a request's memberships: drops its bookkeeping rows and REVOKEs each role that no other
   * live grant still needs and that Hourglass added itself. Then, best effort, terminates the
   * member's sessions whose last statement was SET ROLE to a revoked role.
   */
  private async revokeMembership(requestId: string): Promise<void> {
    let revoked: { member: string; role: string }[] = [];
    try {
      if (!(await this.hasBookkeeping())) return;
      revoked = await this.tx(async (c) => {
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
      throw this.fail(`revoking memberships of request ${requestId}`, e);
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
      const { rows } = await this.query<{ pid: number; query: string | null }>(
        `SELECT pid, query FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
        [member],
      );
      for (const row of rows) {
        if (!row.query || !setsRole(row.query, roles)) continue;
        await this.query(`SELECT pg_terminate_backend($1, ${TERMINATE_WAIT_MS})`, [row.pid]).catch(() => {});
      }
    }
  }

  private async listMemberships(): Promise<FoundAccess[]> {
    if (!(await this.hasBookkeeping())) return [];
    const { rows } = await this.query<{ request_id: string; member: string; holds: string[] }>(
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
