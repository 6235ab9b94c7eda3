/**
 * The answer of explain (explain.ts, GET /v1/policies/explain), on its own so that the web UI can
 * import the type without the server's code: this module imports nothing but types.
 */
import type { MfaAction } from '../core/types.js';

export interface SubjectsJson {
  groups: string[];
  users: string[];
  /** The policy names the requester's manager (`approvers.manager`). */
  manager: boolean;
}

export interface ExplainApproval {
  policy: string;
  /** Approvals this policy needs (the requester never counts). */
  required: number;
  /** Who may approve, as the policy names them. */
  approvers: SubjectsJson;
  /** Principals of the configuration who match `approvers` (the manager included), except the requester. */
  eligibleApprovers: string[];
}

export interface ExplainReview {
  policy: string;
  withinSeconds: number;
  reviewers: SubjectsJson;
  eligibleReviewers: string[];
}

export interface ExplainCandidate {
  policy: string;
  /** Whether this policy decides the entitlement (the first candidate whose terms are met). */
  chosen: boolean;
  /** Why the request is outside this policy's terms; empty when it meets them. */
  reasons: string[];
}

export interface ExplainResult {
  principal: string;
  /** False when the principal is not in the configuration (and was not described inline). */
  principalKnown: boolean;
  groups: string[];
  /**
   * The requester's manager as submission would freeze it for `approvers.manager`: a principal the
   * directory knows, never the requester; null when there is none.
   */
  manager: string | null;
  entitlements: string[];
  /** The instant the request was evaluated at (ISO-8601). */
  at: string;
  allowed: boolean;
  /** The error code submission would answer with; null when allowed. */
  code: string | null;
  message: string | null;
  /** The policies used, joined by `,` as on a request; null when not allowed. */
  policy: string | null;
  /** entitlement -> policy that decides it (only entitlements for which one was found). */
  policies: Record<string, string>;
  /** The grant's duration: the one asked for, else the policy default; null when refused without a duration. */
  durationSeconds: number | null;
  /** True when access would begin without anyone's approval (self-service and break-glass policies). */
  selfService: boolean;
  /** True when the grant would be a break-glass grant (reviewed afterwards, never waits for approval). */
  breakGlass: boolean;
  /** One entry per chosen policy that needs approvals before access begins. */
  approvals: ExplainApproval[];
  /** Break-glass reviews due after the fact. */
  reviews: ExplainReview[];
  /** How long the request would wait for approvals before it expires. */
  pendingTimeoutSeconds: number | null;
  /** What the chosen policies (or, when refused, the candidate policies) demand of the requester. */
  requires: {
    reason: boolean;
    ticket: { required: boolean; patterns: string[] };
    sourceNetworks: string[] | null;
    /** Step-up MFA per action: how old (seconds) an IdP sign-in with MFA may be, null when the action needs none; null when nothing does. */
    mfa: Record<MfaAction, number | null> | null;
  };
  /** Inputs the caller left out and the answer assumes will be supplied correctly. */
  assumed: { reason: boolean; ticket: boolean; sourceIp: boolean };
  /** Problems with the policy itself, e.g. fewer possible approvers than approvals required. */
  warnings: string[];
  /** entitlement -> the candidate policies in file order, with why each refused. */
  candidates: Record<string, ExplainCandidate[]>;
  /** entitlement -> policies that list the entitlement but are not candidates, and why. */
  notCandidates: Record<string, { policy: string; why: string }[]>;
}
