/**
 * SCIM filters (RFC 7644 3.4.2.2) compiled to predicates over the JSON representation of a resource.
 * scim2-parse-filter does the parsing; its own evaluator compares strings case-sensitively and knows no
 * schema, so the AST is translated here against schema.ts: caseExact, types, URN prefixes, value paths.
 */
import type { Compare, Filter } from 'scim2-parse-filter';
import { parseFilter, tokenizer, Tokens, type Token } from 'scim2-parse-filter/lib/src/parser.js';
import { badRequest } from './scim-error.js';
import { findSubAttribute, resolveAttributePath, toBoolean, type AttributeDef, type ResolvedAttribute, type ResourceType } from './schema.js';

export const MAX_FILTER_LENGTH = 2000;
/** Nesting of and/or/not/parentheses/value paths; a flat `a or b or c` is one level. */
export const MAX_FILTER_DEPTH = 16;

type Predicate = (node: unknown) => boolean;
type CompValue = Compare['compValue'];

const invalid = (detail: string) => badRequest('invalidFilter', detail);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (path: string) => JSON.stringify(path.length > 100 ? `${path.slice(0, 100)}...` : path);

/** Compiles a filter for resources of `resourceType`; throws ScimError 400 invalidFilter. */
export function compileFilter(text: string, resourceType: ResourceType): (resource: object) => boolean {
  const test = compile(parse(text), { type: resourceType }, 1);
  return (resource) => test(resource);
}

export interface ValueFilter {
  /** Whether one element of the multi-valued attribute matches. */
  test: (element: unknown) => boolean;
  /** For `type eq "work"` (and conjunctions of such): the element a PATCH may create when none matches. */
  equalities?: Record<string, string | number | boolean>;
}

/** Compiles the filter inside a PATCH value path, `emails[type eq "work"]`, over `parent`'s sub-attributes. */
export function compileValueFilter(text: string, resourceType: ResourceType, parent: AttributeDef): ValueFilter {
  const ast = parse(text);
  const result: ValueFilter = { test: compile(ast, { type: resourceType, parent }, 1) };
  const equalities = equalitiesOf(ast, parent);
  if (equalities) result.equalities = equalities;
  return result;
}

function parse(text: string): Filter {
  if (typeof text !== 'string' || text.trim() === '') throw invalid('The filter is empty.');
  if (text.length > MAX_FILTER_LENGTH) throw invalid(`The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  let tokens: Token[];
  try {
    tokens = tokenizer(text);
  } catch {
    throw invalid('The filter could not be parsed.');
  }
  // Parentheses leave no node in the AST, so their depth is checked here; compile() checks the rest.
  let depth = 0;
  for (const t of tokens) {
    if (t.type === 'Bracket' && t.literal === '(' && ++depth > MAX_FILTER_DEPTH) throw invalid(`The filter is nested deeper than ${MAX_FILTER_DEPTH} levels.`);
    if (t.type === 'Bracket' && t.literal === ')') depth--;
  }
  const list = new Tokens(liftSubAttributes(tokens));
  let ast: Filter;
  try {
    ast = parseFilter(list);
  } catch {
    throw invalid('The filter could not be parsed.');
  }
  if (list.peek().type !== 'EOT') throw invalid('The filter could not be parsed.');
  return ast;
}

const bracket = (literal: string): Token => ({ type: 'Bracket', literal });

/**
 * Rewrites `emails[type eq "work"].value eq "x"` into `emails[(type eq "work") and value eq "x"]`, so
 * both conditions hold for the same element. (The parser would otherwise split them into two tests
 * that two different emails could satisfy.) Entra ID queries users this way.
 */
function liftSubAttributes(tokens: Token[]): Token[] {
  const out: Token[] = [];
  let open = -1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === 'Bracket' && t.literal === '[') {
      if (open !== -1) throw invalid('Value paths cannot be nested.');
      open = out.length;
      out.push(t);
    } else if (t.type === 'Bracket' && t.literal.startsWith(']')) {
      if (open === -1) throw invalid('The filter could not be parsed.');
      if (t.literal === '].') {
        const sub = tokens[i + 1];
        const op = tokens[i + 2];
        if (sub?.type !== 'Word' || op?.type !== 'Word') throw invalid('The filter could not be parsed.');
        const operand = op.literal.toLowerCase() === 'pr' ? [] : [tokens[i + 3]];
        if (operand.some((v) => v === undefined || v.type === 'EOT' || v.type === 'Bracket')) throw invalid('The filter could not be parsed.');
        out.splice(open + 1, 0, bracket('('));
        out.push(bracket(')'), { type: 'Word', literal: 'and' }, sub, op, ...(operand as Token[]), bracket(']'));
        i += 2 + operand.length;
      } else {
        out.push(t);
      }
      open = -1;
    } else {
      out.push(t);
    }
  }
  if (open !== -1) throw invalid('The filter could not be parsed.');
  return out;
}

interface Scope {
  type: ResourceType;
  /** Set inside a value path: names there are sub-attributes of this attribute. */
  parent?: AttributeDef;
}

function compile(f: Filter, scope: Scope, depth: number): Predicate {
  if (depth > MAX_FILTER_DEPTH) throw invalid(`The filter is nested deeper than ${MAX_FILTER_DEPTH} levels.`);
  switch (f.op) {
    case 'and': {
      const parts = f.filters.map((g) => compile(g, scope, depth + 1));
      return (r) => parts.every((p) => p(r));
    }
    case 'or': {
      const parts = f.filters.map((g) => compile(g, scope, depth + 1));
      return (r) => parts.some((p) => p(r));
    }
    case 'not': {
      const inner = compile(f.filter, scope, depth + 1);
      return (r) => !inner(r);
    }
    case '[]': {
      if (scope.parent) throw invalid('Value paths cannot be nested.');
      const target = resolve(f.attrPath, scope);
      if (target.sub || target.attr.type !== 'complex') throw invalid(`${shown(f.attrPath)} is not a complex attribute.`);
      const inner = compile(f.valFilter, { type: scope.type, parent: target.attr }, depth + 1);
      return (r) => valuesOf(r, target).some(inner);
    }
    case 'pr': {
      const target = resolve(f.attrPath, scope);
      return (r) => valuesOf(r, target).some(isPresent);
    }
    default:
      return compileComparison(f, scope);
  }
}

function resolve(path: string, scope: Scope): ResolvedAttribute {
  if (scope.parent) {
    const sub = findSubAttribute(scope.parent, path);
    if (sub === undefined) throw invalid(`Unknown sub-attribute ${shown(path)} of ${scope.parent.name}.`);
    // Inside a value path the element itself is the container.
    return { attr: sub };
  }
  const target = resolveAttributePath(scope.type, path);
  if (target === undefined) throw invalid(`Unknown attribute ${shown(path)}.`);
  return target;
}

/** The values a path selects: one per element for a multi-valued attribute, missing ones left out. */
function valuesOf(node: unknown, target: ResolvedAttribute): unknown[] {
  const container = target.extension === undefined ? node : isObject(node) ? node[target.extension] : undefined;
  if (!isObject(container)) return [];
  const value = container[target.attr.name];
  const items = target.attr.multiValued ? (Array.isArray(value) ? value : []) : value === undefined || value === null ? [] : [value];
  const { sub } = target;
  if (sub === undefined) return items;
  return items.flatMap((item) => (isObject(item) && item[sub.name] !== undefined && item[sub.name] !== null ? [item[sub.name]] : []));
}

/** RFC 7644 3.4.2.2 "pr": a non-empty value, or a complex value with a non-empty part. */
function isPresent(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (Array.isArray(v)) return v.some(isPresent);
  if (isObject(v)) return Object.values(v).some(isPresent);
  return true;
}

function compileComparison(f: Compare, scope: Scope): Predicate {
  let target = resolve(f.attrPath, scope);
  if (target.sub === undefined && target.attr.type === 'complex') {
    // `emails co "@x"` and Entra ID's `manager eq "id"` compare the "value" sub-attribute.
    const value = findSubAttribute(target.attr, 'value');
    if (value === undefined) throw invalid(`${shown(f.attrPath)} is complex: name a sub-attribute.`);
    target = { ...target, sub: value };
  }
  const leaf = target.sub ?? target.attr;
  const { op } = f;
  if (f.compValue === null) {
    if (op !== 'eq' && op !== 'ne') throw invalid(`${op} cannot compare with null.`);
    const present = (r: unknown) => valuesOf(r, target).some(isPresent);
    return op === 'eq' ? (r) => !present(r) : present;
  }
  // "ne" is the negation of "eq": true when no value equals, including when there is none.
  const test = comparator(op === 'ne' ? 'eq' : op, leaf, f.compValue, f.attrPath);
  const any = (r: unknown) => valuesOf(r, target).some(test);
  return op === 'ne' ? (r) => !any(r) : any;
}

type Op = Compare['op'];
const ORDERING: ReadonlySet<Op> = new Set(['gt', 'ge', 'lt', 'le']);
const SUBSTRING: ReadonlySet<Op> = new Set(['co', 'sw', 'ew']);

function comparator(op: Op, leaf: AttributeDef, operand: Exclude<CompValue, null>, path: string): (v: unknown) => boolean {
  switch (leaf.type) {
    case 'boolean': {
      if (op !== 'eq' && op !== 'ne') throw invalid(`${op} is not defined for the boolean ${shown(path)}.`);
      const want = toBoolean(operand);
      if (want === undefined) throw invalid(`${shown(path)} is a boolean: compare it with true or false.`);
      return (v) => v === want;
    }
    case 'dateTime': {
      if (SUBSTRING.has(op)) throw invalid(`${op} is not defined for the dateTime ${shown(path)}.`);
      const want = typeof operand === 'string' ? Date.parse(operand) : NaN;
      if (Number.isNaN(want)) throw invalid(`${shown(path)} is a dateTime: compare it with an RFC 3339 timestamp.`);
      return (v) => typeof v === 'string' && order(op, Date.parse(v), want);
    }
    case 'integer':
    case 'decimal': {
      if (SUBSTRING.has(op)) throw invalid(`${op} is not defined for the number ${shown(path)}.`);
      if (typeof operand !== 'number') throw invalid(`${shown(path)} is a number: compare it with a number.`);
      return (v) => typeof v === 'number' && order(op, v, operand);
    }
    case 'string':
    case 'reference': {
      if (typeof operand !== 'string') throw invalid(`${shown(path)} is a string: compare it with a quoted string.`);
      const fold = (s: string) => (leaf.caseExact ? s : s.toLowerCase());
      const want = fold(operand);
      return (v) => typeof v === 'string' && textMatch(op, fold(v), want);
    }
    default:
      throw invalid(`${shown(path)} cannot be compared.`);
  }
}

function order(op: Op, a: number, b: number): boolean {
  if (Number.isNaN(a)) return false;
  switch (op) {
    case 'eq':
    case 'ne':
      return a === b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    default:
      return a <= b;
  }
}

function textMatch(op: Op, a: string, b: string): boolean {
  if (ORDERING.has(op)) return op === 'gt' ? a > b : op === 'ge' ? a >= b : op === 'lt' ? a < b : a <= b;
  switch (op) {
    case 'co':
      return a.includes(b);
    case 'sw':
      return a.startsWith(b);
    case 'ew':
      return a.endsWith(b);
    default:
      return a === b;
  }
}

/** `a eq x and b eq y` over sub-attributes, as { a: x, b: y }; undefined for anything else. */
function equalitiesOf(f: Filter, parent: AttributeDef): Record<string, string | number | boolean> | undefined {
  const parts = f.op === 'and' ? f.filters : [f];
  const out: Record<string, string | number | boolean> = {};
  for (const part of parts) {
    if (part.op !== 'eq' || part.compValue === null) return undefined;
    const sub = findSubAttribute(parent, part.attrPath);
    if (sub === undefined || sub.name in out) return undefined;
    out[sub.name] = sub.type === 'boolean' ? (toBoolean(part.compValue) ?? part.compValue) : part.compValue;
  }
  return out;
}
