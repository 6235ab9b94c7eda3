/** Step-up MFA rows (migration 0011): factors, recovery codes, bound challenges, failed proofs. */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { ChallengeRecord, FactorRecord, MfaStore, MfaTx } from '../../app/identity/mfa-ports.js';
import type { Database, MfaChallengesTable, MfaFactorsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

const optional = <K extends string, V>(key: K, v: V | null): { [P in K]?: V } => (v === null ? {} : ({ [key]: v } as { [P in K]: V }));
const num = (v: number | null) => (v === null ? null : Number(v));

function toFactor(r: Selectable<MfaFactorsTable>): FactorRecord {
  return {
    id: r.id,
    principal: r.principal,
    kind: r.kind === 'webauthn' ? 'webauthn' : 'totp',
    label: r.label,
    status: r.status === 'active' ? 'active' : 'pending',
    createdAt: Number(r.created_at),
    ...optional('lastUsedAt', num(r.last_used_at)),
    ...optional('sealedSecret', r.secret),
    ...optional('lastUsedStep', num(r.last_used_step)),
    ...optional('credentialId', r.credential_id),
    ...optional('publicKey', r.public_key),
    ...optional('counter', num(r.counter)),
    ...optional('transports', r.transports === null ? null : (JSON.parse(r.transports) as string[])),
  };
}

function toChallenge(r: Selectable<MfaChallengesTable>): ChallengeRecord {
  return {
    id: r.id,
    principal: r.principal,
    purpose: r.purpose === 'registration' ? 'registration' : 'step_up',
    action: r.action,
    ...optional('requestId', r.request_id),
    digest: r.digest,
    ...optional('webauthnChallenge', r.webauthn_challenge),
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    ...optional('usedAt', num(r.used_at)),
  };
}

/** Failed proofs are kept this long (the rate limit's window is 5 minutes). */
const FAILURES_KEPT_MS = 15 * 60_000;
/** Used or expired challenges are deleted this long after their expiry. */
const CHALLENGES_KEPT_MS = 60 * 60_000;

const factorsOf = (db: Db, principal: string) =>
  db.selectFrom('mfa_factors').selectAll().where('principal', '=', principal).orderBy('created_at').orderBy('id').execute();

/** The transaction's MFA reads and writes (StoreTx.mfa). */
export function mfaTx(db: Db, dialect: 'sqlite' | 'postgres'): MfaTx {
  return {
    async lockPrincipal(principal) {
      // SQLite transactions are already exclusive; PostgreSQL takes a transaction-scoped lock on the principal's name.
      if (dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`hourglass-mfa:${principal}`}, 0))`.execute(db);
    },
    factors: async (principal) => (await factorsOf(db, principal)).map(toFactor),
    async getFactor(id) {
      const r = await db.selectFrom('mfa_factors').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toFactor(r) : undefined;
    },
    async factorByCredentialId(credentialId) {
      const r = await db.selectFrom('mfa_factors').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
      return r ? toFactor(r) : undefined;
    },
    async insertFactor(f) {
      await db
        .insertInto('mfa_factors')
        .values({
          id: f.id,
          principal: f.principal,
          kind: f.kind,
          label: f.label,
          status: f.status,
          created_at: f.createdAt,
          last_used_at: f.lastUsedAt ?? null,
          secret: f.sealedSecret ?? null,
          last_used_step: f.lastUsedStep ?? null,
          credential_id: f.credentialId ?? null,
          public_key: f.publicKey ?? null,
          counter: f.counter ?? null,
          transports: f.transports ? JSON.stringify(f.transports) : null,
        })
        .execute();
    },
    async activateFactor(id, at) {
      const r = await db
        .updateTable('mfa_factors')
        .set({ status: 'active', last_used_at: at })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async deleteFactor(id) {
      const r = await db.deleteFrom('mfa_factors').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) === 1;
    },
    async dropPendingBefore(principal, before) {
      const r = await db
        .deleteFrom('mfa_factors')
        .where('principal', '=', principal)
        .where('status', '=', 'pending')
        .where('created_at', '<', before)
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    async useTotpStep(id, step, at) {
      const r = await db
        .updateTable('mfa_factors')
        .set({ last_used_step: step, last_used_at: at })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async useWebAuthnCounter(id, prev, next, at) {
      const r = await db
        .updateTable('mfa_factors')
        .set({ counter: next, last_used_at: at })
        .where('id', '=', id)
        .where('counter', '=', prev)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async replaceRecoveryCodes(principal, hashes, at) {
      await db.deleteFrom('mfa_recovery_codes').where('principal', '=', principal).execute();
      if (hashes.length) {
        await db
          .insertInto('mfa_recovery_codes')
          .values(hashes.map((hash, idx) => ({ principal, idx, hash, created_at: at, used_at: null })))
          .execute();
      }
    },
    async recoveryCodes(principal) {
      const rows = await db.selectFrom('mfa_recovery_codes').select(['idx', 'hash', 'used_at']).where('principal', '=', principal).orderBy('idx').execute();
      return rows.map((r) => (r.used_at === null ? r.hash : null));
    },
    async useRecoveryCode(principal, index, at) {
      const r = await db
        .updateTable('mfa_recovery_codes')
        .set({ used_at: at })
        .where('principal', '=', principal)
        .where('idx', '=', index)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async deleteRecoveryCodes(principal) {
      await db.deleteFrom('mfa_recovery_codes').where('principal', '=', principal).execute();
    },
    async insertChallenge(c) {
      // Expired challenges go as new ones come: the table holds only recent ones.
      await db
        .deleteFrom('mfa_challenges')
        .where('expires_at', '<', c.createdAt - CHALLENGES_KEPT_MS)
        .execute();
      await db
        .insertInto('mfa_challenges')
        .values({
          id: c.id,
          principal: c.principal,
          purpose: c.purpose,
          action: c.action,
          request_id: c.requestId ?? null,
          digest: c.digest,
          webauthn_challenge: c.webauthnChallenge ?? null,
          created_at: c.createdAt,
          expires_at: c.expiresAt,
          used_at: null,
        })
        .execute();
    },
    async getChallenge(principal, id) {
      const r = await db.selectFrom('mfa_challenges').selectAll().where('id', '=', id).where('principal', '=', principal).executeTakeFirst();
      return r ? toChallenge(r) : undefined;
    },
    async useChallenge(id, at) {
      const r = await db
        .updateTable('mfa_challenges')
        .set({ used_at: at })
        .where('id', '=', id)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async recordFailure(principal, at) {
      await db
        .deleteFrom('mfa_failures')
        .where('principal', '=', principal)
        .where('at', '<', at - FAILURES_KEPT_MS)
        .execute();
      await db.insertInto('mfa_failures').values({ principal, at }).execute();
    },
    async failuresSince(principal, since) {
      const rows = await db.selectFrom('mfa_failures').select('at').where('principal', '=', principal).where('at', '>=', since).orderBy('at').execute();
      return rows.map((r) => Number(r.at));
    },
  };
}

export class KyselyMfaStore implements MfaStore {
  constructor(private readonly db: Kysely<Database>) {}

  async factors(principal: string) {
    return (await factorsOf(this.db, principal)).map(toFactor);
  }

  async recoveryCodesLeft(principal: string) {
    const r = await this.db
      .selectFrom('mfa_recovery_codes')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('principal', '=', principal)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
