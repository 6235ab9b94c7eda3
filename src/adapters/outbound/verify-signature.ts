/**
 * The reference check a webhook receiver performs (docs/events.md shows it standalone):
 * `Hourglass-Signature: t=TIMESTAMP,v1=HEX` where HEX = HMAC-SHA256(secret, "TIMESTAMP.BODY").
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * True when `header` carries a `v1` signature of `body` under `secret` and its timestamp is
 * within `toleranceSec` of `nowMs` (epoch milliseconds, e.g. `Date.now()`), in either direction.
 * `body` must be the raw bytes as received, before any JSON parsing. Several `v1=` entries are
 * accepted (any may match), so a receiver can keep working while a secret is rotated.
 * Returns a boolean on purpose: an object result would be truthy in an `if` even when it says no.
 */
export function verifyWebhookSignature(secret: string, header: string | undefined | null, body: string | Buffer, nowMs: number, toleranceSec = 300): boolean {
  if (!secret || typeof header !== 'string' || header.length > 4096) return false;
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') timestamp = value;
    else if (key === 'v1') signatures.push(value);
  }
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
  let ok = false;
  for (const sig of signatures) {
    if (!/^[0-9a-f]{64}$/i.test(sig)) continue;
    // Constant-time over equal lengths (both are 32-byte digests here).
    if (timingSafeEqual(Buffer.from(sig, 'hex'), expected)) ok = true;
  }
  return ok;
}
