/** Table shapes as Kysely sees them. Times are epoch milliseconds (BIGINT); JSON lives in TEXT. */
import type { ColumnType, Generated } from 'kysely';

export interface RequestsTable {
  id: string;
  status: string;
  access: string;
  requester: string;
  due_at: number | null;
  /** When work on the target (provisioning, removing) is next due. */
  access_due_at: number | null;
  requested_at: number;
  version: number;
  body: string;
  /** The server holding the request's target work (while `leaseUntil` is set), for takeover when it dies. */
  lease_owner: string | null;
}

export interface ServersTable {
  id: string;
  started_at: number;
  /** The server is alive until then, unless it renews (every second). */
  alive_until: number;
}

export interface GrantsTable {
  request_id: string;
  principal: string;
  entitlement: string;
  expires_at: number;
}

export interface AuditEventsTable {
  pos: Generated<number>;
  id: string;
  at: number;
  type: string;
  actor: string;
  request_id: string | null;
  details: string | null;
  policy_hash: string | null;
  seq: number | null;
  prev_hash: string | null;
  hash: string | null;
}

export interface IdempotencyTable {
  principal: string;
  key: string;
  fingerprint: string;
  request_id: string;
  created_at: number;
}

export interface LocksTable {
  kind: string;
  subject: string;
  by_principal: string;
  at: number;
  reason: string | null;
}

export interface StateTable {
  key: string;
  value: string;
}

export interface NotificationsTable {
  id: string;
  /** The server whose attempt holds the row (presence.ts), while it runs. */
  claimed_by: string | null;
  destination: string;
  event_id: string;
  event_seq: number;
  topic: string;
  recipient: string;
  request_id: string | null;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  ref: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface NotificationAttemptsTable {
  pos: Generated<number>;
  notification_id: string;
  destination: string;
  recipient: string;
  topic: string;
  event_id: string;
  request_id: string | null;
  attempt: number;
  at: number;
  outcome: string;
  duration_ms: number;
  error: string | null;
}

export interface OneTimeLinksTable {
  digest: string;
  purpose: string;
  principal: string | null;
  request_id: string | null;
  subject: string | null;
  expires_at: number;
  used_at: number | null;
}

export interface WebhookOutboxTable {
  id: string;
  /** The server whose attempt holds the row (presence.ts), while it runs. */
  claimed_by: string | null;
  endpoint: string;
  event_id: string;
  event_seq: number;
  event_type: string;
  payload: string;
  /** pending | delivered */
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface WebhookDeliveriesTable {
  pos: Generated<number>;
  outbox_id: string;
  endpoint: string;
  attempt: number;
  at: number;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
}

export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  at: number;
  key_id: string;
  signature: string;
  /** JSON: where the checkpoint was shipped ({file?: at, webhook?: at}). */
  shipped: string | null;
}

export interface CredentialsTable {
  request_id: string;
  target: string;
  /** AES-256-GCM, see src/adapters/secret-box.ts. */
  ciphertext: string;
  created_at: number;
}

/** Credentials issued on request (SSH certificates, tokens): never the credential, only what revokes and explains it. */
export interface IssuedCredentialsTable {
  /** The certificate serial (or token number): unique in the store, from 1. */
  serial: Generated<number>;
  target: string;
  request_id: string;
  principal: string;
  entitlement: string;
  /** The kind's reference: the certified key's fingerprint, the token id. */
  ref: string;
  issued_at: number;
  expires_at: number;
  /** Set when the grant ended before `expires_at`. */
  revoked_at: number | null;
  /** The kid of the key that signed it (tokens). */
  signer: string | null;
}

/** The public half of each signing key that signed a token (migration 0008). */
export interface SigningKeysTable {
  target: string;
  kid: string;
  /** The public JWK, as JSON. */
  public_key: string;
}

/** One row per target whose issued credentials were ever revoked: the revocation list's version. */
export interface RevocationVersionsTable {
  target: string;
  version: number;
  changed_at: number;
}

/** What each host agent last said it applied. */
export interface AgentReportsTable {
  target: string;
  host: string;
  /** The agent's principal. */
  agent: string;
  version: number;
  seen_at: number;
  /** When this host first reported `version`. */
  applied_at: number;
  /** The current version it was behind on when alert.agent_behind was last raised for it. */
  alerted_version: number | null;
}

export interface PrincipalsTable {
  id: string;
  source: string;
  external_id: string | null;
  display_name: string | null;
  email: string | null;
  /** JSON array of group names. */
  groups: string;
  manager: string | null;
  /** 1 or 0 (SQLite has no boolean). */
  active: number;
  created_at: number;
  updated_at: number;
  /** `human` or `machine` (migration 0010). */
  kind: ColumnType<string, string | undefined, string>;
  /** SCIM userName, unique without regard to case. */
  user_name: string | null;
  /** JSON of the source's other attributes (SCIM name, emails, title...). */
  attributes: string | null;
  version: ColumnType<number, number | undefined, number>;
}

export interface SessionsTable {
  id: string;
  secret_digest: string;
  refresh_digest: string | null;
  principal: string;
  source: string;
  client: string;
  created_at: number;
  last_seen_at: number;
  absolute_expires_at: number;
  access_expires_at: number | null;
  auth_time: number | null;
  /** JSON array. */
  amr: string;
  acr: string | null;
  ip: string | null;
  user_agent: string | null;
  revoked_at: number | null;
}

/** A refresh token already swapped for a new pair (migration 0012). */
export interface UsedRefreshTokensTable {
  /** SHA-256 (hex) of the used refresh token. */
  digest: string;
  session_id: string;
  /** The session's absolute end: after it the row is pruned. */
  expires_at: number;
}

export interface ApiTokensTable {
  id: string;
  digest: string;
  principal: string;
  name: string;
  /** JSON array. */
  scopes: string;
  created_at: number;
  created_by: string;
  expires_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface IdentityLinksTable {
  provider: string;
  subject: string;
  principal: string;
  created_at: number;
}

export interface SingleUseTable {
  key: string;
  expires_at: number;
}

export interface ScimGroupsTable {
  id: string;
  external_id: string | null;
  display_name: string;
  created_at: number;
  updated_at: number;
  version: number;
}

export interface ScimMembersTable {
  group_id: string;
  principal: string;
}

/** Step-up MFA (migration 0011). */
export interface MfaFactorsTable {
  id: string;
  principal: string;
  kind: string;
  label: string;
  status: string;
  created_at: number;
  last_used_at: number | null;
  /** TOTP: the sealed base32 secret. */
  secret: string | null;
  last_used_step: number | null;
  credential_id: string | null;
  public_key: string | null;
  counter: number | null;
  /** JSON array. */
  transports: string | null;
}

export interface MfaRecoveryCodesTable {
  principal: string;
  idx: number;
  hash: string;
  created_at: number;
  used_at: number | null;
}

export interface MfaChallengesTable {
  id: string;
  principal: string;
  purpose: string;
  action: string;
  request_id: string | null;
  digest: string;
  webauthn_challenge: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface MfaFailuresTable {
  principal: string;
  at: number;
}

export interface Database {
  requests: RequestsTable;
  grants: GrantsTable;
  servers: ServersTable;
  audit_events: AuditEventsTable;
  idempotency: IdempotencyTable;
  locks: LocksTable;
  hg_state: StateTable;
  webhook_outbox: WebhookOutboxTable;
  notifications: NotificationsTable;
  notification_attempts: NotificationAttemptsTable;
  one_time_links: OneTimeLinksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  audit_checkpoints: AuditCheckpointsTable;
  credentials: CredentialsTable;
  issued_credentials: IssuedCredentialsTable;
  revocation_versions: RevocationVersionsTable;
  agent_reports: AgentReportsTable;
  signing_keys: SigningKeysTable;
  principals: PrincipalsTable;
  sessions: SessionsTable;
  used_refresh_tokens: UsedRefreshTokensTable;
  api_tokens: ApiTokensTable;
  identity_links: IdentityLinksTable;
  single_use: SingleUseTable;
  scim_groups: ScimGroupsTable;
  scim_members: ScimMembersTable;
  mfa_factors: MfaFactorsTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  mfa_failures: MfaFailuresTable;
}
