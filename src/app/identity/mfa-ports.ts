/**
 * What step-up MFA needs (migration 0011): factors (TOTP, WebAuthn), recovery codes, bound
 * challenges and failed proofs, in the store; and the factor methods themselves (TOTP, recovery
 * codes, WebAuthn ceremonies), which live in src/adapters/mfa and are wired by the composition root.
 */
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

export type FactorKind = 'totp' | 'webauthn';
export type StepUpMethod = 'totp' | 'webauthn' | 'recovery_code';

/** A second factor of a person. A TOTP factor is `pending` until a code confirms it. */
export interface FactorRecord {
  /** Public handle (`mfa_...`). */
  id: string;
  principal: string;
  kind: FactorKind;
  label: string;
  status: 'pending' | 'active';
  createdAt: number;
  lastUsedAt?: number;
  /** TOTP: the base32 secret, sealed with the credentials key (context: the factor id). */
  sealedSecret?: string;
  /** TOTP: the last time step accepted (a code is never accepted twice). */
  lastUsedStep?: number;
  /** WebAuthn: the credential id (base64url), unique in the store. */
  credentialId?: string;
  /** WebAuthn: the COSE public key (base64url). */
  publicKey?: string;
  /** WebAuthn: the signature counter last seen. */
  counter?: number;
  transports?: string[];
}

/** What a step-up proof is for; the digest is SHA-256 (hex) of what is being approved, computed by the caller. */
export interface StepUpBinding {
  action: 'request' | 'approve' | 'credentials' | 'mfa';
  requestId?: string;
  digest: string;
}

export interface ChallengeRecord {
  /** Public handle (`mfc_...`). */
  id: string;
  principal: string;
  /** `step_up`: a proof bound to `binding`; `registration`: a WebAuthn registration ceremony. */
  purpose: 'step_up' | 'registration';
  action: string;
  requestId?: string;
  digest: string;
  /** The WebAuthn challenge (base64url) the authenticator signs. */
  webauthnChallenge?: string;
  createdAt: number;
  expiresAt: number;
  usedAt?: number;
}

/** Writes inside the caller's store transaction, so they commit with their audit events. */
export interface MfaTx {
  /** Holds the principal's MFA rows until commit (PostgreSQL; SQLite has one writer): counting failures and using a proof are one step. */
  lockPrincipal(principal: string): Promise<void>;
  /** The principal's factors, pending ones included, oldest first. */
  factors(principal: string): Promise<FactorRecord[]>;
  getFactor(id: string): Promise<FactorRecord | undefined>;
  factorByCredentialId(credentialId: string): Promise<FactorRecord | undefined>;
  insertFactor(factor: FactorRecord): Promise<void>;
  /** pending -> active; false when it is not pending any more. */
  activateFactor(id: string, at: number): Promise<boolean>;
  deleteFactor(id: string): Promise<boolean>;
  /** Drops the principal's pending factors created before `before`; returns how many. */
  dropPendingBefore(principal: string, before: number): Promise<number>;
  /** Compare-and-set: records `step` if it is later than the stored one (false: the code was used). */
  useTotpStep(id: string, step: number, at: number): Promise<boolean>;
  /** Compare-and-set on the counter: false when another assertion moved it first. */
  useWebAuthnCounter(id: string, prev: number, next: number, at: number): Promise<boolean>;
  /** Replaces the principal's recovery codes (the hashes, in order). */
  replaceRecoveryCodes(principal: string, hashes: string[], at: number): Promise<void>;
  /** The principal's recovery code hashes by position; a used one is null. */
  recoveryCodes(principal: string): Promise<(string | null)[]>;
  /** Compare-and-set on used_at: false when the code was used already. */
  useRecoveryCode(principal: string, index: number, at: number): Promise<boolean>;
  deleteRecoveryCodes(principal: string): Promise<void>;
  insertChallenge(challenge: ChallengeRecord): Promise<void>;
  /** The principal's challenge with this id (another principal's is not found). */
  getChallenge(principal: string, id: string): Promise<ChallengeRecord | undefined>;
  /** Compare-and-set: marks the challenge used if unused and not expired at `at`. */
  useChallenge(id: string, at: number): Promise<boolean>;
  recordFailure(principal: string, at: number): Promise<void>;
  /** Times of the principal's failed proofs at or after `since`, oldest first (older ones are pruned). */
  failuresSince(principal: string, since: number): Promise<number[]>;
}

export interface MfaStore {
  /** The principal's factors, pending ones included, oldest first. */
  factors(principal: string): Promise<FactorRecord[]>;
  /** How many unused recovery codes the principal holds. */
  recoveryCodesLeft(principal: string): Promise<number>;
}

/** The relying party a WebAuthn ceremony runs for: rpId is the host of server.publicUrl, origin its origin. */
export interface RelyingParty {
  rpId: string;
  origin: string;
  name: string;
}

/** The factor methods (src/adapters/mfa): pure computations, no store. */
export interface MfaMethods {
  totp: {
    newSecret(): string;
    uri(opts: { issuer: string; account: string; secretBase32: string }): string;
    qrSvg(uri: string): Promise<string>;
    /** The matched time step, or null (wrong, malformed, or a step at or before lastUsedStep). */
    verify(record: { secretBase32: string; lastUsedStep: number | null }, code: string, nowMs: number): number | null;
  };
  recovery: {
    generate(count: number): { codes: string[]; hashes: string[] };
    /** The index of the hash the input matches, or null. */
    match(input: string, hashes: readonly (string | null)[]): number | null;
  };
  webauthn: {
    registrationOptions(opts: {
      rp: RelyingParty;
      userId: string;
      userName: string;
      challenge: string;
      exclude: { id: string; transports?: string[] }[];
    }): Promise<PublicKeyCredentialCreationOptionsJSON>;
    /** The new credential, or null when the response does not verify. */
    verifyRegistration(opts: {
      rp: RelyingParty;
      challenge: string;
      response: RegistrationResponseJSON;
    }): Promise<{ credentialId: string; publicKey: string; counter: number; transports?: string[] } | null>;
    authenticationOptions(opts: {
      rp: RelyingParty;
      challenge: string;
      allow: { id: string; transports?: string[] }[];
    }): Promise<PublicKeyCredentialRequestOptionsJSON>;
    /** The new counter, or null when the assertion does not verify (wrong challenge, origin, signature, or a counter that did not grow). */
    verifyAuthentication(opts: {
      rp: RelyingParty;
      challenge: string;
      response: AuthenticationResponseJSON;
      credential: { id: string; publicKey: string; counter: number; transports?: string[] };
    }): Promise<{ counter: number } | null>;
  };
}
