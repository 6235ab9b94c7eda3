/**
 * The stored shape of SCIM Users and Groups, their JSON representation (RFC 7643 4.1, 4.2, 4.3) and the
 * validation that turns a POST or PUT body, or a PATCHed representation, back into fields to store.
 * Attribute names are matched case-insensitively (RFC 7643 2.1); attributes we do not keep are ignored,
 * read-only ones (id, meta, groups) too (RFC 7644 3.3), so a PUT may echo back what a GET returned.
 */
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, toBoolean, USER_SCHEMA, type ResourceType } from './schema.js';
import { badRequest } from './scim-error.js';

export interface ScimUserRecord {
  id: string;
  externalId?: string;
  userName: string;
  displayName?: string;
  name?: { givenName?: string; familyName?: string; formatted?: string };
  emails: { value: string; type?: string; primary?: boolean }[];
  active: boolean;
  title?: string;
  department?: string;
  employeeNumber?: string;
  /** The manager's SCIM id. */
  manager?: string;
  /** Read-only, filled by the caller from group memberships. */
  groups: { value: string; display: string }[];
  created: number;
  lastModified: number;
  version: number;
}

export interface ScimGroupRecord {
  id: string;
  externalId?: string;
  displayName: string;
  members: { value: string; display?: string }[];
  created: number;
  lastModified: number;
  version: number;
}

export type UserInput = Omit<ScimUserRecord, 'id' | 'groups' | 'created' | 'lastModified' | 'version'>;
export type GroupInput = Omit<ScimGroupRecord, 'id' | 'created' | 'lastModified' | 'version'>;

/** A resource as SCIM JSON. */
export type ScimJson = Record<string, unknown>;

export const MAX_NAME_LENGTH = 256;
export const MAX_EMAILS = 20;
export const MAX_MEMBERS = 10_000;

/**
 * Schemas a client may list that we accept and ignore: Entra ID's group create names its own
 * ("Group creation requests contain an invalid schema URI" in its SCIM compliance notes).
 */
const IGNORED_SCHEMAS = ['http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'];

const trimSlash = (baseUrl: string) => baseUrl.replace(/\/+$/, '');
const iso = (ms: number) => new Date(ms).toISOString();

function meta(resourceType: ResourceType, r: { id: string; created: number; lastModified: number; version: number }, baseUrl: string) {
  return {
    resourceType,
    created: iso(r.created),
    lastModified: iso(r.lastModified),
    location: `${trimSlash(baseUrl)}/${resourceType}s/${encodeURIComponent(r.id)}`,
    version: etagOf(r.version),
  };
}

/** Copies the defined entries only: Entra ID asks that absent values be left out, not sent as null. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function userToJson(u: ScimUserRecord, baseUrl: string): ScimJson {
  const base = trimSlash(baseUrl);
  const enterprise = defined({
    employeeNumber: u.employeeNumber,
    department: u.department,
    manager: u.manager === undefined ? undefined : { value: u.manager, $ref: `${base}/Users/${encodeURIComponent(u.manager)}` },
  });
  const hasEnterprise = Object.keys(enterprise).length > 0;
  const name = u.name === undefined ? {} : defined(u.name);
  return {
    schemas: hasEnterprise ? [USER_SCHEMA, ENTERPRISE_USER_SCHEMA] : [USER_SCHEMA],
    id: u.id,
    ...defined({ externalId: u.externalId }),
    userName: u.userName,
    ...defined({ displayName: u.displayName }),
    ...(Object.keys(name).length > 0 ? { name } : {}),
    ...defined({ title: u.title }),
    active: u.active,
    ...(u.emails.length > 0 ? { emails: u.emails.map((e) => defined(e)) } : {}),
    ...(u.groups.length > 0
      ? { groups: u.groups.map((g) => ({ value: g.value, $ref: `${base}/Groups/${encodeURIComponent(g.value)}`, display: g.display })) }
      : {}),
    ...(hasEnterprise ? { [ENTERPRISE_USER_SCHEMA]: enterprise } : {}),
    meta: meta('User', u, baseUrl),
  };
}

export function groupToJson(g: ScimGroupRecord, baseUrl: string): ScimJson {
  const base = trimSlash(baseUrl);
  return {
    schemas: [GROUP_SCHEMA],
    id: g.id,
    ...defined({ externalId: g.externalId }),
    displayName: g.displayName,
    members: g.members.map((m) => ({ value: m.value, $ref: `${base}/Users/${encodeURIComponent(m.value)}`, ...defined({ display: m.display }) })),
    meta: meta('Group', g, baseUrl),
  };
}

// ---- validation -------------------------------------------------------------------------------

const invalidValue = (detail: string) => badRequest('invalidValue', detail);
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object's members by lower-cased name; names that differ only in case are ambiguous and refused. */
export function byLowerName(o: Record<string, unknown>, where: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(o)) {
    const key = k.toLowerCase();
    if (out.has(key)) throw badRequest('invalidSyntax', `${where} names the attribute ${JSON.stringify(k)} twice.`);
    out.set(key, v);
  }
  return out;
}

/** A body's attributes, after checking its `schemas` lists the core schema and only schemas we know. */
function body(json: unknown, type: ResourceType): Map<string, unknown> {
  if (!isObject(json)) throw badRequest('invalidSyntax', `The ${type} must be a JSON object.`);
  const attrs = byLowerName(json, `The ${type}`);
  const schemas = attrs.get('schemas');
  if (!Array.isArray(schemas) || !schemas.every((s) => typeof s === 'string')) {
    throw badRequest('invalidSyntax', `The ${type} must list its schemas.`);
  }
  const core = type === 'User' ? USER_SCHEMA : GROUP_SCHEMA;
  const known = [core, ...(type === 'User' ? [ENTERPRISE_USER_SCHEMA] : []), ...IGNORED_SCHEMAS].map((s) => s.toLowerCase());
  const lower = schemas.map((s: string) => s.toLowerCase());
  if (!lower.includes(core.toLowerCase())) throw invalidValue(`The schemas of a ${type} must include ${core}.`);
  const unknown = schemas.find((_, i) => !known.includes(lower[i]!));
  if (unknown !== undefined) throw invalidValue(`The schema ${JSON.stringify(unknown.slice(0, 200))} is not supported.`);
  return attrs;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** An optional string attribute; null means unassigned (RFC 7643 2.5). */
function optionalString(v: unknown, name: string, max = MAX_NAME_LENGTH): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidValue(`${name} must be a string.`);
  if (v.length > max) throw invalidValue(`${name} is longer than ${max} characters.`);
  if (CONTROL.test(v)) throw invalidValue(`${name} contains control characters.`);
  return v;
}

function requiredString(v: unknown, name: string): string {
  const s = optionalString(v, name);
  if (s === undefined || s.trim() === '') throw invalidValue(`${name} is required.`);
  return s;
}

function optionalBoolean(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  const b = toBoolean(v);
  if (b === undefined) throw invalidValue(`${name} must be true or false.`);
  return b;
}

function list(v: unknown, name: string, max: number): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidValue(`${name} must be a list.`);
  if (v.length > max) throw invalidValue(`${name} has more than ${max} values.`);
  return v;
}

function element(v: unknown, name: string): Map<string, unknown> {
  if (!isObject(v)) throw invalidValue(`Each of ${name} must be an object.`);
  return byLowerName(v, name);
}

// Deliberately loose (one @, no spaces): the address is a label here, never a login or a mail target.
const EMAIL = /^[^\s@]+@[^\s@]+$/;

function emails(v: unknown): UserInput['emails'] {
  const out = list(v, 'emails', MAX_EMAILS).map((item) => {
    const e = element(item, 'emails');
    const value = requiredString(e.get('value'), 'emails.value');
    if (value.length > 254 || !EMAIL.test(value)) throw invalidValue('emails.value must be an email address.');
    return defined({ value, type: optionalString(e.get('type'), 'emails.type', 64), primary: optionalBoolean(e.get('primary'), 'emails.primary') }) as {
      value: string;
      type?: string;
      primary?: boolean;
    };
  });
  if (out.filter((e) => e.primary === true).length > 1) throw invalidValue('At most one of emails may be primary.');
  return out;
}

/** Entra ID sends the manager as a bare id in PATCH; the representation holds `{ value }`. */
function manager(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return optionalString(v, 'manager');
  if (!isObject(v)) throw invalidValue('manager must be an object with a value.');
  const value = optionalString(byLowerName(v, 'manager').get('value'), 'manager.value');
  return value === '' ? undefined : value;
}

/** Validates a User from a POST or PUT body, or from a PATCHed representation. */
export function userInput(json: unknown): UserInput {
  const attrs = body(json, 'User');
  const nameValue = attrs.get('name');
  if (nameValue !== undefined && nameValue !== null && !isObject(nameValue)) throw invalidValue('name must be an object.');
  const nameAttrs = isObject(nameValue) ? byLowerName(nameValue, 'name') : new Map<string, unknown>();
  const name = defined({
    givenName: optionalString(nameAttrs.get('givenname'), 'name.givenName'),
    familyName: optionalString(nameAttrs.get('familyname'), 'name.familyName'),
    formatted: optionalString(nameAttrs.get('formatted'), 'name.formatted'),
  });
  const extValue = attrs.get(ENTERPRISE_USER_SCHEMA.toLowerCase());
  if (extValue !== undefined && extValue !== null && !isObject(extValue)) throw invalidValue(`${ENTERPRISE_USER_SCHEMA} must be an object.`);
  const ext = isObject(extValue) ? byLowerName(extValue, ENTERPRISE_USER_SCHEMA) : new Map<string, unknown>();
  return {
    ...defined({ externalId: optionalString(attrs.get('externalid'), 'externalId') }),
    userName: requiredString(attrs.get('username'), 'userName'),
    ...defined({ displayName: optionalString(attrs.get('displayname'), 'displayName') }),
    ...(Object.keys(name).length > 0 ? { name } : {}),
    emails: emails(attrs.get('emails')),
    active: optionalBoolean(attrs.get('active'), 'active') ?? true,
    ...defined({
      title: optionalString(attrs.get('title'), 'title'),
      department: optionalString(ext.get('department'), 'department'),
      employeeNumber: optionalString(ext.get('employeenumber'), 'employeeNumber'),
      manager: manager(ext.get('manager')),
    }),
  };
}

/** Validates a Group from a POST or PUT body, or from a PATCHed representation. Members are Users only. */
export function groupInput(json: unknown): GroupInput {
  const attrs = body(json, 'Group');
  const seen = new Set<string>();
  const groupMembers: GroupInput['members'] = [];
  for (const item of list(attrs.get('members'), 'members', MAX_MEMBERS)) {
    const m = element(item, 'members');
    const value = requiredString(m.get('value'), 'members.value');
    const type = optionalString(m.get('type'), 'members.type', 64);
    if (type !== undefined && type.toLowerCase() !== 'user') throw invalidValue('Only Users can be members of a Group.');
    if (seen.has(value)) continue;
    seen.add(value);
    groupMembers.push(defined({ value, display: optionalString(m.get('display'), 'members.display') }) as { value: string; display?: string });
  }
  return {
    ...defined({ externalId: optionalString(attrs.get('externalid'), 'externalId') }),
    displayName: requiredString(attrs.get('displayname'), 'displayName'),
    members: groupMembers,
  };
}

// ---- versions ---------------------------------------------------------------------------------

/** The weak entity tag of a version (RFC 7644 3.14). */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/**
 * Whether an If-Match header admits the current version, by weak comparison (RFC 9110 8.8.3.2): `*`,
 * or any listed tag whose opaque part equals it. No header means no precondition; a malformed one
 * matches nothing.
 */
export function matchesIfMatch(header: string | undefined, version: number): boolean {
  if (header === undefined) return true;
  const want = `"${version}"`;
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    if (tag === '*') return true;
    const opaque = tag.startsWith('W/') ? tag.slice(2) : tag;
    return /^"[^"]*"$/.test(opaque) && opaque === want;
  });
}
