/**
 * Slack's request signatures (pure; https://api.slack.com/authentication/verifying-requests-from-slack):
 * `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<X-Slack-Request-Timestamp>:<raw body>">` under the
 * app's signing secret. The timestamp must be within five minutes of now either way, so a captured
 * request cannot be replayed later. The body is the exact bytes received, before any parsing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far the request's timestamp may be from now (Slack's recommendation). */
export const SLACK_SIGNATURE_TOLERANCE_MS = 5 * 60_000;

const TIMESTAMP = /^\d{1,12}$/;
const SIGNATURE = /^v0=[0-9a-fA-F]{64}$/;

export type SlackSignatureCheck = { ok: true } | { ok: false; reason: string };

function digest(secret: string, timestamp: string, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest();
}

/** The `X-Slack-Signature` value for `body` sent at `timestamp` (seconds): for tests and the Slack stand-in. */
export function signSlackRequest(secret: string, timestamp: number | string, body: string | Buffer): string {
  return `v0=${digest(secret, String(timestamp), body).toString('hex')}`;
}

/**
 * Checks a request said to come from Slack. `timestamp` and `signature` are the header values as
 * received (absent or repeated headers are refused); `now` is the clock in milliseconds.
 */
export function verifySlackSignature(input: {
  signingSecret: string;
  timestamp: string | string[] | undefined;
  signature: string | string[] | undefined;
  rawBody: string | Buffer;
  now: number;
}): SlackSignatureCheck {
  const { signingSecret, timestamp, signature, rawBody, now } = input;
  if (!signingSecret) return { ok: false, reason: 'no signing secret is configured' };
  if (typeof timestamp !== 'string' || !TIMESTAMP.test(timestamp))
    return { ok: false, reason: 'X-Slack-Request-Timestamp is missing or not a number of seconds' };
  if (typeof signature !== 'string' || !SIGNATURE.test(signature)) return { ok: false, reason: 'X-Slack-Signature is missing or not v0=<64 hex digits>' };
  const skew = Math.abs(now - Number(timestamp) * 1000);
  if (!(skew <= SLACK_SIGNATURE_TOLERANCE_MS))
    return { ok: false, reason: 'X-Slack-Request-Timestamp is more than 5 minutes from now (replayed, or a clock is wrong)' };
  const expected = digest(signingSecret, timestamp, rawBody);
  const given = Buffer.from(signature.slice(3), 'hex');
  // Both are 32 bytes (the pattern above): timingSafeEqual needs equal lengths.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}
