/**
 * The token connector: short-lived JWTs, signed with EdDSA (Ed25519) by jose, for APIs that
 * trust Hourglass as an issuer. Granting touches no system: while the grant is active the
 * requester asks for tokens (one per entitlement), each living at most `maxTokenLifetime` and
 * never past the grant's end. Resource servers verify them against the published JWKS, and those
 * that introspect (RFC 7662) see an early end at once; those that only check the signature accept
 * a token until its `exp`, which is why lifetimes are short.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify, SignJWT, type JWK } from 'jose';
import type { Connector, CredentialIssuer, GrantOnTarget, PreparedCredential, PublicJwk, TokenSigner } from '../../../app/connectors.js';
import { HgError } from '../../../core/errors.js';
import type { TargetCapabilities, TargetConfig } from '../../../core/types.js';
import { createKeyFile } from '../../key-file.js';
import { refuseUnknownEntitlements } from '../target-error.js';
import { readSettings, readSigningKey, type TokenSettings } from './settings.js';

export const TOKEN_CAPABILITIES: TargetCapabilities = {
  issuesCredentials: false,
  issuesOnDemand: true,
  endsSessions: false,
  enforcesExpiry: true,
  canList: false,
};

/** Writes a new signing key to `signingKeyFile` if none is there (generateKey: true, for demos). */
export function ensureSigningKey(target: TargetConfig): void {
  const file = typeof target.signingKeyFile === 'string' ? target.signingKeyFile : undefined;
  if (!target.generateKey || !file || existsSync(file)) return;
  createKeyFile(file, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
}

/**
 * The public JWK of an Ed25519 key; its kid is the RFC 7638 thumbprint (SHA-256 of the required
 * members in lexical order), so every server with the key names it alike.
 */
export function publicJwkOf(key: KeyObject): PublicJwk {
  const x = (createPublicKey(key).export({ format: 'jwk' }) as JWK).x!;
  const kid = createHash('sha256')
    .update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x }))
    .digest('base64url');
  return { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export class TokenConnector implements Connector {
  readonly kind = 'token';
  readonly capabilities = TOKEN_CAPABILITIES;
  private readonly settings: TokenSettings;
  private readonly key: KeyObject;
  private readonly jwk: PublicJwk;

  constructor(target: TargetConfig) {
    ensureSigningKey(target);
    this.settings = readSettings(target);
    this.key = readSigningKey(target);
    this.jwk = publicJwkOf(this.key);
    this.tokens = { publicKey: this.jwk, verify: (token, keys, now) => this.verify(token, keys, now) };
  }

  readonly tokens: TokenSigner;

  private async verify(token: string, keys: readonly PublicJwk[], now: number): Promise<Record<string, unknown> | undefined> {
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: keys as JWK[] }), {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ['EdDSA'],
        currentDate: new Date(now),
      });
      return payload as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  /** No system is called: the tokens are the access. An entitlement the settings do not know is refused. */
  async grant(grant: GrantOnTarget) {
    refuseUnknownEntitlements('token', grant, (name) => this.settings.claims.has(name));
    return {};
  }

  /** The access worker has marked the request's tokens revoked (introspection answers inactive) before this. */
  async revoke() {}

  /** A token keeps its exp; the next one asked for runs to the new end (within maxTokenLifetime). */
  async extend() {}

  async health() {
    return { ok: true };
  }

  async close() {}

  readonly issuer: CredentialIssuer = {
    prepare: (grant: GrantOnTarget, _input, now: number): PreparedCredential[] => {
      const exp = seconds(Math.min(now + this.settings.maxLifetimeMs, grant.expiresAt));
      const iat = seconds(now);
      if (exp <= iat) throw new HgError('HG_INVALID_TRANSITION', 'the grant ends within the second: no token is issued');
      const kid = this.jwk.kid;
      return grant.entitlements.map(({ name }) => {
        const claims = this.settings.claims.get(name);
        if (!claims) throw new HgError('HG_INVALID_INPUT', `entitlement ${name} is not configured on target ${grant.target.name}`);
        const jti = randomUUID();
        const entitlement = `${grant.target.name}/${name}`;
        const details = {
          jti,
          kid,
          audience: this.settings.audience,
          issuedAt: new Date(iat * 1000).toISOString(),
          expiresAt: new Date(exp * 1000).toISOString(),
        };
        return {
          entitlement: name,
          ref: jti,
          expiresAt: exp * 1000,
          signer: kid,
          details,
          sign: async (serial: number) => {
            const token = await new SignJWT({ ...claims, hourglass: { request: grant.requestId, entitlement, serial } })
              .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid })
              .setIssuer(this.settings.issuer)
              .setAudience(this.settings.audience)
              .setSubject(grant.principal)
              .setJti(jti)
              .setIssuedAt(iat)
              .setNotBefore(iat)
              .setExpirationTime(exp)
              .sign(this.key);
            return { token, tokenType: 'Bearer', serial, claims, ...details };
          },
        };
      });
    },
  };
}
