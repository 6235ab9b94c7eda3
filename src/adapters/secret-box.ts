/**
 * Encryption of secrets kept at rest (connector credentials): AES-256-GCM with a random 96-bit
 * nonce per message and the record's identity as associated data, so a ciphertext copied onto
 * another request's row does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { createKeyFile } from './key-file.js';
import { HgError } from '../core/errors.js';

export interface SecretBox {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
}

export function secretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new HgError('HG_CONFIG_INVALID', 'the credentials key must be 32 bytes (base64 of 32 random bytes)');
  return {
    seal(plaintext, context) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `v1.${nonce.toString('base64url')}.${body.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
    },
    open(sealed, context) {
      const [version, nonce, body, tag] = sealed.split('.');
      if (version !== 'v1' || !nonce || body === undefined || !tag) throw new Error('unreadable sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/** The key from config (base64), or from a file (created with mode 0600 when `generate` is set). */
export function loadSecretKey(settings: { key?: string; keyFile?: string; generateKey?: boolean }): Buffer | undefined {
  if (settings.key) return Buffer.from(settings.key, 'base64');
  if (!settings.keyFile) return undefined;
  if (!existsSync(settings.keyFile)) {
    if (!settings.generateKey) throw new HgError('HG_CONFIG_INVALID', `credentials.keyFile ${settings.keyFile} does not exist`);
    createKeyFile(settings.keyFile, `${randomBytes(32).toString('base64')}\n`);
  }
  chmodSync(settings.keyFile, 0o600);
  return Buffer.from(readFileSync(settings.keyFile, 'utf8').trim(), 'base64');
}
