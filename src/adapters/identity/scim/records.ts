/**
 * Between the store's principals and groups and SCIM's Users and Groups. A User's SCIM id is its
 * principal id (the lower-cased userName it was created with), so policies, grants and the audit
 * log name people the way SCIM does; the id never changes, even when the userName does.
 */
import { definedEntry } from '../../../core/defined.js';
import type { GroupRecord } from '../../../app/identity/ports.js';
import type { StoredPrincipal } from '../../../app/ports.js';
import type { GroupInput, ScimGroupRecord, ScimUserRecord, UserInput } from './resources.js';

/** What a principal keeps of a SCIM User beyond the columns every source fills. */
interface ScimAttributes {
  name?: UserInput['name'];
  emails?: UserInput['emails'];
  title?: string;
  department?: string;
  employeeNumber?: string;
}

export function userRecord(p: StoredPrincipal, groups: readonly GroupRecord[]): ScimUserRecord {
  const a = (p.attributes ?? {}) as ScimAttributes;
  return {
    id: p.id,
    ...definedEntry('externalId', p.externalId),
    userName: p.userName ?? p.id,
    ...definedEntry('displayName', p.displayName),
    ...definedEntry('name', a.name),
    emails: a.emails ?? (p.email !== undefined ? [{ value: p.email, primary: true }] : []),
    active: p.active,
    ...definedEntry('title', a.title),
    ...definedEntry('department', a.department),
    ...definedEntry('employeeNumber', a.employeeNumber),
    ...definedEntry('manager', p.manager),
    groups: groups.map((g) => ({ value: g.id, display: g.displayName })),
    created: p.createdAt,
    lastModified: p.updatedAt,
    version: p.version ?? 1,
  };
}

/** The principal a SCIM write leaves: `groups` come from memberships, never from the User. */
export function principalFrom(id: string, input: UserInput, prev: StoredPrincipal | undefined, now: number): StoredPrincipal {
  const email = input.emails.find((e) => e.primary === true)?.value ?? input.emails[0]?.value;
  const attributes: ScimAttributes = {
    ...definedEntry('name', input.name),
    ...(input.emails.length > 0 ? { emails: input.emails } : {}),
    ...definedEntry('title', input.title),
    ...definedEntry('department', input.department),
    ...definedEntry('employeeNumber', input.employeeNumber),
  };
  return {
    id,
    source: 'scim',
    ...definedEntry('externalId', input.externalId),
    userName: input.userName,
    ...definedEntry('displayName', input.displayName),
    ...definedEntry('email', email?.toLowerCase()),
    groups: prev?.groups ?? [],
    ...definedEntry('manager', input.manager),
    active: input.active,
    kind: 'human',
    ...(Object.keys(attributes).length > 0 ? { attributes: attributes as Record<string, unknown> } : {}),
    version: (prev?.version ?? 0) + 1,
    createdAt: prev?.createdAt ?? now,
    updatedAt: now,
  };
}

/** Which attributes a write changed (audited by name, not value); `active` is audited on its own. */
export function changedAttributes(prev: StoredPrincipal, next: StoredPrincipal): string[] {
  const out: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (prev.source !== next.source) out.push('source');
  if ((prev.userName ?? prev.id) !== next.userName) out.push('userName');
  if (prev.externalId !== next.externalId) out.push('externalId');
  if (prev.displayName !== next.displayName) out.push('displayName');
  if (prev.email !== next.email) out.push('email');
  if (prev.manager !== next.manager) out.push('manager');
  const pa = (prev.attributes ?? {}) as ScimAttributes;
  const na = (next.attributes ?? {}) as ScimAttributes;
  for (const k of ['name', 'emails', 'title', 'department', 'employeeNumber'] as const) if (!same(pa[k], na[k])) out.push(k);
  return out;
}

export function groupRecord(g: GroupRecord, members: readonly { value: string; display?: string }[]): ScimGroupRecord {
  return {
    id: g.id,
    ...definedEntry('externalId', g.externalId),
    displayName: g.displayName,
    members: [...members],
    created: g.createdAt,
    lastModified: g.updatedAt,
    version: g.version,
  };
}

export function groupFrom(id: string, input: GroupInput, prev: GroupRecord | undefined, now: number): GroupRecord {
  return {
    id,
    ...definedEntry('externalId', input.externalId),
    displayName: input.displayName,
    createdAt: prev?.createdAt ?? now,
    updatedAt: now,
    version: (prev?.version ?? 0) + 1,
  };
}
