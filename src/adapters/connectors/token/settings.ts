/**
 * The token target's settings: who the tokens are from (issuer) and for (audience), how long one
 * lives, the Ed25519 signing key, and each entitlement's claims. The key is read and checked
 * here, so `policy validate` refuses a missing or wrong one.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { durationSchema, entitlementDescription, httpUrlSchema, nonEmptyString, strictObject, targetSettings } from '../../../config/schema.js';
import type { TargetConfig } from '../../../core/types.js';
import type { TargetProblem } from '../../../config/target-kind.js';

/** Claims Hourglass sets itself: an entitlement may not give them. */
export const RESERVED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'hourglass'] as const;
export const DEFAULT_MAX_LIFETIME_MS = 15 * 60_000;
const MAX_LIFETIME_LIMIT_MS = 24 * 3_600_000;

const claimName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/, 'claim names are 1-64 of A-Z a-z 0-9 _ . : - (not first)')
  .refine((n) => !(RESERVED_CLAIMS as readonly string[]).includes(n), `is set by Hourglass (${RESERVED_CLAIMS.join(', ')})`);

export const tokenEntitlementSchema = z.preprocess(
  (v) => (v === null ? {} : v),
  strictObject({
    description: entitlementDescription,
    claims: z
      .record(claimName, z.unknown())
      .default({})
      .describe('claims the token carries for this entitlement, e.g. { scope: admin }; registered claims are set by Hourglass'),
  }),
);

export const tokenSettingsSchema = targetSettings(
  {
    issuer: httpUrlSchema.describe("the tokens' iss: this Hourglass deployment's public URL"),
    audience: z.union([nonEmptyString, z.array(nonEmptyString).min(1).max(16)]).describe("the tokens' aud: the resource server(s) they are for"),
    maxTokenLifetime: durationSchema
      .default('15m')
      .refine((ms) => !Number.isFinite(ms) || (ms >= 60_000 && ms <= MAX_LIFETIME_LIMIT_MS), 'must be between 1m and 24h')
      .describe('a token lives at most this long, and never past the grant’s end; ask again for a fresh one'),
    signingKey: nonEmptyString.optional().describe('the Ed25519 private key (PKCS#8 PEM), e.g. ${TOKEN_SIGNING_KEY}'),
    signingKeyFile: nonEmptyString.optional().describe('file holding the Ed25519 private key (PKCS#8 PEM)'),
    generateKey: z.boolean().default(false).describe('create signingKeyFile with a new key when it is missing (demo only)'),
  },
  tokenEntitlementSchema,
  { accounts: false },
);

export interface TokenSettings {
  targetName: string;
  issuer: string;
  audience: string | string[];
  maxLifetimeMs: number;
  /** Entitlement name → its claims. */
  claims: Map<string, Record<string, unknown>>;
}

/** The signing key the settings point to; throws an Error saying what is wrong (never quoting the key). */
export function readSigningKey(target: TargetConfig): KeyObject {
  const text = typeof target.signingKey === 'string' ? target.signingKey : readFileSync(String(target.signingKeyFile), 'utf8');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw new Error('not a private key in PKCS#8 PEM form (openssl genpkey -algorithm ed25519)');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`an Ed25519 key is needed (this is ${key.asymmetricKeyType ?? 'not an asymmetric key'})`);
  return key;
}

export function keyProblems(target: TargetConfig): TargetProblem[] {
  const inline = typeof target.signingKey === 'string';
  const file = typeof target.signingKeyFile === 'string' ? target.signingKeyFile : undefined;
  if (inline === (file !== undefined)) return [{ path: ['signingKey'], message: 'give exactly one of signingKey and signingKeyFile' }];
  if (inline && target.generateKey) return [{ path: ['generateKey'], message: 'needs signingKeyFile to write the key to' }];
  if (file !== undefined && !existsSync(file)) {
    return target.generateKey
      ? []
      : [{ path: ['signingKeyFile'], message: `${file} does not exist (openssl genpkey -algorithm ed25519 -out ${file}, or generateKey: true for a demo)` }];
  }
  try {
    readSigningKey(target);
    return [];
  } catch (err) {
    return [
      { path: [inline ? 'signingKey' : 'signingKeyFile'], message: (err as Error).message.startsWith('EACCES') ? 'cannot be read' : (err as Error).message },
    ];
  }
}

export function readSettings(target: TargetConfig): TokenSettings {
  const claims = new Map<string, Record<string, unknown>>();
  for (const [name, e] of Object.entries(target.entitlements))
    claims.set(name, ((e as { claims?: Record<string, unknown> }).claims ?? {}) as Record<string, unknown>);
  return {
    targetName: target.name,
    issuer: String(target.issuer),
    audience: target.audience as string | string[],
    maxLifetimeMs: typeof target.maxTokenLifetime === 'number' ? target.maxTokenLifetime : DEFAULT_MAX_LIFETIME_MS,
    claims,
  };
}
