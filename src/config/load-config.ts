/**
 * Reads the YAML configuration file: parses it (keeping line numbers), interpolates `${ENV}`
 * references in string values, validates it against the schema, and either returns a complete
 * HourglassConfig or throws HG_CONFIG_INVALID listing every problem, one per line, as
 * `<source>:<line>: <path>: <message>`. Values that came from the environment are never shown.
 */
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { HgError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { ECHO_END, ECHO_START, formatPath, validateConfig, type ConfigPath, type RawProblem } from './schema.js';
import type { TargetKinds } from './target-kind.js';
import type { ConfigProblem, HourglassConfig } from './types.js';

export type ConfigEnv = Record<string, string | undefined>;

/** Shown instead of a value that came from (or sits beside one that came from) the environment. */
const HIDDEN = '(value from the environment, not shown)';

interface Interpolation {
  problems: RawProblem[];
  /** Paths of scalars whose value includes an environment variable's value. */
  tainted: ConfigPath[];
  /** The substituted values, scrubbed from every message as a last line of defence. */
  secrets: Set<string>;
}

const VAR_REF = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/** `${VAR}`, `${VAR:-default}` (default when unset or empty) and `$${` for a literal `${`. */
function interpolateString(text: string, env: ConfigEnv, path: ConfigPath, acc: Interpolation): { value: string; used: boolean } {
  let out = '';
  let used = false;
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i];
      i += 1;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    if (end < 0) {
      acc.problems.push({ path, message: 'unterminated ${ (write $${ for a literal ${)' });
      out += text.slice(i);
      break;
    }
    const inner = text.slice(i + 2, end);
    const m = VAR_REF.exec(inner);
    if (!m || (m[2] ?? '').includes('${')) {
      acc.problems.push({
        path,
        message: m
          ? 'nested ${...} references are not supported'
          : 'invalid ${...} reference: use ${NAME} or ${NAME:-default} with NAME of letters, digits and _ (write $${ for a literal ${)',
      });
    } else {
      const name = m[1]!;
      const fallback = m[2];
      const value = env[name];
      if (value !== undefined && (fallback === undefined || value !== '')) {
        out += value;
        used = true;
        if (value !== '') acc.secrets.add(value);
      } else if (fallback !== undefined) {
        out += fallback;
      } else {
        acc.problems.push({ path, message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` });
      }
    }
    i = end + 1;
  }
  return { value: out, used };
}

/** Walks the document and rewrites string scalars in place (keys are never interpolated). */
function interpolateNode(node: unknown, env: ConfigEnv, path: ConfigPath, acc: Interpolation): void {
  if (isScalar(node)) {
    if (typeof node.value !== 'string' || !node.value.includes('${')) return;
    const { value, used } = interpolateString(node.value, env, path, acc);
    if (used) acc.tainted.push(path);
    if (value === node.value) return;
    // An unquoted `${PORT}` may stand for a number or a boolean, as if it had been written in place.
    if (node.type === 'PLAIN' && /^-?(0|[1-9][0-9]*)$/.test(value)) node.value = Number(value);
    else if (node.type === 'PLAIN' && (value === 'true' || value === 'false')) node.value = value === 'true';
    else node.value = value;
  } else if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      interpolateNode(pair.value, env, [...path, String(key)], acc);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => interpolateNode(item, env, [...path, i], acc));
  }
}

/** Where the deepest node on the path that exists starts (a map entry's key, a list item). */
export function offsetOf(doc: Document, path: ConfigPath): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (node as Node | null)?.range?.[0];
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (!pair) break;
      offset = (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}

function related(a: ConfigPath, b: ConfigPath): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (String(a[i]) !== String(b[i])) return false;
  return true;
}

/** Shows echoed values, except near environment values; then scrubs every substituted value. */
function scrub(problem: RawProblem, acc: Interpolation): string {
  const hide = acc.tainted.some((t) => related(t, problem.path));
  const echo = new RegExp(`${ECHO_START}([^${ECHO_END}]*)${ECHO_END}`, 'g');
  const message = problem.message.replace(echo, (_, v: string) => (hide ? HIDDEN : v));
  const forms = [...acc.secrets].flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  return redact(
    message,
    forms.filter((s) => s.length >= 4),
  );
}

/**
 * YAML errors as problems. Once the parser loses the document, every later token is reported
 * as "Unexpected ... in YAML stream": the first says so, the rest would only be noise.
 */
function syntaxProblems(doc: Document, text: string, counter: LineCounter): Located[] {
  const out: Located[] = [];
  let lost = false;
  for (const e of doc.errors) {
    let message = e.message.split('\n')[0]!;
    if (/ in YAML stream/.test(message)) {
      if (lost) continue;
      lost = true;
      message = `${message.replace(/: ".*"$/, '')}: the parser lost the structure here; the rest of the file is not read`;
    }
    if (text[e.pos[0] - 1] === '$' && text[e.pos[0]] === '{') {
      message += ' (inside [ ] or { } put ${...} references in quotes: "${NAME}")';
    }
    const line = counter.linePos(e.pos[0]).line;
    if (out.some((p) => p.line === line && p.message === message)) continue;
    out.push({ path: '(syntax)', message, line, offset: e.pos[0] });
  }
  return out;
}

type Located = ConfigProblem & { offset?: number };

function formatProblem(source: string, p: ConfigProblem): string {
  return p.line !== undefined ? `${source}:${p.line}: ${p.path}: ${p.message}` : `${source}: ${p.path}: ${p.message}`;
}

function fail(source: string, problems: ConfigProblem[]): never {
  throw new HgError('HG_CONFIG_INVALID', problems.map((p) => formatProblem(source, p)).join('\n'), { details: { problems } });
}

/**
 * Parses and validates configuration text. `env` supplies `${VAR}` values; `source` names the
 * text in messages (normally the file path); `kinds` are the target kinds of this build (their
 * schemas and semantic checks run here, for `serve` and `policy validate` alike). Throws
 * HG_CONFIG_INVALID listing every problem.
 */
export function parseConfig(text: string, env: ConfigEnv, source: string, kinds: TargetKinds): HourglassConfig {
  const body = text.replace(/^\uFEFF/, '');
  const counter = new LineCounter();
  const doc = parseDocument(body, {
    lineCounter: counter,
    prettyErrors: false,
    uniqueKeys: true,
    version: '1.2',
    merge: false,
  });
  const problems = syntaxProblems(doc, body, counter);

  const acc: Interpolation = { problems: [], tainted: [], secrets: new Set() };
  interpolateNode(doc.contents, env, [], acc);

  let raw: unknown;
  let rawOk = true;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    rawOk = false;
    problems.push({ path: '(syntax)', message: (e as Error).message.split('\n')[0]! });
  }
  const validation = rawOk ? validateConfig(raw, kinds) : undefined;
  // A value whose interpolation failed is not checked further: its problem is already told.
  const broken = acc.problems.map((p) => p.path);
  const checked = (validation?.problems ?? []).filter((p) => !broken.some((b) => b.length <= p.path.length && related(b, p.path)));
  const found = [...acc.problems, ...checked];
  for (const p of found) {
    const problem: Located = { path: formatPath(p.path), message: scrub(p, acc) };
    const offset = offsetOf(doc, p.path);
    if (offset !== undefined) Object.assign(problem, { line: counter.linePos(offset).line, offset });
    problems.push(problem);
  }
  if (problems.length > 0) {
    // In file order, keeping the order found at one place; problems without a place last.
    const ordered = problems
      .map((p, i) => ({ p, i }))
      .sort((a, b) => (a.p.offset ?? Infinity) - (b.p.offset ?? Infinity) || a.i - b.i)
      .map(({ p: { offset: _offset, ...p } }) => p);
    fail(source, ordered);
  }
  const config = validation?.config;
  if (!config) fail(source, [{ path: '(document)', message: 'invalid configuration' }]);
  return config;
}

/** Reads and parses a configuration file; a missing or unreadable file is HG_CONFIG_INVALID too. */
export function loadConfigFile(path: string, env: ConfigEnv, kinds: TargetKinds): HourglassConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'configuration file not found'
        : code === 'EACCES'
          ? 'configuration file is not readable (permission denied)'
          : code === 'EISDIR'
            ? 'is a directory, not a configuration file'
            : `configuration file cannot be read (${code ?? 'unknown error'})`;
    fail(path, [{ path: '(file)', message }]);
  }
  return parseConfig(text, env, path, kinds);
}
