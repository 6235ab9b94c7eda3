/**
 * The Audit page's pure logic (unit-tested): the filters as the URL and the API write them, each
 * event's details in a short readable line (per type family; a type the UI does not know shows
 * its JSON), a request's steps in words, and what the chain status and a checkpoint mean.
 */
import type { z } from 'zod';
import type { auditEventResponse, checkpointResponse, headResponse, verifyResponse } from '../../../src/http/responses.js';
import { formatDuration, localTime } from './time.js';

export type AuditEventJson = z.infer<typeof auditEventResponse>;
export type VerifyJson = z.infer<typeof verifyResponse>;
export type HeadJson = z.infer<typeof headResponse>;
export type CheckpointJson = z.infer<typeof checkpointResponse>;

// ---- filters ------------------------------------------------------------------------------------

/** What GET /v1/audit filters by; '' is "any". `since` and `until` are ISO instants (the same for every viewer). */
export interface AuditFilter {
  actor: string;
  requestId: string;
  type: string;
  since: string;
  until: string;
}

export const NO_FILTER: AuditFilter = { actor: '', requestId: '', type: '', since: '', until: '' };
const FILTER_KEYS = ['actor', 'requestId', 'type', 'since', 'until'] as const;

/** The page's state as the URL carries it: the filters, and the request whose story is open. */
export interface AuditView {
  filter: AuditFilter;
  story: string;
}

export function viewFromSearch(search: string): AuditView {
  const q = new URLSearchParams(search);
  const filter = { ...NO_FILTER };
  for (const k of FILTER_KEYS) filter[k] = (q.get(k) ?? '').trim();
  return { filter, story: (q.get('story') ?? '').trim() };
}

/** `?type=grant.*&story=req_1`, or '' for the unfiltered log; keys in a fixed order, empty ones left out. */
export function searchOf(view: AuditView): string {
  const q = filterParams(view.filter);
  if (view.story) q.set('story', view.story);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function filterParams(f: AuditFilter): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k].trim()) q.set(k, f[k].trim());
  return q;
}

/** The query of GET /v1/audit (a page of `limit` after `cursor`). */
export function listQuery(f: AuditFilter, limit: number, cursor?: string): string {
  const q = filterParams(f);
  q.set('limit', String(limit));
  if (cursor) q.set('cursor', cursor);
  return `?${q.toString()}`;
}

/** GET /v1/audit/export with the same filters (every matching event, no limit). */
export function exportPath(f: AuditFilter, format: 'csv' | 'jsonl'): string {
  const q = filterParams(f);
  q.set('format', format);
  return `/v1/audit/export?${q.toString()}`;
}

export const isFiltered = (f: AuditFilter): boolean => FILTER_KEYS.some((k) => f[k].trim() !== '');

/** `type grant.*, by alice, from 5 Jan 2026, 10:00 CET`: the table's caption says what it shows. */
export function filterText(f: AuditFilter, locale?: string, timeZone?: string): string {
  const parts: string[] = [];
  if (f.type) parts.push(`type ${f.type}`);
  if (f.actor) parts.push(`by ${f.actor}`);
  if (f.requestId) parts.push(`request ${f.requestId}`);
  const t = (iso: string) => (Number.isNaN(Date.parse(iso)) ? iso : localTime(Date.parse(iso), locale, timeZone));
  if (f.since) parts.push(`from ${t(f.since)}`);
  if (f.until) parts.push(`until ${t(f.until)}`);
  return parts.length ? parts.join(', ') : 'all events';
}

/**
 * An instant as a datetime-local value in the viewer's zone, to the second (audit times are
 * precise), without `:00` seconds as browsers write it; '' for no instant.
 */
export function localInputOf(iso: string): string {
  const ms = Date.parse(iso);
  if (!iso || Number.isNaN(ms)) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}${d.getSeconds() ? `:${p(d.getSeconds())}` : ''}`;
}

/** A problem with the filters the UI can see itself (the server judges the rest); undefined when none. */
export function filterProblem(f: AuditFilter): string | undefined {
  if (f.since && f.until && Date.parse(f.since) > Date.parse(f.until)) return 'The end of the time range is before its start.';
  if (f.type.includes('*') && !/^[^*]*\*$/.test(f.type)) return 'A type prefix has one * at its end, as in grant.*.';
  return undefined;
}

/** Suggestions for the type box: each family as a prefix. */
export const TYPE_PREFIXES = [
  'request.*',
  'grant.*',
  'credentials.*',
  'decision.*',
  'breakglass.*',
  'alert.*',
  'reminder.*',
  'drift.*',
  'auth.*',
  'mfa.*',
  'principal.*',
  'group.*',
  'token.*',
  'target.*',
  'config.*',
  'server.*',
  'webhook.*',
] as const;

// ---- events in words -----------------------------------------------------------------------------

type Details = Record<string, unknown>;
export interface Fmt {
  locale?: string;
  timeZone?: string;
}

const isObj = (v: unknown): v is Details => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const list = (v: unknown): string | undefined =>
  Array.isArray(v) && v.length ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ') : str(v);
const quoted = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? `“${v}”` : undefined);
const dur = (v: unknown): string | undefined => (typeof v === 'number' ? formatDuration(v) : undefined);
const when = (v: unknown, fmt: Fmt): string | undefined =>
  typeof v === 'number'
    ? localTime(v, fmt.locale, fmt.timeZone)
    : typeof v === 'string' && !Number.isNaN(Date.parse(v))
      ? localTime(Date.parse(v), fmt.locale, fmt.timeZone)
      : undefined;
const short = (hash: unknown): string | undefined => (typeof hash === 'string' && hash ? shortHash(hash) : undefined);
const join = (...parts: (string | undefined | false)[]) => parts.filter((p): p is string => typeof p === 'string' && p !== '').join('; ');
const labelled = (label: string, v: string | undefined) => (v ? `${label} ${v}` : undefined);

/** The first 12 hex digits, enough to tell hashes apart on screen (the full one is a click away). */
export const shortHash = (hash: string): string => (hash.length > 12 ? `${hash.slice(0, 12)}…` : hash);

/** Fields that name things by handle only or repeat the event's own columns: left out of generic lines. */
const NOISE = new Set(['call', 'requestId', 'challenge', 'session', 'factor', 'sourceIp']);
/** Details fields that hold an instant in epoch ms (or ISO). */
const TIMES = new Set(['at', 'since', 'startAt', 'expiresAt', 'reviewDueAt', 'validAfter', 'validBefore', 'issuedAt']);

/** `key value; key value` for families whose details are flat facts (identity, drift, ...). */
function generic(d: Details, fmt: Fmt): string {
  return join(
    ...Object.entries(d)
      .filter(([k, v]) => !NOISE.has(k) && v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0))
      .map(([k, v]) => {
        const text = TIMES.has(k)
          ? when(v, fmt)
          : k.endsWith('Ms')
            ? dur(v)
            : typeof v === 'boolean'
              ? v
                ? 'yes'
                : 'no'
              : isObj(v)
                ? JSON.stringify(v)
                : list(v);
        return labelled(k, text);
      }),
  );
}

type Summary = (d: Details, fmt: Fmt) => string;

/** The policy per entitlement (`{"db/read": "eng-db"}`) as the policy names, each once. */
const policiesText = (v: unknown): string | undefined => (isObj(v) ? list([...new Set(Object.values(v).map(String))]) : list(v));

const comment: Summary = (d) => quoted(d.comment) ?? 'no comment';

/** The lifecycle of requests and grants, the stories auditors read most: each type in its own words. */
const LIFECYCLE: Record<string, Summary> = {
  'request.submitted': (d, f) =>
    join(
      [list(d.entitlements), labelled('for', dur(d.durationMs))].filter(Boolean).join(' '),
      labelled('starting', when(d.startAt, f)),
      quoted(d.reason),
      labelled('ticket', str(d.ticket)),
      labelled('policy', policiesText(d.policies)),
      d.breakGlass === true && 'break-glass',
      labelled('manager', str(d.manager)),
    ),
  'request.refused': (d) => join(list(d.entitlements), labelled('refused:', str(d.code))),
  'request.approved': (d) => join(labelled('approval', str(d.count)), labelled('toward policy', list(d.for)), quoted(d.comment)),
  'request.denied': comment,
  'request.scheduled': (d, f) => labelled('starts', when(d.startAt, f)) ?? '',
  'request.cancelled': (d) => quoted(d.reason) ?? 'no reason given',
  'request.expired': (d) => str(d.reason) ?? 'pending timeout',
  'request.failed': (d) => str(d.error) ?? '',
  'grant.provisioning': (d, f) => join(list(d.entitlements), labelled('until', when(d.expiresAt, f))),
  'grant.activated': (d, f) => join(list(d.entitlements), labelled('until', when(d.expiresAt, f))),
  'grant.extension_requested': (d) => join(labelled('by', dur(d.durationMs)), quoted(d.reason)),
  'grant.extension_approved': (d) => join(labelled('approval', str(d.count)), quoted(d.comment)),
  'grant.extension_denied': (d) => join(labelled('by', dur(d.durationMs)), quoted(d.comment)),
  'grant.extended': (d, f) => join(labelled('by', dur(d.durationMs)), labelled('until', when(d.expiresAt, f)), quoted(d.reason)),
  'grant.extended_on_target': (d, f) => labelled('target told the new end', when(d.expiresAt, f)) ?? '',
  'grant.expired': () => 'time ran out',
  'grant.revoked': (d) => quoted(d.reason) ?? 'no reason given',
  'grant.released': (d) => quoted(d.reason) ?? 'given back',
  'grant.access_removed': () => 'access confirmed removed from the targets',
  'credentials.retrieved': (d) => labelled('targets', list(d.targets)) ?? '',
  'credentials.issued': (d, f) =>
    join(
      [str(d.entitlement), labelled('on', str(d.target))].filter(Boolean).join(' '),
      labelled('serial', str(d.serial)),
      labelled('principals', list(d.principals)),
      labelled('audience', list(d.audience)),
      labelled('valid until', when(d.validBefore ?? d.expiresAt, f)),
    ),
  'breakglass.reviewed': comment,
  'decision.refused': (d) => [str(d.message), str(d.code) && `(${str(d.code)})`].filter(Boolean).join(' '),
};

const ADMINISTRATION: Record<string, Summary> = {
  'principal.locked': (d) => join(str(d.principal), quoted(d.reason)),
  'principal.unlocked': (d) => join(str(d.principal), quoted(d.reason)),
  'target.frozen': (d) => join(str(d.target), quoted(d.reason)),
  'target.unfrozen': (d) => join(str(d.target), quoted(d.reason)),
  'config.reloaded': (d) => `policy ${short(d.previousPolicyHash) ?? 'none'} → ${short(d.policyHash) ?? 'none'}`,
  'webhook.redelivery_requested': (d) =>
    join(labelled('to', str(d.webhook)), str(d.eventType) && `${str(d.eventType)}${d.eventSeq != null ? ` #${String(d.eventSeq)}` : ''}`),
};

const ALERTS: Record<string, Summary> = {
  'alert.break_glass_used': (d, f) => join(list(d.entitlements), quoted(d.reason), labelled('review due', when(d.reviewDueAt, f))),
  'alert.review_overdue': (d, f) => labelled('review was due', when(d.reviewDueAt, f)) ?? '',
  'alert.revocation_overdue': (d, f) => join(labelled('removal started', when(d.since, f)), labelled('attempts', str(d.attempts)), str(d.error)),
  'alert.audit_chain_broken': (d) => join(labelled('check', str(d.check)), str(d.problem), labelled('first bad seq', str(d.firstBadSeq))),
};

/** Families the UI knows; their types without a line of their own get the generic one. */
const FAMILIES = new Set([
  'request',
  'grant',
  'credentials',
  'breakglass',
  'decision',
  'principal',
  'target',
  'config',
  'server',
  'webhook',
  'auth',
  'token',
  'group',
  'mfa',
  'alert',
  'reminder',
  'drift',
]);

/**
 * One line saying what an event's details hold: per type for the lifecycle, administration and
 * alerts; `key value` pairs for the other known families; the JSON itself for a type the UI does
 * not know (new types may come with any release).
 */
export function summarize(e: Pick<AuditEventJson, 'type' | 'details'>, fmt: Fmt = {}): string {
  const d = e.details;
  const family = e.type.split('.')[0] ?? '';
  if (!FAMILIES.has(family)) return d === null || d === undefined ? '' : JSON.stringify(d);
  if (!isObj(d)) return d === null || d === undefined ? '' : JSON.stringify(d);
  const own = LIFECYCLE[e.type] ?? ADMINISTRATION[e.type] ?? ALERTS[e.type];
  return own ? own(d, fmt) : generic(d, fmt);
}

/** A step of a request's story in words: `Submitted`, `Approved`, `Activated`, ... */
const STEPS: Record<string, string> = {
  'request.submitted': 'Submitted',
  'request.refused': 'Refused',
  'request.approved': 'Approved',
  'request.denied': 'Denied',
  'request.scheduled': 'Scheduled',
  'request.cancelled': 'Cancelled',
  'request.expired': 'Timed out waiting for approval',
  'request.failed': 'Failed',
  'grant.provisioning': 'Provisioning',
  'grant.activated': 'Activated',
  'grant.extension_requested': 'Extension requested',
  'grant.extension_approved': 'Extension approved',
  'grant.extension_denied': 'Extension denied',
  'grant.extended': 'Extended',
  'grant.extended_on_target': 'New end set on the target',
  'grant.expired': 'Expired',
  'grant.revoked': 'Revoked',
  'grant.released': 'Released',
  'grant.access_removed': 'Access removed',
  'credentials.retrieved': 'Credentials retrieved',
  'credentials.issued': 'Credential issued',
  'breakglass.reviewed': 'Break-glass reviewed',
  'decision.refused': 'Decision refused',
  'mfa.verified': 'Second factor verified',
  'alert.break_glass_used': 'Alert: break-glass used',
  'alert.review_overdue': 'Alert: review overdue',
  'alert.revocation_overdue': 'Alert: revocation overdue',
  'reminder.pending_timeout': 'Reminder: pending timeout',
  'reminder.grant_expiring': 'Reminder: grant expiring',
};

export function stepLabel(type: string): string {
  const known = STEPS[type];
  if (known) return known;
  const [family = '', rest = ''] = type.split(/\.(.*)/s);
  const words = `${family} ${rest}`.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export type Tone = 'good' | 'bad' | 'alert' | 'ended' | 'plain';

/** How a step is marked on the timeline (with its words too: colour is never the only sign). */
export function toneOf(type: string): Tone {
  if (type.startsWith('alert.')) return 'alert';
  if (['request.approved', 'grant.activated', 'grant.extended', 'grant.extension_approved', 'breakglass.reviewed'].includes(type)) return 'good';
  if (['request.denied', 'request.refused', 'request.failed', 'grant.revoked', 'decision.refused', 'grant.extension_denied'].includes(type)) return 'bad';
  if (['grant.expired', 'request.expired', 'request.cancelled', 'grant.released', 'grant.access_removed'].includes(type)) return 'ended';
  return 'plain';
}

/** The JSON shown when a row is expanded: the event as the API answered it. */
export const rawJson = (e: AuditEventJson): string => JSON.stringify(e, null, 2);

// ---- the chain -------------------------------------------------------------------------------------

/** GET /v1/audit/verify's answer in a sentence. */
export function verifyText(v: VerifyJson): string {
  const n = `${v.count} ${v.count === 1 ? 'event' : 'events'}`;
  if (v.ok) return `The chain is intact: ${n} verified, every link and hash matches${v.head ? `, up to head ${v.head.split(':')[0]}` : ''}.`;
  if (v.firstBadSeq !== undefined) return `The chain is broken at event #${v.firstBadSeq}: ${v.problem ?? 'a link does not match'}. ${n} before it verified.`;
  if (v.unchained > 0) return `${v.problem ?? `${v.unchained} row(s) are outside the chain`}: the server never writes such a row.`;
  return `The chain does not verify: ${v.problem ?? 'unknown problem'}.`;
}

/** Where and when a checkpoint was shipped: `file (5 Jan 2026, 10:05 CET), webhook (...)`; undefined when nowhere yet. */
export function shippedText(shipped: Record<string, string>, fmt: Fmt = {}): string | undefined {
  const entries = Object.entries(shipped).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return undefined;
  return entries.map(([target, at]) => `${target} (${when(at, fmt) ?? at})`).join(', ');
}

/** What the newest checkpoint proves, plainly; it depends on whether a copy has left the database. */
export function checkpointMeaning(cp: CheckpointJson): string {
  const covered = `events 1 to ${cp.seq}`;
  if (!Object.keys(cp.shipped).length) {
    return (
      `Key ${cp.keyId} signed the chain's hash at event #${cp.seq}, but the checkpoint has not been shipped yet: ` +
      `until a copy is outside the database, it proves nothing against someone who can write the database.`
    );
  }
  return (
    `Key ${cp.keyId} signed that the chain's hash at event #${cp.seq} was this one, and a copy left the database. ` +
    `Whoever rewrites ${covered} afterwards, even recomputing every hash, no longer matches that copy, ` +
    `and deleting the newest events leaves the chain shorter than it. It says nothing about events after #${cp.seq} until the next checkpoint.`
  );
}

/** Splits NDJSON as it arrives: the complete lines, and what is left for the next chunk. */
export function takeLines(buffer: string): { lines: string[]; rest: string } {
  const parts = buffer.split('\n');
  const rest = parts.pop() ?? '';
  return { lines: parts.map((l) => l.trim()).filter(Boolean), rest };
}
