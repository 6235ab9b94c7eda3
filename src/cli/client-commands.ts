/**
 * The `hourglass` client commands: thin wrappers over the REST API (api-client.ts) with human
 * output (format.ts) or the API's JSON (`--json`), and exit codes that scripts can rely on
 * (docs/cli.md); plus the offline commands (`policy validate|test`, `policy explain --config`),
 * `login`/`logout` and shell completion. The environment is read only through `ctx.env`.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import type { ConfigProblem, HourglassConfig } from '../config/types.js';
import { parseDuration, formatDuration } from '../core/duration.js';
import { HgError, isHgError } from '../core/errors.js';
import { REQUEST_STATUSES } from '../core/types.js';
import {
  ApiError,
  HourglassClient,
  UnreachableError,
  type CheckpointVerifyJson,
  type CredentialsJson,
  type ExplainJson,
  type RequestJson,
  type StreamedAnswer,
  type VerifyReportJson,
} from './api-client.js';
import { credentialsPath, CredentialsFileError, readCredentials, removeCredentials, sameServer, writeCredentials } from './credentials.js';
import {
  buildClientCommand,
  caPemOf,
  CLIENT_NOT_EXECUTABLE,
  CLIENT_NOT_FOUND,
  CLIENT_PROGRAMS,
  clientEnv,
  commandJson,
  ConnectError,
  describeCommand,
  envLines,
  findProgram,
  kindOf,
  partsOf,
  requireKind,
  runClient,
  writeCaFile,
  type TargetCredentials,
} from './connect.js';
import { CheckpointsFileError, NoSuchCredentials, TestsFileInvalid, UsageError } from './errors.js';
import * as fmt from './format.js';
import type { PinnedKey } from './offline.js';

/** The offline machinery (YAML, zod, the policy engine), loaded only by the commands that need it. */
const offlineModule = () => import('./offline.js');

export interface CliContext {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
  setExitCode: (code: number) => void;
  /** Raw streams, for output that is streamed (audit export) and input read from stdin; default process.stdout/stdin. */
  stdout?: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Whether stderr is a terminal (progress display); default process.stderr.isTTY. */
  stderrIsTTY?: boolean;
}

/** Exit codes of the client commands; documented in docs/cli.md. Scripts rely on them: never renumber. */
export const EXIT = {
  OK: 0,
  /** Unexpected or internal error (HTTP 500 and other 5xx but 502/503/504). */
  INTERNAL: 1,
  /** Usage error, or HG_INVALID_INPUT (400). */
  USAGE: 2,
  /** Unauthenticated or forbidden (401/403), except eligibility refusals. */
  AUTH: 3,
  NOT_FOUND: 4,
  /** 409: the request is no longer in a state that allows this, or a concurrent change won. */
  CONFLICT: 5,
  /** Refused by policy: HG_NOT_ELIGIBLE, HG_TERMS_NOT_MET, HG_PRINCIPAL_LOCKED, HG_TARGET_FROZEN. */
  POLICY: 6,
  /** Server or target unavailable or unreachable (502/503/504, 429, connection refused, timeout). */
  UNAVAILABLE: 7,
  /** `check` answered allowed: false. */
  CHECK_DENIED: 8,
  /** `request --wait` ended in a state other than active, or timed out. */
  WAIT_FAILED: 9,
  /** `audit verify` found the chain broken, or not matching --expect-head, or a checkpoint that does not hold. */
  AUDIT_BROKEN: 10,
  /** `connect`: the client program cannot be run (126 found but not executable); as a shell says it. */
  CLIENT_NOT_EXECUTABLE,
  /** `connect`: the client program (psql, mariadb/mysql, redis-cli, or --client) is not installed. */
  CLIENT_NOT_FOUND,
} as const;

/** `policy test`: some expectation failed (exit 1, as test runners do; 2 is an invalid file). */
export const TESTS_FAILED = 1;

export const DEFAULT_URL = 'http://127.0.0.1:8420';
const POLL_MS = 500;
const DEFAULT_WAIT = '10m';

const POLICY_CODES = new Set(['HG_NOT_ELIGIBLE', 'HG_TERMS_NOT_MET', 'HG_PRINCIPAL_LOCKED', 'HG_TARGET_FROZEN']);

/** No usable token. */
class CredentialsError extends Error {}

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError || e instanceof CheckpointsFileError || e instanceof TestsFileInvalid || e instanceof ConnectError) return EXIT.USAGE;
  if (e instanceof NoSuchCredentials) return EXIT.NOT_FOUND;
  if (e instanceof CredentialsError || e instanceof CredentialsFileError) return EXIT.AUTH;
  if (e instanceof UnreachableError) return EXIT.UNAVAILABLE;
  if (e instanceof ApiError) {
    if (POLICY_CODES.has(e.code)) return EXIT.POLICY;
    if (e.code === 'HG_CONFIG_INVALID') return EXIT.USAGE;
    switch (e.status) {
      case 400:
      case 413:
        return EXIT.USAGE;
      case 401:
      case 403:
        return EXIT.AUTH;
      case 404:
        return EXIT.NOT_FOUND;
      case 409:
        return EXIT.CONFLICT;
      case 429:
      case 502:
      case 503:
      case 504:
        return EXIT.UNAVAILABLE;
      default:
        return EXIT.INTERNAL;
    }
  }
  if (isHgError(e) && (e.code === 'HG_INVALID_INPUT' || e.code === 'HG_CONFIG_INVALID')) return EXIT.USAGE;
  return EXIT.INTERNAL;
}

interface HintContext {
  /** The command path, e.g. "approve" or "audit verify". */
  command: string;
  /** The request id the command was about, if any. */
  id?: string;
  url: string;
  /** Where the token came from: a stale stored login needs another hint than a wrong variable. */
  tokenSource?: TokenSource;
}

/** Candidate policies and why each refused, from error.details of HG_NOT_ELIGIBLE / HG_TERMS_NOT_MET. */
function policyReasons(details: unknown): string[] {
  const lines: string[] = [];
  const d = details as { candidates?: Record<string, { policy: string; reasons: string[] }[]>; reasons?: string[] } | undefined;
  if (d?.candidates && typeof d.candidates === 'object') {
    for (const [entitlement, verdicts] of Object.entries(d.candidates)) {
      if (!Array.isArray(verdicts) || verdicts.length === 0) {
        lines.push(`  ${entitlement}: no policy makes you eligible for it`);
        continue;
      }
      const failing = verdicts.filter((v) => v.reasons?.length);
      if (failing.length === 0) {
        lines.push(`  ${entitlement}: ok (policy ${verdicts.map((v) => v.policy).join(', ')})`);
        continue;
      }
      lines.push(`  ${entitlement}:`);
      for (const v of failing) lines.push(`    policy ${v.policy}: ${v.reasons.join('; ')}`);
    }
  }
  if (Array.isArray(d?.reasons)) for (const r of d.reasons) lines.push(`  ${String(r)}`);
  return lines;
}

/** The lines printed on stderr for a failure: `hourglass: MESSAGE (CODE)`, details, and what to do next. */
export function describeError(e: unknown, h: HintContext): string {
  const lines: string[] = [];
  const show = h.id ? `hourglass show ${h.id}` : 'hourglass show ID';
  if (e instanceof ApiError) {
    lines.push(`hourglass: ${e.message} (${e.code})`);
    let hint: string;
    if (e.code === 'HG_NOT_ELIGIBLE' || e.code === 'HG_TERMS_NOT_MET') {
      const reasons = policyReasons(e.details);
      const perPolicy = Boolean((e.details as { candidates?: unknown } | undefined)?.candidates);
      if (reasons.length) lines.push(perPolicy ? (e.code === 'HG_TERMS_NOT_MET' ? 'why each candidate policy refused:' : 'candidate policies:') : 'reasons:', ...reasons);
      hint =
        e.code === 'HG_NOT_ELIGIBLE'
          ? 'hourglass entitlements lists what you may request, and under which policies'
          : h.command === 'extend'
            ? 'ask for less time, or request access anew when this grant ends'
            : 'change the request to meet one policy\'s terms; hourglass entitlements shows them';
    } else if (e.code === 'HG_PRINCIPAL_LOCKED') {
      hint = 'an admin locked this principal; access comes back only after `hourglass unlock PRINCIPAL`';
    } else if (e.code === 'HG_TARGET_FROZEN') {
      hint = 'an admin froze this target; access comes back only after `hourglass unfreeze TARGET`';
    } else if (e.status === 401) {
      hint =
        h.tokenSource === 'credentials'
          ? 'the stored login was not accepted: run `hourglass login` again (or set HOURGLASS_TOKEN)'
          : 'check HOURGLASS_TOKEN (or --token): the server did not accept the token';
    } else if (e.code === 'HG_SELF_APPROVAL') {
      hint = `ask someone else who may approve it; ${show} names the policy`;
    } else if (e.code === 'HG_NOT_APPROVER') {
      hint = `only the approvers named by the request's policy can do this; ${show} names the policy`;
    } else if (e.status === 403) {
      hint = 'your token lacks the role or right for this; `hourglass whoami` shows your groups and roles';
    } else if (e.status === 404 && /^no route /.test(e.message)) {
      hint = 'this server does not offer that API: it may be older than this hourglass command';
    } else if (e.status === 404) {
      hint = h.id ? 'check the id; `hourglass requests` lists the requests you can see' : 'check the name or id';
    } else if (e.code === 'HG_IDEMPOTENCY_MISMATCH') {
      hint = 'that --idempotency-key was used before for a different request; use a new key';
    } else if (e.status === 409 && (h.command === 'credentials' || h.command === 'connect')) {
      hint = `credentials exist only while the grant is active: ${show} tells where it stands (hourglass request --wait waits for it)`;
    } else if (e.code === 'HG_ALREADY_APPROVED') {
      hint = `your approval is already counted; ${show} tells who else is needed`;
    } else if (e.status === 409) {
      hint = h.id ? `re-read it with ${show}` : 're-read the current state and retry if still wanted';
    } else if (e.code === 'HG_CONFIG_INVALID') {
      hint = 'fix the configuration file; the server keeps running with the previous one';
    } else if (e.status === 400 || e.status === 413) {
      hint = `see hourglass ${h.command} --help`;
    } else if (e.status === 429) {
      hint = 'too many calls with this token; wait a minute and retry';
    } else if (e.status === 502 || e.status === 503 || e.status === 504) {
      hint = h.id ? `the server or a target is unavailable; retry later (${show} tells the current state)` : 'the server or a target is unavailable; retry later';
    } else {
      hint = 'unexpected server error; the server log has the details';
    }
    lines.push(`hint: ${hint}`);
  } else if (e instanceof UnreachableError) {
    lines.push(`hourglass: ${e.message}`);
    lines.push('hint: is the server running? check --url or HOURGLASS_URL');
  } else if (e instanceof UsageError) {
    lines.push(`hourglass: ${e.message}`);
    lines.push(`hint: see hourglass ${h.command} --help`);
  } else if (e instanceof NoSuchCredentials) {
    lines.push(`hourglass: ${e.message}`);
    lines.push(`hint: ${h.id ? `hourglass credentials ${h.id}` : 'hourglass credentials ID'} lists the targets it has credentials for`);
  } else if (e instanceof ConnectError) {
    lines.push(`hourglass: ${e.message}`);
    lines.push(`hint: ${h.id ? `hourglass credentials ${h.id}` : 'hourglass credentials ID'} shows them; connect to the target with them yourself`);
  } else if (e instanceof CredentialsError) {
    lines.push(`hourglass: ${e.message}`);
    lines.push('hint: run `hourglass login`, or set HOURGLASS_TOKEN (or pass --token)');
  } else if (e instanceof CredentialsFileError) {
    lines.push(`hourglass: ${e.message}`);
    lines.push('hint: `hourglass logout` removes the stored login; HOURGLASS_TOKEN or --token work without it');
  } else if (e instanceof CheckpointsFileError) {
    lines.push(`hourglass: the checkpoints file is not usable:`, ...e.message.split('\n').map((l) => `  ${l}`));
    lines.push('hint: give the JSON Lines file the server writes (audit.checkpoints.file), one checkpoint per line');
  } else if (e instanceof TestsFileInvalid) {
    lines.push(`hourglass: ${e.file} is not a valid tests file (${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}):`, e.message);
    lines.push('hint: see docs/policies.md for the tests file format');
  } else if (isHgError(e) && e.code === 'HG_CONFIG_INVALID') {
    const n = ((e.details as { problems?: unknown[] } | undefined)?.problems ?? []).length;
    lines.push(`hourglass: the configuration file is not valid (${n} problem${n === 1 ? '' : 's'}) (HG_CONFIG_INVALID):`, e.message);
    lines.push('hint: fix every problem listed; `hourglass policy validate FILE` checks the file again');
  } else if (isHgError(e)) {
    lines.push(`hourglass: ${e.message} (${e.code})`);
    lines.push(`hint: see hourglass ${h.command} --help`);
  } else {
    const err = e as Error;
    lines.push(`hourglass: unexpected error: ${err?.message ?? String(e)}`);
  }
  return lines.join('\n') + '\n';
}

// ---- plumbing ----------------------------------------------------------------------------------------

interface GlobalOpts {
  url?: string;
  token?: string;
  json?: boolean;
}

type TokenSource = 'flag' | 'env' | 'credentials';

interface Connection {
  url: string;
  token: string;
  tokenSource: TokenSource;
}

interface Io {
  /** The API client; resolving it (URL, token, stored login) happens on first use, so offline commands never need a token. */
  readonly client: HourglassClient;
  json: boolean;
  env: CliContext['env'];
  out: (s: string) => void;
  err: (s: string) => void;
  /** Prints an answer: its JSON with --json, else the human text. */
  print: (body: unknown, human: () => string) => void;
  /** Scrubs this value from everything printed from now on. */
  addSecret: (s: string | undefined) => void;
  stdout: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderrIsTTY: boolean;
}

const CONNECTION_GROUP = 'Connection and output:';

/** --url, --token, --json: on every client command, listed apart in its help. */
function addGlobals(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', `Hourglass server URL (default: $HOURGLASS_URL, the stored login, else ${DEFAULT_URL})`).helpGroup(CONNECTION_GROUP))
    .addOption(new Option('--token <token>', 'API token (default: $HOURGLASS_TOKEN, else the stored login; never printed)').helpGroup(CONNECTION_GROUP))
    .addOption(new Option('--json', 'print the JSON answer instead of text').helpGroup(CONNECTION_GROUP));
}

/** --json alone: for commands that need no server. */
function addJson(cmd: Command): Command {
  return cmd.addOption(new Option('--json', 'print the JSON answer instead of text').helpGroup('Output:'));
}

function checkUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULT_URL}, got "${raw}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULT_URL}, got "${raw}"`);
  }
  if (parsed.username || parsed.password) throw new UsageError('--url must not carry credentials; use --token or HOURGLASS_TOKEN');
  return raw.replace(/\/+$/, '');
}

function checkToken(token: string): string {
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new CredentialsError('the API token contains spaces or characters that cannot be sent in a header');
  }
  return token;
}

/**
 * URL and token: the options first, then HOURGLASS_URL / HOURGLASS_TOKEN, then the stored login
 * of `hourglass login`. A stored token is only ever sent to the URL it was stored with.
 */
function resolveConnection(opts: GlobalOpts, ctx: CliContext, warn: (s: string) => void, onSecret: (s: string) => void): Connection {
  const env = ctx.env;
  const flagUrl = (opts.url ?? env.HOURGLASS_URL ?? '').trim();
  const direct = opts.token ?? env.HOURGLASS_TOKEN ?? '';
  const file = credentialsPath(env);
  const stored = !flagUrl || !direct ? readCredentials(file, warn) : undefined;
  if (stored) onSecret(stored.token);
  const url = checkUrl(flagUrl || stored?.url || DEFAULT_URL);
  if (direct) return { url, token: checkToken(direct), tokenSource: opts.token !== undefined ? 'flag' : 'env' };
  if (stored && sameServer(stored.url, url)) return { url, token: checkToken(stored.token), tokenSource: 'credentials' };
  if (stored) throw new CredentialsError(`no API token for ${url} (the stored login is for ${stored.url}, and its token is sent nowhere else)`);
  throw new CredentialsError('no API token given');
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

type Handler = (io: Io, opts: Record<string, any>, ...args: any[]) => Promise<number | void>;

/**
 * Wraps a command's work: builds the client on first use (URL, token, stored login), prints any
 * failure as `hourglass: message (CODE)` plus a hint, and sets the exit code. Output never shows
 * the token: every token in sight is scrubbed from what is printed.
 */
function action(ctx: CliContext, handler: Handler, opts: { idArg?: boolean } = {}) {
  return async (...all: unknown[]) => {
    const cmd = all[all.length - 1] as Command;
    const options = cmd.opts() as GlobalOpts & Record<string, unknown>;
    const args = all.slice(0, -2);
    const secrets = new Set<string>();
    const addSecret = (s: string | undefined) => {
      if (s && s.length >= 4) secrets.add(s);
    };
    addSecret(options.token);
    addSecret(ctx.env.HOURGLASS_TOKEN);
    const scrub = (s: string) => {
      let out = s;
      for (const secret of secrets) out = out.split(secret).join('***');
      return out;
    };
    const out = (s: string) => ctx.out(scrub(s));
    const err = (s: string) => ctx.err(scrub(s));
    let connection: Connection | undefined;
    let client: HourglassClient | undefined;
    const json = options.json === true;
    const io: Io = {
      get client() {
        if (!client) {
          connection = resolveConnection(options, ctx, err, addSecret);
          client = new HourglassClient({ url: connection.url, token: connection.token, userAgent: 'hourglass-cli/0.1.0' });
        }
        return client;
      },
      json,
      env: ctx.env,
      out,
      err,
      print: (body, human) => out(json ? `${JSON.stringify(body, null, 2)}\n` : human()),
      addSecret,
      stdout: ctx.stdout ?? process.stdout,
      stdin: ctx.stdin ?? process.stdin,
      stderrIsTTY: ctx.stderrIsTTY ?? Boolean(process.stderr.isTTY),
    };
    try {
      const code = await handler(io, options, ...args);
      if (code) ctx.setExitCode(code);
    } catch (e) {
      const id = opts.idArg && typeof args[0] === 'string' ? args[0] : undefined;
      const url = connection?.url ?? (typeof options.url === 'string' ? options.url : (ctx.env.HOURGLASS_URL ?? DEFAULT_URL));
      err(describeError(e, { command: commandPath(cmd), url, ...(id ? { id } : {}), ...(connection ? { tokenSource: connection.tokenSource } : {}) }));
      ctx.setExitCode(exitCodeFor(e));
    }
  };
}

// ---- argument parsers (commander turns a throw into a usage error, exit 2) ----------------------------------

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('expected a whole number from 1 to 1000');
  return n;
}

function durationArg(value: string): string {
  try {
    parseDuration(value);
  } catch {
    throw new InvalidArgumentError('expected a duration such as 90s, 15m, 1h30m, 2d or PT1H');
  }
  return value;
}

function statusList(value: string): string[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !(REQUEST_STATUSES as readonly string[]).includes(s));
  if (bad.length || list.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${REQUEST_STATUSES.join(', ')}`);
  return list;
}

/** `--at`: an ISO-8601 date-time, or `+DURATION` from now. */
export function parseStartAt(value: string, now: number = Date.now()): string {
  const v = value.trim();
  if (v.startsWith('+')) {
    try {
      return new Date(now + parseDuration(v.slice(1))).toISOString();
    } catch {
      throw new InvalidArgumentError('expected +DURATION (e.g. +30m) or an ISO-8601 date-time');
    }
  }
  const at = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(at)) throw new InvalidArgumentError('expected an ISO-8601 date-time (2025-03-01T09:00:00Z) or +DURATION (e.g. +30m)');
  return new Date(at).toISOString();
}

/** `policy explain --at`: an ISO-8601 date-time, or `+DURATION` / `-DURATION` from now. */
function evalTime(value: string): string {
  const v = value.trim();
  if (v.startsWith('-')) return pastTime(v);
  return parseStartAt(v);
}

/** `--since` / `--until`: an ISO-8601 date-time, or `-DURATION` before now. */
function pastTime(value: string): string {
  const v = value.trim();
  if (v.startsWith('-')) {
    try {
      return new Date(Date.now() - parseDuration(v.slice(1))).toISOString();
    } catch {
      throw new InvalidArgumentError('expected -DURATION (e.g. -1h) or an ISO-8601 date-time');
    }
  }
  const at = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(at)) throw new InvalidArgumentError('expected an ISO-8601 date-time or -DURATION (e.g. -1h)');
  return new Date(at).toISOString();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isTransient(e: unknown): boolean {
  return e instanceof UnreachableError || (e instanceof ApiError && [429, 502, 503, 504].includes(e.status));
}

/** Polls the request until it is active or final; returns the last state seen and whether time ran out. */
async function waitFor(io: Io, first: RequestJson, timeoutMs: number): Promise<{ last: RequestJson; timedOut: boolean }> {
  let last = first;
  const deadline = Date.now() + timeoutMs;
  const state = (r: RequestJson) => `${r.status}${r.access !== 'none' && r.access !== 'present' ? ` (access ${r.access})` : ''}`;
  if (last.status !== 'active' && !fmt.isFinalStatus(last.status)) {
    io.err(`${last.id}: ${state(last)}; waiting up to ${formatDuration(timeoutMs)} for it to become active\n`);
  }
  let troubled = false;
  while (last.status !== 'active' && !fmt.isFinalStatus(last.status)) {
    const left = deadline - Date.now();
    if (left <= 0) return { last, timedOut: true };
    await sleep(Math.min(POLL_MS, left));
    let next: RequestJson;
    try {
      next = await io.client.getRequest(last.id);
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (!troubled) io.err(`${last.id}: ${(e as Error).message}; still trying\n`);
      troubled = true;
      continue;
    }
    troubled = false;
    if (state(next) !== state(last)) io.err(`${last.id}: ${state(last)} -> ${state(next)}\n`);
    else if (next.approvals.length !== last.approvals.length) {
      io.err(`${last.id}: approved by ${next.approvals.map((a) => a.by).join(', ')}\n`);
    }
    last = next;
  }
  return { last, timedOut: false };
}

// ---- login ----------------------------------------------------------------------------------------------

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    text += chunk as string;
    if (text.length > 64 * 1024) throw new UsageError('stdin holds more than a token (over 64 KB)');
  }
  return text;
}

/** Asks on the terminal (prompt on stderr); `hidden` does not echo what is typed. */
async function ask(io: Io, question: string, hidden = false): Promise<string> {
  const rl = createInterface({ input: io.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    const rlw = rl as unknown as { _writeToOutput: (s: string) => void };
    let asked = false;
    rlw._writeToOutput = (s: string) => {
      if (!asked) {
        asked = true;
        process.stderr.write(s);
      }
    };
  }
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    if (hidden) process.stderr.write('\n');
    return answer.trim();
  } finally {
    rl.close();
  }
}

// ---- audit streams ---------------------------------------------------------------------------------

/** Writes chunks to `dest` with backpressure; counts bytes and newlines. Stops quietly when a reader of stdout goes away (EPIPE). */
async function pump(answer: StreamedAnswer, dest: NodeJS.WritableStream): Promise<{ bytes: number; lines: number; closed: boolean }> {
  let bytes = 0;
  let lines = 0;
  let failure: Error | undefined;
  const onError = (e: Error) => {
    failure = e;
    answer.cancel();
  };
  dest.on('error', onError);
  try {
    for await (const chunk of answer.chunks) {
      if (failure) break;
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines += 1;
      if (!dest.write(chunk)) {
        await Promise.race([once(dest, 'drain'), once(dest, 'error').catch(() => undefined), once(dest, 'close')]);
      }
    }
  } catch (e) {
    if (!failure) throw e;
  } finally {
    dest.off('error', onError);
  }
  if (failure) {
    if ((failure as NodeJS.ErrnoException).code === 'EPIPE') return { bytes, lines, closed: true };
    throw failure;
  }
  return { bytes, lines, closed: false };
}

/** Parses an NDJSON stream line by line. */
async function* ndjson(answer: StreamedAnswer): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of answer.chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) yield parseLine(line);
    }
  }
  buffer += decoder.decode();
  if (buffer.trim()) yield parseLine(buffer.trim());
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new ApiError(200, 'HTTP_NOT_JSON', `the server sent a line that is not JSON in the verification stream: ${line.slice(0, 80)}`);
  }
}

/** The progress display of a long verification: one rewritten line on a terminal, else a line every few seconds. */
function progressReporter(io: Io, enabled: boolean) {
  let last = 0;
  let shown = false;
  return {
    update(p: { count?: number; lastSeq?: number }) {
      if (!enabled) return;
      const now = Date.now();
      const text = `verifying the audit chain: ${p.count ?? '?'} event(s) checked (seq ${p.lastSeq ?? '?'})`;
      if (io.stderrIsTTY) {
        if (now - last < 100) return;
        io.err(`\r\x1b[K${text}`);
        shown = true;
      } else {
        if (now - last < 2000) return;
        io.err(`${text}\n`);
      }
      last = now;
    },
    done() {
      if (shown) io.err('\r\x1b[K');
      shown = false;
    },
  };
}

async function verifyChain(io: Io, expectHead: string | undefined, showProgress: boolean): Promise<VerifyReportJson> {
  let answer: StreamedAnswer;
  try {
    answer = await io.client.auditVerifyStream(expectHead);
  } catch (e) {
    // An older server without the streaming route: verify in one call.
    if (e instanceof ApiError && e.status === 404) return io.client.auditVerify(expectHead);
    throw e;
  }
  const progress = progressReporter(io, showProgress);
  try {
    for await (const msg of ndjson(answer)) {
      const m = msg as { progress?: { count?: number; lastSeq?: number }; result?: VerifyReportJson; error?: { code?: string; message?: string } };
      if (m.progress) progress.update(m.progress);
      else if (m.result) {
        answer.cancel();
        return m.result;
      } else if (m.error) {
        const code = m.error.code ?? 'HG_INTERNAL';
        const status = code === 'HG_STORE_UNAVAILABLE' ? 503 : code === 'HG_FORBIDDEN' ? 403 : code === 'HG_INVALID_INPUT' ? 400 : 500;
        throw new ApiError(status, code, m.error.message ?? 'the verification failed on the server');
      }
    }
  } finally {
    progress.done();
  }
  throw new UnreachableError(io.client.url, 'the verification stream ended without a result');
}

/** Checkpoints per POST: well inside the default 64 KB body limit even with a PEM key on every line. */
const CHECKPOINT_BATCH = 100;

interface CheckpointReport extends CheckpointVerifyJson {
  signatures: { checked: number; valid: number; keyIds: string[]; pinned: string | null; failures: { seq: number; problem: string }[] };
}

/**
 * Checks every signature here (node:crypto), then asks the server to compare each checkpoint with
 * the chain, in batches; only the batch holding the newest checkpoint verifies the whole chain
 * (with that checkpoint as the expected head).
 */
async function verifyCheckpoints(io: Io, file: string, publicKey: string | undefined): Promise<CheckpointReport> {
  const { checkSignature, pinKey, readCheckpointsFile } = await offlineModule();
  const list = readCheckpointsFile(file).sort((a, b) => a.seq - b.seq);
  let pinned: PinnedKey | undefined;
  if (publicKey !== undefined) {
    const text = existsSync(publicKey) ? readFileSync(publicKey, 'utf8') : publicKey;
    try {
      pinned = pinKey(text);
    } catch (e) {
      throw new UsageError(`--public-key: not a usable Ed25519 public key (PEM file, PEM, base64 or hex): ${(e as Error).message}`);
    }
  }
  const local = list.flatMap((cp) => {
    const problem = checkSignature(cp, pinned);
    return problem ? [{ seq: cp.seq, problem }] : [];
  });
  const merged: CheckpointVerifyJson = { ok: true, checked: 0, chain: null, failures: [], keys: [] };
  for (let i = 0; i < list.length; i += CHECKPOINT_BATCH) {
    const last = i + CHECKPOINT_BATCH >= list.length;
    const r = await io.client.verifyCheckpoints({
      checkpoints: list.slice(i, i + CHECKPOINT_BATCH),
      ...(pinned ? { publicKey: pinned.pem, trustedKeyIds: [pinned.keyId] } : {}),
      ...(last ? {} : { verifyChain: false }),
    });
    merged.ok = merged.ok && r.ok;
    merged.checked += r.checked;
    if (r.chain) merged.chain = r.chain;
    merged.failures.push(...r.failures);
    for (const k of r.keys ?? []) {
      const known = merged.keys.find((x) => x.keyId === k.keyId);
      if (known) known.checkpoints += k.checkpoints;
      else merged.keys.push({ ...k });
    }
  }
  return {
    ...merged,
    ok: merged.ok && local.length === 0,
    signatures: {
      checked: list.length,
      valid: list.length - local.length,
      keyIds: [...new Set(list.map((c) => c.keyId))],
      pinned: pinned?.keyId ?? null,
      failures: local,
    },
  };
}

function checkpointLines(r: CheckpointReport): string {
  const lines: string[] = [];
  lines.push(
    r.failures.length === 0
      ? `checkpoints: ${r.checked} checked against the chain, all match`
      : `CHECKPOINTS FAILED on the server: ${r.failures.length} problem(s) with the ${r.checked} checkpoint(s)`,
  );
  for (const f of r.failures) lines.push(`  seq ${f.seq}: ${f.problem}`);
  const s = r.signatures;
  lines.push(
    s.failures.length === 0
      ? `signatures: ${s.valid} valid, checked here (key ${s.keyIds.join(', ')}${s.pinned ? ', pinned with --public-key' : ''})`
      : `BAD SIGNATURES, checked here: ${s.failures.length} of ${s.checked} checkpoint(s)`,
  );
  for (const f of s.failures) lines.push(`  seq ${f.seq}: ${f.problem}`);
  const chain = r.chain as VerifyReportJson | null;
  if (chain && typeof chain === 'object' && typeof chain.ok === 'boolean' && typeof chain.count === 'number') lines.push(fmt.verifyLines(chain).trimEnd());
  return lines.join('\n') + '\n';
}

// ---- policies ------------------------------------------------------------------------------------

async function loadConfigOffline(io: Io, file: string): Promise<HourglassConfig> {
  return (await offlineModule()).loadConfig(file, io.env);
}

/** The file's configuration; or, when it is invalid, every problem reported (as the server gives them) and undefined. */
async function loadConfigOrReport(io: Io, file: string, hint: string): Promise<HourglassConfig | undefined> {
  try {
    return await loadConfigOffline(io, file);
  } catch (e) {
    if (!(isHgError(e) && e.code === 'HG_CONFIG_INVALID')) throw e;
    const problems = problemsOf(e);
    io.print({ valid: false, file, problems }, () => `${e.message}\n`);
    io.err(`hourglass: ${file} is not valid: ${problems.length} problem${problems.length === 1 ? '' : 's'} (HG_CONFIG_INVALID)\nhint: ${hint}\n`);
    return undefined;
  }
}

function problemsOf(e: HgError): ConfigProblem[] {
  return ((e.details as { problems?: ConfigProblem[] } | undefined)?.problems ?? []).map((p) => ({ ...p }));
}

function splitList(values: string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

// ---- credentials and connect ---------------------------------------------------------------------------

/**
 * The targets of `creds` the command is about: the one named by --target, or all of them; with
 * `one`, exactly one (the only one, or the one named).
 */
function pickTargets(creds: CredentialsJson, target: string | undefined, one: string | false): [string, TargetCredentials][] {
  const all = Object.entries(creds.targets);
  if (target !== undefined) {
    const found = creds.targets[target];
    if (!found) {
      throw new NoSuchCredentials(
        all.length
          ? `request ${creds.requestId} has no credentials for target ${target} (it has: ${all.map(([n]) => n).join(', ')})`
          : `request ${creds.requestId} has no credentials for target ${target} (its targets issue none)`,
      );
    }
    return [[target, found]];
  }
  if (one && all.length === 0) throw new NoSuchCredentials(`request ${creds.requestId} has no credentials: its targets issue none`);
  if (one && all.length > 1) throw new UsageError(`request ${creds.requestId} has credentials for ${all.length} targets (${all.map(([n]) => n).join(', ')}): ${one} needs --target NAME`);
  return all;
}

interface ConnectOptions {
  target?: string;
  extra: string[];
  print: boolean;
  client?: string;
}

/** The client program to run, found on PATH; for mariadb `mariadb`, else `mysql`. */
function resolveClient(io: Io, kind: keyof typeof CLIENT_PROGRAMS, wanted: string | undefined): { program: string; file: string | undefined; flavor?: 'mariadb' | 'mysql' } {
  const names = wanted !== undefined ? [wanted] : CLIENT_PROGRAMS[kind];
  for (const name of names) {
    const file = findProgram(name, io.env.PATH);
    if (!file) continue;
    let flavor: 'mariadb' | 'mysql' | undefined;
    if (kind === 'mariadb' && wanted === undefined && name === 'mysql') {
      // Debian's mysql is often MariaDB's client, whose TLS options differ from Oracle's.
      try {
        flavor = /MariaDB/i.test(execFileSync(file, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] })) ? 'mariadb' : 'mysql';
      } catch {
        flavor = 'mysql';
      }
    }
    return { program: name, file, ...(flavor ? { flavor } : {}) };
  }
  return { program: names[0]!, file: undefined };
}

/**
 * `hourglass connect`: fetches the credentials (an audited retrieval) and runs the target's
 * client with them, the password in its environment only; returns the client's exit code.
 */
async function connectTo(io: Io, id: string, o: ConnectOptions): Promise<number> {
  const creds = await io.client.credentials(id);
  for (const c of Object.values(creds.targets)) io.addSecret(typeof c.password === 'string' ? c.password : undefined);
  const [[name, c]] = pickTargets(creds, o.target, 'connect') as [[string, TargetCredentials]];
  const kind = requireKind(name, c);
  const resolved = resolveClient(io, kind, o.client);
  const ca = caPemOf(c);
  const caFile = ca ? (o.print ? path.join(tmpdir(), 'hourglass-ca-XXXXXX', 'ca.pem') : undefined) : undefined;
  const build = (file?: string) =>
    buildClientCommand(name, c, o.extra, { program: resolved.program, ...(resolved.flavor ? { flavor: resolved.flavor } : {}), ...(file ? { caFile: file } : {}) });
  if (o.print) {
    const cmd = build(caFile);
    io.print(commandJson(name, cmd), () => `${describeCommand(cmd, io.env)}\n`);
    if (!resolved.file) io.err(`note: ${resolved.program} is not installed here (not found on PATH)\n`);
    return EXIT.OK;
  }
  if (!resolved.file) {
    const tried = o.client !== undefined ? o.client : CLIENT_PROGRAMS[kind].join(' or ');
    io.err(
      `hourglass: cannot connect to ${name}: ${tried} is not installed (not found on PATH)\n` +
        `hint: install it (Debian: ${kind === 'postgres' ? 'postgresql-client' : kind === 'mariadb' ? 'mariadb-client' : 'redis-tools'}), or name another client with --client PROGRAM\n`,
    );
    return EXIT.CLIENT_NOT_FOUND;
  }
  const caTemp = ca ? writeCaFile(ca) : undefined;
  try {
    const cmd = build(caTemp?.file);
    const user = partsOf(c, kind).username;
    io.err(`connecting to ${name}${user ? ` as ${user}` : ''} with ${resolved.program}; access ends ${fmt.when(creds.expiresAt)}\n`);
    const { code, startError } = await runClient(resolved.file, cmd, clientEnv(io.env, cmd));
    if (startError) io.err(`hourglass: cannot run ${resolved.file}: ${startError.message}\nhint: check that it is an executable program, or name another client with --client PROGRAM\n`);
    return code;
  } finally {
    caTemp?.remove();
  }
}

// ---- the commands -------------------------------------------------------------------------------------------

export function registerClientCommands(program: Command, ctx: CliContext): void {
  // --url/--token/--json are added last so that their group follows each command's own options.
  const clients: Command[] = [];
  const offline: Command[] = [];
  const client = (name: string, description: string, parent: Command = program) => {
    const cmd = parent.command(name).description(description);
    clients.push(cmd);
    return cmd;
  };
  const local = (name: string, description: string, parent: Command = program) => {
    const cmd = parent.command(name).description(description);
    offline.push(cmd);
    return cmd;
  };

  // ---- session
  program
    .command('login')
    .description('check a server URL and API token, and store them for later commands (mode 0600)')
    .option('--url <url>', `Hourglass server URL (default: $HOURGLASS_URL, else asked, else ${DEFAULT_URL})`)
    .option('--token <token>', 'API token (visible in ps: prefer --token-stdin or the prompt)')
    .option('--token-stdin', 'read the API token from stdin')
    .option('--json', 'print the JSON answer instead of text')
    .addHelpText(
      'after',
      '\nThe token is checked with GET /v1/me before it is stored, in $XDG_CONFIG_HOME/hourglass/credentials.json\n' +
        '(default ~/.config/hourglass/credentials.json). Later commands use it when neither --url/--token nor\n' +
        'HOURGLASS_URL/HOURGLASS_TOKEN say otherwise, and only ever send it to the URL it was stored with.\n\n' +
        'Examples:\n  hourglass login --url https://hourglass.example.com            # asks for the token\n' +
        '  printf %s "$TOKEN" | hourglass login --url https://hourglass.example.com --token-stdin\n',
    )
    .action(
      action(ctx, async (io, o) => {
        if (o.token !== undefined && o.tokenStdin) throw new UsageError('give the token with --token or --token-stdin, not both');
        const file = credentialsPath(io.env);
        let previous;
        try {
          previous = readCredentials(file);
        } catch {
          previous = undefined; // a broken file is replaced
        }
        const interactive = Boolean(io.stdin.isTTY) && !o.tokenStdin;
        let url = ((o.url as string | undefined) ?? io.env.HOURGLASS_URL ?? '').trim();
        if (!url && interactive) {
          const fallback = previous?.url ?? DEFAULT_URL;
          url = (await ask(io, `Hourglass URL [${fallback}]: `)) || fallback;
        }
        url = checkUrl(url || previous?.url || DEFAULT_URL);
        let token = o.token as string | undefined;
        if (token === undefined && o.tokenStdin) token = (await readAll(io.stdin)).trim();
        if (token === undefined && io.env.HOURGLASS_TOKEN) token = io.env.HOURGLASS_TOKEN;
        if (token === undefined && interactive) token = await ask(io, `API token for ${url}: `, true);
        if (!token) {
          throw new CredentialsError(
            o.tokenStdin ? 'stdin held no token' : 'no API token given: pipe it in with --token-stdin, or run hourglass login in a terminal to be asked',
          );
        }
        checkToken(token);
        const verifier = new HourglassClient({ url, token, userAgent: 'hourglass-cli/0.1.0' });
        const me = await verifier.me();
        writeCredentials(file, { url, token });
        io.print({ url, credentials: file, principal: me }, () => `logged in to ${url} as ${me.id}${me.locked ? ' (LOCKED)' : ''}\ncredentials stored in ${file} (mode 0600)\n`);
      }),
    );

  program
    .command('logout')
    .description('forget the stored login (the token itself stays valid until removed from the configuration)')
    .option('--json', 'print the JSON answer instead of text')
    .action(
      action(ctx, async (io) => {
        const file = credentialsPath(io.env);
        const removed = removeCredentials(file);
        io.print({ removed, credentials: file }, () => (removed ? `logged out: removed ${file}\n` : `not logged in (no ${file})\n`));
      }),
    );

  // ---- requests
  client('request', 'ask for access to one or more entitlements (target/role)')
    .argument('<entitlements...>', 'entitlements, e.g. prod-db/read')
    .option('--for <duration>', "how long, e.g. 2h, 30m, 1h30m (default: the policy's default)", durationArg)
    .option('--reason <text>', 'why you need it')
    .option('--ticket <id>', 'ticket or incident reference')
    .option('--at <time>', 'start later: ISO-8601 date-time or +DURATION (e.g. +30m)', (v: string) => parseStartAt(v))
    .option('--break-glass', 'emergency access under a break-glass policy (reviewed afterwards)')
    .option('--policy <name>', 'use this policy only')
    .option('--idempotency-key <key>', 'retry-safe submission: the same key returns the same request')
    .option('--wait', 'wait until the request is active (exit 0) or ends otherwise (exit 9)')
    .option('--timeout <duration>', `with --wait: how long to wait (default: ${DEFAULT_WAIT})`, durationArg)
    .option('--connect', 'wait as --wait does, then open the target\'s client with the credentials (as hourglass connect)')
    .addHelpText(
      'after',
      '\nExamples:\n  hourglass request demo-db/read --for 30m --reason "look at a slow query"\n  hourglass request demo-db/admin --for 1h --reason "fix index" --ticket INC-42 --wait\n' +
        '  hourglass request app-db/read --for 1h --connect                                    # then psql\n',
    )
    .action(
      action(ctx, async (io, o, entitlements: string[]) => {
        if (o.connect && io.json) throw new UsageError('--connect opens a client: it does not go with --json (use --wait --json, then hourglass connect ID)');
        const wait = Boolean(o.wait || o.connect);
        if (o.timeout !== undefined && !wait) throw new UsageError('--timeout goes with --wait');
        const { request, replayed } = await io.client.submit(
          {
            entitlements,
            ...(o.for !== undefined ? { duration: o.for as string } : {}),
            ...(o.reason !== undefined ? { reason: o.reason as string } : {}),
            ...(o.ticket !== undefined ? { ticket: o.ticket as string } : {}),
            ...(o.at !== undefined ? { startAt: o.at as string } : {}),
            ...(o.breakGlass ? { breakGlass: true } : {}),
            ...(o.policy !== undefined ? { policy: o.policy as string } : {}),
          },
          o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey as string } : {},
        );
        if (replayed) io.err(`hourglass: this --idempotency-key was used before; showing request ${request.id} as it is now\n`);
        if (!wait) {
          io.print(request, () => fmt.requestLine(request));
          return;
        }
        // With --connect, stdout belongs to the client: the request's lines go to stderr.
        const say = o.connect ? io.err : io.out;
        if (!io.json) say(fmt.requestLine(request));
        const timeoutMs = parseDuration((o.timeout as string | undefined) ?? DEFAULT_WAIT);
        const { last, timedOut } = await waitFor(io, request, timeoutMs);
        if (io.json) io.out(`${JSON.stringify(last, null, 2)}\n`);
        else if (last.status !== request.status || last.access !== request.access) say(fmt.requestLine(last));
        if (timedOut) {
          io.err(`hourglass: gave up waiting after ${formatDuration(timeoutMs)}: ${last.id} is still ${last.status}\nhint: hourglass show ${last.id}; cancel it with hourglass cancel ${last.id} if no longer needed\n`);
          return EXIT.WAIT_FAILED;
        }
        if (last.status !== 'active') {
          io.err(`hourglass: ${last.id} ended ${fmt.nextStep(last)}\n`);
          return EXIT.WAIT_FAILED;
        }
        if (o.connect) return connectTo(io, last.id, { extra: [], print: false });
        return EXIT.OK;
      }),
    );

  client('requests', 'list requests you can see (newest first)')
    .option('--status <list>', `only these statuses, comma-separated (${REQUEST_STATUSES.join(',')})`, statusList)
    .option('--mine', 'only your own requests')
    .option('--approvable', 'only requests waiting for your approval')
    .option('--requester <principal>', "only this principal's requests")
    .option('--limit <n>', 'at most N requests (1-1000, default 100)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page (printed when there is more)')
    .action(
      action(ctx, async (io, o) => {
        const page = await io.client.listRequests({
          ...(o.status ? { status: o.status as string[] } : {}),
          ...(o.mine ? { mine: true } : {}),
          ...(o.approvable ? { approvable: true } : {}),
          ...(o.requester !== undefined ? { requester: o.requester as string } : {}),
          ...(o.limit !== undefined ? { limit: o.limit as number } : {}),
          ...(o.cursor !== undefined ? { cursor: o.cursor as string } : {}),
        });
        io.print(page, () => fmt.requestsTable(page.requests));
        if (!io.json && page.nextCursor) io.err(`more: add --cursor ${page.nextCursor}\n`);
      }),
    );

  client('show', 'show one request in full')
    .argument('<id>', 'request id')
    .action(action(ctx, async (io, _o, id: string) => {
      const r = await io.client.getRequest(id);
      io.print(r, () => fmt.requestDetails(r));
    }, { idArg: true }));

  const decision = (name: string, description: string, flag: string, flagHelp: string, run: (c: HourglassClient, id: string, text?: string) => Promise<RequestJson>) =>
    client(name, description)
      .argument('<id>', 'request id')
      .option(flag, flagHelp)
      .action(action(ctx, async (io, o, id: string) => {
        const text = (o.comment ?? o.reason) as string | undefined;
        const r = await run(io.client, id, text);
        io.print(r, () => fmt.requestLine(r));
      }, { idArg: true }));

  decision('approve', 'approve a pending request (or a pending extension)', '--comment <text>', 'a comment for the record', (c, id, t) => c.approve(id, t));
  decision('deny', 'deny a pending request (or a pending extension)', '--comment <text>', 'why', (c, id, t) => c.deny(id, t));
  decision('cancel', 'withdraw your own pending or scheduled request', '--reason <text>', 'why', (c, id, t) => c.cancel(id, t));
  decision('revoke', "end someone's grant now (admins and the request's approvers)", '--reason <text>', 'why', (c, id, t) => c.revoke(id, t));

  client('release', 'end your own grant early (task done)')
    .argument('<id>', 'request id')
    .action(action(ctx, async (io, _o, id: string) => {
      const r = await io.client.release(id);
      io.print(r, () => fmt.requestLine(r));
    }, { idArg: true }));

  client('extend', 'ask for more time on your active grant')
    .argument('<id>', 'request id')
    .requiredOption('--for <duration>', 'how much longer, e.g. 1h', durationArg)
    .option('--reason <text>', 'why')
    .action(action(ctx, async (io, o, id: string) => {
      const r = await io.client.extend(id, o.for as string, o.reason as string | undefined);
      io.print(r, () => fmt.requestLine(r));
    }, { idArg: true }));

  client('review', 'review a break-glass grant after the fact')
    .argument('<id>', 'request id')
    .requiredOption('--comment <text>', 'the review (required)')
    .action(action(ctx, async (io, o, id: string) => {
      const r = await io.client.review(id, o.comment as string);
      io.print(r, () => fmt.requestLine(r));
    }, { idArg: true }));

  // ---- credentials
  client('credentials', 'print the credentials of your active grant, password included (every retrieval is audited)')
    .argument('<id>', 'request id')
    .option('--target <name>', 'only the credentials for this target')
    .addOption(new Option('--format <format>', 'text (a block per target), env (export lines for eval) or url (the connection URL)').choices(['text', 'env', 'url']))
    .addHelpText(
      'after',
      '\nThe requester only, only while the grant is active (exit 5 before and after; 4 for a request that is not yours).\n' +
        'Examples:\n  hourglass credentials req_01...\n  eval "$(hourglass credentials req_01... --format env)" && psql\n' +
        '  hourglass credentials req_01... --target cache --format url\n',
    )
    .action(action(ctx, async (io, o, id: string) => {
      const format = (o.format as 'text' | 'env' | 'url' | undefined) ?? 'text';
      if (io.json && format !== 'text') throw new UsageError(`--json and --format ${format} are two different outputs: choose one`);
      const creds = await io.client.credentials(id);
      if (format !== 'text') {
        const [[name, c]] = pickTargets(creds, o.target as string | undefined, `--format ${format}`) as [[string, TargetCredentials]];
        if (format === 'env') {
          io.out(envLines(c));
          return;
        }
        if (typeof c.url !== 'string') throw new NoSuchCredentials(`the credentials of target ${name} carry no connection URL`);
        io.out(`${c.url}\n`);
        return;
      }
      const view: CredentialsJson = { ...creds, targets: Object.fromEntries(pickTargets(creds, o.target as string | undefined, false)) };
      const kinds = Object.fromEntries(Object.entries(view.targets).map(([n, c]) => [n, kindOf(c)]));
      io.print(view, () => fmt.credentialsLines(view, kinds));
    }, { idArg: true }));

  client('connect', "open the target's client (psql, mariadb, redis-cli) with the credentials of your active grant")
    .argument('<id>', 'request id')
    .argument('[client-args...]', "the client's own arguments, after -- (e.g. -- -c 'SELECT 1')")
    .option('--target <name>', 'the target to connect to (needed when the grant has credentials for several)')
    .option('--client <program>', 'run this program instead of psql / mariadb (else mysql) / redis-cli, with the same arguments and environment')
    .option('--print', 'print the command it would run (the password as ***) instead of running it')
    .showHelpAfterError("(the client's own arguments go after --: hourglass connect ID -- -c 'SELECT 1')")
    .addHelpText(
      'after',
      '\nThe client is chosen by the URL scheme of the credentials: postgres:// psql, mysql:// mariadb (else mysql),\n' +
        'redis:// and rediss:// redis-cli. The password goes in its environment (PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH),\n' +
        'never on its command line. Exit: the client\'s own exit code once it runs; 127 if it is not installed;\n' +
        "before that, hourglass's codes (5: the grant is not active, 4: not your request or no such target).\n" +
        "Examples:\n  hourglass connect req_01...\n  hourglass connect req_01... -- -c 'SELECT 1'\n  hourglass connect req_01... --target cache -- PING\n",
    )
    .action(action(ctx, async (io, o, id: string, extra: string[]) => {
      if (io.json && !o.print) throw new UsageError('--json goes with --print (the client writes its own output)');
      return connectTo(io, id, {
        extra: extra ?? [],
        print: Boolean(o.print),
        ...(o.target !== undefined ? { target: o.target as string } : {}),
        ...(o.client !== undefined ? { client: o.client as string } : {}),
      });
    }, { idArg: true }));

  // ---- grants and check
  client('check', 'does PRINCIPAL hold ENTITLEMENT right now? (exit 0 yes, 8 no; checker or admin role)')
    .argument('<principal>', 'principal id')
    .argument('<entitlement>', 'entitlement, e.g. prod-db/read')
    .action(action(ctx, async (io, _o, principal: string, entitlement: string) => {
      const r = await io.client.check(principal, entitlement);
      io.print(r, () =>
        r.allowed
          ? `allowed: ${principal} holds ${entitlement} until ${fmt.when(r.expiresAt)} (request ${r.requestId})\n`
          : `not allowed: ${principal} does not hold ${entitlement} now\n`,
      );
      return r.allowed ? EXIT.OK : EXIT.CHECK_DENIED;
    }));

  client('grants', 'list grants in force (yours, or anyone\'s for checkers, auditors and admins)')
    .option('--principal <id>', 'only this principal')
    .option('--entitlement <name>', 'only this entitlement')
    .option('--limit <n>', 'at most N grants (1-1000, default 100)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(action(ctx, async (io, o) => {
      const page = await io.client.grants({
        ...(o.principal !== undefined ? { principal: o.principal as string } : {}),
        ...(o.entitlement !== undefined ? { entitlement: o.entitlement as string } : {}),
        ...(o.limit !== undefined ? { limit: o.limit as number } : {}),
        ...(o.cursor !== undefined ? { cursor: o.cursor as string } : {}),
      });
      io.print(page, () => fmt.grantsTable(page.grants));
      if (!io.json && page.nextCursor) io.err(`more: add --cursor ${page.nextCursor}\n`);
    }));

  // ---- audit
  const audit = program.command('audit').description('the tamper-evident audit log: verify, head, list, export (auditor or admin role)');
  client('verify', 'verify the hash chain of the whole audit log (exit 10 if broken)', audit)
    .option('--expect-head <SEQ:HASH>', 'a head saved earlier (hourglass audit head); catches a truncated log')
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .option('--no-progress', 'never show progress')
    .option('--checkpoints <file>', 'check the signed checkpoints of this JSON Lines file against the chain, and their signatures here')
    .option('--public-key <pem>', 'with --checkpoints: the Ed25519 public key (PEM file or text) every checkpoint must be signed with')
    .action(action(ctx, async (io, o) => {
      if (o.checkpoints !== undefined) {
        if (o.expectHead !== undefined) throw new UsageError('--checkpoints and --expect-head are separate checks: run them one at a time');
        const r = await verifyCheckpoints(io, o.checkpoints as string, o.publicKey as string | undefined);
        io.print(r, () => checkpointLines(r));
        if (!r.signatures.pinned && r.signatures.failures.length === 0) {
          io.err('note: signatures were checked with the public keys in the file; pin the key with --public-key to catch a forged file\n');
        }
        return r.ok ? EXIT.OK : EXIT.AUDIT_BROKEN;
      }
      if (o.publicKey !== undefined) throw new UsageError('--public-key goes with --checkpoints');
      const showProgress = o.progress === undefined ? io.stderrIsTTY : o.progress === true;
      const r = await verifyChain(io, o.expectHead as string | undefined, showProgress);
      io.print(r, () => fmt.verifyLines(r));
      return r.ok ? EXIT.OK : EXIT.AUDIT_BROKEN;
    }));
  client('head', 'print the chain head SEQ:HASH; keep it outside Hourglass for verify --expect-head', audit)
    .action(action(ctx, async (io) => {
      const r = await io.client.auditHead();
      io.print(r, () => `${r.head ?? '(empty)'}\n`);
    }));
  client('list', 'list audit events, oldest first', audit)
    .option('--request-id <id>', 'only events of this request')
    .option('--actor <principal>', 'only events by this actor')
    .option('--type <type>', 'only events of this type, e.g. grant.revoked (alert.* for a family)')
    .option('--since <time>', 'from this time: ISO-8601 or -DURATION (e.g. -1h)', pastTime)
    .option('--until <time>', 'up to this time: ISO-8601 or -DURATION', pastTime)
    .option('--limit <n>', 'at most N events (1-1000, default 100)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(action(ctx, async (io, o) => {
      const page = await io.client.auditList({
        ...(o.requestId !== undefined ? { requestId: o.requestId as string } : {}),
        ...(o.actor !== undefined ? { actor: o.actor as string } : {}),
        ...(o.type !== undefined ? { type: o.type as string } : {}),
        ...(o.since !== undefined ? { since: o.since as string } : {}),
        ...(o.until !== undefined ? { until: o.until as string } : {}),
        ...(o.limit !== undefined ? { limit: o.limit as number } : {}),
        ...(o.cursor !== undefined ? { cursor: o.cursor as string } : {}),
      });
      io.print(page, () => fmt.auditTable(page.events));
      if (!io.json && page.nextCursor) io.err(`more: add --cursor ${page.nextCursor}\n`);
    }));
  client('export', 'export audit events as JSON Lines or CSV, streamed (to stdout, or -o FILE)', audit)
    .addOption(new Option('--format <format>', 'jsonl (one event per line) or csv').choices(['jsonl', 'csv']).default('jsonl'))
    .option('-o, --output <file>', 'write to FILE (complete or not at all) instead of stdout')
    .option('--request-id <id>', 'only events of this request')
    .option('--actor <principal>', 'only events by this actor')
    .option('--type <type>', 'only events of this type (alert.* for a family)')
    .option('--since <time>', 'from this time: ISO-8601 or -DURATION (e.g. -24h)', pastTime)
    .option('--until <time>', 'up to this time: ISO-8601 or -DURATION', pastTime)
    .addHelpText('after', '\nWith --json and -o FILE, stdout gets a summary {file, format, bytes, lines}; without -o, stdout is the export itself.\n')
    .action(action(ctx, async (io, o) => {
      const answer = await io.client.auditExport({
        format: o.format as 'jsonl' | 'csv',
        ...(o.requestId !== undefined ? { requestId: o.requestId as string } : {}),
        ...(o.actor !== undefined ? { actor: o.actor as string } : {}),
        ...(o.type !== undefined ? { type: o.type as string } : {}),
        ...(o.since !== undefined ? { since: o.since as string } : {}),
        ...(o.until !== undefined ? { until: o.until as string } : {}),
      });
      const file = o.output as string | undefined;
      if (file === undefined || file === '-') {
        await pump(answer, io.stdout);
        return;
      }
      const partial = `${file}.partial`;
      const dest = createWriteStream(partial, { flags: 'w' });
      try {
        await once(dest, 'open');
        const { bytes, lines } = await pump(answer, dest);
        dest.end();
        await once(dest, 'finish');
        renameSync(partial, file);
        io.print({ file, format: o.format, bytes, lines }, () => '');
        io.err(`exported ${o.format === 'csv' ? Math.max(0, lines - 1) : lines} event(s), ${bytes} bytes, to ${file}\n`);
      } catch (e) {
        answer.cancel();
        dest.destroy();
        rmSync(partial, { force: true });
        throw e;
      }
    }));

  // ---- emergency controls
  client('lock', "lock a principal: revoke their grants, cancel their pending requests, refuse new ones (admin)")
    .argument('<principal>', 'principal id')
    .option('--reason <text>', 'why')
    .action(action(ctx, async (io, o, id: string) => {
      const r = await io.client.lockPrincipal(id, o.reason as string | undefined);
      io.print(r, () => fmt.lockLine('locked', id, r));
    }));
  client('unlock', 'unlock a principal (admin)')
    .argument('<principal>', 'principal id')
    .action(action(ctx, async (io, _o, id: string) => {
      const r = await io.client.unlockPrincipal(id);
      io.print(r, () => (r.changed ? `unlocked ${id}\n` : `${id} was not locked\n`));
    }));
  client('freeze', 'freeze a target: revoke every grant on it, refuse new ones (admin)')
    .argument('<target>', 'target name')
    .option('--reason <text>', 'why')
    .action(action(ctx, async (io, o, name: string) => {
      const r = await io.client.freezeTarget(name, o.reason as string | undefined);
      io.print(r, () => fmt.lockLine('frozen', name, r));
    }));
  client('unfreeze', 'unfreeze a target (admin)')
    .argument('<target>', 'target name')
    .action(action(ctx, async (io, _o, name: string) => {
      const r = await io.client.unfreezeTarget(name);
      io.print(r, () => (r.changed ? `unfrozen ${name}\n` : `${name} was not frozen\n`));
    }));
  client('locks', 'list locked principals and frozen targets (admin or auditor)')
    .action(action(ctx, async (io) => {
      const r = await io.client.locks();
      io.print(r, () => fmt.locksTable(r));
    }));

  // ---- caller and administration
  client('whoami', 'who the token belongs to: groups, roles, locked or not')
    .action(action(ctx, async (io) => {
      const me = await io.client.me();
      io.print(me, () => fmt.meLines(me));
    }));
  client('entitlements', 'what you may request, and on what terms')
    .action(action(ctx, async (io) => {
      const r = await io.client.entitlements();
      io.print(r, () => fmt.entitlementsTable(r.entitlements));
    }));
  client('reload', 'make the server re-read its configuration file (admin)')
    .action(action(ctx, async (io) => {
      const r = await io.client.reload();
      io.print(r, () => {
        const head =
          r.policyHash === r.previousPolicyHash
            ? `configuration reloaded; policies unchanged (${r.policyHash})\n`
            : `configuration reloaded; policy hash ${r.previousPolicyHash} -> ${r.policyHash}\n`;
        const ended = [...(r.revoked ?? []).map((id) => `revoked ${id}`), ...(r.cancelled ?? []).map((id) => `cancelled ${id}`)];
        return ended.length ? `${head}principals no longer in the file: ${ended.join(', ')}\n` : head;
      });
    }));

  // ---- policies as code
  const policy = program.command('policy').description('policies as code: validate a configuration file, explain a decision, run policy tests');
  local('validate', 'check a configuration file offline, with the messages the server gives (exit 0 valid, 2 not)', policy)
    .argument('<file>', 'the configuration file')
    .action(action(ctx, async (io, _o, file: string) => {
      const config = await loadConfigOrReport(io, file, 'fix every problem listed; the server refuses the whole file until then');
      if (!config) return EXIT.USAGE;
      const warnings = (await offlineModule()).policyWarnings(config);
      io.print(
        { valid: true, file, policyHash: config.policyHash, principals: config.principals.length, targets: Object.keys(config.targets).length, policies: config.policies.length, warnings },
        () =>
          `${file}: valid (${config.principals.length} principal(s), ${Object.keys(config.targets).length} target(s), ${config.policies.length} polic${config.policies.length === 1 ? 'y' : 'ies'}; policy hash ${config.policyHash})\n` +
          warnings.map((w) => `warning: ${w}\n`).join(''),
      );
      return EXIT.OK;
    }));

  policy
    .command('explain')
    .description('would this request be allowed, under which policy, with what approvals from whom, and why not (exit 0 yes, 6 no)')
    .option('--principal <id>', 'whose request (default: yourself; required with --config)')
    .option('--entitlement <name>', 'target/role; repeat or separate with commas', collect)
    .option('--for <duration>', "how long (default: the policy's default)", durationArg)
    .option('--at <time>', 'when the request would be made: ISO-8601, +DURATION or -DURATION (default: now)', evalTime)
    .option('--reason <text>', 'check this reason (default: assume one is given; "" for none)')
    .option('--ticket <id>', 'check this ticket (default: assume a matching one is given; "" for none)')
    .option('--source-ip <address>', "check this source address (default: assume it is inside the policy's networks)")
    .option('--break-glass', 'as a break-glass request')
    .option('--policy <name>', 'only this policy')
    .addOption(new Option('--config <file>', 'explain offline from this configuration file instead of asking the server').helpGroup(CONNECTION_GROUP))
    .addHelpText(
      'after',
      '\nExamples:\n  hourglass policy explain --config hourglass.yaml --principal alice --entitlement demo-db/admin --for 2h\n' +
        '  hourglass policy explain --principal bob --entitlement demo-db/admin --break-glass --json   # asks the server\n',
    )
    .action(action(ctx, async (io, o) => {
      const entitlements = splitList((o.entitlement as string[] | undefined) ?? []);
      if (entitlements.length === 0) throw new UsageError('give at least one --entitlement target/role');
      let r: ExplainJson;
      if (o.config !== undefined) {
        if (o.principal === undefined) throw new UsageError('--principal is required with --config (there is no "you" offline)');
        if (o.url !== undefined || o.token !== undefined) throw new UsageError('--config explains offline: --url and --token do not apply');
        const config = await loadConfigOffline(io, o.config as string);
        r = (await offlineModule()).explain(config, {
          principal: o.principal as string,
          entitlements,
          at: o.at !== undefined ? Date.parse(o.at as string) : Date.now(),
          ...(o.for !== undefined ? { duration: o.for as string } : {}),
          ...(o.reason !== undefined ? { reason: o.reason as string } : {}),
          ...(o.ticket !== undefined ? { ticket: o.ticket as string } : {}),
          ...(o.sourceIp !== undefined ? { sourceIp: o.sourceIp as string } : {}),
          ...(o.breakGlass ? { breakGlass: true } : {}),
          ...(o.policy !== undefined ? { policy: o.policy as string } : {}),
        });
      } else {
        r = await io.client.explain({
          entitlements,
          ...(o.principal !== undefined ? { principal: o.principal as string } : {}),
          ...(o.for !== undefined ? { duration: o.for as string } : {}),
          ...(o.at !== undefined ? { at: o.at as string } : {}),
          ...(o.reason !== undefined ? { reason: o.reason as string } : {}),
          ...(o.ticket !== undefined ? { ticket: o.ticket as string } : {}),
          ...(o.sourceIp !== undefined ? { sourceIp: o.sourceIp as string } : {}),
          ...(o.breakGlass ? { breakGlass: true } : {}),
          ...(o.policy !== undefined ? { policy: o.policy as string } : {}),
        });
      }
      io.print(r, () => fmt.explainLines(r));
      if (r.allowed) return EXIT.OK;
      return r.code === 'HG_INVALID_INPUT' ? EXIT.USAGE : EXIT.POLICY;
    }));
  clients.push(policy.commands.at(-1)!);

  local('test', 'run table-driven policy tests against a configuration file, offline (exit 0 all pass, 1 any fails, 2 invalid file)', policy)
    .argument('<file>', 'the configuration file')
    .argument('<tests>', 'the tests file (YAML), see docs/policies.md')
    .addHelpText('after', '\nExample:\n  hourglass policy test hourglass.yaml policy-tests.yaml\n')
    .action(action(ctx, async (io, _o, file: string, testsFile: string) => {
      const config = await loadConfigOrReport(io, file, `hourglass policy validate ${file} checks it alone`);
      if (!config) return EXIT.USAGE;
      const { loadPolicyTests, runPolicyTests } = await offlineModule();
      let tests;
      try {
        tests = loadPolicyTests(testsFile, config, file);
      } catch (e) {
        if (!(e instanceof TestsFileInvalid)) throw e;
        io.print({ valid: false, file: testsFile, problems: e.problems }, () => `${e.message}\n`);
        io.err(`hourglass: ${testsFile} is not a valid tests file: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}\nhint: docs/policies.md describes the tests file\n`);
        return EXIT.USAGE;
      }
      const report = runPolicyTests(config, tests, Date.now(), { config: file, tests: testsFile });
      io.print(report, () => fmt.testReportLines(report));
      return report.ok ? EXIT.OK : TESTS_FAILED;
    }));

  // ---- shell completion
  local('completion', 'print a shell completion script (bash or zsh)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      '\nLoad it in the current shell, or install it:\n  source <(hourglass completion bash)      # add to ~/.bashrc\n  source <(hourglass completion zsh)       # add to ~/.zshrc (after compinit)\n' +
        '  hourglass completion zsh > "${fpath[1]}/_hourglass"\n',
    )
    .action(action(ctx, async (io, _o, shell: string) => {
      const { bashCompletion, zshCompletion } = await offlineModule();
      const script = shell === 'zsh' ? zshCompletion(program) : bashCompletion(program);
      io.print({ shell, script }, () => script);
    }));

  for (const cmd of clients) addGlobals(cmd);
  for (const cmd of offline) addJson(cmd);

  program.addHelpText(
    'after',
    `\nClient commands take --url (default $HOURGLASS_URL, then the stored login, else ${DEFAULT_URL}), --token (default $HOURGLASS_TOKEN, then the stored login) and --json.\n` +
      'Exit codes: 0 ok, 1 internal (policy test: a test failed), 2 usage/invalid input, 3 unauthenticated/forbidden, 4 not found,\n' +
      '5 conflict, 6 refused by policy, 7 unavailable/unreachable, 8 check: not allowed, 9 request --wait: not active,\n' +
      '10 audit verify: chain broken; connect: the client\'s own code once it runs, 127 if it is not installed. See docs/cli.md.\n',
  );
}
