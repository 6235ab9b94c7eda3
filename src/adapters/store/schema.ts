/** Table shapes as Kysely sees them. Times are epoch milliseconds (BIGINT); JSON lives in TEXT. */
import type { Generated } from 'kysely';

export interface RequestsTable {
  id: string;
  status: string;
  access: string;
  requester: string;
  due_at: number | null;
  requested_at: number;
  version: number;
  body: string;
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

export interface Database {
  requests: RequestsTable;
  grants: GrantsTable;
  audit_events: AuditEventsTable;
  idempotency: IdempotencyTable;
  locks: LocksTable;
  hg_state: StateTable;
}
