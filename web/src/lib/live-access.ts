/**
 * The Live access page's pure logic (unit-tested): which requests are live now, the filters over
 * them, and what the emergency controls do, in words. Who may do what is the server's to decide;
 * the page only hides buttons the caller's roles cannot use.
 */
import type { RequestJson } from '../api/types.js';
import { formatRemaining, relativeTime } from './time.js';

export interface GrantFilter {
  /** Part of the requester's id (any case); empty: anyone. */
  person: string;
  /** A target name; empty: any. */
  target: string;
  /** A whole entitlement (`target/name`); empty: any. */
  entitlement: string;
}

export const NO_FILTER: GrantFilter = { person: '', target: '', entitlement: '' };

export const targetOf = (entitlement: string): string => entitlement.split('/')[0] ?? entitlement;

const ends = (r: RequestJson) => (r.expiresAt ? Date.parse(r.expiresAt) : Infinity);
const starts = (r: RequestJson) => (r.startAt ? Date.parse(r.startAt) : Infinity);

/**
 * Grants active now (not past their end, even before the server's expiry runs) and those
 * scheduled to begin: active ones first, ending soonest first; then scheduled ones by start.
 */
export function liveGrants(requests: readonly RequestJson[], now: number): RequestJson[] {
  const active = requests.filter((r) => r.status === 'active' && ends(r) > now).sort((a, b) => ends(a) - ends(b));
  const scheduled = requests.filter((r) => r.status === 'scheduled').sort((a, b) => starts(a) - starts(b));
  return [...active, ...scheduled];
}

const sortedUnique = (xs: Iterable<string>) => [...new Set(xs)].sort((a, b) => a.localeCompare(b));

/** The people, targets and entitlements the filters can offer, from the rows loaded. */
export function filterOptions(rows: readonly RequestJson[]): { people: string[]; targets: string[]; entitlements: string[] } {
  return {
    people: sortedUnique(rows.map((r) => r.requester)),
    targets: sortedUnique(rows.flatMap((r) => r.entitlements.map(targetOf))),
    entitlements: sortedUnique(rows.flatMap((r) => r.entitlements)),
  };
}

export function matchesFilter(r: RequestJson, f: GrantFilter): boolean {
  const person = f.person.trim().toLowerCase();
  if (person && !r.requester.toLowerCase().includes(person)) return false;
  if (f.target && !r.entitlements.some((e) => targetOf(e) === f.target)) return false;
  if (f.entitlement && !r.entitlements.includes(f.entitlement)) return false;
  return true;
}

export const isFiltered = (f: GrantFilter): boolean => Boolean(f.person.trim() || f.target || f.entitlement);

const grants = (n: number) => `${n} ${n === 1 ? 'grant' : 'grants'}`;

/** `7 grants`, `2 of 7 grants match`, `No grant matches the filters`; says when more are not loaded yet. */
export function countText(shown: number, total: number, filtered: boolean, more: boolean): string {
  const tail = more ? ' (more not loaded yet)' : '';
  if (!filtered) return total === 0 ? `No grant is active or scheduled${tail}` : `${grants(total)} active or scheduled${tail}`;
  if (shown === 0) return `No grant matches the filters${tail}`;
  return `${shown} of ${grants(total)} ${shown === 1 ? 'matches' : 'match'}${tail}`;
}

/** The countdown of a grant: `4m 09s left` while active, `starts in 5 minutes` when scheduled. */
export function timeText(r: RequestJson, now: number): string {
  if (r.status === 'scheduled') return r.startAt ? `starts ${relativeTime(Date.parse(r.startAt), now)}` : 'scheduled';
  const end = ends(r);
  if (end === Infinity) return 'no end set';
  return end > now ? `${formatRemaining(end - now)} left` : 'ending now…';
}

/** Who let it begin: the approvers, or why nobody had to. */
export function approvedByText(r: RequestJson): string {
  if (r.approvals.length) return r.approvals.map((a) => a.by).join(', ');
  if (r.breakGlass) return 'nobody: break-glass, reviewed afterwards';
  return 'nobody: self-service';
}

/** Short words for a grant in a button or a dialog: `alice's access to db/admin`. */
export const grantLabel = (r: RequestJson): string => `${r.requester}'s access to ${r.entitlements.join(', ')}`;

export type LockKind = 'principal' | 'target';

/** What locking a principal or freezing a target does, as docs/api.md says (Emergency controls). */
export function lockEffect(kind: LockKind, subject: string): string {
  return kind === 'principal'
    ? `Locking ${subject} at once revokes every active or scheduled grant of ${subject}, cancels their pending requests, and refuses new requests, approvals and extensions from them until someone unlocks them.`
    : `Freezing ${subject} at once revokes every grant on ${subject}, cancels the pending requests for it, and refuses new ones until someone unfreezes it.`;
}

export interface EmergencyResult {
  locked?: boolean;
  frozen?: boolean;
  changed: boolean;
  revoked: string[];
  cancelled: string[];
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** `alice is locked: 2 grants revoked, 1 pending request cancelled.` */
export function emergencyResultText(action: 'lock' | 'unlock' | 'freeze' | 'unfreeze', subject: string, r: EmergencyResult): string {
  const state = { lock: 'locked', unlock: 'unlocked', freeze: 'frozen', unfreeze: 'unfrozen' }[action];
  if (!r.changed) return `${subject} was already ${state}.`;
  if (action === 'unlock' || action === 'unfreeze') return `${subject} is ${state}.`;
  return `${subject} is ${state}: ${count(r.revoked.length, 'grant', 'grants')} revoked, ${count(r.cancelled.length, 'pending request', 'pending requests')} cancelled.`;
}
