/** What the Approvals inbox says about a request's context, and its selection (pure: unit-tested). */
import type { RequestJson } from '../api/types.js';

/** One line of "what it gives": a label in words and the value as text. */
export interface GrantLine {
  label: string;
  value: string;
}

/** The settings each kind names, in words (docs/targets/*.md); any other key is shown by its own name. */
const LABELS: Record<string, Record<string, string>> = {
  postgres: { roles: 'Roles' },
  mariadb: { privileges: 'Privileges', roles: 'Roles' },
  redis: { acl: 'ACL rules' },
  ssh: {
    principals: 'Logins (principals)',
    extensions: 'Extensions',
    sourceAddress: 'Only from',
    forceCommand: 'Forced command',
    verifyRequired: 'PIN or touch required',
  },
  token: { claims: 'Claims' },
  webhook: { attributes: 'Attributes' },
};

/** `sourceAddress` → `Source address`. */
export function humanKey(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A setting's value as text: lists joined, mappings as `key=value`, booleans as yes/no. */
export function valueText(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.length ? v.map(valueText).join(', ') : 'none';
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length
      ? entries.map(([k, x]) => `${k}=${Array.isArray(x) || (x && typeof x === 'object') ? JSON.stringify(x) : valueText(x)}`).join(', ')
      : 'none';
  }
  return JSON.stringify(v);
}

/** What an entitlement gives on its target, line by line; none for a kind without settings (`hourglass`). */
export function grantLines(kind: string | null, grants: Record<string, unknown>): GrantLine[] {
  const labels = (kind && LABELS[kind]) || {};
  return Object.entries(grants).map(([key, value]) => ({ label: labels[key] ?? humanKey(key), value: valueText(value) }));
}

/** Whether none, some or all of `ids` are selected: the "select all" box is checked, mixed or clear. */
export function selectionState(selected: ReadonlySet<string>, ids: readonly string[]): 'none' | 'some' | 'all' {
  const n = ids.filter((id) => selected.has(id)).length;
  return n === 0 ? 'none' : n === ids.length ? 'all' : 'some';
}

/** "Select all" flips to all selected, unless all already are: then to none. */
export function toggleAll(selected: ReadonlySet<string>, ids: readonly string[]): Set<string> {
  return selectionState(selected, ids) === 'all' ? new Set() : new Set(ids);
}

export function toggleOne(selected: ReadonlySet<string>, id: string): Set<string> {
  const next = new Set(selected);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return next;
}

/** Only the selected ids still shown: a request decided elsewhere drops out of the selection. */
export function pruneSelection(selected: ReadonlySet<string>, ids: readonly string[]): Set<string> {
  return new Set(ids.filter((id) => selected.has(id)));
}

/** A request as one short phrase: `api/deploy for alice`. */
export function requestLabel(r: Pick<RequestJson, 'entitlements' | 'requester'>): string {
  return `${r.entitlements.join(', ')} for ${r.requester}`;
}

export type Decision = 'approve' | 'deny';

/** One request's result in a bulk decision. */
export interface BulkOutcome {
  id: string;
  label: string;
  ok: boolean;
  /** When not decided: the server's message and code. */
  message?: string;
  code?: string;
}

/** `2 approved, 1 not decided`. */
export function bulkSummary(action: Decision, outcomes: readonly BulkOutcome[]): string {
  const ok = outcomes.filter((o) => o.ok).length;
  const failed = outcomes.length - ok;
  const parts = [`${ok} ${action === 'approve' ? 'approved' : 'denied'}`];
  if (failed) parts.push(`${failed} not decided`);
  return parts.join(', ');
}

/** What an approver reads when a decision needs step-up MFA (HG_MFA_REQUIRED). */
export const MFA_NOTE = 'This decision needs a fresh second factor (step-up MFA) before the server accepts it.';
