import { type Kysely, type Migration, Migrator, sql } from 'kysely';
import { eventHash, GENESIS_HASH } from '../../core/audit-chain.js';
import { CHAIN_LOCK_ID } from './kysely-store.js';
import { AUDIT_TIME_ORDER_KEY as TIME_ORDER_KEY } from '../../app/ports.js';
import type { Database } from './schema.js';

type Dialect = 'sqlite' | 'postgres';

function initial(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('access', 'text', (c) => c.notNull())
        .addColumn('requester', 'text', (c) => c.notNull())
        .addColumn('due_at', 'bigint')
        .addColumn('requested_at', 'bigint', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .execute();
      await sql`CREATE INDEX requests_due ON requests (due_at) WHERE due_at IS NOT NULL`.execute(db);
      await db.schema.createIndex('requests_requester').on('requests').columns(['requester', 'status']).execute();
      await db.schema.createIndex('requests_status').on('requests').columns(['status', 'id']).execute();

      await db.schema
        .createTable('grants')
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('entitlement', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('grants_pk', ['request_id', 'entitlement'])
        .execute();
      await db.schema.createIndex('grants_lookup').on('grants').columns(['principal', 'entitlement', 'expires_at']).execute();

      await db.schema
        .createTable('audit_events')
        .addColumn('pos', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('details', 'text')
        .addColumn('policy_hash', 'text')
        .addColumn('seq', 'bigint', (c) => c.unique())
        .addColumn('prev_hash', 'text')
        .addColumn('hash', 'text')
        .execute();
      await sql`CREATE INDEX audit_unchained ON audit_events (pos) WHERE seq IS NULL`.execute(db);
      await db.schema.createIndex('audit_request').on('audit_events').columns(['request_id', 'pos']).execute();
      await db.schema.createIndex('audit_actor').on('audit_events').columns(['actor', 'pos']).execute();
      await db.schema.createIndex('audit_type').on('audit_events').columns(['type', 'pos']).execute();
      await db.schema.createIndex('audit_at').on('audit_events').columns(['at']).execute();

      await db.schema
        .createTable('idempotency')
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_pk', ['principal', 'key'])
        .execute();

      await db.schema
        .createTable('locks')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('by_principal', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addPrimaryKeyConstraint('locks_pk', ['kind', 'subject'])
        .execute();

      await db.schema
        .createTable('hg_state')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

/** Issue 3: durable webhook outbox with its delivery log, and signed audit checkpoints. */
function outboxAndCheckpoints(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('webhook_outbox')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_seq', 'bigint', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('delivered_at', 'bigint')
        .addUniqueConstraint('webhook_outbox_once', ['endpoint', 'event_id'])
        .execute();
      await db.schema.createIndex('webhook_outbox_due').on('webhook_outbox').columns(['status', 'next_attempt_at']).execute();

      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('pos', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('outbox_id', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('webhook_deliveries_outbox').on('webhook_deliveries').columns(['outbox_id', 'pos']).execute();

      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('shipped', 'text')
        .execute();
    },
  };
}

/** Issue 4: work on targets (provisioning, removing) and credentials kept encrypted. */
function accessWork(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('requests').addColumn('access_due_at', 'bigint').execute();
      await sql`CREATE INDEX requests_access_due ON requests (access_due_at) WHERE access_due_at IS NOT NULL`.execute(db);
      // Overdue revocations (metrics, alerts) look only at requests whose access is being removed.
      await sql`CREATE INDEX requests_removing ON requests (id) WHERE access = 'removing'`.execute(db);
      await db.schema
        .createTable('credentials')
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('ciphertext', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('credentials_pk', ['request_id', 'target'])
        .execute();
    },
  };
}

/**
 * Issue 2: /v1/check reads the grant's request id from the lookup index itself (a covering
 * index), so a check touches one B-tree rather than two.
 */
function coveringGrantLookup(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('grants_lookup_covering').on('grants').columns(['principal', 'entitlement', 'expires_at', 'request_id']).execute();
      await db.schema.dropIndex('grants_lookup').execute();
    },
  };
}

/**
 * The live-grant gauges count grants by entitlement at every scrape. Without an index that leads
 * with the entitlement, SQLite scanned the table and grouped in a temporary B-tree: 18 ms with
 * 100 k live grants, all of it on the event loop. From this index it is a 5 ms scan.
 */
function grantsByEntitlement(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('grants_by_entitlement').on('grants').columns(['entitlement', 'expires_at']).execute();
    },
  };
}

/**
 * Issue 9: events are linked in the transaction that writes them, so a row without a seq is
 * foreign from now on. Rows the previous version's after-commit chainer had not linked yet are
 * linked here, once, exactly as it would have; nothing written after this runs is linked later.
 * The previous chainer did not keep time order along the chain, so the seq this ends at is kept:
 * verification holds only later links to it.
 */
function chainInTransaction(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      // PostgreSQL runs migrations in a transaction: no old chainer can link in between.
      if (dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${CHAIN_LOCK_ID})`.execute(db);
      const head = await db.selectFrom('audit_events').select(['seq', 'hash']).where('seq', 'is not', null).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      let seq = head ? Number(head.seq) : 0;
      let prev: string = head?.hash ?? GENESIS_HASH;
      let linked = 0;
      for (;;) {
        const rows = await db.selectFrom('audit_events').selectAll().where('seq', 'is', null).orderBy('pos').limit(1000).execute();
        if (rows.length === 0) break;
        for (const row of rows) {
          seq += 1;
          const content = {
            seq,
            id: row.id,
            at: Number(row.at),
            type: row.type,
            actor: row.actor,
            requestId: row.request_id,
            details: row.details === null ? null : JSON.parse(row.details),
            policyHash: row.policy_hash,
          };
          const hash = eventHash(content, prev);
          await db.updateTable('audit_events').set({ seq, prev_hash: prev, hash }).where('pos', '=', row.pos).execute();
          prev = hash;
          linked += 1;
        }
      }
      if (seq > 0) {
        await db.deleteFrom('hg_state').where('key', '=', TIME_ORDER_KEY).execute();
        await db
          .insertInto('hg_state')
          .values({ key: TIME_ORDER_KEY, value: JSON.stringify({ seq, linkedAtUpgrade: linked }) })
          .execute();
      }
    },
  };
}

/** Credentials issued on request, their revocation versions, and host agents' reports. */
function issuedCredentials(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('issued_credentials')
        .addColumn('serial', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('entitlement', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('issued_by_request').on('issued_credentials').columns(['request_id', 'target']).execute();
      await db.schema.createIndex('issued_by_ref').on('issued_credentials').columns(['target', 'ref']).execute();
      await sql`CREATE INDEX issued_revoked ON issued_credentials (target, expires_at) WHERE revoked_at IS NOT NULL`.execute(db);
      await db.schema
        .createTable('revocation_versions')
        .addColumn('target', 'text', (c) => c.primaryKey())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .addColumn('changed_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('agent_reports')
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .addColumn('seen_at', 'bigint', (c) => c.notNull())
        .addColumn('applied_at', 'bigint', (c) => c.notNull())
        .addColumn('alerted_version', 'bigint')
        .addPrimaryKeyConstraint('agent_reports_pk', ['target', 'host'])
        .execute();
    },
  };
}

/** Token signing keys, published while a token they signed lives (key rotation). */
function signingKeys(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('issued_credentials').addColumn('signer', 'text').execute();
      await sql`CREATE INDEX issued_by_signer ON issued_credentials (target, signer, expires_at) WHERE signer IS NOT NULL`.execute(db);
      await db.schema
        .createTable('signing_keys')
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('kid', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('signing_keys_pk', ['target', 'kid'])
        .execute();
    },
  };
}

/** Principals known from identity sources (SCIM, OIDC, SAML), beside the configuration's. */
function principals(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('principals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('display_name', 'text')
        .addColumn('email', 'text')
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('manager', 'text')
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await sql`CREATE UNIQUE INDEX principals_external ON principals (source, external_id) WHERE external_id IS NOT NULL`.execute(db);
    },
  };
}

/** Sessions, personal and machine tokens, identity links, single-use keys, SCIM groups (docs/identity.md). */
function identity(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('principals')
        .addColumn('kind', 'text', (c) => c.notNull().defaultTo('human'))
        .execute();
      await db.schema.alterTable('principals').addColumn('user_name', 'text').execute();
      await db.schema.alterTable('principals').addColumn('attributes', 'text').execute();
      await db.schema
        .alterTable('principals')
        .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(1))
        .execute();
      await sql`CREATE UNIQUE INDEX principals_user_name ON principals (lower(user_name)) WHERE user_name IS NOT NULL`.execute(db);
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('secret_digest', 'text', (c) => c.notNull().unique())
        .addColumn('refresh_digest', 'text', (c) => c.unique())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('client', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('absolute_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('access_expires_at', 'bigint')
        .addColumn('auth_time', 'bigint')
        .addColumn('amr', 'text', (c) => c.notNull())
        .addColumn('acr', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('sessions_by_principal').on('sessions').columns(['principal', 'absolute_expires_at']).execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('api_tokens_by_principal').on('api_tokens').columns(['principal', 'expires_at']).execute();
      await db.schema
        .createTable('identity_links')
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('identity_links_pk', ['provider', 'subject'])
        .addUniqueConstraint('identity_links_one_per_provider', ['provider', 'principal'])
        .execute();
      await db.schema
        .createTable('single_use')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('single_use_by_expiry').on('single_use').column('expires_at').execute();
      await db.schema
        .createTable('scim_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('external_id', 'text')
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .execute();
      await sql`CREATE UNIQUE INDEX scim_groups_name ON scim_groups (lower(display_name))`.execute(db);
      await db.schema
        .createTable('scim_members')
        .addColumn('group_id', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('scim_members_pk', ['group_id', 'principal'])
        .execute();
      await db.schema.createIndex('scim_members_by_principal').on('scim_members').column('principal').execute();
    },
  };
}

/** Step-up MFA: factors, recovery codes, bound challenges, failed proofs (docs/identity.md, "Step-up MFA"). */
function mfa(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('mfa_factors')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .addColumn('secret', 'text')
        .addColumn('last_used_step', 'bigint')
        .addColumn('credential_id', 'text', (c) => c.unique())
        .addColumn('public_key', 'text')
        .addColumn('counter', 'bigint')
        .addColumn('transports', 'text')
        .execute();
      await db.schema.createIndex('mfa_factors_by_principal').on('mfa_factors').columns(['principal', 'created_at']).execute();
      await db.schema
        .createTable('mfa_recovery_codes')
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .addPrimaryKeyConstraint('mfa_recovery_codes_pk', ['principal', 'idx'])
        .execute();
      await db.schema
        .createTable('mfa_challenges')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('webauthn_challenge', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
      await db.schema.createIndex('mfa_challenges_by_expiry').on('mfa_challenges').column('expires_at').execute();
      await db.schema
        .createTable('mfa_failures')
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('mfa_failures_by_principal').on('mfa_failures').columns(['principal', 'at']).execute();
    },
  };
}

/**
 * Refresh tokens already swapped, kept until their session's absolute end: presenting one again
 * means two holders of the session (a stolen token), so the session ends (docs/identity.md, "The CLI").
 */
function usedRefreshTokens(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('used_refresh_tokens')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('used_refresh_tokens_by_expiry').on('used_refresh_tokens').column('expires_at').execute();
    },
  };
}

/** Issue 14: notifications to people (an outbox per destination and recipient, its log) and one-time links. */
/**
 * Issue 15: work a server holds on a target is taken over within seconds when that server dies.
 * Each server says it is alive (`servers.alive_until`, renewed every second), and a request's
 * lease names its holder (`requests.lease_owner`), so others find the leases of the dead.
 */
function serverPresence(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('servers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('alive_until', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.alterTable('requests').addColumn('lease_owner', 'text').execute();
      await sql`CREATE INDEX requests_leased ON requests (lease_owner) WHERE lease_owner IS NOT NULL`.execute(db);
      // The outboxes' claims name their holder the same way, while an attempt runs.
      for (const table of ['webhook_outbox', 'notifications']) {
        await db.schema.alterTable(table).addColumn('claimed_by', 'text').execute();
        await sql`CREATE INDEX ${sql.raw(`${table}_claimed`)} ON ${sql.table(table)} (claimed_by) WHERE claimed_by IS NOT NULL`.execute(db);
      }
    },
  };
}

function notifications(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('destination', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_seq', 'bigint', (c) => c.notNull())
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('ref', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .addUniqueConstraint('notifications_once', ['destination', 'event_id', 'topic', 'recipient'])
        .execute();
      await sql`CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending'`.execute(db);
      await db.schema.createIndex('notifications_by_request').on('notifications').columns(['request_id', 'destination', 'recipient']).execute();
      await db.schema
        .createTable('notification_attempts')
        .addColumn('pos', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('notification_id', 'text', (c) => c.notNull())
        .addColumn('destination', 'text', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('notification_attempts_by_request').on('notification_attempts').columns(['request_id', 'pos']).execute();
      await db.schema
        .createTable('one_time_links')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('principal', 'text')
        .addColumn('request_id', 'text')
        .addColumn('subject', 'text')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
      await db.schema.createIndex('one_time_links_by_expiry').on('one_time_links').column('expires_at').execute();
      // People hear of what happens from the upgrade on, never of the store's history.
      await sql`INSERT INTO hg_state (key, value) SELECT 'notifications.cursor', CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM audit_events WHERE true ON CONFLICT (key) DO NOTHING`.execute(
        db,
      );
    },
  };
}

export async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: {
      getMigrations: async () => ({
        '0001_initial': initial(dialect),
        '0002_outbox_checkpoints': outboxAndCheckpoints(dialect),
        '0003_access_work': accessWork(),
        '0004_covering_grant_lookup': coveringGrantLookup(),
        '0005_grants_by_entitlement': grantsByEntitlement(),
        '0006_chain_in_transaction': chainInTransaction(dialect),
        '0007_issued_credentials': issuedCredentials(dialect),
        '0008_signing_keys': signingKeys(),
        '0009_principals': principals(),
        '0010_identity': identity(),
        '0011_mfa': mfa(),
        '0012_used_refresh_tokens': usedRefreshTokens(),
        '0013_notifications': notifications(dialect),
        '0014_server_presence': serverPresence(),
      }),
    },
    migrationTableName: 'hg_migrations',
    migrationLockTableName: 'hg_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`store migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String((error as Error)?.message ?? error)}`);
  }
}
