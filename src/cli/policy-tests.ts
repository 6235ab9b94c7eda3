/**
 * `hourglass policy test`: table-driven expectations about policy decisions, checked offline
 * against a configuration file with the same `explain` the server uses.
 *
 * The tests file is validated as strictly as the configuration: unknown keys, wrong types,
 * unknown principals, entitlements and policies are problems, each reported as
 * `<file>:<line>: <path>: <message>`, all at once.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { explain, type ExplainInput, type ExplainResult } from '../app/explain.js';
import { offsetOf } from '../config/load-config.js';
import { ROLES } from '../config/schema.js';
import type { ConfigProblem, HourglassConfig } from '../config/types.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { ERROR_CODES } from '../core/errors.js';
import { formatProblem, TestsFileInvalid } from './errors.js';

// ---- the file's shape ---------------------------------------------------------------------------

const duration = z.string().superRefine((s, ctx) => {
  try {
    parseDuration(s);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid duration "${s}": use forms like 90s, 15m, 1h30m, 2d or PT1H` });
  }
});
const isoTime = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 date-time such as 2026-01-05T10:00:00Z');
const codes = Object.keys(ERROR_CODES) as [string, ...string[]];

const principalSpec = z.union([
  z.string().min(1),
  z
    .object({
      id: z.string().min(1),
      groups: z.array(z.string()).optional(),
      roles: z.array(z.enum(ROLES)).optional(),
      manager: z.string().min(1).optional(),
    })
    .strict(),
]);

const subjectsExpect = z.object({ groups: z.array(z.string()).optional(), users: z.array(z.string()).optional(), manager: z.boolean().optional() }).strict();

const expectSchema = z
  .object({
    allowed: z.boolean().optional(),
    code: z.enum(codes).optional(),
    policy: z.string().min(1).optional(),
    policies: z.record(z.string()).optional(),
    approvals: z.union([z.number().int().min(0), z.record(z.number().int().min(0))]).optional(),
    approvers: subjectsExpect.optional(),
    eligibleApprovers: z.array(z.string()).optional(),
    selfService: z.boolean().optional(),
    breakGlass: z.boolean().optional(),
    duration: duration.optional(),
    reasons: z.array(z.string().min(1)).optional(),
    requires: z.object({ reason: z.boolean().optional(), ticket: z.boolean().optional() }).strict().optional(),
    warnings: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((e) => Object.keys(e).length > 0, 'expect must state at least one expectation (allowed, code, policy, approvals...)');

const askFields = {
  duration: duration.optional(),
  at: isoTime.optional(),
  reason: z.string().optional(),
  ticket: z.string().optional(),
  sourceIp: z.string().optional(),
  breakGlass: z.boolean().optional(),
  policy: z.string().min(1).optional(),
};

const testSchema = z
  .object({
    name: z.string().min(1),
    principal: principalSpec,
    entitlements: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    ...askFields,
    expect: expectSchema,
  })
  .strict();

const fileSchema = z
  .object({
    defaults: z.object(askFields).strict().optional(),
    tests: z.array(testSchema).min(1, 'give at least one test'),
  })
  .strict();

export type PolicyTestFile = z.output<typeof fileSchema>;
export type PolicyTest = z.output<typeof testSchema>;
export type Expectation = z.output<typeof expectSchema>;

const KNOWN_KEYS: Record<string, string[]> = {
  file: ['defaults', 'tests'],
  test: ['name', 'principal', 'entitlements', 'duration', 'at', 'reason', 'ticket', 'sourceIp', 'breakGlass', 'policy', 'expect'],
  expect: [
    'allowed',
    'code',
    'policy',
    'policies',
    'approvals',
    'approvers',
    'eligibleApprovers',
    'selfService',
    'breakGlass',
    'duration',
    'reasons',
    'requires',
    'warnings',
  ],
};

// ---- problems with places -------------------------------------------------------------------------

export { TestsFileInvalid, formatProblem };

type Path = (string | number)[];

function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out || '(document)';
}

function lineOf(doc: Document, counter: LineCounter, path: Path): number | undefined {
  const offset = offsetOf(doc, path);
  return offset === undefined ? undefined : counter.linePos(offset).line;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** " (did you mean x?)" when a known word is close. */
export function suggest(word: string, known: Iterable<string>): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean ${best}?)` : '';
}

function knownKeysFor(path: Path): string[] {
  if (path.length === 0) return KNOWN_KEYS.file!;
  if (path.at(-1) === 'expect') return KNOWN_KEYS.expect!;
  if (path.at(-1) === 'defaults') return Object.keys(askFields);
  if (path.at(-1) === 'requires') return ['reason', 'ticket'];
  if (path.at(-1) === 'approvers') return ['groups', 'users', 'manager'];
  if (path.at(-1) === 'principal') return ['id', 'groups', 'roles', 'manager'];
  return KNOWN_KEYS.test!;
}

function zodProblems(error: z.ZodError): { path: Path; message: string }[] {
  const out: { path: Path; message: string }[] = [];
  // "state at least one expectation" says nothing new next to an unknown (misspelt) key there.
  const misspelt = new Set(error.issues.filter((i) => i.code === z.ZodIssueCode.unrecognized_keys).map((i) => formatPath(i.path)));
  for (const issue of error.issues) {
    if (issue.code === z.ZodIssueCode.custom && misspelt.has(formatPath(issue.path))) continue;
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      for (const key of issue.keys) out.push({ path: [...issue.path, key], message: `unknown key${suggest(key, knownKeysFor(issue.path))}` });
    } else if (issue.code === z.ZodIssueCode.invalid_union) {
      // Tell the most helpful branch: the one that got furthest.
      const branches = issue.unionErrors.map((e) => e.issues);
      const deepest = branches.sort((a, b) => Math.max(...b.map((i) => i.path.length)) - Math.max(...a.map((i) => i.path.length)))[0] ?? [];
      const first = deepest[0];
      if (first && first.path.length > issue.path.length) out.push(...zodProblems(new z.ZodError(deepest)));
      else out.push({ path: issue.path, message: unionMessage(issue.path) });
    } else if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') {
      out.push({ path: issue.path, message: 'is required' });
    } else if (issue.code === z.ZodIssueCode.invalid_type && issue.expected === 'boolean') {
      out.push({ path: issue.path, message: `expected true or false, got a ${issue.received} (YAML 1.2: yes/no/on/off are strings)` });
    } else if (issue.code === z.ZodIssueCode.too_small && issue.type === 'array') {
      out.push({ path: issue.path, message: `must list at least ${String(issue.minimum)}` });
    } else if (issue.code === z.ZodIssueCode.invalid_enum_value) {
      out.push({ path: issue.path, message: `unknown value "${String(issue.received)}"${suggest(String(issue.received), issue.options.map(String))}` });
    } else {
      out.push({ path: issue.path, message: issue.message.replace(/^Expected (\w+), received (\w+)$/, 'expected a $1, got a $2') });
    }
  }
  return out;
}

function unionMessage(path: Path): string {
  const last = path.at(-1);
  if (last === 'principal') return 'expected a principal id, or {id, groups, roles, manager} for a principal not in the configuration';
  if (last === 'entitlements') return 'expected an entitlement (target/role) or a list of them';
  if (last === 'approvals') return 'expected a number of approvals, or {policy: number}';
  return 'invalid value';
}

/** Reads and validates a tests file against the configuration; throws TestsFileInvalid listing every problem. */
export function loadPolicyTests(file: string, config: HourglassConfig, configName: string): PolicyTestFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TestsFileInvalid(file, [
      { path: '(file)', message: code === 'ENOENT' ? 'tests file not found' : `tests file cannot be read (${code ?? 'unknown error'})` },
    ]);
  }
  return parsePolicyTests(text, file, config, configName);
}

export function parsePolicyTests(text: string, source: string, config: HourglassConfig, configName: string): PolicyTestFile {
  const counter = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter: counter, prettyErrors: false, uniqueKeys: true, version: '1.2', merge: false });
  const problems: ConfigProblem[] = doc.errors.map((e) => ({ path: '(syntax)', message: e.message.split('\n')[0]!, line: counter.linePos(e.pos[0]).line }));
  if (problems.length) throw new TestsFileInvalid(source, problems);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new TestsFileInvalid(source, [{ path: '(syntax)', message: (e as Error).message.split('\n')[0]! }]);
  }
  if (raw === null || raw === undefined) throw new TestsFileInvalid(source, [{ path: '(document)', message: 'the file is empty; it needs a `tests:` list' }]);

  const found: { path: Path; message: string }[] = [];
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) found.push(...zodProblems(parsed.error));
  found.push(...semanticProblems(raw, config, configName));

  if (found.length) {
    const located = found
      .map((p, i) => ({ p: { path: formatPath(p.path), message: p.message, line: lineOf(doc, counter, p.path) } as ConfigProblem, i }))
      .sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || a.i - b.i)
      .map(({ p }) => (p.line === undefined ? { path: p.path, message: p.message } : p));
    throw new TestsFileInvalid(source, located);
  }
  return parsed.data!;
}

/**
 * Names the tests refer to must exist in the configuration: a typo must not make a test pass.
 * Works on the raw data (checking types as it goes) so that these problems are told together
 * with the shape problems, every problem at once.
 */
function semanticProblems(raw: unknown, config: HourglassConfig, configName: string): { path: Path; message: string }[] {
  const out: { path: Path; message: string }[] = [];
  const obj = (v: unknown): Record<string, unknown> | undefined =>
    v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const principals = config.principals.map((p) => p.id);
  const policies = config.policies.map((p) => p.name);
  const entitlements = Object.entries(config.targets).flatMap(([t, target]) => Object.keys(target.entitlements).map((e) => `${t}/${e}`));
  const checkPrincipal = (p: unknown, path: Path) => {
    if (typeof p === 'string' && p && !principals.includes(p)) {
      out.push({ path, message: `no principal "${p}" in ${configName}${suggest(p, principals)}; describe one not in the file as {id, groups}` });
    }
  };
  const checkPolicy = (name: unknown, path: Path) => {
    if (typeof name === 'string' && name && !policies.includes(name))
      out.push({ path, message: `no policy "${name}" in ${configName}${suggest(name, policies)}` });
  };
  const file = obj(raw);
  checkPolicy(obj(file?.defaults)?.policy, ['defaults', 'policy']);
  const tests = Array.isArray(file?.tests) ? (file!.tests as unknown[]) : [];
  const names = new Map<string, number>();
  tests.forEach((rawTest, i) => {
    const t = obj(rawTest);
    if (!t) return;
    const at: Path = ['tests', i];
    if (typeof t.name === 'string') {
      if (names.has(t.name)) out.push({ path: [...at, 'name'], message: `duplicate test name (also tests[${names.get(t.name)}])` });
      else names.set(t.name, i);
    }
    checkPrincipal(t.principal, [...at, 'principal']);
    const manager = obj(t.principal)?.manager;
    if (typeof manager === 'string' && manager && !principals.includes(manager)) {
      out.push({ path: [...at, 'principal', 'manager'], message: `no principal "${manager}" in ${configName}${suggest(manager, principals)}` });
    }
    const ents = typeof t.entitlements === 'string' ? [t.entitlements] : Array.isArray(t.entitlements) ? (t.entitlements as unknown[]) : [];
    ents.forEach((e, j) => {
      if (typeof e === 'string' && e && !entitlements.includes(e)) {
        out.push({
          path: typeof t.entitlements === 'string' ? [...at, 'entitlements'] : [...at, 'entitlements', j],
          message: `no entitlement "${e}" in ${configName}${suggest(e, entitlements)}`,
        });
      }
    });
    checkPolicy(t.policy, [...at, 'policy']);
    const ex = obj(t.expect);
    if (!ex) return;
    if (typeof ex.policy === 'string') for (const name of ex.policy.split(',')) checkPolicy(name, [...at, 'expect', 'policy']);
    for (const [e, name] of Object.entries(obj(ex.policies) ?? {})) {
      if (!ents.includes(e)) out.push({ path: [...at, 'expect', 'policies', e], message: `"${e}" is not among the test's entitlements` });
      checkPolicy(name, [...at, 'expect', 'policies', e]);
    }
    for (const name of Object.keys(obj(ex.approvals) ?? {})) checkPolicy(name, [...at, 'expect', 'approvals', name]);
    if (Array.isArray(ex.eligibleApprovers)) {
      ex.eligibleApprovers.forEach((id: unknown, j: number) => {
        if (typeof id === 'string' && !principals.includes(id))
          out.push({ path: [...at, 'expect', 'eligibleApprovers', j], message: `no principal "${id}" in ${configName}${suggest(id, principals)}` });
      });
    }
    if (ex.allowed === true && ex.code !== undefined)
      out.push({ path: [...at, 'expect', 'code'], message: 'a code goes with allowed: false (an allowed request has no error code)' });
    if (ex.allowed === false && (ex.policy !== undefined || ex.approvals !== undefined || ex.selfService !== undefined)) {
      out.push({ path: [...at, 'expect'], message: 'policy, approvals and selfService describe an allowed request; with allowed: false use code and reasons' });
    }
  });
  return out;
}

// ---- running ---------------------------------------------------------------------------------

export interface Failure {
  field: string;
  expected: unknown;
  actual: unknown;
  message: string;
}

export interface TestOutcome {
  name: string;
  ok: boolean;
  failures: Failure[];
  explanation: ExplainResult;
}

export interface TestReport {
  ok: boolean;
  passed: number;
  failed: number;
  config: string;
  tests: string;
  results: TestOutcome[];
}

const show = (v: unknown): string => {
  if (v === null || v === undefined) return 'none';
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
};

const sameSet = (a: readonly string[], b: readonly string[]) => {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
};

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** Compares an explanation with the expectations; an empty list means the test passed. */
export function compare(ex: Expectation, r: ExplainResult): Failure[] {
  const out: Failure[] = [];
  const refusal = r.allowed ? '' : ` (${r.code}: ${r.message})`;
  const fail = (field: string, expected: unknown, actual: unknown, extra = '') =>
    out.push({ field, expected, actual, message: `expected ${field} ${show(expected)}, got ${show(actual)}${extra}` });

  if (ex.allowed !== undefined && ex.allowed !== r.allowed) {
    out.push({
      field: 'allowed',
      expected: ex.allowed,
      actual: r.allowed,
      message: ex.allowed ? `expected allowed, got refused${refusal}` : `expected refused, got allowed under ${r.policy}`,
    });
  }
  if (ex.code !== undefined && ex.code !== r.code) fail('code', ex.code, r.code ?? 'none (allowed)', r.allowed ? '' : `: ${r.message}`);
  if (ex.policy !== undefined && ex.policy !== r.policy) fail('policy', ex.policy, r.policy, refusal);
  for (const [e, name] of Object.entries(ex.policies ?? {})) {
    if (r.policies[e] !== name) fail(`policies.${e}`, name, r.policies[e] ?? null, refusal);
  }
  if (ex.approvals !== undefined) {
    if (typeof ex.approvals === 'number') {
      const total = r.approvals.reduce((n, a) => n + a.required, 0);
      if (total !== ex.approvals) fail('approvals', ex.approvals, total, refusal);
    } else {
      for (const [policy, n] of Object.entries(ex.approvals)) {
        const got = r.approvals.find((a) => a.policy === policy)?.required ?? 0;
        if (got !== n) fail(`approvals.${policy}`, n, got, refusal);
      }
    }
  }
  if (ex.approvers !== undefined) {
    const groups = sorted(r.approvals.flatMap((a) => a.approvers.groups));
    const users = sorted(r.approvals.flatMap((a) => a.approvers.users));
    if (ex.approvers.groups !== undefined && !sameSet(ex.approvers.groups, groups)) fail('approvers.groups', sorted(ex.approvers.groups), groups, refusal);
    if (ex.approvers.users !== undefined && !sameSet(ex.approvers.users, users)) fail('approvers.users', sorted(ex.approvers.users), users, refusal);
    const manager = r.approvals.some((a) => a.approvers.manager);
    if (ex.approvers.manager !== undefined && ex.approvers.manager !== manager) fail('approvers.manager', ex.approvers.manager, manager, refusal);
  }
  if (ex.eligibleApprovers !== undefined) {
    const got = sorted(r.approvals.flatMap((a) => a.eligibleApprovers));
    if (!sameSet(ex.eligibleApprovers, got)) fail('eligibleApprovers', sorted(ex.eligibleApprovers), got, refusal);
  }
  if (ex.selfService !== undefined && ex.selfService !== r.selfService) fail('selfService', ex.selfService, r.selfService, refusal);
  if (ex.breakGlass !== undefined && ex.breakGlass !== r.breakGlass) fail('breakGlass', ex.breakGlass, r.breakGlass, refusal);
  if (ex.duration !== undefined) {
    const want = parseDuration(ex.duration);
    if (r.durationSeconds === null || r.durationSeconds * 1000 !== want) {
      fail('duration', formatDuration(want), r.durationSeconds === null ? null : formatDuration(r.durationSeconds * 1000), refusal);
    }
  }
  if (ex.reasons !== undefined) {
    const all = [...Object.values(r.candidates).flatMap((vs) => vs.flatMap((v) => v.reasons)), ...(r.message ? [r.message] : [])];
    for (const want of ex.reasons) {
      if (!all.some((reason) => reason.includes(want))) {
        out.push({
          field: 'reasons',
          expected: want,
          actual: all,
          message: `expected a reason containing "${want}", got ${all.length ? all.map((x) => `"${x}"`).join('; ') : 'none'}`,
        });
      }
    }
  }
  if (ex.requires?.reason !== undefined && ex.requires.reason !== r.requires.reason) fail('requires.reason', ex.requires.reason, r.requires.reason);
  if (ex.requires?.ticket !== undefined && ex.requires.ticket !== r.requires.ticket.required)
    fail('requires.ticket', ex.requires.ticket, r.requires.ticket.required);
  if (ex.warnings !== undefined && ex.warnings !== r.warnings.length) {
    fail('warnings', ex.warnings, r.warnings.length, r.warnings.length ? `: ${r.warnings.join('; ')}` : '');
  }
  return out;
}

/** The explain input of one test, with the file's defaults filled in; `now` is used when no `at` is given. */
export function askOf(t: PolicyTest, defaults: PolicyTestFile['defaults'], now: number): ExplainInput {
  const d = defaults ?? {};
  const pick = <K extends keyof typeof askFields>(k: K) => (t[k] !== undefined ? t[k] : d[k]);
  const at = pick('at');
  const input: ExplainInput = {
    principal: t.principal,
    entitlements: typeof t.entitlements === 'string' ? [t.entitlements] : t.entitlements,
    at: at !== undefined ? Date.parse(at) : now,
  };
  const duration = pick('duration');
  if (duration !== undefined) input.duration = duration;
  const reason = pick('reason');
  if (reason !== undefined) input.reason = reason;
  const ticket = pick('ticket');
  if (ticket !== undefined) input.ticket = ticket;
  const sourceIp = pick('sourceIp');
  if (sourceIp !== undefined) input.sourceIp = sourceIp;
  const breakGlass = pick('breakGlass');
  if (breakGlass !== undefined) input.breakGlass = breakGlass;
  const policy = pick('policy');
  if (policy !== undefined) input.policy = policy;
  return input;
}

export function runPolicyTests(config: HourglassConfig, data: PolicyTestFile, now: number, files: { config: string; tests: string }): TestReport {
  const results = data.tests.map((t) => {
    const explanation = explain(config, askOf(t, data.defaults, now));
    const failures = compare(t.expect, explanation);
    return { name: t.name, ok: failures.length === 0, failures, explanation };
  });
  const passed = results.filter((r) => r.ok).length;
  return { ok: passed === results.length, passed, failed: results.length - passed, config: files.config, tests: files.tests, results };
}
