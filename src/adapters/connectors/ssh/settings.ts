/**
 * The ssh target's settings: where the CA key comes from, how certificates are cut, and what
 * each entitlement certifies (login names, extensions, critical options). The CA key is read and
 * checked here, so `policy validate` refuses a file whose key is missing or not Ed25519.
 */
import { existsSync, readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { durationSchema, entitlementDescription, nonEmptyString, strictObject, targetSettings } from '../../../config/schema.js';
import type { TargetConfig } from '../../../core/types.js';
import type { TargetProblem } from '../../../config/target-kind.js';
import { readEd25519PrivateKey, type Ed25519Key } from './private-key.js';
import { WireError } from './wire.js';

/** The extensions OpenSSH knows for user certificates (ssh-keygen(1), CERTIFICATES). */
export const EXTENSIONS = [
  'permit-X11-forwarding',
  'permit-agent-forwarding',
  'permit-port-forwarding',
  'permit-pty',
  'permit-user-rc',
  'no-touch-required',
] as const;

/** A login name sshd can match against a certificate principal. */
const loginName = z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, 'must be a login name: a-z 0-9 _ . - (1-32, not starting with a digit, . or -)');

const cidr = z.string().refine((text) => {
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return ipaddr.isValid(text);
  }
}, 'must be an address or CIDR block (10.0.0.0/8)');

export const sshEntitlementSchema = strictObject({
  description: entitlementDescription,
  principals: z.array(loginName).min(1).max(32).describe('login names the certificate is valid for (sshd matches them with the account)'),
  extensions: z.array(z.enum(EXTENSIONS)).default([]).describe('certificate extensions granted, e.g. permit-pty; none unless listed'),
  sourceAddress: z.array(cidr).min(1).max(32).optional().describe('critical option source-address: addresses the certificate may be used from'),
  forceCommand: nonEmptyString.max(1024).optional().describe('critical option force-command: the only command the certificate runs'),
  verifyRequired: z.boolean().default(false).describe('critical option verify-required: security keys must verify the user (PIN)'),
});

export const sshSettingsSchema = targetSettings(
  {
    ca: strictObject({
      key: nonEmptyString.optional().describe('the CA private key itself (OpenSSH or PKCS#8 PEM, Ed25519), e.g. ${SSH_CA_KEY}'),
      keyFile: nonEmptyString.optional().describe('file holding the CA private key (OpenSSH or PKCS#8 PEM, Ed25519)'),
      generateKey: z.boolean().default(false).describe('create keyFile with a new key when it is missing (demo only)'),
    }).describe('the certificate authority key: the same on every server of a deployment'),
    clockSkew: durationSchema.default('1m').describe('certificates are valid from this long before they are issued (hosts with slow clocks)'),
    agentAlertAfter: durationSchema
      .default('2m')
      .describe('a host whose agent has not applied the current revocation list after this raises alert.agent_behind'),
  },
  sshEntitlementSchema,
  { accounts: false },
);

export interface SshEntitlement {
  principals: string[];
  extensions: string[];
  sourceAddress?: string[];
  forceCommand?: string;
  verifyRequired: boolean;
}

export interface SshSettings {
  targetName: string;
  clockSkewMs: number;
  entitlements: Map<string, SshEntitlement>;
}

/** The CA key the target's settings point to; throws WireError (or a file error) saying what is wrong. */
export function readCaKey(target: TargetConfig): Ed25519Key {
  const ca = (target.ca ?? {}) as { key?: string; keyFile?: string };
  const text = ca.key ?? readFileSync(ca.keyFile!, 'utf8');
  return readEd25519PrivateKey(text);
}

export function caProblems(target: TargetConfig): TargetProblem[] {
  const ca = (target.ca ?? {}) as { key?: string; keyFile?: string; generateKey?: boolean };
  if ((ca.key === undefined) === (ca.keyFile === undefined)) return [{ path: ['ca'], message: 'give exactly one of key and keyFile' }];
  if (ca.key !== undefined && ca.generateKey) return [{ path: ['ca', 'generateKey'], message: 'needs keyFile to write the key to' }];
  if (ca.keyFile !== undefined && !existsSync(ca.keyFile)) {
    return ca.generateKey
      ? []
      : [{ path: ['ca', 'keyFile'], message: `${ca.keyFile} does not exist (ssh-keygen -t ed25519 -N '' -f ${ca.keyFile}, or generateKey: true for a demo)` }];
  }
  try {
    readCaKey(target);
    return [];
  } catch (err) {
    const message = err instanceof WireError ? err.message : 'cannot be read';
    return [{ path: ['ca', ca.key !== undefined ? 'key' : 'keyFile'], message }];
  }
}

export function readSettings(target: TargetConfig): SshSettings {
  const entitlements = new Map<string, SshEntitlement>();
  for (const [name, raw] of Object.entries(target.entitlements)) {
    const e = raw as Record<string, unknown>;
    entitlements.set(name, {
      principals: e.principals as string[],
      extensions: (e.extensions as string[] | undefined) ?? [],
      ...(e.sourceAddress ? { sourceAddress: e.sourceAddress as string[] } : {}),
      ...(typeof e.forceCommand === 'string' ? { forceCommand: e.forceCommand } : {}),
      verifyRequired: e.verifyRequired === true,
    });
  }
  return {
    targetName: target.name,
    clockSkewMs: typeof target.clockSkew === 'number' ? target.clockSkew : 60_000,
    entitlements,
  };
}
