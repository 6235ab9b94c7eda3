/**
 * Listing (RFC 7644 3.4.2): the query parameters, the ListResponse envelope, and attribute projection
 * (`attributes` / `excludedAttributes`, 3.4.2.5).
 */
import { byLowerName, isObject, type ScimJson } from './resources.js';
import { badRequest } from './scim-error.js';

export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const DEFAULT_COUNT = 100;
/** Advertised as filter.maxResults in the ServiceProviderConfig. */
export const MAX_COUNT = 200;
const MAX_ATTRIBUTE_NAMES = 50;

export interface ListQuery {
  /** The filter text; compile it with compileFilter for the resource type. */
  filter?: string;
  /** 1-based. */
  startIndex: number;
  count: number;
  attributes?: string[];
  excludedAttributes?: string[];
}

function single(query: Map<string, unknown>, name: string): string | undefined {
  const v = query.get(name.toLowerCase());
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest('invalidValue', `${name} must be given once.`);
  return v;
}

function integer(query: Map<string, unknown>, name: string): number | undefined {
  const v = single(query, name);
  if (v === undefined || v.trim() === '') return undefined;
  if (!/^\s*[-+]?\d{1,15}\s*$/.test(v)) throw badRequest('invalidValue', `${name} must be an integer.`);
  return Number(v);
}

function names(query: Map<string, unknown>, name: string): string[] | undefined {
  const v = single(query, name);
  if (v === undefined) return undefined;
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length > MAX_ATTRIBUTE_NAMES || list.some((s) => s.length > 300)) throw badRequest('invalidValue', `${name} lists too many or too long names.`);
  return list.length === 0 ? undefined : list;
}

/**
 * Parameter names are matched case-insensitively; a parameter given twice is refused. startIndex
 * below 1 is 1 and a negative count is 0 (RFC 7644 3.4.2.4); count is capped at MAX_COUNT.
 */
export function parseListQuery(query: Record<string, unknown>): ListQuery {
  const q = byLowerName(query, 'The query');
  const startIndex = Math.max(1, integer(q, 'startIndex') ?? 1);
  const count = Math.min(MAX_COUNT, Math.max(0, integer(q, 'count') ?? DEFAULT_COUNT));
  const out: ListQuery = { startIndex, count };
  const filter = single(q, 'filter');
  if (filter !== undefined && filter.trim() !== '') out.filter = filter;
  const attributes = names(q, 'attributes');
  if (attributes) out.attributes = attributes;
  const excluded = names(q, 'excludedAttributes');
  if (excluded) out.excludedAttributes = excluded;
  return out;
}

export interface ListResponse<T> {
  schemas: [typeof LIST_RESPONSE_SCHEMA];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

/** Okta requires the numbers as integers, not strings. */
export function listResponse<T>(resources: T[], totalResults: number, startIndex: number): ListResponse<T> {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}

// ---- projection -------------------------------------------------------------------------------

/** RFC 7644 3.4.2.5: these are returned whatever the request asks. */
const ALWAYS = new Set(['id', 'schemas', 'meta']);

/** A requested name: `attr`, `attr.sub`, or either under a schema URN; `ext` is the extension's key. */
interface Selector {
  ext?: string;
  attr?: string;
  sub?: string;
}

function selector(name: string, resource: ScimJson): Selector | undefined {
  let rest = name;
  let ext: string | undefined;
  if (/^urn:/i.test(name)) {
    // An extension's attributes sit under its URN as a key; the core schema's at the top level.
    const extensions = Object.keys(resource).filter((k) => /^urn:/i.test(k));
    const listed = Array.isArray(resource.schemas) ? resource.schemas.filter((s): s is string => typeof s === 'string') : [];
    const candidates = [...extensions.map((urn) => ({ urn, ext: urn })), ...listed.map((urn) => ({ urn, ext: undefined }))];
    const lower = name.toLowerCase();
    const hit = candidates
      .sort((a, b) => b.urn.length - a.urn.length)
      .find(({ urn }) => lower === urn.toLowerCase() || lower.startsWith(`${urn.toLowerCase()}:`));
    if (hit === undefined) return undefined;
    rest = name.slice(hit.urn.length + 1);
    if (rest === '') return hit.ext === undefined ? undefined : { ext: hit.ext };
    ext = hit.ext;
  }
  const [attr, sub, more] = rest.toLowerCase().split('.');
  if (attr === undefined || attr === '' || more !== undefined) return undefined;
  return { ...(ext === undefined ? {} : { ext }), attr, ...(sub === undefined ? {} : { sub }) };
}

type Doc = Record<string, unknown>;

function subset(value: unknown, subs: Set<string>, keep: boolean): unknown {
  const one = (o: unknown) => (isObject(o) ? Object.fromEntries(Object.entries(o).filter(([k]) => subs.has(k.toLowerCase()) === keep)) : o);
  return Array.isArray(value) ? value.map(one) : one(value);
}

/** The container's attributes the selectors name (keep) or do not name (drop). */
function filterContainer(container: Doc, selectors: Selector[], keep: boolean, isTop: boolean): Doc {
  const out: Doc = {};
  for (const [key, value] of Object.entries(container)) {
    const lower = key.toLowerCase();
    if (isTop && (ALWAYS.has(lower) || /^urn:/i.test(key))) continue;
    const mine = selectors.filter((s) => s.attr === lower);
    const whole = mine.some((s) => s.sub === undefined);
    if (whole) {
      if (keep) out[key] = value;
    } else if (mine.length > 0) {
      out[key] = subset(value, new Set(mine.map((s) => s.sub!)), keep);
    } else if (!keep) {
      out[key] = value;
    }
  }
  return out;
}

/** Returns the resource with only the `attributes` asked for, or without the `excludedAttributes`. */
export function project(resource: ScimJson, attributes?: string[], excludedAttributes?: string[]): ScimJson {
  const keep = attributes !== undefined && attributes.length > 0;
  const requested = keep ? attributes : excludedAttributes;
  if (requested === undefined || requested.length === 0) return resource;
  const selectors = requested.map((n) => selector(n, resource)).filter((s): s is Selector => s !== undefined);
  const top = filterContainer(
    resource,
    selectors.filter((s) => s.ext === undefined),
    keep,
    true,
  );
  const out: Doc = {};
  for (const [key, value] of Object.entries(resource)) {
    if (ALWAYS.has(key.toLowerCase())) out[key] = value;
    else if (key in top) out[key] = top[key];
    else if (/^urn:/i.test(key) && isObject(value)) {
      const mine = selectors.filter((s) => s.ext === key);
      if (mine.some((s) => s.attr === undefined)) {
        if (keep) out[key] = value;
        continue;
      }
      const inner = filterContainer(value, mine, keep, false);
      if (Object.keys(inner).length > 0) out[key] = inner;
    }
  }
  return out;
}
