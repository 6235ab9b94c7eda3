/**
 * How the loader reports a problem before it is placed in the file: a path and a message, with
 * echoed values marked so the loader can hide those that came from the environment; zod
 * messages that never echo a value; unknown keys with a did-you-mean; one key parsed at a time.
 */
import { z } from 'zod';

export type ConfigPath = Array<string | number>;

/** A problem before it is placed in the file (line) and formatted. */
export interface RawProblem {
  path: ConfigPath;
  message: string;
}

/**
 * Marks a value echoed in a message. The loader shows it in quotes, or hides it when the value
 * (or a value near it) came from an environment variable, which may be a secret.
 */
export const ECHO_START = '\u0001';
export const ECHO_END = '\u0002';
export function shown(value: unknown): string {
  return `${ECHO_START}${JSON.stringify(value)}${ECHO_END}`;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  null: 'empty (null)',
  float: 'a fraction',
};
const typeName = (t: string): string => TYPE_NAMES[t] ?? t;

/** zod messages that never echo the offending value (it may be an interpolated secret). */
export const configErrorMap: z.ZodErrorMap = (issue, ctx) => {
  // A message the schema itself gives (e.g. invalid_type_error) wins over these generic ones.
  if (ctx.defaultError !== z.defaultErrorMap(issue, { data: ctx.data, defaultError: '' }).message) {
    return { message: ctx.defaultError };
  }
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      if (issue.received === 'undefined') return { message: 'is required' };
      if (issue.expected === 'integer') return { message: 'must be a whole number' };
      return { message: `must be ${typeName(issue.expected)}, not ${typeName(issue.received)}` };
    case z.ZodIssueCode.invalid_enum_value:
      return { message: `must be one of: ${issue.options.map(String).join(', ')}` };
    case z.ZodIssueCode.too_small:
      if (issue.type === 'array') return { message: `must list at least ${issue.minimum}` };
      if (issue.type === 'string') return { message: 'must not be empty' };
      return { message: `must be at least ${issue.minimum}` };
    case z.ZodIssueCode.too_big:
      if (issue.type === 'array') return { message: `must list at most ${issue.maximum}` };
      if (issue.type === 'string') return { message: `must be at most ${issue.maximum} characters` };
      return { message: `must be at most ${issue.maximum}` };
    case z.ZodIssueCode.unrecognized_keys:
      return { message: `unknown key(s): ${issue.keys.join(', ')}` };
    default:
      return { message: ctx.defaultError };
  }
};

export function issuesToProblems(issues: z.ZodIssue[], out: RawProblem[]): void {
  for (const issue of issues) {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      for (const key of issue.keys) out.push({ path: [...issue.path, key], message: `unknown key ${shown(key)}` });
    } else {
      out.push({ path: issue.path, message: issue.message });
    }
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near =
    known.find((k) => k.toLowerCase() === key.toLowerCase()) ??
    known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= Math.max(1, Math.floor(k.length / 4)));
  const hint = near ? `; did you mean ${shown(near)}?` : `; allowed keys: ${known.join(', ')}`;
  return `unknown key ${shown(key)}${hint}`;
}

/** Reports keys the shape does not name (typos), with a suggestion, without stopping the parse. */
export function unknownKeys(raw: Record<string, unknown>, known: readonly string[], path: ConfigPath, out: RawProblem[]): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) out.push({ path: [...path, key], message: unknownKeyMessage(key, known) });
  }
}

export type Shape = Record<string, z.ZodTypeAny>;
export type Parsed<S extends Shape> = { [K in keyof S]?: z.output<S[K]> };

/** Parses each key on its own, so that one bad key never hides checks on the others. */
export function parseFields<S extends Shape>(shape: S, raw: Record<string, unknown>, path: ConfigPath, out: RawProblem[]): { values: Parsed<S>; ok: boolean } {
  unknownKeys(raw, Object.keys(shape), path, out);
  const values: Parsed<S> = {};
  let ok = true;
  for (const key of Object.keys(shape) as Array<keyof S & string>) {
    const r = shape[key]!.safeParse(raw[key], { errorMap: configErrorMap, path: [...path, key] });
    if (r.success) values[key] = r.data as z.output<S[typeof key]>;
    else {
      ok = false;
      issuesToProblems(r.error.issues, out);
    }
  }
  return { values, ok };
}

/** `policies[0].approval.required`; the root is `(document)`; odd keys are quoted: `targets["a b"]`. */
export function formatPath(path: ConfigPath): string {
  if (path.length === 0) return '(document)';
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : /^[A-Za-z_$][\w$-]*$/.test(s) ? (i === 0 ? s : `.${s}`) : `[${JSON.stringify(s)}]`)).join('');
}
