/**
 * Credentials issued on request, their revocation versions and host agents' reports, over the
 * main store's database (migration 0007). A revocation and the version it moves on are one
 * transaction: a list built at version v holds every serial revoked up to v.
 */
import type { Kysely } from 'kysely';
import type { AgentReport, IssuedCredentialStore } from '../../app/issued-credentials.js';
import type { IssuedRecord } from '../../app/ports.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/** Inserts one issued credential in the caller's transaction; returns its serial. */
export async function insertIssued(db: Db, r: IssuedRecord): Promise<number> {
  const row = await db
    .insertInto('issued_credentials')
    .values({
      target: r.target,
      request_id: r.requestId,
      principal: r.principal,
      entitlement: r.entitlement,
      ref: r.ref,
      issued_at: r.issuedAt,
      expires_at: r.expiresAt,
      revoked_at: null,
      signer: r.signer ?? null,
    })
    .returning('serial')
    .executeTakeFirstOrThrow();
  return Number(row.serial);
}

/** Keeps a signing key's public half, once per target and kid, in the caller's transaction. */
export async function insertSigningKey(db: Db, target: string, kid: string, publicKey: string): Promise<void> {
  await db
    .insertInto('signing_keys')
    .values({ target, kid, public_key: publicKey })
    .onConflict((oc) => oc.columns(['target', 'kid']).doNothing())
    .execute();
}

export class KyselyIssuedStore implements IssuedCredentialStore {
  constructor(private readonly db: Db) {}

  revokeFor(target: string, requestId: string, now: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('issued_credentials')
        .set({ revoked_at: now })
        .where('target', '=', target)
        .where('request_id', '=', requestId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      const count = Number(res.numUpdatedRows);
      if (count > 0) {
        await trx
          .insertInto('revocation_versions')
          .values({ target, version: 1, changed_at: now })
          .onConflict((oc) => oc.column('target').doUpdateSet((eb) => ({ version: eb('revocation_versions.version', '+', 1), changed_at: now })))
          .execute();
      }
      return count;
    });
  }

  async revocationState(target: string) {
    const row = await this.db.selectFrom('revocation_versions').select(['version', 'changed_at']).where('target', '=', target).executeTakeFirst();
    return { version: row ? Number(row.version) : 0, changedAt: row ? Number(row.changed_at) : 0 };
  }

  async revokedSerials(target: string, now: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('issued_credentials')
      .select('serial')
      .where('target', '=', target)
      .where('revoked_at', 'is not', null)
      .where('expires_at', '>', now)
      .orderBy('serial')
      .execute();
    return rows.map((r) => Number(r.serial));
  }

  async find(target: string, ref: string) {
    const r = await this.db.selectFrom('issued_credentials').selectAll().where('target', '=', target).where('ref', '=', ref).executeTakeFirst();
    if (!r) return undefined;
    return {
      serial: Number(r.serial),
      target: r.target,
      requestId: r.request_id,
      principal: r.principal,
      entitlement: r.entitlement,
      ref: r.ref,
      issuedAt: Number(r.issued_at),
      expiresAt: Number(r.expires_at),
      revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
      ...(r.signer !== null ? { signer: r.signer } : {}),
    };
  }

  async liveSigningKeys(target: string, now: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('signing_keys as k')
      .select('k.public_key')
      .where('k.target', '=', target)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('issued_credentials as i')
            .select('i.serial')
            .whereRef('i.target', '=', 'k.target')
            .whereRef('i.signer', '=', 'k.kid')
            .where('i.expires_at', '>', now),
        ),
      )
      .orderBy('k.kid')
      .execute();
    return rows.map((r) => r.public_key);
  }

  async recordAgentReport(r: { target: string; host: string; agent: string; version: number; at: number }) {
    await this.db
      .insertInto('agent_reports')
      .values({ target: r.target, host: r.host, agent: r.agent, version: r.version, seen_at: r.at, applied_at: r.at, alerted_version: null })
      .onConflict((oc) =>
        oc.columns(['target', 'host']).doUpdateSet((eb) => ({
          agent: r.agent,
          seen_at: r.at,
          // applied_at moves only when the version does.
          applied_at: eb.case().when('agent_reports.version', '=', r.version).then(eb.ref('agent_reports.applied_at')).else(r.at).end(),
          version: r.version,
        })),
      )
      .execute();
  }

  async agentReports(target: string): Promise<AgentReport[]> {
    const rows = await this.db.selectFrom('agent_reports').selectAll().where('target', '=', target).orderBy('host').execute();
    return rows.map((r) => ({
      target: r.target,
      host: r.host,
      agent: r.agent,
      version: Number(r.version),
      seenAt: Number(r.seen_at),
      appliedAt: Number(r.applied_at),
      alertedVersion: r.alerted_version === null ? null : Number(r.alerted_version),
    }));
  }

  async markAlerted(target: string, host: string, version: number) {
    await this.db.updateTable('agent_reports').set({ alerted_version: version }).where('target', '=', target).where('host', '=', host).execute();
  }
}
