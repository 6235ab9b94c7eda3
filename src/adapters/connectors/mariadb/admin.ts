/**
 * The least-privilege admin account Hourglass needs on a MariaDB 10.5+ server, as SQL (the same
 * statements are in docs/targets/mariadb.md, and a test keeps the two equal). On top of these,
 * the admin holds every privilege its entitlements hand out WITH GRANT OPTION and every role
 * they name WITH ADMIN OPTION.
 */
import { GLOBAL_COLUMNS } from './privileges.js';

/** Tables `list` reads (privilege tables: names and Y/N flags, never a password hash). */
export const LISTED_TABLES = ['db', 'tables_priv', 'columns_priv', 'procs_priv', 'roles_mapping'] as const;

/** Columns of the mysql.user view `list` reads: no Password, authentication_string or plugin. */
export const USER_COLUMNS = ['User', 'Host', 'is_role', ...Object.keys(GLOBAL_COLUMNS)];

/** `account` is an account literal such as `'hourglass'@'%'`. */
export function adminBaseGrants(account: string): string[] {
  return [
    // CREATE USER: create, alter (password, lock), drop users and roles. CONNECTION ADMIN: KILL
    // another user's connections (MariaDB 10.5.2+; SUPER on older servers).
    `GRANT CREATE USER, CONNECTION ADMIN ON *.* TO ${account}`,
    `GRANT SELECT (${USER_COLUMNS.join(', ')}) ON mysql.user TO ${account}`,
    ...LISTED_TABLES.map((t) => `GRANT SELECT ON mysql.${t} TO ${account}`),
  ];
}
