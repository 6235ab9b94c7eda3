/**
 * Sealed sign-in state (state, nonce, PKCE verifier, where to go back): AES-256-GCM under a key
 * kept in the store, so any Hourglass server behind the load balancer can open what another
 * sealed, and nothing in the cookie can be read or changed by the browser. Each seal carries
 * its purpose and end: a sealed device handle cannot pass for a login cookie, nor live on.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Store } from '../../app/ports.js';

const KEY_STATE = 'identity.flow_key';

export class FlowSeal {
  private key: Promise<Buffer> | undefined;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  private keyOnce(): Promise<Buffer> {
    this.key ??= (async () => {
      const found = await this.store.getState(KEY_STATE);
      if (found) return Buffer.from(found, 'base64');
      // Servers starting at once all keep the key written first.
      return Buffer.from(await this.store.initState(KEY_STATE, randomBytes(32).toString('base64')), 'base64');
    })().catch((err: unknown) => {
      this.key = undefined;
      throw err;
    });
    return this.key;
  }

  async seal(purpose: string, value: object, ttlMs: number): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', await this.keyOnce(), iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(JSON.stringify({ v: value, exp: this.now() + ttlMs })), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The sealed value, or undefined when it was altered, sealed for another purpose, or has expired. */
  async open<T>(purpose: string, sealed: string | undefined): Promise<T | undefined> {
    if (!sealed || sealed.length > 8192) return undefined;
    try {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', await this.keyOnce(), raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(raw.subarray(12, 28));
      const { v, exp } = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as { v: T; exp: number };
      return this.now() < exp ? v : undefined;
    } catch {
      return undefined;
    }
  }
}
