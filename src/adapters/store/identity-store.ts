/** Sessions, tokens, identity links and single-use keys (migration 0010), for the identity use cases. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { IdentityStore, IdentityTx, NewSession, SessionRecord, TokenRecord } from '../../app/identity/ports.js';
import type { StoredPrincipal } from '../../app/ports.js';
import { putPrincipal, toPrincipal } from './principal-store.js';
import type { ApiTokensTable, Database, SessionsTable } from './schema.js';

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

/** The transaction's identity writes (StoreTx.identity). */
export function identityTx(db: Db): IdentityTx {
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

  async rotateSession(id: string, prev: string, next: { secretDigest: string; refreshDigest: string; accessExpiresAt: number; at: number }) {
    const res = await this.db
      .updateTable('sessions')
      .set({ secret_digest: next.secretDigest, refresh_digest: next.refreshDigest, access_expires_at: next.accessExpiresAt, last_seen_at: next.at })
      .where('id', '=', id)
      .where('refresh_digest', '=', prev)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
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
