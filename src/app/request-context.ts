/**
 * What an approver or reviewer needs to decide a request without rubber-stamping it: what each
 * entitlement gives on its target (the entitlement's non-secret settings), the requester's recent
 * history for the same entitlements, and risk hints. GET /v1/requests/{id}/context.
 *
 * The hint rules are pure (exported for tests); the use case only reads the request, the
 * configuration in force and the requester's earlier requests.
 */
import { HgError } from '../core/errors.js';
import { approvesOrReviews } from '../core/lifecycle.js';
import { windowViolations } from '../core/policy.js';
import { redact } from '../core/redact.js';
import type { AccessRequest, Policy, Principal, TargetConfig, TimeWindow, Weekday } from '../core/types.js';
import type { HourglassConfig } from '../config/types.js';
import type { AppDeps } from './context.js';
import { hasRole } from './directory.js';

/** Usual hours: Monday to Friday, 07:00 to 19:00, in the request's policy time zone (`when.timezone`), else UTC. */
export const USUAL_DAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];
export const USUAL_FROM_MINUTES = 7 * 60;
export const USUAL_TO_MINUTES = 19 * 60;
/** A duration at least this share of the policy's maxDuration is called long. */
export const LONG_DURATION_SHARE = 0.75;
/** The history lists at most this many earlier requests... */
export const HISTORY_SIZE = 5;
/** ...found among at most this many of the requester's latest requests (also the reach of `first_time`). */
export const HISTORY_SCAN = 500;

export type HintCode = 'break_glass' | 'first_time' | 'outside_hours' | 'long_duration';
export const HINT_CODES: readonly HintCode[] = ['break_glass', 'first_time', 'outside_hours', 'long_duration'];

export interface Hint {
  code: HintCode;
  message: string;
  /** The entitlement the hint is about, when it is about one. */
  entitlement?: string;
}

export interface EntitlementContext {
  entitlement: string;
  target: string;
  /** The target's kind (`postgres`, `ssh`, `token`, ...); absent when the target is no longer configured. */
  kind?: string;
  description?: string;
  /** The entitlement's settings without its description, secrets left out (`entitlementGrants`). */
  grants: Record<string, unknown>;
}

export interface RequestContext {
  requestId: string;
  entitlements: EntitlementContext[];
  /** The requester's earlier requests sharing an entitlement with this one, newest first. */
  history: AccessRequest[];
  hints: Hint[];
  usualHours: { days: Weekday[]; from: number; to: number; timezone: string };
}

// ---- secrets ------------------------------------------------------------------------------------

/**
 * Setting names that hold secrets, whatever the kind: every kind's `secretSettings` today
 * (`secret`, `signingKey`, `ca.key`) and the common ones (`tls.key`, a URL's password) match, and
 * so does anything a future kind names the same way. No kind marks an entitlement-level setting
 * secret; an entitlement key with such a name is left out all the same.
 */
const SECRET_NAME = /(secret|password|passphrase|credentials?|token|private[-_]?key|api[-_]?key|signing[-_]?key)$|^key$/i;

/** The string values of a target's settings that are secrets (at a secret name, or a URL's password). */
export function targetSecretValues(target: TargetConfig): string[] {
  const out: string[] = [];
  const walk = (v: unknown, name: string) => {
    if (typeof v === 'string') {
      if (SECRET_NAME.test(name)) out.push(v);
      try {
        const password = /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? decodeURIComponent(new URL(v).password) : '';
        if (password) out.push(password, encodeURIComponent(password));
      } catch {
        // not a URL
      }
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, name));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  for (const [k, v] of Object.entries(target)) if (k !== 'entitlements') walk(v, k);
  return [...new Set(out)].filter((s) => s.length >= 4);
}

/**
 * What an entitlement gives on its target, as the file configures it (roles, privileges,
 * principals, claims, ACL rules, attributes): its settings without `description`, without any
 * key named like a secret, and with any text containing one of the target's secrets redacted.
 */
export function entitlementGrants(target: TargetConfig, name: string): Record<string, unknown> {
  const secrets = targetSecretValues(target);
  const clean = (v: unknown): unknown => {
    if (typeof v === 'string') return secrets.length ? redact(v, secrets) : v;
    if (Array.isArray(v)) return v.map(clean);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !SECRET_NAME.test(k))
          .map(([k, x]) => [k, clean(x)]),
      );
    }
    return v;
  };
  const { description: _description, ...settings } = target.entitlements[name] ?? {};
  return clean(settings) as Record<string, unknown>;
}

// ---- hints --------------------------------------------------------------------------------------

/** The time zone usual hours are judged in: the first of the request's policies with a time window names it; else UTC. */
export function usualHoursZone(req: Pick<AccessRequest, 'terms'>): string {
  return req.terms.find((t) => t.when)?.when?.timezone ?? 'UTC';
}

export function usualWindow(timezone: string): TimeWindow {
  return { days: [...USUAL_DAYS], hours: { from: USUAL_FROM_MINUTES, to: USUAL_TO_MINUTES }, timezone };
}

/** True when `at` is outside Monday-Friday 07:00-19:00 in `timezone`. */
export function outsideUsualHours(at: number, timezone: string): boolean {
  return windowViolations(usualWindow(timezone), at).length > 0;
}

const localText = (at: number, timezone: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);

/**
 * The risk hints of a request, from the request, the requester's earlier requests (any order)
 * and the policies in force (for maxDuration; a policy no longer configured gives no duration hint).
 */
export function riskHints(req: AccessRequest, earlier: readonly AccessRequest[], policies: readonly Policy[]): Hint[] {
  const hints: Hint[] = [];
  if (req.breakGlass) {
    const names = req.terms.filter((t) => t.breakGlass).map((t) => t.name);
    hints.push({
      code: 'break_glass',
      message: `Break-glass request (policy ${names.join(', ')}): it bypasses the usual approval and must be reviewed afterwards.`,
    });
  }
  const before = earlier.filter((r) => r.id !== req.id && r.requester === req.requester && r.requestedAt <= req.requestedAt);
  for (const e of req.entitlements) {
    if (!before.some((r) => r.entitlements.includes(e))) {
      hints.push({ code: 'first_time', entitlement: e, message: `First time ${req.requester} asks for ${e}.` });
    }
  }
  const zone = usualHoursZone(req);
  if (outsideUsualHours(req.requestedAt, zone)) {
    hints.push({
      code: 'outside_hours',
      message: `Requested ${localText(req.requestedAt, zone)} (${zone}), outside usual hours (Mon-Fri 07:00-19:00).`,
    });
  }
  for (const name of new Set(Object.values(req.policies))) {
    const p = policies.find((x) => x.name === name);
    if (p && p.maxDuration > 0 && req.durationMs >= LONG_DURATION_SHARE * p.maxDuration) {
      const pct = Math.round((req.durationMs / p.maxDuration) * 100);
      hints.push({ code: 'long_duration', message: `Asks for ${pct}% of the longest duration policy ${name} allows.` });
    }
  }
  return hints;
}

// ---- the use case -------------------------------------------------------------------------------

/** Who may read a request's context: admins, auditors, and its approvers and reviewers (never its requester as such). */
export function mayReadContext(actor: Principal, req: AccessRequest): boolean {
  if (hasRole(actor, 'admin', 'auditor')) return true;
  if (req.requester === actor.id) return false;
  return approvesOrReviews(req, actor);
}

export function entitlementContexts(config: Pick<HourglassConfig, 'targets'>, entitlements: readonly string[]): EntitlementContext[] {
  return entitlements.map((entitlement) => {
    const slash = entitlement.indexOf('/');
    const target = entitlement.slice(0, slash);
    const name = entitlement.slice(slash + 1);
    const t = config.targets[target];
    const description = t?.entitlements[name]?.description;
    return {
      entitlement,
      target,
      ...(t ? { kind: t.type } : {}),
      ...(typeof description === 'string' ? { description } : {}),
      grants: t?.entitlements[name] ? entitlementGrants(t, name) : {},
    };
  });
}

export async function requestContext(deps: AppDeps, actor: Principal, id: string): Promise<RequestContext> {
  const req = await deps.store.getRequest(id);
  // Like GET /v1/requests/{id}: someone who may not read it learns nothing, not even that it exists.
  if (!req || !mayReadContext(actor, req)) throw new HgError('HG_NOT_FOUND', `no request ${id}`);
  const config = deps.config.current();
  const earlier: AccessRequest[] = [];
  let before: string | undefined;
  while (earlier.length < HISTORY_SCAN) {
    const page = await deps.store.listRequests({ requester: req.requester, limit: 100, ...(before ? { before } : {}) });
    earlier.push(...page);
    if (page.length < 100) break;
    before = page[page.length - 1]!.id;
  }
  const history = earlier
    .filter((r) => r.id !== req.id && r.entitlements.some((e) => req.entitlements.includes(e)))
    .sort((a, b) => b.requestedAt - a.requestedAt)
    .slice(0, HISTORY_SIZE);
  const zone = usualHoursZone(req);
  return {
    requestId: req.id,
    entitlements: entitlementContexts(config, req.entitlements),
    history,
    hints: riskHints(req, earlier, config.policies),
    usualHours: { days: [...USUAL_DAYS], from: USUAL_FROM_MINUTES, to: USUAL_TO_MINUTES, timezone: zone },
  };
}
