/**
 * The Ed25519 key that signs audit checkpoints: from `audit.checkpoints.signingKey` (PEM, usually
 * from an environment variable), else from `keyFile` (PEM, PKCS#8). With `generateKey: true` a
 * missing `keyFile` is created with a new key, mode 0600 (for the demo; in production make the key
 * yourself and keep a copy of its public half outside the server).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { HgError } from '../core/errors.js';
import type { CheckpointSettings } from '../config/types.js';
import { checkpointKeyId, type CheckpointSigner } from '../app/checkpoints.js';
import { createKeyFile } from './key-file.js';

export interface CheckpointKey extends CheckpointSigner {
  readonly publicKey: KeyObject;
  /** Where the key came from. */
  readonly source: 'signingKey' | 'keyFile' | 'generated';
  /** The key file path, when the key came from a file. */
  readonly path?: string;
  /** Things worth a log line (a key file others can read, say). */
  readonly warnings: string[];
}

function fromPem(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new HgError('HG_CONFIG_INVALID', `${where} is not a PEM private key (make one with: openssl genpkey -algorithm ed25519)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new HgError('HG_CONFIG_INVALID', `${where} is a ${key.asymmetricKeyType ?? 'secret'} key; audit checkpoints need Ed25519`);
  }
  return key;
}

function signerOf(privateKey: KeyObject, source: CheckpointKey['source'], path: string | undefined, warnings: string[]): CheckpointKey {
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyId: checkpointKeyId(publicKey),
    publicKeyPem,
    publicKey,
    source,
    ...(path ? { path } : {}),
    warnings,
    sign: (message: string) => sign(null, Buffer.from(message, 'utf8'), privateKey).toString('base64'),
  };
}

/** Writes a new key to `path` with mode 0600; if another process created it first, that one is kept. */
function generate(path: string): boolean {
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    return createKeyFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  } catch (err) {
    throw new HgError('HG_CONFIG_INVALID', `cannot create the checkpoint key file ${path}: ${(err as Error).message}`);
  }
}

const loaded = new WeakMap<CheckpointSettings, CheckpointKey>();

/**
 * Loads (or, with generateKey, creates) the signing key of these settings. The result is kept per
 * settings object, so a configuration reload picks up a new key and anything else costs nothing.
 * Relative `keyFile` paths are taken from `cwd` (the composition root passes the working
 * directory), like the store.
 */
export function loadCheckpointKey(settings: CheckpointSettings, opts: { cwd: string }): CheckpointKey {
  const cached = loaded.get(settings);
  if (cached) return cached;
  let key: CheckpointKey;
  if (settings.signingKeyPem) {
    key = signerOf(fromPem(settings.signingKeyPem, 'audit.checkpoints.signingKey'), 'signingKey', undefined, []);
  } else if (settings.keyFile) {
    const path = resolve(opts.cwd, settings.keyFile);
    let source: CheckpointKey['source'] = 'keyFile';
    if (!existsSync(path)) {
      if (!settings.generateKey) {
        throw new HgError(
          'HG_CONFIG_INVALID',
          `audit.checkpoints.keyFile ${path} does not exist: make one with \`openssl genpkey -algorithm ed25519 -out ${path} && chmod 600 ${path}\`, or set generateKey: true (demo only)`,
        );
      }
      if (generate(path)) source = 'generated';
    }
    let pem: string;
    try {
      pem = readFileSync(path, 'utf8');
    } catch (err) {
      throw new HgError('HG_CONFIG_INVALID', `cannot read audit.checkpoints.keyFile ${path}: ${(err as Error).message}`);
    }
    const warnings: string[] = [];
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) warnings.push(`the checkpoint key file ${path} can be read by others (mode ${mode.toString(8)}); chmod 600 it`);
    key = signerOf(fromPem(pem, `audit.checkpoints.keyFile ${path}`), source, path, warnings);
  } else {
    throw new HgError('HG_CONFIG_INVALID', 'audit.checkpoints needs signingKey or keyFile');
  }
  loaded.set(settings, key);
  return key;
}
