/**
 * SCRAM-SHA-256 password verifiers (RFC 5802 / RFC 7677), in the form PostgreSQL stores in
 * pg_authid.rolpassword and accepts as an already-encrypted password:
 *
 *   SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>
 *
 * Computing it here means the plaintext password never travels to the server, so it cannot
 * show up in the server's statement log, in pg_stat_activity or in an error message there.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's default (scram_iterations); RFC 7677 asks for at least 4096. */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

export async function scramSha256Verifier(password: string, opts: { salt?: Buffer; iterations?: number } = {}): Promise<string> {
  // The passwords Hourglass generates are base64url ASCII, which SASLprep leaves unchanged;
  // NFKC is the part of SASLprep that matters for other input.
  const normalized = password.normalize('NFKC');
  const salt = opts.salt ?? randomBytes(SALT_BYTES);
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  const salted = await pbkdf2Async(normalized, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** A random password: 32 characters of base64url (192 bits). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}
