/**
 * Bearer secrets Hourglass hands out (session cookies, CLI tokens, personal and machine tokens):
 * 256 random bits behind a prefix that says what the secret is, so a leaked one is recognisable
 * to secret scanners and to the authenticator. Only the SHA-256 is stored: the secret has all
 * the entropy, so a fast hash cannot be brute-forced and lookups stay one index probe.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const PREFIX = { session: 'hgs_', access: 'hga_', refresh: 'hgr_', token: 'hgp_' } as const;
export type SecretKind = keyof typeof PREFIX;

export function newSecret(kind: SecretKind): { secret: string; digest: string } {
  const secret = PREFIX[kind] + randomBytes(32).toString('base64url');
  return { secret, digest: digestOf(secret) };
}

export const digestOf = (secret: string): string => hash('sha256', secret);

/** What kind of Hourglass secret this looks like, if any (the authenticator's first cut). */
export function kindOf(secret: string): SecretKind | undefined {
  if (secret.length !== 47) return undefined;
  for (const [kind, prefix] of Object.entries(PREFIX) as [SecretKind, string][]) if (secret.startsWith(prefix)) return kind;
  return undefined;
}

/** A short public handle (`ses_...`, `tok_...`): names a session or token without being it. */
export const newHandle = (prefix: 'ses' | 'tok'): string => `${prefix}_${randomBytes(12).toString('base64url')}`;

/** The session's CSRF token: derived from its secret, so nothing more is stored, and useless without the cookie. */
export const csrfOf = (sessionSecret: string): string => hash('sha256', `csrf\0${sessionSecret}`, 'base64url');

/** Constant-time equality of two strings (different lengths are unequal, in time independent of content). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(hash('sha256', a), 'hex');
  const y = Buffer.from(hash('sha256', b), 'hex');
  return timingSafeEqual(x, y) && a.length === b.length;
}
