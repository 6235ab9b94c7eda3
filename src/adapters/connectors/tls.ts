/** TLS to targets, shared by every connector: the settings' shape and what each mode means. */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

export type TlsMode = 'verify-full' | 'verify-ca' | 'require' | 'disable';

export interface TlsSettings {
  mode: TlsMode;
  /** PEM text, or `file:PATH`. */
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

/** PEM text, or the contents of `file:PATH` read now. */
export function readPem(value: string): string {
  return value.startsWith('file:') ? readFileSync(value.slice('file:'.length), 'utf8') : value;
}

/**
 * What a mode asks of the server's certificate: verify-full checks the chain and the name,
 * verify-ca the chain only, require encrypts without checking (as libpq's sslmode does).
 */
export function verification(mode: TlsMode): Pick<ConnectionOptions, 'rejectUnauthorized' | 'checkServerIdentity'> {
  switch (mode) {
    case 'verify-full':
      return { rejectUnauthorized: true };
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'require':
      return { rejectUnauthorized: false };
    case 'disable':
      return {};
  }
}
