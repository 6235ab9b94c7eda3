// One-time recovery codes, for a principal who lost the authenticator app. A code is 16 symbols of
// Crockford's base32 (no i, l, o or u, so nothing reads as another symbol), shown in groups as
// `xxxx-xxxx-xxxx-xxxx`: 80 random bits from crypto.randomBytes.
//
// Stored as `sha256$<salt>$<digest>`, SHA-256 over a 16-byte per-code salt and the code, rather
// than a slow KDF: a slow KDF makes low-entropy passwords costly to guess, but these codes are
// uniformly random, and 2^80 SHA-256 evaluations per stored code (the salt stops one evaluation
// testing every code at once) is out of reach. A KDF would instead cost up to one run per stored
// code on the event loop at every attempt. Anyone who can read the store also reads the TOTP
// secret, which cannot be hashed.
//
// Rate limiting attempts and consuming a matched code (a compare-and-set on its row, so two
// concurrent uses of one code cannot both pass) are the caller's.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HgError } from '../../core/errors.js';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const SYMBOLS = 16;
const SALT_BYTES = 16;
const MAX_COUNT = 100;
/** The entropy of one code: 16 symbols of 5 bits. */
export const RECOVERY_CODE_BITS = SYMBOLS * 5;

const CANONICAL = new RegExp(`^[${ALPHABET}]{${SYMBOLS}}$`);
const GROUPS = /(.{4})(?!$)/g;
const HASH = /^sha256\$([A-Za-z0-9_-]{22})\$([A-Za-z0-9_-]{43})$/;

export function newRecoveryCodes(count = 10): { codes: string[]; hashes: string[] } {
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT)
    throw new HgError('HG_INVALID_INPUT', `The number of recovery codes must be 1 to ${MAX_COUNT}.`);
  const codes: string[] = [];
  const hashes: string[] = [];
  for (let i = 0; i < count; i++) {
    const canonical = randomSymbols();
    codes.push(canonical.replace(GROUPS, '$1-'));
    const salt = randomBytes(SALT_BYTES);
    hashes.push(`sha256$${salt.toString('base64url')}$${digest(salt, canonical).toString('base64url')}`);
  }
  return { codes, hashes };
}

/**
 * The index of the hash the input matches, or null. Case, spaces and dashes are ignored, and
 * o, i and l read as 0, 1 and 1 (Crockford's decoding). A consumed code's entry is null, so the
 * indices stay those of the stored list; a malformed entry never matches. Every entry is
 * hashed and compared in constant time, without stopping at the first match.
 */
export function matchRecoveryCode(input: string, hashes: readonly (string | null)[]): number | null {
  if (typeof input !== 'string' || input.length > 64) return null;
  const canonical = input.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  if (!CANONICAL.test(canonical)) return null;
  let matched: number | null = null;
  hashes.forEach((stored, index) => {
    const parts = stored === null ? null : HASH.exec(stored);
    if (!parts) return;
    const equal = timingSafeEqual(digest(Buffer.from(parts[1]!, 'base64url'), canonical), Buffer.from(parts[2]!, 'base64url'));
    if (equal && matched === null) matched = index;
  });
  return matched;
}

// 10 random bytes are exactly 16 symbols of 5 bits, so every symbol is uniform.
function randomSymbols(): string {
  const bytes = randomBytes((SYMBOLS * 5) / 8);
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(value >>> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

function digest(salt: Buffer, canonical: string): Buffer {
  return createHash('sha256').update(salt).update(canonical, 'ascii').digest();
}
