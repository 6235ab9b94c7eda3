/**
 * How a failed client command ends: the exit code scripts rely on (docs/cli.md) and the lines on
 * stderr, `hourglass: MESSAGE (CODE)` plus details and a hint that says what to do next.
 */
import { isHgError } from '../../core/errors.js';
import { ApiError, UnreachableError } from '../api-client.js';
import { CLIENT_NOT_EXECUTABLE, CLIENT_NOT_FOUND, ConnectError } from '../connect.js';
import { CredentialsFileError } from '../credentials.js';
import { CheckpointsFileError, CredentialsError, NoSuchCredentials, TestsFileInvalid, UsageError } from '../errors.js';

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

const POLICY_CODES = new Set(['HG_NOT_ELIGIBLE', 'HG_TERMS_NOT_MET', 'HG_PRINCIPAL_LOCKED', 'HG_TARGET_FROZEN']);

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError || e instanceof CheckpointsFileError || e instanceof TestsFileInvalid || e instanceof ConnectError) return EXIT.USAGE;
  if (e instanceof NoSuchCredentials) return EXIT.NOT_FOUND;
  if (e instanceof CredentialsError || e instanceof CredentialsFileError) return EXIT.AUTH;
  if (e instanceof UnreachableError) return EXIT.UNAVAILABLE;
  if (e instanceof ApiError) {
    if (POLICY_CODES.has(e.code)) return EXIT.POLICY;
    if (e.code === 'HG_CONFIG_INVALID' || e.code === 'HG_KEY_REFUSED') return EXIT.USAGE;
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

/** Where the token came from: a stale stored login needs another hint than a wrong variable. */
export type TokenSource = 'flag' | 'env' | 'credentials';

export interface HintContext {
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
      if (reasons.length)
        lines.push(perPolicy ? (e.code === 'HG_TERMS_NOT_MET' ? 'why each candidate policy refused:' : 'candidate policies:') : 'reasons:', ...reasons);
      hint =
        e.code === 'HG_NOT_ELIGIBLE'
          ? 'hourglass entitlements lists what you may request, and under which policies'
          : h.command === 'extend'
            ? 'ask for less time, or request access anew when this grant ends'
            : "change the request to meet one policy's terms; hourglass entitlements shows them";
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
    } else if (e.code === 'HG_MFA_REQUIRED') {
      hint = 'a policy requires step-up MFA for this: run it again with --otp CODE from your authenticator app (or --recovery-code)';
    } else if (e.code === 'HG_MFA_FAILED') {
      hint = 'the code was wrong or used already: wait for the next code of your authenticator app and try again';
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
      hint = h.id
        ? `the server or a target is unavailable; retry later (${show} tells the current state)`
        : 'the server or a target is unavailable; retry later';
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
