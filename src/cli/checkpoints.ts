/**
 * Signed checkpoints, checked on the client as well as on the server: each line of a checkpoints
 * file is `{seq, hash, at, keyId, signature, publicKey?}`, the signature a base64 Ed25519
 * signature over the canonical JSON of `{at, hash, keyId, seq}` (src/app/checkpoints.ts).
 * Checking here means a server that lies about its own checkpoints is caught too; `--public-key`
 * pins the key, so a forger who rewrote both the database and the file with a key of their own
 * is caught as well.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkpointKeyId, verifyCheckpointSignature, type CheckpointLine } from '../app/checkpoints.js';
import { CheckpointsFileError } from './errors.js';

export { CheckpointsFileError };

const B64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/** A public key given as PEM (SPKI), base64 DER (SPKI), or the raw 32 bytes (base64, base64url or hex). */
export function publicKeyOf(text: string): KeyObject {
  const t = text.trim();
  if (t.includes('-----BEGIN')) return createPublicKey(t);
  const raw = HEX.test(t) && t.length === 64 ? Buffer.from(t, 'hex') : B64.test(t) ? Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64') : undefined;
  if (!raw) throw new Error('not a PEM, base64 or hex key');
  if (raw.length === 32) return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  return createPublicKey({ key: raw, format: 'der', type: 'spki' });
}

/** A key pinned with --public-key: its PEM and key id (first 16 hex digits of SHA-256 over the SPKI DER). */
export interface PinnedKey {
  pem: string;
  keyId: string;
}

export function pinKey(text: string): PinnedKey {
  const key = publicKeyOf(text);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType ?? 'non-Ed25519'} key, not Ed25519`);
  const pem = key.export({ format: 'pem', type: 'spki' }).toString();
  return { pem, keyId: checkpointKeyId(pem) };
}

/**
 * Why a checkpoint's signature does not hold here, or undefined when it does. With a pinned key
 * the signature must hold for that key, whatever key the line carries.
 */
export function checkSignature(cp: CheckpointLine, pinned?: PinnedKey): string | undefined {
  const pem = pinned?.pem ?? cp.publicKey;
  if (!pem) return `the line carries no publicKey (key id ${cp.keyId}); give the key with --public-key`;
  const r = verifyCheckpointSignature(cp, pem);
  if (r.ok) return undefined;
  if (pinned && cp.keyId !== pinned.keyId) return `signed by key ${cp.keyId}, not by the key given with --public-key (${pinned.keyId})`;
  return r.problem;
}

/** Reads a JSON Lines file of checkpoints; every malformed line is reported at once. */
export function readCheckpointsFile(file: string): CheckpointLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointsFileError(`${file}: ${code === 'ENOENT' ? 'checkpoints file not found' : `cannot be read (${code ?? 'unknown error'})`}`);
  }
  const out: CheckpointLine[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problems.push(`${file}:${i + 1}: not JSON`);
      return;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      problems.push(`${file}:${i + 1}: not a JSON object`);
      return;
    }
    const missing = (['seq', 'hash', 'at', 'keyId', 'signature'] as const).filter((k) => v[k] === undefined || v[k] === null);
    if (missing.length) {
      problems.push(`${file}:${i + 1}: missing ${missing.join(', ')}`);
      return;
    }
    const { seq, hash, at, keyId, signature, publicKey } = v;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) problems.push(`${file}:${i + 1}: seq must be a positive whole number`);
    else if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) problems.push(`${file}:${i + 1}: hash must be 64 hex digits`);
    else if (typeof at !== 'string' || typeof keyId !== 'string' || typeof signature !== 'string')
      problems.push(`${file}:${i + 1}: at, keyId and signature must be strings`);
    else if (publicKey !== undefined && publicKey !== null && typeof publicKey !== 'string') problems.push(`${file}:${i + 1}: publicKey must be a PEM string`);
    else out.push({ seq, hash, at, keyId, signature, ...(typeof publicKey === 'string' ? { publicKey } : {}) });
  });
  if (problems.length) throw new CheckpointsFileError(problems.join('\n'));
  if (out.length === 0) throw new CheckpointsFileError(`${file}: no checkpoints in the file`);
  return out;
}
