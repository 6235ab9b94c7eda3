/**
 * The `mariadb` target kind (MariaDB 10.4+; the SQL is MariaDB's, not MySQL 8's): one
 * temporary account per (request, target), `<prefix><request id>`@`<userHost>`, with a random
 * password, holding the entitlements' privileges and roles. At the end the account is locked
 * (no new login), its connections are killed, it is dropped, and killed again (a login that was
 * authenticating while the lock landed). See docs/targets/mariadb.md.
 *
 * The password never travels in clear text: the account is created from its
 * mysql_native_password hash (SHA1(SHA1(password))), computed here, so the general log, the slow
 * log and the binary log only ever see the hash.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import mysql from 'mysql2/promise';
import type { Connector, ConnectorCapabilities, Credentials, FoundAccess, GrantOnTarget, Reconcilable } from '../../../app/connectors.js';
import { HgError } from '../../../core/errors.js';
import { redact } from '../../../core/redact.js';
import type { TargetConfig } from '../../../core/types.js';
import { LISTED_TABLES, USER_COLUMNS } from './admin.js';
import { accountLiteral, accountName, hostLiteral, nameLiteral, requestIdOf, ROLE_SUFFIX, wrapperRoleName } from './names.js';
import { DB_COLUMNS, GLOBAL_COLUMNS, grantScope, privilegeWords, quoteIdent, roleWord, setColumnPrivileges, type ParsedPrivilege } from './privileges.js';
import { targetError, targetRefusal } from '../target-error.js';
import { adminEndpoint, entitlementSpec, readPem, readSettings, type AdminEndpoint, type MariadbSettings } from './settings.js';

const CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 30_000;

/** Server errors meaning "this account may not do that". */
const ACCESS_DENIED = new Set([1044, 1045, 1142, 1143, 1227, 1698, 1095]);

/** The mysql_native_password hash: `*` and the upper-case hex of SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
}

interface MysqlError {
  errno?: number;
  code?: string;
  message?: string;
  sqlMessage?: string;
}

const errnoOf = (e: unknown): number | undefined => (e as MysqlError | undefined)?.errno;

type Row = Record<string, unknown>;

export const MARIADB_CAPABILITIES: ConnectorCapabilities = {
  endsSessions: true,
  // MariaDB has no VALID UNTIL: the account lives until Hourglass drops it.
  enforcesExpiry: false,
  canList: true,
  issuesCredentials: true,
};

export class MariadbConnector implements Connector, Reconcilable {
  readonly kind = 'mariadb';
  readonly capabilities = MARIADB_CAPABILITIES;
  /** The target lists what Hourglass created (canList): the connector reconciles itself. */
  readonly reconciliation: Reconcilable = this;

  private readonly settings: MariadbSettings;
  private pool: mysql.Pool | undefined;
  private closed = false;

  constructor(
    private readonly target: TargetConfig,
    private readonly secretsToScrub: (text: string) => string,
  ) {
    this.settings = readSettings(target);
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  private endpoint(): AdminEndpoint {
    try {
      return adminEndpoint(this.settings.url);
    } catch (e) {
      throw new HgError('HG_CONFIG_INVALID', `mariadb target ${this.settings.name}: url ${(e as Error).message}`);
    }
  }

  /** Scrubs the configured secrets, the admin password and any extra secrets of the moment. */
  private scrub(text: string, extra: string[] = []): string {
    let adminPassword = '';
    try {
      adminPassword = adminEndpoint(this.settings.url).password;
    } catch {
      // no password to scrub
    }
    return redact(
      this.secretsToScrub(text),
      [adminPassword, encodeURIComponent(adminPassword), ...extra].filter((s) => s.length >= 4),
    );
  }

  /** The server's message and error number; details carry `errno` and `code`. */
  private fail(action: string, e: unknown, extra: string[] = []): HgError {
    const err = (e ?? {}) as MysqlError;
    const text = err.sqlMessage ?? err.message ?? String(e);
    const code = err.errno ? ` (${err.code ?? 'error'} ${err.errno})` : err.code ? ` (${err.code})` : '';
    return targetError('mariadb', this.settings.name, action, e, (t) => this.scrub(t, extra), {
      text: `${text}${code}`,
      details: { target: this.settings.name, ...(err.errno ? { errno: err.errno } : {}), ...(err.code ? { code: err.code } : {}) },
    });
  }

  /** mysql2 options for an account, with the target's TLS settings. */
  private connectionOptions(user: string, password: string): mysql.ConnectionOptions {
    const ep = this.endpoint();
    const options: mysql.ConnectionOptions = {
      host: ep.host,
      port: ep.port,
      user,
      password,
      connectTimeout: CONNECT_TIMEOUT_MS,
      charset: 'utf8mb4_general_ci',
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: true,
    };
    const tls = this.settings.tls;
    if (tls && tls.mode !== 'disable') {
      const ssl: NonNullable<mysql.ConnectionOptions['ssl']> & Record<string, unknown> = {
        rejectUnauthorized: tls.mode !== 'require',
        verifyIdentity: tls.mode === 'verify-full',
      };
      try {
        if (tls.ca) ssl.ca = readPem(tls.ca);
        if (tls.cert) ssl.cert = readPem(tls.cert);
        if (tls.key) ssl.key = readPem(tls.key);
      } catch (e) {
        throw targetError('mariadb', this.settings.name, 'cannot read a TLS file', e, (t) => this.scrub(t));
      }
      options.ssl = ssl;
      if (tls.serverName) {
        // mysql2 checks the certificate against `host`: name the expected server there and open
        // the TCP connection to the URL's address ourselves.
        options.host = tls.serverName;
        options.stream = () => net.connect({ host: ep.host, port: ep.port, noDelay: true });
      } else if (tls.mode === 'verify-full' && net.isIP(ep.host)) {
        // An address cannot be a TLS server name (SNI), so mysql2 sends none and Node checks the
        // certificate against the socket's `_host`, which net leaves empty for an address (and
        // then checks "localhost"). Name the address there, so the IP SAN is what is checked.
        options.stream = () => {
          const socket = net.connect({ host: ep.host, port: ep.port, noDelay: true });
          (socket as net.Socket & { _host?: string | null })._host = ep.host;
          return socket;
        };
      }
    }
    return options;
  }

  private adminPool(): mysql.Pool {
    if (this.closed) throw targetRefusal('mariadb', this.settings.name, 'the connector is closed', (t) => this.scrub(t));
    if (!this.pool) {
      const ep = this.endpoint();
      this.pool = mysql.createPool({
        ...this.connectionOptions(ep.user, ep.password),
        connectionLimit: 4,
        maxIdle: 2,
        idleTimeout: 60_000,
        enableKeepAlive: true,
        waitForConnections: true,
        queueLimit: 0,
      });
      // A connection that dies while idle in the pool must not crash the process.
      (this.pool as unknown as { on(ev: string, fn: (...a: unknown[]) => void): void }).on('connection', (conn: unknown) => {
        (conn as { on(ev: string, fn: () => void): void }).on('error', () => {});
      });
    }
    return this.pool;
  }

  private async withAdmin<T>(fn: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.adminPool().getConnection();
    let healthy = true;
    try {
      return await fn(conn);
    } catch (e) {
      // A connection whose query failed for a network reason is not returned to the pool.
      if (errnoOf(e) === undefined) healthy = false;
      throw e;
    } finally {
      if (healthy) conn.release();
      else conn.destroy();
    }
  }

  private static async exec(conn: mysql.Connection | mysql.PoolConnection, sql: string, values?: unknown[]): Promise<Row[]> {
    const [rows] = await conn.query({ sql, values, timeout: QUERY_TIMEOUT_MS });
    return Array.isArray(rows) ? (rows as Row[]) : [];
  }

  private accountOf(grant: GrantOnTarget): string {
    try {
      return accountName(this.settings.accountPrefix, grant.requestId);
    } catch (e) {
      throw new HgError('HG_INTERNAL', `mariadb target ${this.settings.name}: ${(e as Error).message}`);
    }
  }

  private specOf(grant: GrantOnTarget): { privileges: ParsedPrivilege[]; roles: string[] } {
    const privileges: ParsedPrivilege[] = [];
    const roles = new Set<string>();
    for (const ent of grant.entitlements) {
      try {
        const spec = entitlementSpec(ent.config ?? {});
        privileges.push(...spec.privileges);
        for (const r of spec.roles) roles.add(r);
      } catch (e) {
        throw new HgError('HG_CONFIG_INVALID', `mariadb target ${this.settings.name}: entitlement ${ent.name}: ${(e as Error).message}`);
      }
    }
    return { privileges, roles: [...roles] };
  }

  // ---- the contract -----------------------------------------------------------------------------

  async grant(grant: GrantOnTarget): Promise<{ credentials?: Credentials }> {
    const name = this.accountOf(grant);
    const spec = this.specOf(grant);
    const ep = this.endpoint();
    const password = randomBytes(24).toString('base64url');
    const hash = nativePasswordHash(password);
    const account = accountLiteral(name, this.settings.userHost);
    const auth = `IDENTIFIED VIA mysql_native_password USING '${hash}'`;
    try {
      await this.withAdmin(async (conn) => {
        try {
          await MariadbConnector.exec(conn, `CREATE USER IF NOT EXISTS ${account} ${auth}`);
          // A repeated grant (a retry after a crash) resets the password and undoes a lock.
          await MariadbConnector.exec(conn, `ALTER USER ${account} ${auth} ACCOUNT UNLOCK`);
          for (const p of spec.privileges) {
            await MariadbConnector.exec(conn, `GRANT ${p.privileges.join(', ')} ON ${grantScope(p)} TO ${account}`);
          }
          let defaultRole: string | undefined;
          if (spec.roles.length === 1) {
            defaultRole = spec.roles[0]!;
            await MariadbConnector.exec(conn, `GRANT ${quoteIdent(defaultRole)} TO ${account}`);
          } else if (spec.roles.length > 1) {
            // One default role per user: the roles go into a wrapper role of this grant.
            defaultRole = wrapperRoleName(name);
            await MariadbConnector.exec(conn, `CREATE ROLE IF NOT EXISTS ${quoteIdent(defaultRole)}`);
            for (const r of spec.roles) await MariadbConnector.exec(conn, `GRANT ${quoteIdent(r)} TO ${quoteIdent(defaultRole)}`);
            await MariadbConnector.exec(conn, `GRANT ${quoteIdent(defaultRole)} TO ${account}`);
          }
          if (defaultRole) await this.setDefaultRole(conn, name, defaultRole, password);
        } catch (e) {
          // Access never half-granted: take back what was made (best effort; a retry redoes it).
          await this.removeAccount(conn, name, []).catch(() => {});
          throw e;
        }
      });
    } catch (e) {
      throw this.fail('grant', e, [password, hash, hash.slice(1)]);
    }

    const host = this.settings.clientHost ?? ep.host;
    const port = this.settings.clientPort ?? ep.port;
    const credentials: Credentials = { username: name, password, host, port };
    const database = defaultDatabase(ep.database, spec);
    if (database) credentials.database = database;
    // Clients should use TLS as Hourglass does (they need the CA themselves for verify-*).
    if (this.settings.tls && this.settings.tls.mode !== 'disable') credentials.tls = this.settings.tls.mode;
    const urlHost = net.isIPv6(host) ? `[${host}]` : host;
    credentials.url = `mysql://${encodeURIComponent(name)}:${encodeURIComponent(password)}@${urlHost}:${port}/${database ? encodeURIComponent(database) : ''}`;
    return { credentials };
  }

  /**
   * `SET DEFAULT ROLE ... FOR` another user needs UPDATE on the mysql database, which a
   * least-privilege admin does not have; then Hourglass logs in once as the new account and
   * sets its own default role (allowed to every user for a role it holds).
   */
  private async setDefaultRole(conn: mysql.PoolConnection, name: string, role: string, password: string): Promise<void> {
    try {
      await MariadbConnector.exec(conn, `SET DEFAULT ROLE ${quoteIdent(role)} FOR ${accountLiteral(name, this.settings.userHost)}`);
      return;
    } catch (e) {
      if (!ACCESS_DENIED.has(errnoOf(e) ?? 0)) throw e;
    }
    let self: mysql.Connection | undefined;
    try {
      self = await mysql.createConnection(this.connectionOptions(name, password));
      self.on('error', () => {});
      await MariadbConnector.exec(self, `SET DEFAULT ROLE ${quoteIdent(role)}`);
    } catch (e) {
      const err = e as MysqlError;
      throw new Error(
        'could not set the default role: the admin account may not (it lacks UPDATE on mysql.*) and logging in as the new ' +
          `account failed (does userHost admit Hourglass's address?): ${err.sqlMessage ?? err.message ?? String(e)}`,
      );
    } finally {
      await self?.end().catch(() => {});
    }
  }

  async revoke(grant: GrantOnTarget): Promise<void> {
    const name = this.accountOf(grant);
    try {
      await this.withAdmin((conn) => this.removeAccount(conn, name, []));
    } catch (e) {
      throw this.fail('revoke', e);
    }
  }

  /**
   * Lock (no new login can race in), kill its connections, drop the account (at every host it
   * exists on) and its wrapper role, kill again. Every step succeeds when there is nothing to do.
   */
  private async removeAccount(conn: mysql.PoolConnection, name: string, extraHosts: string[]): Promise<void> {
    const hosts = new Set([this.settings.userHost, ...extraHosts]);
    try {
      const rows = await MariadbConnector.exec(conn, "SELECT Host FROM mysql.user WHERE User = ? AND is_role = 'N'", [name]);
      for (const r of rows) hosts.add(String(r.Host));
    } catch (e) {
      // Without read access to mysql.user only the configured host is known.
      if (!ACCESS_DENIED.has(errnoOf(e) ?? 0)) throw e;
    }
    const kill = () => MariadbConnector.exec(conn, `KILL CONNECTION USER ${nameLiteral(name)}`);
    for (const h of hosts) await MariadbConnector.exec(conn, `ALTER USER IF EXISTS ${accountLiteral(name, h)} ACCOUNT LOCK`);
    await kill();
    for (const h of hosts) await MariadbConnector.exec(conn, `DROP USER IF EXISTS ${accountLiteral(name, h)}`);
    await MariadbConnector.exec(conn, `DROP ROLE IF EXISTS ${quoteIdent(wrapperRoleName(name))}`);
    await kill();
  }

  /** MariaDB cannot be told when an account ends: nothing to move. */
  async extend(_grant: GrantOnTarget): Promise<void> {}

  async list(): Promise<FoundAccess[]> {
    const prefix = this.settings.accountPrefix;
    const admin = this.endpoint().user;
    const where = 'WHERE LEFT(User, ?) = ?';
    const args = [prefix.length, prefix];
    let data: { users: Row[]; dbs: Row[]; tables: Row[]; columns: Row[]; procs: Row[]; roles: Row[] };
    try {
      data = await this.withAdmin(async (conn) => ({
        users: await MariadbConnector.exec(conn, `SELECT ${USER_COLUMNS.join(', ')} FROM mysql.user ${where}`, args),
        dbs: await MariadbConnector.exec(conn, `SELECT User, Host, Db, ${Object.keys(DB_COLUMNS).join(', ')} FROM mysql.db ${where}`, args),
        tables: await MariadbConnector.exec(conn, `SELECT User, Host, Db, Table_name, Table_priv FROM mysql.tables_priv ${where}`, args),
        columns: await MariadbConnector.exec(conn, `SELECT User, Host, Db, Table_name, Column_name, Column_priv FROM mysql.columns_priv ${where}`, args),
        procs: await MariadbConnector.exec(conn, `SELECT User, Host, Db, Routine_name, Routine_type, Proc_priv FROM mysql.procs_priv ${where}`, args),
        roles: await MariadbConnector.exec(conn, `SELECT User, Host, Role, Admin_option FROM mysql.roles_mapping ${where}`, args),
      }));
    } catch (e) {
      throw this.fail('list', e);
    }

    const key = (r: Row) => `${String(r.User)}\u0000${String(r.Host)}`;
    const direct = new Map<string, string[]>();
    const add = (r: Row, word: string) => {
      const k = key(r);
      const list = direct.get(k) ?? [];
      list.push(word);
      direct.set(k, list);
    };
    for (const r of data.users) {
      for (const [col, priv] of Object.entries(GLOBAL_COLUMNS)) if (r[col] === 'Y') add(r, `${priv} ON *.*`);
    }
    for (const r of data.dbs) {
      for (const [col, priv] of Object.entries(DB_COLUMNS)) if (r[col] === 'Y') add(r, `${priv} ON ${quoteIdent(String(r.Db))}.*`);
    }
    for (const r of data.tables) {
      for (const priv of setColumnPrivileges(r.Table_priv)) add(r, `${priv} ON ${quoteIdent(String(r.Db))}.${quoteIdent(String(r.Table_name))}`);
    }
    for (const r of data.columns) {
      for (const priv of setColumnPrivileges(r.Column_priv)) {
        add(r, `${priv} (${quoteIdent(String(r.Column_name))}) ON ${quoteIdent(String(r.Db))}.${quoteIdent(String(r.Table_name))}`);
      }
    }
    for (const r of data.procs) {
      for (const priv of setColumnPrivileges(r.Proc_priv)) {
        add(r, `${priv} ON ${String(r.Routine_type)} ${quoteIdent(String(r.Db))}.${quoteIdent(String(r.Routine_name))}`);
      }
    }
    const roleOf = new Map<string, { role: string; admin: boolean }[]>();
    for (const r of data.roles) {
      const list = roleOf.get(key(r)) ?? [];
      list.push({ role: String(r.Role), admin: r.Admin_option === 'Y' });
      roleOf.set(key(r), list);
    }

    /** What an account or role holds, its own wrapper role expanded. */
    const holdsOf = (user: string, host: string): string[] => {
      const k = `${user}\u0000${host}`;
      const words = [...(direct.get(k) ?? [])];
      const base = user.endsWith(ROLE_SUFFIX) ? user.slice(0, -ROLE_SUFFIX.length) : user;
      for (const { role, admin } of roleOf.get(k) ?? []) {
        if (!user.endsWith(ROLE_SUFFIX) && role === wrapperRoleName(base) && !admin) words.push(...holdsOf(role, ''));
        else words.push(`${roleWord(role)}${admin ? ' WITH ADMIN OPTION' : ''}`);
      }
      return [...new Set(words)].sort();
    };

    const found: FoundAccess[] = [];
    const usersByName = new Set<string>();
    for (const r of data.users) {
      const user = String(r.User);
      const host = String(r.Host);
      if (!user.startsWith(prefix) || r.is_role === 'Y' || user === admin) continue;
      usersByName.add(user);
      const entry: FoundAccess = { account: `${user}@${host}`, holds: holdsOf(user, host) };
      const requestId = requestIdOf(prefix, user);
      if (requestId !== undefined) entry.requestId = requestId;
      found.push(entry);
    }
    // A wrapper role left behind without its account (a crash between the two drops). Other
    // roles that happen to carry the prefix are not Hourglass's (it makes only `+r` roles).
    for (const r of data.users) {
      const role = String(r.User);
      if (r.is_role !== 'Y' || !role.startsWith(prefix) || !role.endsWith(ROLE_SUFFIX)) continue;
      if (usersByName.has(role.slice(0, -ROLE_SUFFIX.length))) continue;
      const entry: FoundAccess = { account: role, holds: holdsOf(role, '') };
      const requestId = requestIdOf(prefix, role);
      if (requestId !== undefined) entry.requestId = requestId;
      found.push(entry);
    }
    return found;
  }

  expected(grant: GrantOnTarget): string[] {
    const spec = this.specOf(grant);
    const words = [...spec.privileges.flatMap(privilegeWords), ...spec.roles.map(roleWord)];
    return [...new Set(words)].sort();
  }

  async removeOrphan(found: FoundAccess): Promise<void> {
    const prefix = this.settings.accountPrefix;
    const at = found.account.indexOf('@');
    const user = at < 0 ? found.account : found.account.slice(0, at);
    const host = at < 0 ? undefined : found.account.slice(at + 1);
    if (!user.startsWith(prefix)) {
      throw new HgError('HG_INVALID_INPUT', `mariadb target ${this.settings.name}: ${JSON.stringify(found.account)} does not carry the prefix ${prefix}`);
    }
    if (host === undefined && !user.endsWith(ROLE_SUFFIX)) {
      throw new HgError(
        'HG_INVALID_INPUT',
        `mariadb target ${this.settings.name}: ${JSON.stringify(found.account)} is neither an account nor a wrapper role of Hourglass`,
      );
    }
    const name = host === undefined ? user.slice(0, -ROLE_SUFFIX.length) : user;
    try {
      if (host !== undefined) hostLiteral(host);
      await this.withAdmin((conn) => this.removeAccount(conn, name, host === undefined ? [] : [host]));
    } catch (e) {
      throw this.fail('removing an orphan', e);
    }
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    try {
      return await this.withAdmin(async (conn) => {
        const missing: string[] = [];
        const grants = (await MariadbConnector.exec(conn, 'SHOW GRANTS')).map((r) => String(Object.values(r)[0] ?? ''));
        const parsed = grants.map(parseGrantLine);
        const globalHas = (priv: string) => parsed.some((g) => g?.scope === '*.*' && (g.privileges.includes('ALL PRIVILEGES') || g.privileges.includes(priv)));
        if (!globalHas('CREATE USER')) missing.push('CREATE USER ON *.*');
        if (!globalHas('CONNECTION ADMIN') && !globalHas('SUPER')) missing.push('CONNECTION ADMIN ON *.* (to kill sessions)');
        for (const table of ['user', ...LISTED_TABLES]) {
          const cols = table === 'user' ? USER_COLUMNS.join(', ') : 'User, Host';
          try {
            await MariadbConnector.exec(conn, `SELECT ${cols} FROM mysql.${table} LIMIT 0`);
          } catch (e) {
            if (!ACCESS_DENIED.has(errnoOf(e) ?? 0)) throw e;
            missing.push(`SELECT on mysql.${table}${table === 'user' ? ' (the columns listed in docs/targets/mariadb.md)' : ''} (for list)`);
          }
        }
        for (const [entName, ent] of Object.entries(this.target.entitlements ?? {})) {
          let spec;
          try {
            spec = entitlementSpec((ent ?? {}) as Record<string, unknown>);
          } catch (e) {
            missing.push(`a valid entitlement ${entName}: ${(e as Error).message}`);
            continue;
          }
          for (const p of spec.privileges) {
            for (const priv of p.privileges) {
              if (!canGrant(parsed, priv, p)) missing.push(`${priv} ON ${grantScope(p)} WITH GRANT OPTION (entitlement ${entName})`);
            }
          }
          for (const role of spec.roles) {
            if (!parsed.some((g) => g?.role === role && g.grantable)) missing.push(`${quoteIdent(role)} WITH ADMIN OPTION (entitlement ${entName})`);
          }
        }
        const [version] = await MariadbConnector.exec(conn, 'SELECT VERSION() AS v');
        if (missing.length > 0) return { ok: false, detail: this.scrub(`the admin account lacks: ${[...new Set(missing)].join('; ')}`) };
        return { ok: true, detail: `MariaDB ${String(version?.v ?? '?')}` };
      });
    } catch (e) {
      return { ok: false, detail: this.fail('health check', e).message };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => {});
  }
}

/**
 * The database the credentials name (a client that connects with a default database it may not
 * use is refused at login): the URL's, when the grant can use it (its privileges name it, or it
 * has roles, whose reach Hourglass does not know); else the one database its privileges name;
 * else none.
 */
export function defaultDatabase(urlDatabase: string | undefined, spec: { privileges: ParsedPrivilege[]; roles: string[] }): string | undefined {
  const named = [...new Set(spec.privileges.map((p) => p.database))];
  if (urlDatabase && (named.includes(urlDatabase) || spec.roles.length > 0)) return urlDatabase;
  return named.length === 1 ? named[0] : undefined;
}

// ---- reading SHOW GRANTS for the admin's own account (health) ----------------------------------

interface AdminGrant {
  privileges: string[];
  /** `*.*`, or the database pattern and table of a `db.*` / `db.table` line. */
  scope: string;
  database?: string;
  table?: string;
  role?: string;
  grantable: boolean;
}

/** Parses one line of SHOW GRANTS; undefined for lines health does not need (columns, routines). */
export function parseGrantLine(line: string): AdminGrant | undefined {
  const grantable = / WITH (GRANT|ADMIN) OPTION\b/.test(line);
  const role = /^GRANT `((?:[^`]|``)+)` TO /.exec(line);
  if (role) return { privileges: [], scope: '', role: role[1]!.replace(/``/g, '`'), grantable };
  const m = /^GRANT (.+?) ON (\*\.\*|`(?:[^`]|``)+`\.(?:\*|`(?:[^`]|``)+`)) TO /.exec(line);
  if (!m || m[1]!.includes('(')) return undefined;
  const privileges = m[1]!.split(',').map((p) => p.trim().toUpperCase());
  const scope = m[2]!;
  if (scope === '*.*') return { privileges, scope, grantable };
  const parts = /^`((?:[^`]|``)+)`\.(?:\*|`((?:[^`]|``)+)`)$/.exec(scope)!;
  const out: AdminGrant = { privileges, scope, database: parts[1]!.replace(/``/g, '`'), grantable };
  if (parts[2] !== undefined) out.table = parts[2].replace(/``/g, '`');
  return out;
}

/** SQL LIKE on a database pattern of a grant (`_`, `%`, `\` escapes). */
function likeMatch(pattern: string, text: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '_') re += '.';
    else if (c === '%') re += '.*';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(text);
}

function canGrant(grants: (AdminGrant | undefined)[], priv: string, p: ParsedPrivilege): boolean {
  return grants.some((g) => {
    if (!g || !g.grantable || g.role !== undefined) return false;
    if (!g.privileges.includes(priv) && !g.privileges.includes('ALL PRIVILEGES')) return false;
    if (g.scope === '*.*') return true;
    if (g.database === undefined) return false;
    if (g.table === undefined) return likeMatch(g.database, p.database);
    return p.table !== undefined && g.database === p.database && g.table === p.table;
  });
}
