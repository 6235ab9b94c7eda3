/**
 * OpenSSH user certificates (PROTOCOL.certkeys), signed by an Ed25519 CA in process. Every field
 * is set on purpose (sshpk's defaults, serial 1, ten years, no extensions, are what not to do):
 * the serial, the key id, the principals, a validity window, and only the listed critical
 * options and extensions. Tests read each field back with OpenSSH's `ssh-keygen -L` and log in
 * to a real sshd with the result.
 */
import { randomBytes, sign } from 'node:crypto';
import type { Ed25519Key } from './private-key.js';
import type { PublicKey } from './public-key.js';
import { SshWriter } from './wire.js';

const SSH_CERT_TYPE_USER = 1;

/** `ssh-ed25519` → `ssh-ed25519-cert-v01@openssh.com`; `sk-ssh-ed25519@openssh.com` → `sk-ssh-ed25519-cert-v01@openssh.com`. */
export function certificateType(keyType: string): string {
  const at = keyType.indexOf('@');
  return at < 0 ? `${keyType}-cert-v01@openssh.com` : `${keyType.slice(0, at)}-cert-v01${keyType.slice(at)}`;
}

export interface UserCertificateFields {
  serial: number;
  keyId: string;
  principals: readonly string[];
  /** Seconds since the epoch, inclusive. */
  validAfter: number;
  /** Seconds since the epoch, exclusive. */
  validBefore: number;
  /** Critical options by name (`force-command`, `source-address`); null for a flag (`verify-required`). */
  criticalOptions: Readonly<Record<string, string | null>>;
  /** Extension names (`permit-pty`); their data is empty. */
  extensions: readonly string[];
}

/** Names and (string-wrapped) data, in lexical order of the names as the format requires. */
function options(entries: [string, string | null][]): Buffer {
  const w = new SshWriter();
  for (const [name, value] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    w.string(name).string(value === null ? Buffer.alloc(0) : new SshWriter().string(value).toBuffer());
  }
  return w.toBuffer();
}

/** The certificate, in OpenSSH's one-line form (`ssh-ed25519-cert-v01@openssh.com AAAA... comment`). */
export function signUserCertificate(ca: Ed25519Key, key: PublicKey, f: UserCertificateFields, comment = ''): string {
  const type = certificateType(key.type);
  const principals = new SshWriter();
  for (const p of f.principals) principals.string(p);
  const body = new SshWriter()
    .string(type)
    .string(randomBytes(32))
    .raw(key.fields)
    .uint64(f.serial)
    .uint32(SSH_CERT_TYPE_USER)
    .string(f.keyId)
    .string(principals.toBuffer())
    .uint64(f.validAfter)
    .uint64(f.validBefore)
    .string(options(Object.entries(f.criticalOptions)))
    .string(options(f.extensions.map((e) => [e, null])))
    .string('')
    .string(ca.publicBlob)
    .toBuffer();
  const signature = new SshWriter()
    .string('ssh-ed25519')
    .string(sign(null, body, ca.privateKey))
    .toBuffer();
  const cert = Buffer.concat([body, new SshWriter().string(signature).toBuffer()]);
  return `${type} ${cert.toString('base64')}${comment ? ` ${comment}` : ''}`;
}
