/**
 * The `postgres` connector. Two modes (docs/targets/postgres.md), each in its own file:
 *
 * - account (default, account-mode.ts): one login role per request, with a random password,
 *   `VALID UNTIL` the grant's end; dropped with its sessions and objects at the end.
 * - membership (membership-mode.ts): roles GRANTed to the principal's existing user and REVOKEd
 *   at the end, reference-counted so a membership Hourglass did not add is never revoked.
 *
 * This file holds what both share: the admin connection (admin-connection.ts), the health check,
 * one error shape. Every step is idempotent and safe to repeat after a crash; errors are
 * HG_TARGET_UNAVAILABLE with messages scrubbed of the admin password and generated passwords.
 */
import type { Connector, ConnectorCapabilities, Credentials, FoundAccess, GrantOnTarget, Reconcilable } from '../../../app/connectors.js';
import type { TargetConfig } from '../../../core/types.js';
import { AccountMode } from './account-mode.js';
import { ident, PgAdmin, type PostgresMode } from './admin-connection.js';
import { MembershipMode } from './membership-mode.js';
import { capabilitiesOf, settingsOf } from './settings.js';

export { CONNECTION_LIMIT } from './account-mode.js';
export { BOOKKEEPING_TABLE, setsRole } from './membership-mode.js';

export class PostgresConnector implements Connector, Reconcilable {
  readonly kind = 'postgres';
  readonly capabilities: ConnectorCapabilities;
  /** The target lists what Hourglass created (canList): the connector reconciles itself. */
  readonly reconciliation: Reconcilable = this;
  private readonly a: PgAdmin;
  private readonly mode: PostgresMode;

  constructor(target: TargetConfig, opts: { secretsToScrub: (text: string) => string }) {
    const s = settingsOf(target);
    this.capabilities = capabilitiesOf(s.mode);
    this.a = new PgAdmin(s, opts.secretsToScrub);
    this.mode = s.mode === 'account' ? new AccountMode(this.a) : new MembershipMode(this.a);
  }

  grant(g: GrantOnTarget): Promise<{ credentials?: Credentials }> {
    return this.mode.grant(g);
  }

  revoke(g: GrantOnTarget): Promise<void> {
    return this.mode.revoke(g);
  }

  extend(g: GrantOnTarget): Promise<void> {
    return this.mode.extend(g);
  }

  async list(): Promise<FoundAccess[]> {
    try {
      return await this.mode.list();
    } catch (e) {
      throw this.a.fail('listing access', e);
    }
  }

  expected(g: GrantOnTarget): string[] {
    return this.mode.expected(g);
  }

  removeOrphan(found: FoundAccess): Promise<void> {
    return this.mode.removeOrphan(found);
  }

  /** Reconciliation with removeExtraPrivileges (account mode; membership mode takes nothing). */
  trimExtra(found: FoundAccess, extra: string[]): Promise<void> {
    return this.mode.trimExtra(found, extra);
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    const problems: string[] = [];
    const notes: string[] = [];
    try {
      const info = await this.a.info(true);
      await this.a.query('SELECT 1');
      if (info.version < 140000) problems.push(`PostgreSQL ${info.version} is too old: 14 or later is needed`);
      const admin = `"${info.adminUser}"`;
      if (info.superuser) notes.push(`the admin role ${admin} is a superuser; a CREATEROLE role is enough (docs/targets/postgres.md)`);
      await this.mode.checkHealth(info, problems, notes);
      const roles = [...new Set(Object.values(this.a.s.entitlements).flat())];
      const client = await this.a.pool.connect();
      try {
        problems.push(...(await this.a.roleProblems(client, roles, info)));
        const { rows } = await client.query<{ rolname: string; admin: boolean; rolsuper: boolean }>(
          `SELECT rolname::text, rolsuper, pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION') AS admin
             FROM pg_roles WHERE rolname = ANY($1::text[])`,
          [roles],
        );
        for (const r of rows) {
          const canGrant = info.superuser || r.admin || (info.version < 160000 && info.createrole && !r.rolsuper);
          if (!canGrant)
            problems.push(`the admin role ${admin} cannot grant "${r.rolname}": GRANT ${ident(r.rolname)} TO ${ident(info.adminUser)} WITH ADMIN OPTION`);
        }
      } finally {
        client.release();
      }
    } catch (e) {
      return { ok: false, detail: this.a.fail('health check', e).message };
    }
    const detail = [...problems, ...notes].join('; ');
    return problems.length > 0 ? { ok: false, detail } : detail ? { ok: true, detail } : { ok: true };
  }

  close(): Promise<void> {
    return this.a.close();
  }
}
