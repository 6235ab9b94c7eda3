/**
 * The `hourglass` client commands: thin wrappers over the REST API (api-client.ts) with human
 * output (format.ts) or the API's JSON (`--json`), and exit codes that scripts can rely on
 * (docs/cli.md). The environment is read only through `ctx.env`.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDuration, formatDuration } from '../core/duration.js';
import { isHgError } from '../core/errors.js';
import { REQUEST_STATUSES } from '../core/types.js';
import { ApiError, HourglassClient, UnreachableError, type RequestJson } from './api-client.js';
import * as fmt from './format.js';

export interface CliContext {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
  setExitCode: (code: number) => void;
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
  /** `audit verify` found the chain broken, or not matching --expect-head. */
  AUDIT_BROKEN: 10,
} as const;

export const DEFAULT_URL = 'http://127.0.0.1:8420';
const POLL_MS = 500;
const DEFAULT_WAIT = '10m';

const POLICY_CODES = new Set(['HG_NOT_ELIGIBLE', 'HG_TERMS_NOT_MET', 'HG_PRINCIPAL_LOCKED', 'HG_TARGET_FROZEN']);

/** A mistake in the command line that commander cannot see (bad --at, bad URL...). */
class UsageError extends Error {}
/** No usable token. */
class CredentialsError extends Error {}

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT.USAGE;
  if (e instanceof CredentialsError) return EXIT.AUTH;
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
  if (isHgError(e) && e.code === 'HG_INVALID_INPUT') return EXIT.USAGE;
  return EXIT.INTERNAL;
}

interface HintContext {
  /** The command path, e.g. "approve" or "audit verify". */
  command: string;
  /** The request id the command was about, if any. */
  id?: string;
  url: string;
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
      hint = 'check HOURGLASS_TOKEN (or --token): the server did not accept the token';
    } else if (e.code === 'HG_SELF_APPROVAL') {
      hint = `ask someone else who may approve it; ${show} names the policy`;
    } else if (e.code === 'HG_NOT_APPROVER') {
      hint = `only the approvers named by the request's policy can do this; ${show} names the policy`;
    } else if (e.status === 403) {
      hint = 'your token lacks the role or right for this; `hourglass whoami` shows your groups and roles';
    } else if (e.status === 404) {
      hint = h.id ? 'check the id; `hourglass requests` lists the requests you can see' : 'check the name or id';
    } else if (e.code === 'HG_IDEMPOTENCY_MISMATCH') {
      hint = 'that --idempotency-key was used before for a different request; use a new key';
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
  } else if (e instanceof CredentialsError) {
    lines.push(`hourglass: ${e.message}`);
    lines.push('hint: set HOURGLASS_TOKEN (or pass --token)');
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

interface Io {
  client: HourglassClient;
  json: boolean;
  out: (s: string) => void;
  err: (s: string) => void;
  /** Prints an API answer: its JSON with --json, else the human text. */
  print: (body: unknown, human: () => string) => void;
}

/** --url, --token, --json: on every client command, listed apart in its help. */
function addGlobals(cmd: Command): Command {
  const group = 'Connection and output:';
  return cmd
    .addOption(new Option('--url <url>', `Hourglass server URL (default: $HOURGLASS_URL, else ${DEFAULT_URL})`).helpGroup(group))
    .addOption(new Option('--token <token>', 'API token (default: $HOURGLASS_TOKEN; never printed)').helpGroup(group))
    .addOption(new Option('--json', "print the API's JSON answer instead of text").helpGroup(group));
}

function resolveUrl(opts: GlobalOpts, env: CliContext['env']): string {
  const raw = (opts.url ?? env.HOURGLASS_URL ?? '').trim() || DEFAULT_URL;
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

function resolveToken(opts: GlobalOpts, env: CliContext['env']): string {
  const token = opts.token ?? env.HOURGLASS_TOKEN ?? '';
  if (!token) throw new CredentialsError('no API token given');
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new CredentialsError('the API token contains spaces or characters that cannot be sent in a header');
  }
  return token;
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

type Handler = (io: Io, opts: Record<string, any>, ...args: any[]) => Promise<number | void>;

/**
 * Wraps a command's work: resolves URL and token, builds the client, prints any failure as
 * `hourglass: message (CODE)` plus a hint, and sets the exit code. Output never shows the token.
 */
function action(ctx: CliContext, handler: Handler, opts: { idArg?: boolean } = {}) {
  return async (...all: unknown[]) => {
    const cmd = all[all.length - 1] as Command;
    const options = cmd.opts() as GlobalOpts & Record<string, unknown>;
    const args = all.slice(0, -2);
    let secret: string | undefined;
    const scrub = (s: string) => (secret && secret.length >= 4 ? s.split(secret).join('***') : s);
    const out = (s: string) => ctx.out(scrub(s));
    const err = (s: string) => ctx.err(scrub(s));
    let url = DEFAULT_URL;
    try {
      secret = options.token ?? ctx.env.HOURGLASS_TOKEN;
      url = resolveUrl(options, ctx.env);
      const token = resolveToken(options, ctx.env);
      const client = new HourglassClient({ url, token, userAgent: 'hourglass-cli/0.1.0' });
      const json = options.json === true;
      const io: Io = {
        client,
        json,
        out,
        err,
        print: (body, human) => out(json ? `${JSON.stringify(body, null, 2)}\n` : human()),
      };
      const code = await handler(io, options, ...args);
      if (code) ctx.setExitCode(code);
    } catch (e) {
      const id = opts.idArg && typeof args[0] === 'string' ? args[0] : undefined;
      err(describeError(e, { command: commandPath(cmd), url, ...(id ? { id } : {}) }));
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

// ---- the commands -------------------------------------------------------------------------------------------

export function registerClientCommands(program: Command, ctx: CliContext): void {
  // --url/--token/--json are added last so that their group follows each command's own options.
  const clients: Command[] = [];
  const client = (name: string, description: string, parent: Command = program) => {
    const cmd = parent.command(name).description(description);
    clients.push(cmd);
    return cmd;
  };

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
    .addHelpText('after', '\nExamples:\n  hourglass request demo-db/read --for 30m --reason "look at a slow query"\n  hourglass request demo-db/admin --for 1h --reason "fix index" --ticket INC-42 --wait\n')
    .action(
      action(ctx, async (io, o, entitlements: string[]) => {
        if (o.timeout !== undefined && !o.wait) throw new UsageError('--timeout goes with --wait');
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
        if (!o.wait) {
          io.print(request, () => fmt.requestLine(request));
          return;
        }
        if (!io.json) io.out(fmt.requestLine(request));
        const timeoutMs = parseDuration((o.timeout as string | undefined) ?? DEFAULT_WAIT);
        const { last, timedOut } = await waitFor(io, request, timeoutMs);
        if (io.json) io.out(`${JSON.stringify(last, null, 2)}\n`);
        else if (last.status !== request.status || last.access !== request.access) io.out(fmt.requestLine(last));
        if (timedOut) {
          io.err(`hourglass: gave up waiting after ${formatDuration(timeoutMs)}: ${last.id} is still ${last.status}\nhint: hourglass show ${last.id}; cancel it with hourglass cancel ${last.id} if no longer needed\n`);
          return EXIT.WAIT_FAILED;
        }
        if (last.status !== 'active') {
          io.err(`hourglass: ${last.id} ended ${fmt.nextStep(last)}\n`);
          return EXIT.WAIT_FAILED;
        }
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
  const audit = program.command('audit').description('the tamper-evident audit log: verify, head, list (auditor or admin role)');
  client('verify', 'verify the hash chain of the whole audit log (exit 10 if broken)', audit)
    .option('--expect-head <SEQ:HASH>', 'a head saved earlier (hourglass audit head); catches a truncated log')
    .action(action(ctx, async (io, o) => {
      const r = await io.client.auditVerify(o.expectHead as string | undefined);
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
    .option('--type <type>', 'only events of this type, e.g. grant.revoked')
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
      io.print(r, () =>
        r.policyHash === r.previousPolicyHash
          ? `configuration reloaded; policies unchanged (${r.policyHash})\n`
          : `configuration reloaded; policy hash ${r.previousPolicyHash} -> ${r.policyHash}\n`,
      );
    }));

  for (const cmd of clients) addGlobals(cmd);

  program.addHelpText(
    'after',
    `\nClient commands take --url (default $HOURGLASS_URL, else ${DEFAULT_URL}), --token (default $HOURGLASS_TOKEN) and --json.\n` +
      'Exit codes: 0 ok, 1 internal, 2 usage/invalid input, 3 unauthenticated/forbidden, 4 not found, 5 conflict,\n' +
      '6 refused by policy, 7 unavailable/unreachable, 8 check: not allowed, 9 request --wait: not active,\n' +
      '10 audit verify: chain broken. See docs/cli.md.\n',
  );
}
