/** Domain types shared by the pure core, the use cases and the adapters. Times are epoch milliseconds. */
import type { AuditEventType } from './events.js';

export { AUDIT_EVENT_TYPES, type AuditEventType } from './events.js';

/** admin: everything; auditor: read everything; checker: may call /v1/check; metrics: may read /metrics. */
export type Role = 'admin' | 'auditor' | 'checker' | 'metrics' | 'agent';

export interface Principal {
  id: string;
  groups: string[];
  roles: Role[];
  /** The principal id of their manager (`approvers: { manager: true }`), from the file or an identity source. */
  manager?: string;
  /** How this request authenticated, when not by a configured API token (docs/identity.md). */
  auth?: AuthContext;
}

/** A session's or a stored token's facts, for scopes, step-up MFA and sign-out. */
export interface AuthContext {
  kind: 'session' | 'token';
  /** The session's or token's public handle. */
  id: string;
  /** A token's scopes; absent for sessions (everything the principal may do). */
  scopes?: readonly string[];
  /** When the identity provider last authenticated the person, and with which methods. */
  authTime?: number;
  amr?: readonly string[];
  /** Where the session's person signed in (`oidc:NAME`, `saml:NAME`): whose `amr` values prove MFA. */
  source?: string;
  /** The session came by cookie: writes need the CSRF token. */
  cookie?: boolean;
  csrf?: string;
}

export interface SubjectSet {
  groups: string[];
  users: string[];
}

/** Approvers as a policy names them: `manager` adds the requester's manager. */
export interface ApproverSet extends SubjectSet {
  manager?: true;
}

/** Approvers frozen into a request at submission: `manager` is the id of the requester's manager then. */
export interface RequestApprovers extends SubjectSet {
  manager?: string;
}

export type Weekday = 'sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat';

export interface TimeWindow {
  days?: Weekday[];
  /** Minutes after local midnight; `to` may be smaller than `from` for windows across midnight. */
  hours?: { from: number; to: number };
  timezone: string;
  /** CIDR blocks the request must come from (checked at submission only: it is the requester's address). */
  sourceNetworks?: string[];
}

/** What a policy asks of the request's ticket (docs/policies.md, "Tickets"). */
export interface TicketTerms {
  required: boolean;
  pattern?: string;
  /** Check the ticket in this system (`tickets[].name`) at submission and at each approval. */
  system?: string;
  /** States it must be in (compared without regard to case); absent: any state the system reports. */
  states?: string[];
  /** End the access when the ticket leaves `states` (or disappears): polled, or pushed by the system. */
  endsWithTicket?: true;
  /** Comment on the ticket when access starts and when it ends. */
  comment?: true;
}

/** Who else is asked when nobody decided within `afterMs` of submission (docs/policies.md, "Escalation"). */
export interface EscalationTier<A = ApproverSet> {
  afterMs: number;
  /** Who is asked; absent for an on-call tier. */
  approvers?: A;
  /** An on-call tier: whoever is on call on this schedule (`oncall[].name`) when the tier is reached. */
  onCall?: string;
}

export interface PolicyApproval {
  required: number;
  approvers: ApproverSet;
  /** Approvers may decide with Slack buttons (never where MFA is required to approve); only when true. */
  fromChat?: true;
  /** Ordered by `afterMs`; each tier's approvers join those before it. */
  escalation?: EscalationTier[];
  /** A requester on call now on this schedule (`oncall[].name`) needs no approval; the grant is reviewed afterwards. */
  onCall?: string;
}

export interface Policy {
  name: string;
  subjects: SubjectSet;
  entitlements: string[];
  defaultDuration: number;
  minDuration: number;
  maxDuration: number;
  reason: 'required' | 'optional';
  ticket: TicketTerms;
  approval: PolicyApproval;
  pendingTimeout: number;
  extension: { allowed: boolean; maxTotal: number; requiresApproval: boolean };
  when?: TimeWindow;
  breakGlass: boolean;
  review?: { approvers: ApproverSet; within: number };
  /** Step-up MFA for these actions, at most `maxAgeMs` old (docs/policies.md, "Step-up MFA"). */
  mfa?: MfaTerms;
}

/** What needs a fresh second factor: submitting, approving, fetching the grant's credentials. */
export type MfaAction = 'request' | 'approve' | 'credentials';

export interface MfaTerms {
  for: MfaAction[];
  /** How old a sign-in with MFA at the identity provider may be to count instead of a proof. */
  maxAgeMs: number;
}

export interface TargetEntitlement {
  description?: string;
  [key: string]: unknown;
}

/** What a target's kind does with its grants, as the kind's factory tells from the target's settings. */
export interface TargetCapabilities {
  /** Grants live in Hourglass itself (the built-in `hourglass` kind): no target is called, `access` moves with `status`. */
  inline?: boolean;
  /** `grant` returns credentials, kept encrypted until retrieved (POST /v1/requests/{id}/credentials), so a credentials key is needed. */
  issuesCredentials: boolean;
  /** Credentials are issued when the requester asks, while the grant is active (SSH certificates, tokens); nothing is kept. */
  issuesOnDemand?: boolean;
  /** Ending a grant ends its live sessions. */
  endsSessions: boolean;
  /** The target refuses the access after expiresAt by itself (VALID UNTIL, certificate validity). */
  enforcesExpiry: boolean;
  /** The target can list what Hourglass created there: the connector has `reconciliation`. */
  canList: boolean;
  /**
   * How the requester uses a grant from the command line, `{id}` standing for the request id
   * (`hourglass connect {id}`), as the kind describes it; the web UI shows it. Set by the loader
   * from the kind's `usage` when grants deliver credentials.
   */
  usage?: string;
}

/** Drift reconciliation of one target (`reconcile` in the file). */
export interface ReconcileSettings {
  /** ms between passes; 0 = off. */
  interval: number;
  removeExtraPrivileges: boolean;
}

/**
 * A configured target. The settings common to the kinds that call a target are typed here (the
 * loader applies their defaults; the inline `hourglass` kind has none); each kind reads its own
 * keys from the rest.
 */
export interface TargetConfig {
  name: string;
  type: string;
  description?: string;
  entitlements: Record<string, TargetEntitlement>;
  /** ms a grant may stay in provisioning before it fails. */
  provisioningTimeout?: number;
  /** ms a removal may stay unconfirmed before `alert.revocation_overdue`. */
  revocationAlertAfter?: number;
  /** Connector calls to this target at once (its lane). */
  concurrency?: number;
  /** ms a connector call may take, waiting for a slot included. */
  callTimeout?: number;
  /** Prefix of the accounts Hourglass creates on the target. */
  accountPrefix?: string;
  reconcile?: ReconcileSettings;
  [key: string]: unknown;
}

export const REQUEST_STATUSES = ['pending', 'scheduled', 'active', 'expired', 'denied', 'cancelled', 'revoked', 'failed'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export const FINAL_STATUSES: readonly RequestStatus[] = ['expired', 'denied', 'cancelled', 'revoked', 'failed'];

export type AccessState = 'none' | 'provisioning' | 'present' | 'removing' | 'removed';

export interface Approval {
  by: string;
  at: number;
  comment?: string;
  /** Names of the policies whose quorum this approval counts toward (eligibility at approval time). */
  for?: string[];
  /** Given by Hourglass, not a person: the requester was on call (`by` is `oncall:SCHEDULE`); it meets those policies' quorum, and the grant must be reviewed. */
  auto?: 'oncall';
}

/** The policy terms a request was decided under, frozen at submission so later edits never change them. */
export interface PolicyTerms {
  name: string;
  approval: { required: number; approvers: RequestApprovers; fromChat?: true; escalation?: EscalationTier<RequestApprovers>[]; onCall?: string };
  extension: Policy['extension'];
  review?: { approvers: RequestApprovers; within: number };
  when?: TimeWindow;
  breakGlass: boolean;
  mfa?: MfaTerms;
  /** The ticket checks of the policy, when it names a system. */
  ticket?: Omit<TicketTerms, 'required' | 'pattern'> & { system: string };
}

export interface Extension {
  by: string;
  at: number;
  durationMs: number;
  reason?: string;
  approvals: Approval[];
}

export interface AccessRequest {
  id: string;
  status: RequestStatus;
  access: AccessState;
  requester: string;
  entitlements: string[];
  reason?: string;
  ticket?: string;
  durationMs: number;
  requestedAt: number;
  startAt?: number;
  activatedAt?: number;
  expiresAt?: number;
  endedAt?: number;
  /** When a pending request times out. */
  pendingUntil?: number;
  approvals: Approval[];
  decision?: { by: string; at: number; comment?: string };
  /** entitlement -> policy name used for it. */
  policies: Record<string, string>;
  terms: PolicyTerms[];
  policyHash: string;
  breakGlass: boolean;
  review?: { by: string; at: number; comment: string };
  reviewDueAt?: number;
  reviewAlerted: boolean;
  extensions: Extension[];
  pendingExtension?: Extension;
  /** Work on the target (`access` provisioning or removing): next attempt, attempts so far, last error (scrubbed). */
  accessNextAt?: number;
  accessAttempts?: number;
  accessError?: string;
  /**
   * Until when a server owns the request's target work (set by the access worker's claim). Apart
   * from `accessNextAt`, which is also a backoff: an ending request waits for a held provisioning
   * lease (the grant may still commit) but never for a provisioning retry's backoff.
   */
  leaseUntil?: number;
  /** The server holding that lease (its presence id): when it stops saying it is alive, another takes the work over. */
  leaseOwner?: string;
  /** Provisioning that has not succeeded by then ends the request `failed`. */
  provisioningDeadline?: number;
  /** target name -> the handle its connector's grant returned (opaque; handed back to revoke and extend). */
  handles?: Record<string, string>;
  /** The end time the target was last told (connectors that enforce expiry); differs from expiresAt after an extension until the target confirms. */
  targetExpiresAt?: number;
  /** When removal started, and whether the overdue-revocation alert was raised. */
  removingSince?: number;
  removalAlerted?: boolean;
  /** When to send the next reminder (pending timeout approaching, or grant about to expire). */
  remindAt?: number;
  /**
   * Escalation of a pending request: tiers reached per policy name, when the next one is due, and
   * who was on call when an on-call tier was reached (policy name -> tier index -> principal ids).
   */
  escalation?: { tiers: Record<string, number>; nextAt?: number; onCall?: Record<string, Record<number, string[]>> };
  /** The ticket as its system told it when last checked (`ticket.system` policies). */
  ticketInfo?: { system: string; key: string; summary: string; state: string; url?: string; checkedAt: number };
  endedBy?: string;
  endReason?: string;
  error?: string;
  sourceIp?: string;
  version: number;
}

/** An audit event as the core produces it; the store adds id, time, sequence and hashes. */
export interface AuditDraft {
  type: AuditEventType;
  actor: string;
  requestId?: string;
  details?: Record<string, unknown>;
}
