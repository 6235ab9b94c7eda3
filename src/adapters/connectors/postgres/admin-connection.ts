/**
 * The postgres connector's admin connection, shared by both modes: the pool, transactions, what
 * the server says of the admin role, the one error shape (scrubbed), and the checks on the roles
 * a grant names.
 */
import pg from 'pg';
import type { Credentials, FoundAccess, GrantOnTarget } from '../../../app/connectors.js';
import { HgError } from '../../../core/errors.js';
import { redact } from '../../../core/redact.js';
import { targetError, targetRefusal } from '../target-error.js';
import { checkEntitlementRoles } from './safety.js';
import { sslOptions, type PostgresSettings } from './settings.js';

export const ident = (name: string): string => pg.escapeIdentifier(name);
export const lit = (text: string): string => pg.escapeLiteral(text);

/** How long pg_terminate_backend waits for a backend to exit. */
export const TERMINATE_WAIT_MS = 5_000;
const POOL_SIZE = 4;

export interface ServerInfo {
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

export const pgCode = (e: unknown): string | undefined => (e && typeof e === 'object' ? (e as PgError).code : undefined);
/** undefined_object: the role (or user) is not there. */
export const isGone = (e: unknown) => pgCode(e) === '42704';

/** What account and membership mode do differently; PostgresConnector delegates to one of them. */
export interface PostgresMode {
  grant(g: GrantOnTarget): Promise<{ credentials?: Credentials }>;
  revoke(g: GrantOnTarget): Promise<void>;
  extend(g: GrantOnTarget): Promise<void>;
  /** Errors unwrapped: the connector gives them its one shape. */
  list(): Promise<FoundAccess[]>;
  expected(g: GrantOnTarget): string[];
  removeOrphan(found: FoundAccess): Promise<void>;
  trimExtra(found: FoundAccess, extra: string[]): Promise<void>;
  /** The mode's own health checks, run before the checks of the entitlement roles. */
  checkHealth(info: ServerInfo, problems: string[], notes: string[]): Promise<void>;
}

export class PgAdmin {
  private poolInstance?: pg.Pool;
  private infoPromise?: Promise<ServerInfo>;
  private closed = false;

  constructor(
    readonly s: PostgresSettings,
    private readonly secretsToScrub: (text: string) => string,
  ) {}

  connectionConfig(database = this.s.database): pg.ClientConfig {
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

  get pool(): pg.Pool {
    if (this.closed) throw targetRefusal('postgres', this.s.targetName, 'the connector is closed', (t) => this.scrub(t));
    if (!this.poolInstance) {
      const pool = new pg.Pool({ ...this.connectionConfig(), max: POOL_SIZE, idleTimeoutMillis: 30_000 });
      // An idle connection the server closed: the pool drops it; nothing to do here.
      pool.on('error', () => {});
      this.poolInstance = pool;
    }
    return this.poolInstance;
  }

  scrub(text: string, extra: string[] = []): string {
    const secrets = [this.s.password, encodeURIComponent(this.s.password), ...extra].filter((x) => x.length >= 4);
    return redact(this.secretsToScrub(text), secrets);
  }

  /** One error type; the driver's message and detail, scrubbed; details carry `pgCode`. */
  fail(what: string, err: unknown, extraSecrets: string[] = []): HgError {
    const e = (err && typeof err === 'object' ? err : { message: String(err) }) as PgError;
    const text = `${e.message ?? String(err)}${e.detail ? ` (${e.detail})` : ''}`;
    return targetError('postgres', this.s.targetName, what, err, (t) => this.scrub(t, extraSecrets), {
      text,
      details: { target: this.s.targetName, ...(e.code ? { pgCode: e.code } : {}) },
    });
  }

  refuse(message: string, reason: string): HgError {
    return targetRefusal('postgres', this.s.targetName, message, (t) => this.scrub(t), { target: this.s.targetName, reason });
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(sql, params);
  }

  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
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

  info(refresh = false): Promise<ServerInfo> {
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
  rolesOf(g: GrantOnTarget): string[] {
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

  /** The problems of granting `roles` (privileged, Hourglass's own, missing), as the safety rules see them. */
  roleProblems(c: pg.ClientBase, roles: string[], info: ServerInfo): Promise<string[]> {
    return checkEntitlementRoles(c, roles, {
      allowPrivilegedRoles: this.s.allowPrivilegedRoles,
      accountPrefix: this.s.accountPrefix,
      adminUser: info.adminUser,
    });
  }

  async assertSafe(c: pg.ClientBase, roles: string[], info: ServerInfo): Promise<void> {
    const problems = await this.roleProblems(c, roles, info);
    if (problems.length > 0) throw this.refuse(`refusing to grant: ${problems.join('; ')}`, 'role-refused');
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.poolInstance;
    this.poolInstance = undefined;
    if (pool) await pool.end().catch(() => {});
  }
}
