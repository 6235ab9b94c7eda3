/** Sessions, tokens, identity links and single-use keys (migration 0010), for the identity use cases. */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { GroupRecord, IdentityStore, IdentityTx, NewSession, SessionRecord, TokenRecord } from '../../app/identity/ports.js';
import type { StoredPrincipal } from '../../app/ports.js';
import { putPrincipal, toPrincipal } from './principal-store.js';
import type { ApiTokensTable, Database, ScimGroupsTable, SessionsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

const optional = <K extends string, V>(key: K, v: V | null): { [P in K]?: V } => (v === null ? {} : ({ [key]: v } as { [P in K]: V }));

function toSession(r: Selectable<SessionsTable>): SessionRecord {
  return {
    id: r.id,
    principal: r.principal,
    source: r.source,
    client: r.client === 'cli' ? 'cli' : 'browser',
    createdAt: Number(r.created_at),
    lastSeenAt: Number(r.last_seen_at),
    absoluteExpiresAt: Number(r.absolute_expires_at),
    ...optional('accessExpiresAt', r.access_expires_at === null ? null : Number(r.access_expires_at)),
    ...optional('authTime', r.auth_time === null ? null : Number(r.auth_time)),
    amr: JSON.parse(r.amr) as string[],
    ...optional('acr', r.acr),
    ...optional('ip', r.ip),
    ...optional('userAgent', r.user_agent),
    ...optional('revokedAt', r.revoked_at === null ? null : Number(r.revoked_at)),
  };
}

function toToken(r: Selectable<ApiTokensTable>): TokenRecord {
  return {
    id: r.id,
    principal: r.principal,
    name: r.name,
    scopes: JSON.parse(r.scopes) as string[],
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    expiresAt: Number(r.expires_at),
    ...optional('lastUsedAt', r.last_used_at === null ? null : Number(r.last_used_at)),
    ...optional('revokedAt', r.revoked_at === null ? null : Number(r.revoked_at)),
  };
}

function toGroup(r: Selectable<ScimGroupsTable>): GroupRecord {
  return {
    id: r.id,
    ...optional('externalId', r.external_id),
    displayName: r.display_name,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    version: Number(r.version),
  };
}

/** The transaction's identity writes (StoreTx.identity). */
export function identityTx(db: Db, dialect: 'sqlite' | 'postgres' = 'sqlite'): IdentityTx {
  const membersOf = async (groupId: string) =>
    (await db.selectFrom('scim_members').select('principal').where('group_id', '=', groupId).orderBy('principal').execute()).map((r) => r.principal);
  return {
    async getPrincipal(id: string): Promise<StoredPrincipal | undefined> {
      const r = await db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toPrincipal(r) : undefined;
    },
    putPrincipal: (p) => putPrincipal(db, p),
    async linkedPrincipal(provider, subject) {
      const r = await db.selectFrom('identity_links').select('principal').where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
      return r?.principal;
    },
    async linkedSubject(provider, principal) {
      const r = await db.selectFrom('identity_links').select('subject').where('provider', '=', provider).where('principal', '=', principal).executeTakeFirst();
      return r?.subject;
    },
    async link(provider, subject, principal, at) {
      await db.insertInto('identity_links').values({ provider, subject, principal, created_at: at }).execute();
    },
    async unlink(provider, principal) {
      await db.deleteFrom('identity_links').where('provider', '=', provider).where('principal', '=', principal).execute();
    },
    async insertSession(s: NewSession) {
      await db
        .insertInto('sessions')
        .values({
          id: s.id,
          secret_digest: s.secretDigest,
          refresh_digest: s.refreshDigest ?? null,
          principal: s.principal,
          source: s.source,
          client: s.client,
          created_at: s.createdAt,
          last_seen_at: s.lastSeenAt,
          absolute_expires_at: s.absoluteExpiresAt,
          access_expires_at: s.accessExpiresAt ?? null,
          auth_time: s.authTime ?? null,
          amr: JSON.stringify(s.amr),
          acr: s.acr ?? null,
          ip: s.ip ?? null,
          user_agent: s.userAgent ?? null,
          revoked_at: null,
        })
        .execute();
    },
    async rotateSession(id, prev, next) {
      const res = await db
        .updateTable('sessions')
        .set({ secret_digest: next.secretDigest, refresh_digest: next.refreshDigest, access_expires_at: next.accessExpiresAt, last_seen_at: next.at })
        .where('id', '=', id)
        .where('refresh_digest', '=', prev)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      // Rows of sessions past their absolute end are of no use: a token of an ended session is refused anyway.
      await db.deleteFrom('used_refresh_tokens').where('expires_at', '<', next.at).execute();
      await db.insertInto('used_refresh_tokens').values({ digest: prev, session_id: id, expires_at: next.keepUntil }).execute();
      return true;
    },
    async revokeSessionsOf(principal, at) {
      const res = await db
        .updateTable('sessions')
        .set({ revoked_at: at })
        .where('principal', '=', principal)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },
    async revokeTokensOf(principal, at) {
      const res = await db
        .updateTable('api_tokens')
        .set({ revoked_at: at })
        .where('principal', '=', principal)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },
    async revokeSession(id, at) {
      const res = await db.updateTable('sessions').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    },
    async revokeToken(id, at) {
      const res = await db.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    },
    async insertToken(t) {
      await db
        .insertInto('api_tokens')
        .values({
          id: t.id,
          digest: t.digest,
          principal: t.principal,
          name: t.name,
          scopes: JSON.stringify(t.scopes),
          created_at: t.createdAt,
          created_by: t.createdBy,
          expires_at: t.expiresAt,
          last_used_at: null,
          revoked_at: null,
        })
        .execute();
    },
    // SQLite runs one transaction at a time; PostgreSQL locks the row until commit.
    async lockPrincipal(id) {
      if (dialect === 'postgres') await db.selectFrom('principals').select('id').where('id', '=', id).forUpdate().execute();
    },
    async lockGroup(id) {
      if (dialect === 'postgres') await db.selectFrom('scim_groups').select('id').where('id', '=', id).forUpdate().execute();
    },
    async principalByUserName(userName) {
      const lower = userName.toLowerCase();
      const r = await db
        .selectFrom('principals')
        .selectAll()
        .where('kind', '=', 'human')
        .where((eb) => eb.or([eb(sql<string>`lower(user_name)`, '=', lower), eb.and([eb('user_name', 'is', null), eb('id', '=', lower)])]))
        .executeTakeFirst();
      return r ? toPrincipal(r) : undefined;
    },
    async principalByExternalId(source, externalId) {
      const r = await db.selectFrom('principals').selectAll().where('source', '=', source).where('external_id', '=', externalId).executeTakeFirst();
      return r ? toPrincipal(r) : undefined;
    },
    async humanPrincipals() {
      return (await db.selectFrom('principals').selectAll().where('kind', '=', 'human').orderBy('id').execute()).map(toPrincipal);
    },
    async deletePrincipal(id) {
      await db.deleteFrom('scim_members').where('principal', '=', id).execute();
      await db.deleteFrom('identity_links').where('principal', '=', id).execute();
      await db.deleteFrom('principals').where('id', '=', id).execute();
    },
    async getGroup(id) {
      const r = await db.selectFrom('scim_groups').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toGroup(r) : undefined;
    },
    async groupByName(displayName) {
      const r = await db
        .selectFrom('scim_groups')
        .selectAll()
        .where(sql<string>`lower(display_name)`, '=', displayName.toLowerCase())
        .executeTakeFirst();
      return r ? toGroup(r) : undefined;
    },
    async listGroups() {
      return (await db.selectFrom('scim_groups').selectAll().orderBy('id').execute()).map(toGroup);
    },
    async putGroup(g) {
      const row = {
        id: g.id,
        external_id: g.externalId ?? null,
        display_name: g.displayName,
        created_at: g.createdAt,
        updated_at: g.updatedAt,
        version: g.version,
      };
      const { id: _id, created_at: _created, ...changes } = row;
      await db
        .insertInto('scim_groups')
        .values(row)
        .onConflict((oc) => oc.column('id').doUpdateSet(changes))
        .execute();
    },
    async deleteGroup(id) {
      await db.deleteFrom('scim_members').where('group_id', '=', id).execute();
      await db.deleteFrom('scim_groups').where('id', '=', id).execute();
    },
    membersOf,
    async allMemberships() {
      const rows = await db.selectFrom('scim_members').select(['group_id', 'principal']).orderBy('group_id').orderBy('principal').execute();
      return rows.map((r) => ({ group: r.group_id, principal: r.principal }));
    },
    async setMembers(groupId, members) {
      const before = new Set(await membersOf(groupId));
      const after = new Set(members);
      const added = [...after].filter((m) => !before.has(m)).sort();
      const removed = [...before].filter((m) => !after.has(m)).sort();
      // Chunked: SQLite allows 32,766 bound parameters per statement, PostgreSQL 65,535.
      for (let i = 0; i < removed.length; i += 1000) {
        await db
          .deleteFrom('scim_members')
          .where('group_id', '=', groupId)
          .where('principal', 'in', removed.slice(i, i + 1000))
          .execute();
      }
      for (let i = 0; i < added.length; i += 1000) {
        await db
          .insertInto('scim_members')
          .values(added.slice(i, i + 1000).map((principal) => ({ group_id: groupId, principal })))
          .onConflict((oc) => oc.columns(['group_id', 'principal']).doNothing())
          .execute();
      }
      return { added, removed };
    },
    async groupsOf(principal) {
      const rows = await db
        .selectFrom('scim_groups')
        .innerJoin('scim_members', 'scim_members.group_id', 'scim_groups.id')
        .selectAll('scim_groups')
        .where('scim_members.principal', '=', principal)
        .orderBy('scim_groups.display_name')
        .execute();
      return rows.map(toGroup);
    },
  };
}

export class KyselyIdentityStore implements IdentityStore {
  constructor(private readonly db: Kysely<Database>) {}

  async sessionBySecret(digest: string) {
    const r = await this.db.selectFrom('sessions').selectAll().where('secret_digest', '=', digest).where('revoked_at', 'is', null).executeTakeFirst();
    return r ? toSession(r) : undefined;
  }

  async sessionByRefresh(digest: string) {
    const r = await this.db.selectFrom('sessions').selectAll().where('refresh_digest', '=', digest).executeTakeFirst();
    return r ? { ...toSession(r), refreshDigest: r.refresh_digest! } : undefined;
  }

  async getSession(id: string) {
    const r = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toSession(r) : undefined;
  }

  async sessionByUsedRefresh(digest: string) {
    const r = await this.db
      .selectFrom('used_refresh_tokens')
      .innerJoin('sessions', 'sessions.id', 'used_refresh_tokens.session_id')
      .selectAll('sessions')
      .where('used_refresh_tokens.digest', '=', digest)
      .executeTakeFirst();
    return r ? toSession(r) : undefined;
  }

  async touchSession(id: string, at: number) {
    await this.db.updateTable('sessions').set({ last_seen_at: at }).where('id', '=', id).where('last_seen_at', '<', at).execute();
  }

  async listSessions(principal: string | undefined, now: number) {
    let q = this.db.selectFrom('sessions').selectAll().where('revoked_at', 'is', null).where('absolute_expires_at', '>', now);
    if (principal !== undefined) q = q.where('principal', '=', principal);
    return (await q.orderBy('created_at').orderBy('id').limit(1000).execute()).map(toSession);
  }

  async tokenBySecret(digest: string) {
    const r = await this.db.selectFrom('api_tokens').selectAll().where('digest', '=', digest).where('revoked_at', 'is', null).executeTakeFirst();
    return r ? toToken(r) : undefined;
  }

  async getToken(id: string) {
    const r = await this.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toToken(r) : undefined;
  }

  async touchToken(id: string, at: number) {
    await this.db
      .updateTable('api_tokens')
      .set({ last_used_at: at })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
      .execute();
  }

  async listTokens(principal: string | undefined, now: number) {
    let q = this.db.selectFrom('api_tokens').selectAll().where('revoked_at', 'is', null).where('expires_at', '>', now);
    if (principal !== undefined) q = q.where('principal', '=', principal);
    return (await q.orderBy('created_at').orderBy('id').limit(1000).execute()).map(toToken);
  }

  async firstUse(key: string, expiresAt: number, now: number) {
    await this.db.deleteFrom('single_use').where('expires_at', '<', now).execute();
    const res = await this.db
      .insertInto('single_use')
      .values({ key, expires_at: expiresAt })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }
}
