// TOTP (RFC 6238) as the step-up factor: SHA-1, 6 digits, 30 s steps, the parameters every
// authenticator app supports. otpauth computes the HOTP values; the window, the replay rule and
// the comparison are ours, so that the matched step can be returned and stored.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import QRCode from 'qrcode';
import { HOTP, Secret, TOTP } from 'otpauth';
import { HgError } from '../../core/errors.js';

export interface TotpSecretRecord {
  secretBase32: string;
  digits: 6;
  period: 30;
  algorithm: 'SHA1';
  /** The last time step accepted; the store updates it with a compare-and-set (see verifyTotp). */
  lastUsedStep: number | null;
}

const DIGITS = 6;
const PERIOD_S = 30;
const ALGORITHM = 'SHA1';
/** Steps accepted either side of the current one, for clock drift and typing time (RFC 6238 5.2). */
const WINDOW = 1;
/** 160 bits, the length RFC 4226 (R6) recommends and the size of a SHA-1 block's output. */
const SECRET_BYTES = 20;
/** RFC 4226 R6: a shared secret MUST be at least 128 bits (26 base32 characters). */
const MIN_SECRET_CHARS = 26;
const CODE = /^\d{6}$/;
const BASE32 = /^[A-Z2-7]+$/;

export function newTotpSecret(random: (n: number) => Buffer = randomBytes): { secretBase32: string } {
  const bytes = random(SECRET_BYTES);
  if (bytes.length !== SECRET_BYTES) throw new HgError('HG_INTERNAL', 'The random source returned the wrong number of bytes.');
  return { secretBase32: new Secret({ buffer: Uint8Array.from(bytes).buffer }).base32 };
}

/** The Key URI Format of Google Authenticator, which the other apps read too. */
export function otpauthUri(opts: { issuer: string; account: string; secretBase32: string }): string {
  // The label is "issuer:account" and apps split it at the first colon, so an issuer holding one
  // would shift into the account name.
  if (opts.issuer === '' || opts.issuer.includes(':')) throw new HgError('HG_INVALID_INPUT', 'The TOTP issuer must be non-empty and contain no colon.');
  if (opts.account === '') throw new HgError('HG_INVALID_INPUT', 'The TOTP account name must be non-empty.');
  const totp = new TOTP({
    issuer: opts.issuer,
    label: opts.account,
    secret: parseSecret(opts.secretBase32),
    algorithm: ALGORITHM,
    digits: DIGITS,
    period: PERIOD_S,
  });
  return totp.toString();
}

export async function qrSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/**
 * Checks a code at time nowMs with a window of ±1 step. Returns the matched time step, or null.
 * Refuses a step <= lastUsedStep (no reuse within the window, RFC 6238 5.2). Constant-time
 * comparison of the code. Refuses non-6-digit input without throwing.
 *
 * The caller stores the returned step as lastUsedStep atomically, with a compare-and-set
 * (`SET last_used_step = :step WHERE ... AND (last_used_step IS NULL OR last_used_step < :step)`,
 * no row updated = refused): two concurrent uses of one code both pass this check, and only that
 * update stops the second. Rate limiting failed attempts is the caller's too: each guess of a
 * 6-digit code hits one of the 3 steps of the window with a chance of 3 in 10^6.
 */
export function verifyTotp(record: Pick<TotpSecretRecord, 'secretBase32' | 'lastUsedStep'>, code: string, nowMs: number): number | null {
  const secret = parseSecret(record.secretBase32);
  const current = stepAt(nowMs);
  if (typeof code !== 'string' || !CODE.test(code)) return null;
  const given = Buffer.from(code, 'ascii');
  let matched: number | null = null;
  // Every step of the window is computed and compared, matched or not, so the time taken says
  // nothing about which step (if any) matched. The earliest acceptable match wins, leaving the
  // later steps of the window usable.
  for (let step = Math.max(0, current - WINDOW); step <= current + WINDOW; step++) {
    const equal = timingSafeEqual(given, Buffer.from(codeForStep(secret, step), 'ascii'));
    const fresh = record.lastUsedStep === null || step > record.lastUsedStep;
    if (equal && fresh && matched === null) matched = step;
  }
  return matched;
}

/** The code an authenticator app shows at nowMs (tests and enrolment checks use it). */
export function totpCode(secretBase32: string, nowMs: number): string {
  return codeForStep(parseSecret(secretBase32), stepAt(nowMs));
}

function codeForStep(secret: Secret, step: number): string {
  return HOTP.generate({ secret, algorithm: ALGORITHM, digits: DIGITS, counter: step });
}

function stepAt(nowMs: number): number {
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new HgError('HG_INTERNAL', 'The clock gave an invalid time.');
  return Math.floor(nowMs / 1000 / PERIOD_S);
}

// Checked here rather than by otpauth, whose decoding error quotes the offending character of
// the secret.
function parseSecret(secretBase32: string): Secret {
  if (typeof secretBase32 !== 'string' || secretBase32.length < MIN_SECRET_CHARS || !BASE32.test(secretBase32)) {
    throw new HgError('HG_INTERNAL', 'The TOTP secret is malformed.');
  }
  return Secret.fromBase32(secretBase32);
}
