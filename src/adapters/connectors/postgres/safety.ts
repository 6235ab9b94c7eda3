/**
 * What Hourglass will hand out on a PostgreSQL server. An entitlement role is refused when it,
 * or any role it is (transitively) a member of, is:
 *  - a predefined `pg_*` role other than the read-only monitoring ones (pg_monitor,
 *    pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables), unless the target sets
 *    `allowPrivilegedRoles: true`. Fail-closed: predefined roles added by future releases are
 *    refused until someone looks at them;
 *  - a role with CREATEROLE, REPLICATION or BYPASSRLS, unless `allowPrivilegedRoles: true`
 *    (membership lets the holder SET ROLE to it and use those attributes);
 *  - a SUPERUSER role: always refused;
 *  - one of Hourglass's own accounts (the account prefix), the admin role itself or a role
 *    that can log in as an account Hourglass administers (the admin, the owner).
 * The check runs at every grant against pg_roles, and in health() so a misconfiguration shows
 * before the first request.
 */
import type pg from 'pg';

/** Predefined roles that are only read-only monitoring; granted without allowPrivilegedRoles. */
export const MONITORING_ROLES = new Set(['pg_monitor', 'pg_read_all_settings', 'pg_read_all_stats', 'pg_stat_scan_tables']);

/** Predefined roles named in docs as superuser-like (the rule covers every other pg_* role too). */
export const PRIVILEGED_BUILTIN_ROLES = [
  'pg_read_server_files',
  'pg_write_server_files',
  'pg_execute_server_program',
  'pg_signal_backend',
  'pg_checkpoint',
  'pg_read_all_data',
  'pg_write_all_data',
  'pg_create_subscription',
  'pg_use_reserved_connections',
  'pg_maintain',
  'pg_signal_autovacuum_worker',
] as const;

/** Names reserved for predefined roles (PostgreSQL refuses to create user roles named pg_*). */
export function isPrivilegedBuiltinName(role: string): boolean {
  return role.startsWith('pg_') && !MONITORING_ROLES.has(role);
}

export interface RoleCheckContext {
  allowPrivilegedRoles: boolean;
  /** The account prefix (account mode), so one grant's account is never granted to another. */
  accountPrefix?: string;
  adminUser: string;
}

interface ClosureRow {
  requested: string;
  rolname: string;
  depth: number;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
}

/**
 * Problems with the given entitlement roles, one message per refused role; empty when all may
 * be granted. Looks at each role and every role it inherits or may SET ROLE to.
 */
export async function checkEntitlementRoles(client: pg.ClientBase, roles: string[], ctx: RoleCheckContext): Promise<string[]> {
  const unique = [...new Set(roles)];
  if (unique.length === 0) return [];
  const { rows } = await client.query<ClosureRow>(
    `WITH RECURSIVE closure(requested, oid, depth, path) AS (
       SELECT r.rolname::text, r.oid, 0, ARRAY[r.oid]
         FROM pg_roles r WHERE r.rolname = ANY($1::text[])
       UNION ALL
       SELECT c.requested, m.roleid, c.depth + 1, c.path || m.roleid
         FROM closure c JOIN pg_auth_members m ON m.member = c.oid
        WHERE NOT m.roleid = ANY(c.path) AND c.depth < 32
     )
     SELECT c.requested, r.rolname::text AS rolname, c.depth, r.rolsuper, r.rolcreaterole, r.rolreplication, r.rolbypassrls
       FROM closure c JOIN pg_roles r ON r.oid = c.oid
      ORDER BY c.requested, c.depth, r.rolname`,
    [unique],
  );
  const problems: string[] = [];
  for (const role of unique) {
    const mine = rows.filter((r) => r.requested === role);
    if (mine.length === 0) {
      problems.push(`role "${role}" does not exist on the server`);
      continue;
    }
    const why: string[] = [];
    for (const r of mine) {
      // "X" for the role itself, "X's membership in Y" for a role it reaches.
      const who = r.depth === 0 ? `it` : `its membership in "${r.rolname}"`;
      if (r.rolsuper) why.push(`${r.depth === 0 ? 'it is' : `${who} leads to`} a superuser role, which Hourglass never grants`);
      else if (r.rolname === ctx.adminUser) why.push(`${r.depth === 0 ? 'it is' : `${who} leads to`} Hourglass's own admin role`);
      else if (ctx.accountPrefix && r.rolname.startsWith(ctx.accountPrefix)) {
        why.push(`${r.depth === 0 ? 'it is' : `${who} leads to`} an account Hourglass manages (prefix "${ctx.accountPrefix}")`);
      } else if (!ctx.allowPrivilegedRoles) {
        if (isPrivilegedBuiltinName(r.rolname)) why.push(r.depth === 0 ? 'it is a privileged built-in role' : `${who}, a privileged built-in role`);
        const attrs = [r.rolcreaterole && 'CREATEROLE', r.rolreplication && 'REPLICATION', r.rolbypassrls && 'BYPASSRLS'].filter(Boolean);
        if (attrs.length > 0) why.push(`${r.depth === 0 ? 'it has' : `${who}, which has`} ${attrs.join(', ')}`);
      }
    }
    if (why.length > 0) {
      const fixable = why.every((w) => !/superuser|own admin role|account Hourglass manages/.test(w));
      problems.push(`role "${role}" is refused: ${why.join('; ')}${fixable ? ' (set allowPrivilegedRoles: true on the target to permit it)' : ''}`);
    }
  }
  return problems;
}
