/**
 * A requester's OpenSSH public key (`ssh-ed25519 AAAA... comment`), read and judged before it is
 * certified: each type's fields are decoded and the key itself is loaded by node:crypto, so a
 * point off its curve or a garbled modulus is refused, not signed. Refused: DSA, RSA under 3072
 * bits, certificates, unknown types, anything malformed. Security keys (sk-*) are accepted.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { HgError } from '../../../core/errors.js';
import { SshReader, SshWriter, WireError } from './wire.js';

export const MIN_RSA_BITS = 3072;
const MAX_RSA_BITS = 16384;
/** Longer than any key of an accepted type (a 16384-bit RSA key is about 2.8 kB in base64). */
const MAX_LINE = 8192;

const CURVES: Record<string, { crv: string; bytes: number }> = {
  nistp256: { crv: 'P-256', bytes: 32 },
  nistp384: { crv: 'P-384', bytes: 48 },
  nistp521: { crv: 'P-521', bytes: 66 },
};

export interface PublicKey {
  /** The key type as written (`ssh-ed25519`). */
  type: string;
  /** The wire blob: the type string and the key's fields. */
  blob: Buffer;
  /** The fields after the type string, copied into a certificate as they are. */
  fields: Buffer;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** For messages and the audit log: `ED25519`, `RSA-4096`, `ECDSA-P256`, `ED25519-SK`. */
  description: string;
}

const refused = (message: string) => new HgError('HG_KEY_REFUSED', message);

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const b64url = (b: Buffer) => b.toString('base64url');

function checkEd25519(pk: Buffer) {
  if (pk.length !== 32) throw new WireError('an Ed25519 key is 32 bytes');
  createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' });
}

function checkEcdsa(r: SshReader, curveOfType: string) {
  const curve = r.text();
  const spec = CURVES[curve];
  if (!spec || curve !== curveOfType) throw new WireError('the curve does not match the key type');
  const q = r.string();
  if (q.length !== 1 + 2 * spec.bytes || q[0] !== 4) throw new WireError('the point must be uncompressed');
  createPublicKey({
    key: { kty: 'EC', crv: spec.crv, x: b64url(q.subarray(1, 1 + spec.bytes)), y: b64url(q.subarray(1 + spec.bytes)) },
    format: 'jwk',
  });
}

/** Decodes the fields of `type` from `r`; returns the description. Throws WireError or a refusal. */
function readFields(type: string, r: SshReader): string {
  if (type === 'ssh-ed25519') {
    checkEd25519(r.string());
    return 'ED25519';
  }
  if (type === 'sk-ssh-ed25519@openssh.com') {
    checkEd25519(r.string());
    r.text(); // application
    return 'ED25519-SK';
  }
  const ecdsa = /^ecdsa-sha2-(nistp256|nistp384|nistp521)$/.exec(type);
  if (ecdsa) {
    checkEcdsa(r, ecdsa[1]!);
    return `ECDSA-${ecdsa[1]!.slice(4).toUpperCase()}`;
  }
  if (type === 'sk-ecdsa-sha2-nistp256@openssh.com') {
    checkEcdsa(r, 'nistp256');
    r.text(); // application
    return 'ECDSA-P256-SK';
  }
  if (type === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    const bits = n.length === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
    if (bits < MIN_RSA_BITS) throw refused(`RSA keys must have at least ${MIN_RSA_BITS} bits (this one has ${bits}); an Ed25519 key is better`);
    if (bits > MAX_RSA_BITS) throw new WireError('modulus too large');
    if (e.length === 0 || e.length > 4 || !(e[e.length - 1]! & 1)) throw new WireError('bad public exponent');
    createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
    return `RSA-${bits}`;
  }
  if (type === 'ssh-dss') throw refused('DSA keys are refused (OpenSSH disabled them); use an Ed25519 key');
  if (type.includes('-cert-v01@openssh.com')) throw refused('send a public key, not a certificate');
  throw refused(
    `unsupported key type ${JSON.stringify(type.slice(0, 64))}; use ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa (3072 bits or more) or a security key`,
  );
}

/** Parses one OpenSSH public key line. Throws HG_KEY_REFUSED with the reason. */
export function parsePublicKey(line: string): PublicKey {
  if (typeof line !== 'string' || line.length > MAX_LINE) throw refused('publicKey must be one OpenSSH public key line');
  const words = line.trim().split(/\s+/);
  if (words.length < 2) throw refused('publicKey must look like "ssh-ed25519 AAAA... comment"');
  const [typeWord, data] = words as [string, string];
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) throw refused('the key data is not base64');
  const blob = Buffer.from(data, 'base64');
  try {
    const r = new SshReader(blob);
    const type = r.text();
    if (type !== typeWord) throw refused(`the key says it is ${JSON.stringify(type.slice(0, 64))} but is labelled ${JSON.stringify(typeWord.slice(0, 64))}`);
    const start = blob.length - r.remaining;
    const description = readFields(type, r);
    r.end();
    return { type, blob, fields: blob.subarray(start), fingerprint: fingerprintOf(blob), description };
  } catch (err) {
    if (err instanceof HgError) throw err;
    throw refused(`the public key is malformed (${err instanceof WireError ? err.message : 'its key material does not load'})`);
  }
}

/** The wire blob of an Ed25519 public key (32 raw bytes). */
export function ed25519Blob(raw: Buffer): Buffer {
  return new SshWriter().string('ssh-ed25519').string(raw).toBuffer();
}

/** The OpenSSH one-line form of a wire blob. */
export function publicKeyLine(blob: Buffer, comment: string): string {
  const type = new SshReader(blob).text();
  return `${type} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}
