/**
 * SCIM PATCH (RFC 7644 3.5.2) over the JSON representation: returns a new resource, the input is never
 * touched, and any failing operation fails the whole request. Beyond the RFC it takes what Entra ID and
 * Okta really send: op names in any case, "True"/"False" for booleans, path-less values whose keys are
 * paths (`"name.givenName"`, `"urn:...:User:manager"`), a manager given as a bare id, and value paths
 * that name an element not there yet (`emails[type eq "work"].value`), which are created.
 * Attributes we do not keep are skipped, as a POST would skip them; the caller validates the result
 * with userInput/groupInput.
 */
import { compileValueFilter, type ValueFilter } from './filter.js';
import { byLowerName, isObject, type ScimJson } from './resources.js';
import {
  ATTRIBUTE_NAME,
  extensionSchemas,
  findAttribute,
  findSubAttribute,
  splitSchemaUrn,
  toBoolean,
  type AttributeDef,
  type AttributeLocation,
  type ResourceType,
} from './schema.js';
import { badRequest, ScimError } from './scim-error.js';

export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const MAX_OPERATIONS = 1000;
/** Values in one operation, such as the members one add carries. */
export const MAX_VALUES_PER_OPERATION = 1000;
/** Values in the whole PATCH, so that Operations x values stays small. */
export const MAX_VALUES_PER_PATCH = 10_000;
export const MAX_PATH_LENGTH = 1000;

type OpName = 'add' | 'replace' | 'remove';

interface Operation {
  op: OpName;
  path?: string;
  hasValue: boolean;
  value: unknown;
}

type Doc = Record<string, unknown>;

const invalidPath = (detail: string) => badRequest('invalidPath', detail);
const invalidValue = (detail: string) => badRequest('invalidValue', detail);
const shown = (s: string) => JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}...` : s);

export function applyPatch(resource: object, body: unknown, resourceType: ResourceType): ScimJson {
  const operations = readOperations(body);
  const doc = structuredClone(resource) as Doc;
  operations.forEach((operation, i) => {
    try {
      apply(doc, operation, resourceType);
    } catch (e) {
      if (e instanceof ScimError) throw new ScimError(e.status, e.scimType, `Operations[${i}]: ${e.detail}`);
      throw e;
    }
  });
  tidy(doc, resourceType);
  return doc;
}

function readOperations(body: unknown): Operation[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'The PATCH body must be a JSON object.');
  const attrs = byLowerName(body, 'The PATCH body');
  const schemas = attrs.get('schemas');
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())) {
    throw badRequest('invalidSyntax', `The PATCH body must list the schema ${PATCH_OP_SCHEMA}.`);
  }
  const ops = attrs.get('operations');
  if (!Array.isArray(ops) || ops.length === 0) throw badRequest('invalidSyntax', 'The PATCH body must carry a list of Operations.');
  if (ops.length > MAX_OPERATIONS) throw badRequest('invalidSyntax', `A PATCH carries at most ${MAX_OPERATIONS} Operations.`);
  const operations = ops.map((raw, i) => {
    if (!isObject(raw)) throw badRequest('invalidSyntax', `Operations[${i}] must be an object.`);
    const o = byLowerName(raw, `Operations[${i}]`);
    const name = o.get('op');
    const op = typeof name === 'string' ? name.toLowerCase() : undefined;
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw badRequest('invalidSyntax', `Operations[${i}].op must be add, replace or remove.`);
    const path = o.get('path');
    if (path !== undefined && path !== null && typeof path !== 'string') throw invalidPath(`Operations[${i}].path must be a string.`);
    const operation: Operation = { op, hasValue: o.has('value'), value: o.get('value') };
    if (typeof path === 'string') operation.path = path;
    return operation;
  });
  const values = operations.reduce((n, o) => n + (Array.isArray(o.value) ? o.value.length : isObject(o.value) ? Object.keys(o.value).length : 1), 0);
  if (values > MAX_VALUES_PER_PATCH) throw invalidValue(`A PATCH carries at most ${MAX_VALUES_PER_PATCH} values.`);
  return operations;
}

// ---- paths ------------------------------------------------------------------------------------

/** What a path names. `location` is undefined for an attribute we do not keep: the operation is skipped. */
interface Target {
  location?: AttributeLocation;
  /** The path is an extension's URN: the operation applies to the extension's attributes. */
  extension?: string;
  filter?: ValueFilter;
  sub?: AttributeDef;
}

/** `[urn:...:]attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub` (RFC 7644 3.5.2, PATH). */
function parsePath(path: string, type: ResourceType): Target {
  if (path.length === 0 || path.length > MAX_PATH_LENGTH) throw invalidPath('The path is empty or too long.');
  const split = splitSchemaUrn(path, type);
  if (split === null) throw invalidPath(`The path ${shown(path)} names an unknown schema.`);
  if (split.rest === '') {
    if (split.schema === undefined || !extensionSchemas(type).includes(split.schema)) throw invalidPath(`The path ${shown(path)} names no attribute.`);
    return { extension: split.schema.id };
  }
  const { name, filterText, subName } = splitPath(split.rest, path);
  const location = findAttribute(type, name, split.schema);
  if (location === undefined) return {};
  const target: Target = { location };
  if (filterText !== undefined) {
    if (!location.attr.multiValued || location.attr.type !== 'complex') throw invalidPath(`${location.attr.name} takes no value filter.`);
    try {
      target.filter = compileValueFilter(filterText, type, location.attr);
    } catch (e) {
      if (e instanceof ScimError) throw invalidPath(`The filter in the path is invalid: ${e.detail}`);
      throw e;
    }
  }
  if (subName !== undefined) {
    if (location.attr.type !== 'complex') throw invalidPath(`${location.attr.name} has no sub-attributes.`);
    const sub = findSubAttribute(location.attr, subName);
    if (sub === undefined) return {};
    target.sub = sub;
  }
  return target;
}

function splitPath(rest: string, path: string): { name: string; filterText?: string; subName?: string } {
  const bad = () => invalidPath(`The path ${shown(path)} is malformed.`);
  const name = /^(?:\$ref|[A-Za-z][\w-]*)/.exec(rest)?.[0];
  if (name === undefined) throw bad();
  let tail = rest.slice(name.length);
  let filterText: string | undefined;
  if (tail.startsWith('[')) {
    const close = closingBracket(tail);
    if (close === -1) throw bad();
    filterText = tail.slice(1, close);
    tail = tail.slice(close + 1);
  }
  if (tail === '') return filterText === undefined ? { name } : { name, filterText };
  const subName = tail.slice(1);
  if (!tail.startsWith('.') || !ATTRIBUTE_NAME.test(subName)) throw bad();
  return filterText === undefined ? { name, subName } : { name, filterText, subName };
}

/** The index of the `]` closing `text[0]`, skipping quoted strings; -1 if none. */
function closingBracket(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ']') return i;
  }
  return -1;
}

// ---- values -----------------------------------------------------------------------------------

/** A value checked against its definition; null stays null (unassigned, RFC 7643 2.5). */
function coerce(def: AttributeDef, value: unknown, where: string): unknown {
  if (value === null) return null;
  switch (def.type) {
    case 'boolean': {
      const b = toBoolean(value);
      if (b === undefined) throw invalidValue(`${where} must be true or false.`);
      return b;
    }
    case 'string':
    case 'reference':
      if (typeof value !== 'string') throw invalidValue(`${where} must be a string.`);
      return value;
    case 'dateTime':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw invalidValue(`${where} must be a dateTime.`);
      return value;
    case 'integer':
    case 'decimal':
      if (typeof value !== 'number' || !Number.isFinite(value) || (def.type === 'integer' && !Number.isInteger(value))) {
        throw invalidValue(`${where} must be a number.`);
      }
      return value;
    default:
      return complexValue(def, value, where);
  }
}

/**
 * A complex value with its sub-attributes under their canonical names; unknown and read-only ones are
 * dropped, as in a PUT. A bare string is the "value" sub-attribute (Entra ID's manager), and a list of
 * one object the object (Entra ID's sample manager update).
 */
function complexValue(def: AttributeDef, value: unknown, where: string): Doc {
  if (typeof value === 'string' && findSubAttribute(def, 'value')) return { value };
  const one = Array.isArray(value) && value.length === 1 && !def.multiValued ? value[0] : value;
  if (!isObject(one)) throw invalidValue(`${where} must be an object.`);
  const out: Doc = {};
  for (const [key, v] of byLowerName(one, where)) {
    const sub = findSubAttribute(def, key);
    if (sub === undefined || sub.mutability === 'readOnly' || v === null || v === undefined) continue;
    out[sub.name] = coerce(sub, v, `${def.name}.${sub.name}`);
  }
  return out;
}

/** The elements a multi-valued operation carries: a list, or one element on its own. */
function elements(def: AttributeDef, value: unknown): Doc[] {
  const items = Array.isArray(value) ? value : [value];
  if (items.length > MAX_VALUES_PER_OPERATION) throw invalidValue(`At most ${MAX_VALUES_PER_OPERATION} values of ${def.name} per operation.`);
  return items.map((item) => complexValue(def, item, def.name));
}

/** Elements are the same when their "value" sub-attributes are equal (honouring caseExact). */
function identity(def: AttributeDef, element: unknown): string {
  const valueDef = findSubAttribute(def, 'value');
  if (valueDef && isObject(element) && typeof element.value === 'string') return `v:${valueDef.caseExact ? element.value : element.value.toLowerCase()}`;
  return `j:${JSON.stringify(element)}`;
}

// ---- operations -------------------------------------------------------------------------------

function apply(doc: Doc, operation: Operation, type: ResourceType): void {
  const { op, path } = operation;
  if (op !== 'remove' && !operation.hasValue) throw invalidValue(`${op} needs a value.`);
  if (path === undefined) {
    if (op === 'remove') throw badRequest('noTarget', 'remove needs a path.');
    applyPathless(doc, op, operation.value, type);
    return;
  }
  const target = parsePath(path, type);
  if (target.extension !== undefined) {
    if (op === 'remove') delete doc[target.extension];
    else applyPathless(doc, op, prefixed(target.extension, operation.value), type);
    return;
  }
  if (target.location === undefined) return;
  checkMutability(target, op);
  if (op === 'remove') remove(doc, target, operation);
  else write(doc, op, target, operation.value);
}

/** An extension object's attributes as fully qualified paths. */
function prefixed(extension: string, value: unknown): Doc {
  if (!isObject(value)) throw invalidValue(`The value for ${extension} must be an object.`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [`${extension}:${k}`, v]));
}

/** RFC 7644 3.5.2.1 and 3.5.2.3 without a path: each key of the value is a path of its own. */
function applyPathless(doc: Doc, op: 'add' | 'replace', value: unknown, type: ResourceType): void {
  if (!isObject(value)) throw invalidValue(`${op} without a path needs an object value.`);
  for (const [key, v] of Object.entries(value)) {
    const lower = key.toLowerCase();
    // Okta renames a group with { id, displayName }: an unchanged id is no change.
    if (lower === 'schemas' || (lower === 'id' && v === doc.id)) continue;
    apply(doc, { op, path: key, hasValue: true, value: v }, type);
  }
}

function checkMutability(target: Target, op: OpName): void {
  const { attr } = target.location!;
  const sub = target.sub;
  if (attr.mutability === 'readOnly' || sub?.mutability === 'readOnly' || (sub?.mutability === 'immutable' && op !== 'add')) {
    throw badRequest('mutability', `${sub ? `${attr.name}.${sub.name}` : attr.name} cannot be changed.`);
  }
  if (op === 'remove' && attr.required && sub === undefined) throw invalidValue(`${attr.name} is required.`);
}

function container(doc: Doc, location: AttributeLocation, create: boolean): Doc | undefined {
  if (location.extension === undefined) return doc;
  const existing = doc[location.extension];
  if (isObject(existing)) return existing;
  if (!create) return undefined;
  const made: Doc = {};
  doc[location.extension] = made;
  return made;
}

function write(doc: Doc, op: 'add' | 'replace', target: Target, value: unknown): void {
  const { attr } = target.location!;
  const where = target.sub ? `${attr.name}.${target.sub.name}` : attr.name;
  if (value === null && attr.required && target.sub === undefined) throw invalidValue(`${attr.name} is required.`);
  const box = container(doc, target.location!, true)!;
  if (!attr.multiValued) {
    if (target.sub === undefined && attr.type !== 'complex') {
      setOrDelete(box, attr.name, coerce(attr, value, where));
      return;
    }
    const current = isObject(box[attr.name]) ? (box[attr.name] as Doc) : {};
    // RFC 7644 3.5.2.3: replacing a complex attribute leaves the sub-attributes it does not name.
    const patch = target.sub === undefined ? complexOrNull(attr, value, where) : { [target.sub.name]: coerce(target.sub, value, where) };
    if (patch === null) delete box[attr.name];
    else box[attr.name] = mergeInto(current, patch);
    return;
  }
  const list = Array.isArray(box[attr.name]) ? (box[attr.name] as unknown[]).slice() : [];
  if (target.filter === undefined && target.sub === undefined) {
    const incoming = value === null ? [] : elements(attr, value);
    const kept = op === 'add' ? list : [];
    const index = new Map(kept.map((e, i) => [identity(attr, e), i]));
    let primary: Doc | undefined;
    for (const element of incoming) {
      const key = identity(attr, element);
      const same = index.get(key);
      const placed = same === undefined || op !== 'add' ? element : mergeInto(kept[same] as Doc, element);
      if (same === undefined) index.set(key, kept.push(placed) - 1);
      else kept[same] = placed;
      if (element.primary === true) primary = placed;
    }
    box[attr.name] = settlePrimary(kept, primary);
    return;
  }
  const patch = target.sub ? { [target.sub.name]: coerce(target.sub, value, where) } : complexValue(attr, value, where);
  if (!list.some((e) => target.filter === undefined || target.filter.test(e))) {
    if (value === null) return;
    const created = target.filter?.equalities;
    if (created === undefined) throw badRequest('noTarget', `No value of ${attr.name} matches the path's filter.`);
    const element = mergeInto({ ...created }, patch);
    box[attr.name] = settlePrimary([...list, element], element.primary === true ? element : undefined);
    return;
  }
  let primary: Doc | undefined;
  const result = list.map((e) => {
    if (target.filter !== undefined && !target.filter.test(e)) return e;
    // "replace" with a filter and no sub-attribute replaces the matching values whole (RFC 7644 3.5.2.3).
    const updated = op === 'replace' && target.sub === undefined ? { ...patch } : mergeInto(isObject(e) ? e : {}, patch);
    if (updated.primary === true) primary ??= updated;
    return updated;
  });
  box[attr.name] = settlePrimary(result, primary);
}

function complexOrNull(attr: AttributeDef, value: unknown, where: string): Doc | null {
  return value === null ? null : complexValue(attr, value, where);
}

function setOrDelete(box: Doc, key: string, value: unknown): void {
  if (value === null) delete box[key];
  else box[key] = value;
}

/** A copy of `base` with `patch` applied; a null in `patch` unassigns. */
function mergeInto(base: Doc, patch: Doc): Doc {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch)) setOrDelete(out, k, v);
  return out;
}

/** RFC 7644 3.5.2: making one value primary makes every other one not primary. */
function settlePrimary(list: unknown[], primary: Doc | undefined): unknown[] {
  if (primary === undefined) return list;
  return list.map((e) => (e !== primary && isObject(e) && e.primary === true ? { ...e, primary: false } : e));
}

function remove(doc: Doc, target: Target, operation: Operation): void {
  const { attr } = target.location!;
  const box = container(doc, target.location!, false);
  if (box === undefined || box[attr.name] === undefined) {
    if (target.filter) throw badRequest('noTarget', `No value of ${attr.name} matches the path's filter.`);
    return;
  }
  const { sub, filter } = target;
  if (!attr.multiValued) {
    if (sub === undefined) delete box[attr.name];
    else if (isObject(box[attr.name])) box[attr.name] = mergeInto(box[attr.name] as Doc, { [sub.name]: null });
    return;
  }
  const list = Array.isArray(box[attr.name]) ? (box[attr.name] as unknown[]) : [];
  if (filter === undefined && sub === undefined) {
    // Entra ID removes members with path "members" and the values to remove; no value removes them all.
    const hasValues = operation.hasValue && operation.value !== null;
    const gone = new Set(hasValues ? elements(attr, operation.value).map((e) => identity(attr, e)) : []);
    box[attr.name] = hasValues ? list.filter((e) => !gone.has(identity(attr, e))) : [];
    return;
  }
  const hit = (e: unknown) => filter === undefined || filter.test(e);
  if (filter !== undefined && !list.some(hit)) throw badRequest('noTarget', `No value of ${attr.name} matches the path's filter.`);
  box[attr.name] = sub === undefined ? list.filter((e) => !hit(e)) : list.map((e) => (hit(e) && isObject(e) ? mergeInto(e, { [sub.name]: null }) : e));
}

/** Drops emptied complex values and extensions, and keeps `schemas` in step with the extensions present. */
function tidy(doc: Doc, type: ResourceType): void {
  for (const [key, value] of Object.entries(doc)) {
    if (isObject(value) && Object.keys(value).length === 0 && key !== 'meta') delete doc[key];
  }
  const schemas = Array.isArray(doc.schemas) ? (doc.schemas as unknown[]).filter((s) => typeof s === 'string') : [];
  for (const ext of extensionSchemas(type)) {
    const value = doc[ext.id];
    if (isObject(value)) {
      for (const [k, v] of Object.entries(value)) if (isObject(v) && Object.keys(v).length === 0) delete value[k];
      if (Object.keys(value).length === 0) delete doc[ext.id];
    }
    const listed = schemas.some((s) => (s as string).toLowerCase() === ext.id.toLowerCase());
    if (doc[ext.id] !== undefined && !listed) schemas.push(ext.id);
    if (doc[ext.id] === undefined && listed)
      schemas.splice(
        schemas.findIndex((s) => (s as string).toLowerCase() === ext.id.toLowerCase()),
        1,
      );
  }
  doc.schemas = schemas;
}
