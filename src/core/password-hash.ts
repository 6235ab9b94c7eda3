/**
 * The form of a local password hash, `scrypt$N$r$p$SALT$KEY` (base64url salt and key), read by the
 * configuration loader and by password sign-in (src/app/identity/password.ts).
 */
const PATTERN = /^scrypt\$(\d{1,7})\$(\d{1,2})\$(\d)\$([A-Za-z0-9_-]{22,64})\$([A-Za-z0-9_-]{43,86})$/;

export interface PasswordHashParts {
  N: number;
  r: number;
  p: number;
  /** base64url */
  salt: string;
  /** base64url */
  key: string;
}

/** The parts of a hash, or why it is not one. */
export function parsePasswordHash(text: string): PasswordHashParts | string {
  const m = PATTERN.exec(text);
  if (!m) return 'must be scrypt$N$r$p$SALT$KEY, as hourglass hash-password prints it';
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!Number.isInteger(Math.log2(N)) || N < 2 ** 14 || N > 2 ** 20) return 'N must be a power of 2 from 16384 to 1048576';
  if (r < 8 || r > 32 || p < 1 || p > 4) return 'r must be 8-32 and p 1-4';
  return { N, r, p, salt: m[4]!, key: m[5]! };
}
