/**
 * Ed25519 private keys in the two forms an operator has: OpenSSH's own
 * (`ssh-keygen -t ed25519`, "BEGIN OPENSSH PRIVATE KEY", unencrypted) and PKCS#8 PEM
 * (`openssl genpkey -algorithm ed25519`). The CA key is held as a node:crypto KeyObject and signs
 * in process: it never goes to another program or to a temporary file. `hourglass ssh` writes its
 * ephemeral key in the OpenSSH form, the one ssh and ssh-add read.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { ed25519Blob } from './public-key.js';
import { SshReader, SshWriter, WireError } from './wire.js';

const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const END = '-----END OPENSSH PRIVATE KEY-----';
/** PKCS#8 DER of an Ed25519 key, up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface Ed25519Key {
  privateKey: KeyObject;
  /** The 32-byte public key. */
  publicRaw: Buffer;
  /** Its SSH wire blob (`ssh-ed25519` + key). */
  publicBlob: Buffer;
}

function fromSeed(seed: Buffer, publicRaw?: Buffer): Ed25519Key {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const raw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url');
  if (publicRaw && !publicRaw.equals(raw)) throw new WireError('the public half does not match the private key');
  return { privateKey, publicRaw: raw, publicBlob: ed25519Blob(raw) };
}

function fromKeyObject(privateKey: KeyObject): Ed25519Key {
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new WireError(`an Ed25519 key is needed (this is ${privateKey.asymmetricKeyType ?? 'not an asymmetric key'})`);
  const raw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url');
  return { privateKey, publicRaw: raw, publicBlob: ed25519Blob(raw) };
}

function readOpenSsh(text: string): Ed25519Key {
  const body = text.slice(text.indexOf(BEGIN) + BEGIN.length, text.indexOf(END)).replace(/\s+/g, '');
  const buf = Buffer.from(body, 'base64');
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new WireError('not an openssh-key-v1 key');
  const r = new SshReader(buf.subarray(MAGIC.length));
  const cipher = r.text();
  r.text(); // kdf name
  r.string(); // kdf options
  if (cipher !== 'none') throw new WireError('the key is encrypted with a passphrase; give the CA key unencrypted, kept in a file only Hourglass can read');
  if (r.uint32() !== 1) throw new WireError('the file must hold exactly one key');
  r.string(); // public key blob, repeated below
  const priv = new SshReader(r.string());
  r.end();
  if (priv.uint32() !== priv.uint32()) throw new WireError('check bytes differ (corrupt key)');
  const type = priv.text();
  if (type !== 'ssh-ed25519') throw new WireError(`an Ed25519 key is needed (this is ${type.slice(0, 40)})`);
  const pub = priv.string();
  const secret = priv.string();
  if (pub.length !== 32 || secret.length !== 64) throw new WireError('bad Ed25519 key lengths');
  return fromSeed(secret.subarray(0, 32), pub);
}

/** Reads an Ed25519 private key; throws WireError naming what is wrong (never quoting the key). */
export function readEd25519PrivateKey(text: string): Ed25519Key {
  if (text.includes(BEGIN)) return readOpenSsh(text);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw new WireError('not a private key in OpenSSH or PKCS#8 PEM form');
  }
  return fromKeyObject(key);
}

/** A fresh Ed25519 key pair. */
export function generateEd25519(): Ed25519Key {
  return fromKeyObject(generateKeyPairSync('ed25519').privateKey);
}

/** The key in OpenSSH's unencrypted private key form (what ssh, ssh-add and ssh-keygen read). */
export function openSshPrivateKey(key: Ed25519Key, comment: string): string {
  const seed = Buffer.from(key.privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const check = randomBytes(4).readUInt32BE();
  const priv = new SshWriter()
    .uint32(check)
    .uint32(check)
    .string('ssh-ed25519')
    .string(key.publicRaw)
    .string(Buffer.concat([seed, key.publicRaw]))
    .string(comment);
  const unpadded = priv.toBuffer();
  const pad = (8 - (unpadded.length % 8)) % 8;
  const padded = Buffer.concat([unpadded, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    MAGIC,
    new SshWriter().string('none').string('none').string('').uint32(1).string(key.publicBlob).string(padded).toBuffer(),
  ]).toString('base64');
  return `${BEGIN}\n${body.replace(/(.{70})/g, '$1\n').replace(/\n$/, '')}\n${END}\n`;
}
