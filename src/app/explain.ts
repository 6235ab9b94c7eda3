/**
 * "Would this request be allowed?": the policy decision the server would make for a
 * hypothetical request, with everything around it that people ask next (which policy, what
 * approvals from whom, who in the directory could give them, what the requester must still
 * supply, and why each policy refused otherwise).
 *
 * Pure: it reads only the configuration and the input (time comes in as `at`), so the server
 * (GET /v1/policies/explain), `hourglass policy explain --config` and `hourglass policy test`
 * give the same answer for the same file.
 *
 * Things a requester supplies at submission time are treated as follows when the caller leaves
 * them out (`undefined`), so that explain answers "could this be granted" rather than failing
 * on what the requester would simply type in:
 * - `reason`: assumed given; `requires.reason` tells whether a policy insists on one.
 * - `ticket`: assumed given and matching the policy's pattern; `requires.ticket` tells the rule.
 * - `sourceIp`: assumed inside the policy's `when.sourceNetworks`; `requires.sourceNetworks` tells them.
 * `assumed` lists which of these assumptions the answer depends on. An explicit value (even an
 * empty string: "none given") is checked exactly as submission would check it.
 */
import type { HourglassConfig } from '../config/types.js';
import { parseDuration } from '../core/duration.js';
import { HgError } from '../core/errors.js';
import { needsApproval } from '../core/lifecycle.js';
import { evaluateRequest, managerOf, startAtProblem, subjectMatches, termsOf, type CandidateVerdict } from '../core/policy.js';
import type { ApproverSet, MfaAction, Policy, Principal, Role, SubjectSet } from '../core/types.js';
import { configDirectory, fixedConfig, type SyncDirectory } from './directory.js';
import type { ExplainResult, SubjectsJson } from './explain-result.js';
import { mfaFor } from './step-up-gate.js';

export type { ExplainApproval, ExplainCandidate, ExplainResult, ExplainReview, SubjectsJson } from './explain-result.js';

/** explain is synchronous: the server resolves the asked principal from an asynchronous Directory first. */
export type ExplainDirectory = SyncDirectory;

/** A principal described inline: for testing policies against people not (yet) in the directory. */
export interface HypotheticalPrincipal {
  id: string;
  groups?: string[];
  roles?: Role[];
  /** Their manager's principal id (default: the directory's, when it knows the id). */
  manager?: string;
}

export interface ExplainInput {
  /** A principal id from the configuration, or a hypothetical principal. */
  principal: string | HypotheticalPrincipal;
  entitlements: string[];
  /** `2h`, `PT1H`... or milliseconds; omitted: the policy's default. */
  duration?: string | number;
  /** When the request would be made (epoch ms): time windows are checked at this instant. */
  at: number;
  /** When the access would begin (epoch ms), as `startAt` on submission: time windows are checked then too. */
  startAt?: number;
  /** Omitted: assumed given. An empty string means "none given". */
  reason?: string;
  /** Omitted: assumed given and matching. An empty string means "none given". */
  ticket?: string;
  /** Omitted: assumed inside the policy's source networks. */
  sourceIp?: string;
  breakGlass?: boolean;
  /** Restrict the candidates to this policy (as `policy` on submission). */
  policy?: string;
  /** Emergency controls in force (the server knows them; offline callers do not). */
  locks?: { principal?: boolean; frozenTargets?: string[] };
}

const uniq = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];

function subjectsJson(set: ApproverSet): SubjectsJson {
  return { groups: [...set.groups], users: [...set.users], manager: set.manager === true };
}

function describeSet(set: SubjectSet): string {
  const parts = [...set.groups.map((g) => `group ${g}`), ...set.users];
  return parts.length ? parts.join(', ') : 'nobody';
}

function resolvePrincipal(directory: ExplainDirectory, p: ExplainInput['principal']): { principal: Principal; known: boolean } {
  if (typeof p === 'string') {
    const found = directory.find(p);
    return found ? { principal: found, known: true } : { principal: { id: p, groups: [], roles: [] }, known: false };
  }
  const found = directory.find(p.id);
  const manager = p.manager ?? found?.manager;
  return {
    principal: { id: p.id, groups: p.groups ?? found?.groups ?? [], roles: p.roles ?? found?.roles ?? [], ...(manager !== undefined ? { manager } : {}) },
    known: found !== undefined || p.groups !== undefined,
  };
}

/** The policies as evaluated: requirements the caller did not state are taken as met. */
function relaxed(policies: readonly Policy[], input: ExplainInput): Policy[] {
  return policies.map((p) => {
    let q = p;
    if (input.reason === undefined && q.reason === 'required') q = { ...q, reason: 'optional' };
    if (input.ticket === undefined && (q.ticket.required || q.ticket.pattern)) q = { ...q, ticket: { required: false } };
    if (input.sourceIp === undefined && q.when?.sourceNetworks) {
      const { sourceNetworks: _dropped, ...when } = q.when;
      q = { ...q, when };
    }
    return q;
  });
}

function whyNotCandidate(policy: Policy, principal: Principal, known: boolean, input: ExplainInput): string | undefined {
  if (!known) return `${principal.id} is not a principal in the configuration`;
  if (!subjectMatches(policy.subjects, principal)) {
    return `${principal.id} is not among its subjects (${describeSet(policy.subjects)})`;
  }
  if (input.policy !== undefined) return policy.name === input.policy ? undefined : `not the policy asked for (${input.policy})`;
  if (input.breakGlass && !policy.breakGlass) return 'not a break-glass policy, and the request asks for break-glass';
  if (!input.breakGlass && policy.breakGlass) return 'a break-glass policy: a candidate only when the request asks for break-glass';
  return undefined;
}

const MFA_ACTIONS: readonly MfaAction[] = ['request', 'approve', 'credentials'];

/** Per action, the strictest step-up MFA of the policies (as the gate applies it); null when none asks for any. */
function mfaRequirements(policies: readonly Policy[]): Record<MfaAction, number | null> | null {
  const ages = MFA_ACTIONS.map((a) => [a, mfaFor(policies, a)] as const);
  if (ages.every(([, ms]) => ms === undefined)) return null;
  return Object.fromEntries(ages.map(([a, ms]) => [a, ms === undefined ? null : Math.round(ms / 1000)])) as Record<MfaAction, number | null>;
}

/**
 * Explains the decision the server would make for this request at `input.at`. Throws HG_INVALID_INPUT on a malformed duration.
 * Principals come from `directory` (default: the file's).
 */
export function explain(config: HourglassConfig, input: ExplainInput, directory: ExplainDirectory = configDirectory(fixedConfig(config))): ExplainResult {
  const { principal, known } = resolvePrincipal(directory, input.principal);
  const entitlements = uniq(input.entitlements);
  let durationMs: number | undefined;
  if (typeof input.duration === 'string') durationMs = parseDuration(input.duration);
  else if (typeof input.duration === 'number') {
    if (!Number.isSafeInteger(input.duration) || input.duration <= 0)
      throw new HgError('HG_INVALID_INPUT', 'duration must be a positive whole number of milliseconds');
    durationMs = input.duration;
  }
  if (!Number.isFinite(input.at)) throw new HgError('HG_INVALID_INPUT', 'at must be a time');
  const breakGlassAsked = input.breakGlass === true;

  const result: ExplainResult = {
    principal: principal.id,
    principalKnown: known,
    groups: [...principal.groups],
    manager: null,
    entitlements,
    at: new Date(input.at).toISOString(),
    allowed: false,
    code: null,
    message: null,
    policy: null,
    policies: {},
    durationSeconds: durationMs !== undefined ? Math.round(durationMs / 1000) : null,
    selfService: false,
    breakGlass: false,
    approvals: [],
    reviews: [],
    pendingTimeoutSeconds: null,
    requires: { reason: false, ticket: { required: false, patterns: [] }, sourceNetworks: null, mfa: null },
    assumed: { reason: false, ticket: false, sourceIp: false },
    warnings: [],
    candidates: {},
    notCandidates: {},
  };

  const original = new Map(config.policies.map((p) => [p.name, p]));
  for (const e of entitlements) {
    const others = config.policies
      .filter((p) => p.entitlements.includes(e))
      .map((p) => ({ policy: p.name, why: whyNotCandidate(p, principal, known, input) }))
      .filter((x): x is { policy: string; why: string } => x.why !== undefined);
    if (others.length) result.notCandidates[e] = others;
  }

  if (entitlements.length === 0) {
    return { ...result, code: 'HG_INVALID_INPUT', message: 'no entitlement given' };
  }
  const startProblem = input.startAt !== undefined ? startAtProblem(input.startAt, input.at) : undefined;
  if (startProblem) return { ...result, code: 'HG_INVALID_INPUT', message: startProblem };
  const unknown = entitlements.filter((e) => {
    const [target, name, ...rest] = e.split('/');
    return !target || !name || rest.length > 0 || !config.targets[target]?.entitlements[name];
  });
  if (unknown.length) {
    return { ...result, code: 'HG_INVALID_INPUT', message: `unknown entitlement ${unknown.join(', ')} (form: target/role)` };
  }
  if (!known) {
    // Nobody can act as a principal the directory does not know, whatever a policy lists.
    for (const e of entitlements) result.candidates[e] = [];
    return {
      ...result,
      code: 'HG_NOT_ELIGIBLE',
      message: `${principal.id} is not a principal in the configuration, so not eligible for ${entitlements.join(', ')}`,
    };
  }

  // As submission: the manager counts only when the directory knows them (and is not the requester).
  const everyone = [...directory.all()];
  const asked = managerOf(principal);
  const manager = asked !== undefined && everyone.some((p) => p.id === asked) ? asked : undefined;
  result.manager = manager ?? null;

  const verdict = evaluateRequest(relaxed(config.policies, input), {
    requester: principal,
    entitlements,
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    ...(input.ticket !== undefined ? { ticket: input.ticket } : {}),
    ...(input.sourceIp !== undefined ? { sourceIp: input.sourceIp } : {}),
    ...(input.policy !== undefined ? { policyName: input.policy } : {}),
    ...(input.startAt !== undefined ? { startAt: input.startAt } : {}),
    ...(manager !== undefined ? { manager } : {}),
    breakGlass: breakGlassAsked,
    now: input.at,
  });

  // Which policy decides each entitlement (for a refusal: those that would, had the rest passed).
  const chosen: Record<string, Policy> = {};
  if (verdict.ok) {
    for (const [e, p] of Object.entries(verdict.chosen)) chosen[e] = original.get(p.name) ?? p;
  } else {
    for (const [e, verdicts] of Object.entries(verdict.candidates)) {
      const first = verdicts.find((v) => v.reasons.length === 0);
      const p = first ? original.get(first.policy) : undefined;
      if (p) chosen[e] = p;
    }
  }
  result.candidates = Object.fromEntries(
    Object.entries(verdict.candidates).map(([e, verdicts]: [string, CandidateVerdict[]]) => [
      e,
      verdicts.map((v) => ({ policy: v.policy, chosen: chosen[e]?.name === v.policy, reasons: [...v.reasons] })),
    ]),
  );
  result.policies = Object.fromEntries(Object.entries(chosen).map(([e, p]) => [e, p.name]));

  // What the requester must supply: from the chosen policies, or every candidate when refused.
  const relevant = verdict.ok
    ? uniq(Object.values(chosen))
    : uniq(Object.values(verdict.candidates).flatMap((vs) => vs.map((v) => original.get(v.policy)).filter((p): p is Policy => p !== undefined)));
  const networks = relevant.flatMap((p) => (p.when?.sourceNetworks ? [p.when.sourceNetworks] : []));
  result.requires = {
    reason: relevant.some((p) => p.reason === 'required'),
    ticket: { required: relevant.some((p) => p.ticket.required), patterns: uniq(relevant.flatMap((p) => (p.ticket.pattern ? [p.ticket.pattern] : []))) },
    sourceNetworks: networks.length ? uniq(networks.flat()) : null,
    mfa: mfaRequirements(relevant),
  };
  result.assumed = {
    reason: input.reason === undefined && result.requires.reason,
    ticket: input.ticket === undefined && result.requires.ticket.required,
    sourceIp: input.sourceIp === undefined && result.requires.sourceNetworks !== null,
  };

  if (!verdict.ok) {
    return { ...result, code: verdict.code, message: verdict.message };
  }

  const policies = uniq(Object.values(chosen));
  const terms = policies.map((p) => termsOf(p, manager));
  const breakGlass = terms.some((t) => t.breakGlass);
  const waits = !breakGlass && needsApproval(terms);
  const others = everyone.filter((p) => p.id !== principal.id);
  const matching = (set: ApproverSet) => others.filter((p) => subjectMatches(set, p) || (set.manager === true && p.id === manager)).map((p) => p.id);

  result.policy = policies.map((p) => p.name).join(',');
  result.durationSeconds = Math.round(verdict.durationMs / 1000);
  result.breakGlass = breakGlass;
  result.selfService = !waits;
  if (waits) {
    result.approvals = policies
      .filter((p) => p.approval.required > 0)
      .map((p) => ({
        policy: p.name,
        required: p.approval.required,
        approvers: subjectsJson(p.approval.approvers),
        eligibleApprovers: matching(p.approval.approvers),
      }));
    result.pendingTimeoutSeconds = Math.round(Math.min(...policies.map((p) => p.pendingTimeout)) / 1000);
    for (const a of result.approvals) {
      if (a.eligibleApprovers.length < a.required) {
        result.warnings.push(
          `policy ${a.policy} needs ${a.required} approval(s) but only ${a.eligibleApprovers.length} principal(s) other than ${principal.id} can give them: the request could never be approved`,
        );
      }
    }
  }
  if (breakGlass) {
    result.reviews = policies.flatMap((p) =>
      p.review
        ? [
            {
              policy: p.name,
              withinSeconds: Math.round(p.review.within / 1000),
              reviewers: subjectsJson(p.review.approvers),
              eligibleReviewers: matching(p.review.approvers),
            },
          ]
        : [],
    );
    for (const r of result.reviews) {
      if (r.eligibleReviewers.length === 0) result.warnings.push(`policy ${r.policy}: nobody other than ${principal.id} can review this break-glass grant`);
    }
  }

  // Emergency controls, checked after the policy decision as submission does.
  if (input.locks?.principal) {
    return { ...result, allowed: false, code: 'HG_PRINCIPAL_LOCKED', message: `${principal.id} is locked by an administrator` };
  }
  const frozen = uniq(entitlements.map((e) => e.split('/')[0]!)).filter((t) => input.locks?.frozenTargets?.includes(t));
  if (frozen.length) {
    return { ...result, allowed: false, code: 'HG_TARGET_FROZEN', message: `target ${frozen.join(', ')} is frozen` };
  }
  return { ...result, allowed: true };
}
