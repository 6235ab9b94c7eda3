/**
 * Builders for core domain objects, shared by every test suite. Each returns a complete, valid
 * object with sensible defaults; pass overrides for what a test cares about. Nothing here reads
 * a clock: times are fixed offsets from `T0`.
 */
import { termsOf, type RequestAsk } from '../../src/core/policy.js';
import type { AccessRequest, Policy, PolicyTerms, Principal, Role, SubjectSet } from '../../src/core/types.js';

/** A fixed instant: Monday 5 January 2026, 10:00 UTC (11:00 in Europe/Berlin). */
export const T0 = Date.UTC(2026, 0, 5, 10, 0);

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export function principal(id: string, groups: string[] = [], roles: Role[] = []): Principal {
  return { id, groups: [...groups], roles: [...roles] };
}

export function subjects(overrides: Partial<SubjectSet> = {}): SubjectSet {
  return { groups: [], users: [], ...overrides };
}

/**
 * A complete policy. Defaults: subjects group `developers`, entitlement `db/read`, 1h default,
 * 5m..8h, reason optional, no ticket, no approval (self-service), 24h pending timeout,
 * extensions not allowed (maxTotal 8h, requiresApproval true), no time window, not break-glass.
 * Nested objects (`subjects`, `ticket`, `approval`, `extension`) are merged with the defaults,
 * so `policy({ approval: { required: 1 } })` keeps the default (empty) approver set.
 */
export type PolicyOverrides = Omit<Partial<Policy>, 'subjects' | 'ticket' | 'approval' | 'extension'> & {
  subjects?: Partial<SubjectSet>;
  ticket?: Partial<Policy['ticket']>;
  approval?: { required?: number; approvers?: Partial<SubjectSet> };
  extension?: Partial<Policy['extension']>;
};

export function policy(overrides: PolicyOverrides = {}): Policy {
  const { subjects: s, ticket, approval, extension, ...rest } = overrides;
  const p: Policy = {
    name: 'developers-read',
    entitlements: ['db/read'],
    defaultDuration: HOUR,
    minDuration: 5 * MINUTE,
    maxDuration: 8 * HOUR,
    reason: 'optional',
    pendingTimeout: DAY,
    breakGlass: false,
    ...rest,
    subjects: subjects({ groups: ['developers'], ...s }),
    ticket: { required: false, ...ticket },
    approval: {
      required: approval?.required ?? 0,
      approvers: subjects(approval?.approvers ?? {}),
    },
    extension: { allowed: false, maxTotal: 8 * HOUR, requiresApproval: true, ...extension },
  };
  // `undefined` overrides remove optional members rather than leaving `key: undefined` behind.
  for (const key of ['when', 'review'] as const) if (p[key] === undefined) delete p[key];
  return p;
}

/** A break-glass policy with a review requirement (as config validation insists). */
export function breakGlassPolicy(overrides: PolicyOverrides = {}): Policy {
  return policy({
    name: 'break-glass',
    subjects: { groups: ['oncall'] },
    maxDuration: HOUR,
    breakGlass: true,
    review: { approvers: subjects({ groups: ['sre-leads'] }), within: DAY },
    ...overrides,
  });
}

/**
 * A complete request, `pending` at `T0` by `alice` for `db/read` under the default `policy()`.
 * When `terms` is overridden but `policies` is not, each entitlement maps to the first term.
 */
export function request(overrides: Partial<AccessRequest> = {}): AccessRequest {
  const terms: PolicyTerms[] = overrides.terms ?? [termsOf(policy())];
  const entitlements = overrides.entitlements ?? ['db/read'];
  const firstTerm = terms[0]?.name ?? 'developers-read';
  const req: AccessRequest = {
    id: 'req-1',
    status: 'pending',
    access: 'none',
    requester: 'alice',
    entitlements,
    durationMs: HOUR,
    requestedAt: T0,
    pendingUntil: T0 + DAY,
    approvals: [],
    policies: Object.fromEntries(entitlements.map((e) => [e, firstTerm])),
    terms,
    policyHash: 'policy-hash-test',
    breakGlass: terms.some((t) => t.breakGlass),
    reviewAlerted: false,
    extensions: [],
    version: 1,
    ...overrides,
  };
  for (const key of Object.keys(req) as (keyof AccessRequest)[]) if (req[key] === undefined) delete req[key];
  return req;
}

/**
 * A pending request decided under `policies` (in order, one per entitlement unless `entitlements`
 * is overridden), built the way the submit use case does: frozen terms, pending timeout = the
 * shortest of the policies', break-glass when any policy is.
 */
export function requestUnder(policies: Policy[], overrides: Partial<AccessRequest> = {}): AccessRequest {
  const terms = [...new Map(policies.map((p) => [p.name, termsOf(p)])).values()];
  const entitlements = overrides.entitlements ?? policies.map((p) => p.entitlements[0] ?? 'db/read');
  const requestedAt = overrides.requestedAt ?? T0;
  return request({
    entitlements,
    policies: Object.fromEntries(entitlements.map((e, i) => [e, (policies[i] ?? policies[0])!.name])),
    terms,
    breakGlass: terms.some((t) => t.breakGlass),
    requestedAt,
    pendingUntil: requestedAt + Math.min(...policies.map((p) => p.pendingTimeout)),
    ...overrides,
  });
}

/** What policy evaluation sees: `alice` (group developers) asking for `db/read` at `T0`. */
export function ask(overrides: Partial<RequestAsk> = {}): RequestAsk {
  const a: RequestAsk = {
    requester: principal('alice', ['developers']),
    entitlements: ['db/read'],
    breakGlass: false,
    now: T0,
    ...overrides,
  };
  for (const key of Object.keys(a) as (keyof RequestAsk)[]) if (a[key] === undefined) delete a[key];
  return a;
}
