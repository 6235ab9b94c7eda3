/**
 * Local passwords, for the embedded demo and nothing else (docs/identity.md, "Local passwords"):
 * principals of the configuration file may carry a scrypt hash. Companies sign in with their IdP.
 *
 * The hash is `scrypt$N$r$p$SALT$KEY` (base64url salt and key). Checking a name that has no
 * password runs scrypt over a fixed dummy hash with the default cost, so "unknown user" and "wrong
 * password" take the same time and give the same answer.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { HgError } from '../../core/errors.js';
import { parsePasswordHash, type PasswordHashParts } from '../../core/password-hash.js';

/** OWASP's scrypt floor (N=2^17, r=8, p=1) is for servers at scale; the demo uses 2^15: ~60 ms here. */
export const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const MAX_PASSWORD = 1024;

const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, { ...opts, maxmem: 256 * 1024 * 1024 }, (e, k) => (e ? reject(e) : resolve(k))));

export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<string> {
  if (password.length < 8 || password.length > MAX_PASSWORD) throw new HgError('HG_INVALID_INPUT', `a password must be 8 to ${MAX_PASSWORD} characters`);
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_BYTES, cost);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

// Never matches (its key is of no password anyone knows): only there to spend the same time.
const DUMMY = parsePasswordHash(`scrypt$${DEFAULT_COST.N}$8$1$${'A'.repeat(22)}$${'A'.repeat(43)}`) as PasswordHashParts;

/** Whether `password` matches `hash`; with no hash, the same work and false. */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const parsed = hash === undefined ? undefined : parsePasswordHash(hash);
  const h = typeof parsed === 'object' ? parsed : DUMMY;
  const key = Buffer.from(h.key, 'base64url');
  const given = await scrypt(password.slice(0, MAX_PASSWORD), Buffer.from(h.salt, 'base64url'), key.length, { N: h.N, r: h.r, p: h.p });
  return timingSafeEqual(given, key) && typeof parsed === 'object';
}
