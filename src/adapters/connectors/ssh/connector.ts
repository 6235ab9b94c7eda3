/**
 * The ssh connector: Hourglass is the OpenSSH certificate authority hosts trust
 * (TrustedUserCAKeys). Granting touches no host: the requester sends a public key while the grant
 * is active and gets a certificate per entitlement, valid from a little before now (clockSkew)
 * to the grant's end, never longer. An early end puts the certificates' serials in the key
 * revocation list that host agents fetch (RevokedKeys); sshd then refuses them at the next login.
 * Sessions already open stay open: certificates cannot end them (endsSessions false).
 */
import { existsSync } from 'node:fs';
import type { CertificateAuthority, Connector, CredentialIssuer, GrantOnTarget, IssueInput, PreparedCredential } from '../../../app/connectors.js';
import { HgError } from '../../../core/errors.js';
import type { TargetCapabilities, TargetConfig } from '../../../core/types.js';
import { createKeyFile } from '../../key-file.js';
import { refuseUnknownEntitlements } from '../target-error.js';
import { signUserCertificate } from './certificate.js';
import { buildKrl } from './krl.js';
import { generateEd25519, openSshPrivateKey, type Ed25519Key } from './private-key.js';
import { parsePublicKey, publicKeyLine } from './public-key.js';
import { readCaKey, readSettings, type SshEntitlement, type SshSettings } from './settings.js';

export const SSH_CAPABILITIES: TargetCapabilities = {
  issuesCredentials: false,
  issuesOnDemand: true,
  endsSessions: false,
  enforcesExpiry: true,
  canList: false,
};

/** Writes a new CA key to `keyFile` if none is there (generateKey: true, for demos). */
export function ensureCaKey(target: TargetConfig): void {
  const ca = (target.ca ?? {}) as { keyFile?: string; generateKey?: boolean };
  if (!ca.generateKey || !ca.keyFile || existsSync(ca.keyFile)) return;
  createKeyFile(ca.keyFile, openSshPrivateKey(generateEd25519(), `hourglass-ca:${target.name}`));
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** What one entitlement's certificate says, for the key id, the audit event and the answer. */
function certificateFields(e: SshEntitlement) {
  // A value is the option's data; null marks a flag (no data).
  const criticalOptions: Record<string, string | null> = {};
  if (e.forceCommand !== undefined) criticalOptions['force-command'] = e.forceCommand;
  if (e.sourceAddress) criticalOptions['source-address'] = e.sourceAddress.join(',');
  // verify-required is a flag: its data is empty.
  if (e.verifyRequired) criticalOptions['verify-required'] = null;
  return { principals: e.principals, extensions: e.extensions, criticalOptions };
}

export class SshConnector implements Connector {
  readonly kind = 'ssh';
  readonly capabilities = SSH_CAPABILITIES;
  private readonly settings: SshSettings;
  private readonly ca: Ed25519Key;

  constructor(target: TargetConfig) {
    ensureCaKey(target);
    this.settings = readSettings(target);
    this.ca = readCaKey(target);
  }

  /** No host is called: the certificates are the access. An entitlement the settings do not know is refused. */
  async grant(grant: GrantOnTarget) {
    refuseUnknownEntitlements('ssh', grant, (name) => this.settings.entitlements.has(name));
    return {};
  }

  /** The access worker has put the request's certificates in the revocation list before this. */
  async revoke() {}

  /** A certificate keeps its end; after an extension the requester asks for one to the new end. */
  async extend() {}

  async health() {
    return { ok: true };
  }

  async close() {}

  readonly issuer: CredentialIssuer = {
    needs: 'publicKey',
    prepare: (grant: GrantOnTarget, input: IssueInput, now: number): PreparedCredential[] => {
      if (!input.publicKey)
        throw new HgError('HG_INVALID_INPUT', `target ${grant.target.name} issues SSH certificates: send publicKey (an OpenSSH public key line)`);
      const key = parsePublicKey(input.publicKey);
      if (key.blob.equals(this.ca.publicBlob)) throw new HgError('HG_KEY_REFUSED', 'that is the CA key itself');
      const validAfter = seconds(now - this.settings.clockSkewMs);
      const validBefore = seconds(grant.expiresAt);
      if (validBefore <= seconds(now)) throw new HgError('HG_INVALID_TRANSITION', 'the grant ends within the second: no certificate is issued');
      return grant.entitlements.map(({ name }) => {
        const e = this.settings.entitlements.get(name);
        if (!e) throw new HgError('HG_INVALID_INPUT', `entitlement ${name} is not configured on target ${grant.target.name}`);
        const f = certificateFields(e);
        const keyId = `hourglass request=${grant.requestId} principal=${grant.principal} entitlement=${grant.target.name}/${name}`;
        const details = {
          keyFingerprint: key.fingerprint,
          keyType: key.description,
          keyId,
          principals: f.principals,
          extensions: f.extensions,
          criticalOptions: f.criticalOptions,
          validAfter: new Date(validAfter * 1000).toISOString(),
          validBefore: new Date(validBefore * 1000).toISOString(),
        };
        return {
          entitlement: name,
          ref: key.fingerprint,
          expiresAt: validBefore * 1000,
          details,
          sign: (serial: number) => ({
            ...details,
            serial,
            certificate: signUserCertificate(this.ca, key, {
              serial,
              keyId,
              principals: f.principals,
              validAfter,
              validBefore,
              criticalOptions: f.criticalOptions,
              extensions: f.extensions,
            }),
          }),
        };
      });
    },
  };

  readonly authority: CertificateAuthority = {
    publicKey: () => publicKeyLine(this.ca.publicBlob, `hourglass-ca:${this.settings.targetName}`),
    revocationList: (serials, version, generatedAt) =>
      buildKrl({
        caBlob: this.ca.publicBlob,
        serials,
        version,
        generatedAt: seconds(generatedAt),
        comment: `hourglass ${this.settings.targetName} v${version}`,
      }),
  };
}
