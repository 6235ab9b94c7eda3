/**
 * Privilege strings of mariadb entitlements ("SELECT, INSERT ON shop.*"): parsing against a
 * fixed catalogue, the SQL Hourglass sends for them (every identifier re-quoted, nothing
 * interpolated unchecked), and the normalised words `list` and `expected` share:
 *
 *   "SELECT ON `shop`.*"          a database-level privilege (the name as stored: `_` escaped)
 *   "SELECT ON `shop`.`items`"    a table-level privilege
 *   "SELECT (`c`) ON `shop`.`t`"  a column-level privilege (only ever found, never granted)
 *   "EXECUTE ON PROCEDURE `d`.`p`" a routine privilege (only ever found)
 *   "PROCESS ON *.*"              a global privilege (only ever found)
 *   "ROLE `app_read`"             a role held directly or through the grant's wrapper role
 *
 * One word per privilege, so comparisons do not depend on the order the server lists them in.
 */

/** Privileges grantable on a database (`db.*`), as MariaDB 10.11 spells them. */
export const DATABASE_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EXECUTE',
  'EVENT',
  'TRIGGER',
  'DELETE HISTORY',
] as const;

/** Privileges grantable on one table (`db.table`). */
export const TABLE_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'CREATE VIEW',
  'SHOW VIEW',
  'TRIGGER',
  'DELETE HISTORY',
] as const;

/** Databases whose privileges amount to administering the server: never granted. */
export const SYSTEM_DATABASES = ['mysql', 'information_schema', 'performance_schema', 'sys'];

export interface ParsedPrivilege {
  /** Upper-case privilege names, ALL expanded to the level's full list. */
  privileges: string[];
  database: string;
  /** Undefined for a database-level grant (`db.*`). */
  table?: string;
}

export type ParseResult = { ok: true; value: ParsedPrivilege } | { ok: false; message: string };

const BARE = /^[A-Za-z0-9_$]+$/;
const QUOTED_CONTENT = /^[A-Za-z0-9_$.-]+$/;

/** Splits `shop.*`, `` `my-db`.`t` `` into parts; backticks only around whole parts. */
function splitScope(scope: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    let part: string;
    if (scope[i] === '`') {
      const end = scope.indexOf('`', i + 1);
      if (end < 0) return undefined;
      part = scope.slice(i + 1, end);
      if (!QUOTED_CONTENT.test(part)) return undefined;
      i = end + 1;
    } else {
      const dot = scope.indexOf('.', i);
      part = dot < 0 ? scope.slice(i) : scope.slice(i, dot);
      if (part !== '*' && !BARE.test(part)) return undefined;
      i = dot < 0 ? scope.length : dot;
    }
    parts.push(part);
    if (i >= scope.length) return parts;
    if (scope[i] !== '.') return undefined;
    i += 1;
  }
}

/** Parses one privilege string of an entitlement; the message is safe to show (config text only). */
export function parsePrivilege(text: string): ParseResult {
  const m = /^\s*(.+?)\s+ON\s+(\S+)\s*$/i.exec(text);
  if (!m) return { ok: false, message: 'must look like "SELECT, INSERT ON shop.*"' };
  const scope = splitScope(m[2]!);
  if (!scope || scope.length !== 2) {
    return { ok: false, message: 'name a database and a table: db.* or db.table (quote names with - or . in backticks)' };
  }
  const [database, table] = scope as [string, string];
  if (database === '*') return { ok: false, message: 'global privileges (*.*) are never granted by Hourglass: name a database, as in db.* or db.table' };
  if (SYSTEM_DATABASES.includes(database.toLowerCase())) {
    return { ok: false, message: `privileges on the system database "${database}" are never granted by Hourglass` };
  }
  const level = table === '*' ? DATABASE_PRIVILEGES : TABLE_PRIVILEGES;
  const names = m[1]!.split(',').map((p) => p.trim().replace(/\s+/g, ' ').toUpperCase());
  const out = new Set<string>();
  for (const name of names) {
    if (name === 'ALL' || name === 'ALL PRIVILEGES') {
      for (const p of level) out.add(p);
    } else if (name === 'GRANT OPTION') {
      return { ok: false, message: 'GRANT OPTION is never granted by Hourglass' };
    } else if ((level as readonly string[]).includes(name)) {
      out.add(name);
    } else {
      const where = table === '*' ? 'a database (db.*)' : 'a table (db.table)';
      return { ok: false, message: `unknown privilege "${name}" on ${where}; known: ${level.join(', ')}, ALL PRIVILEGES` };
    }
  }
  if (out.size === 0) return { ok: false, message: 'names no privilege' };
  const value: ParsedPrivilege = { privileges: [...out], database };
  if (table !== '*') value.table = table;
  return { ok: true, value };
}

/** `` `name` `` with backticks doubled. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/**
 * A database name in a database-level GRANT: `_` and `%` are wildcards there, so they are
 * escaped and the grant covers exactly the database named (the server stores `my\_db`).
 */
export function escapeDatabasePattern(name: string): string {
  return name.replace(/[\\_%]/g, (c) => `\\${c}`);
}

/** The `ON ...` part of a GRANT for a parsed privilege. */
export function grantScope(p: ParsedPrivilege): string {
  return p.table === undefined ? `${quoteIdent(escapeDatabasePattern(p.database))}.*` : `${quoteIdent(p.database)}.${quoteIdent(p.table)}`;
}

/** The normalised words of a parsed privilege (one per privilege). */
export function privilegeWords(p: ParsedPrivilege): string[] {
  return p.privileges.map((priv) => `${priv} ON ${grantScope(p)}`);
}

export function roleWord(role: string): string {
  return `ROLE ${quoteIdent(role)}`;
}

// ---- what the privilege tables say ------------------------------------------------------------

/** mysql.db / mysql.user column → privilege name. */
export const DB_COLUMNS: Record<string, string> = {
  Select_priv: 'SELECT',
  Insert_priv: 'INSERT',
  Update_priv: 'UPDATE',
  Delete_priv: 'DELETE',
  Create_priv: 'CREATE',
  Drop_priv: 'DROP',
  Grant_priv: 'GRANT OPTION',
  References_priv: 'REFERENCES',
  Index_priv: 'INDEX',
  Alter_priv: 'ALTER',
  Create_tmp_table_priv: 'CREATE TEMPORARY TABLES',
  Lock_tables_priv: 'LOCK TABLES',
  Create_view_priv: 'CREATE VIEW',
  Show_view_priv: 'SHOW VIEW',
  Create_routine_priv: 'CREATE ROUTINE',
  Alter_routine_priv: 'ALTER ROUTINE',
  Execute_priv: 'EXECUTE',
  Event_priv: 'EVENT',
  Trigger_priv: 'TRIGGER',
  Delete_history_priv: 'DELETE HISTORY',
};

/** Global privilege columns of the mysql.user view (all of DB_COLUMNS and these). */
export const GLOBAL_ONLY_COLUMNS: Record<string, string> = {
  Reload_priv: 'RELOAD',
  Shutdown_priv: 'SHUTDOWN',
  Process_priv: 'PROCESS',
  File_priv: 'FILE',
  Show_db_priv: 'SHOW DATABASES',
  Super_priv: 'SUPER',
  Repl_slave_priv: 'REPLICATION SLAVE',
  Repl_client_priv: 'REPLICATION CLIENT',
  Create_user_priv: 'CREATE USER',
  Create_tablespace_priv: 'CREATE TABLESPACE',
};

export const GLOBAL_COLUMNS: Record<string, string> = { ...DB_COLUMNS, ...GLOBAL_ONLY_COLUMNS };

/** Values of the SET columns of mysql.tables_priv, columns_priv and procs_priv → privilege name. */
const SET_VALUES: Record<string, string> = {
  Select: 'SELECT',
  Insert: 'INSERT',
  Update: 'UPDATE',
  Delete: 'DELETE',
  Create: 'CREATE',
  Drop: 'DROP',
  Grant: 'GRANT OPTION',
  References: 'REFERENCES',
  Index: 'INDEX',
  Alter: 'ALTER',
  'Create View': 'CREATE VIEW',
  'Show view': 'SHOW VIEW',
  Trigger: 'TRIGGER',
  'Delete versioning rows': 'DELETE HISTORY',
  Execute: 'EXECUTE',
  'Alter Routine': 'ALTER ROUTINE',
};

/** `'Select,Insert'` (a SET column) → ['SELECT', 'INSERT']. */
export function setColumnPrivileges(value: unknown): string[] {
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : typeof value === 'string' ? value : '';
  return text
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v) => SET_VALUES[v] ?? v.toUpperCase());
}
