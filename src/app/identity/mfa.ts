/**
 * Enrolling step-up MFA factors: TOTP (an authenticator app) and WebAuthn (passkeys, security
 * keys), recovery codes, removal (docs/identity.md, "Step-up MFA"). Only a person signed in with a
 * session enrols: machines have no second factor. Once a principal holds an active factor, every
 * change to their factors needs a fresh step-up proof (action `mfa`), so a stolen session cannot
 * remove MFA or enrol a factor of its own.
 */
import type { RegistrationResponseJSON, PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { HgError } from '../../core/errors.js';
import type { AuditDraft, Principal } from '../../core/types.js';
import { stamp, type AppDeps } from '../context.js';
import type { StoreTx } from '../ports.js';
import type { FactorRecord, MfaMethods, MfaStore } from './mfa-ports.js';
import { digestOfText, mfaHandle, relyingParty, settle, StepUp, totpSealContext, type ProofOutcome, type StepUpProof } from './step-up.js';

/** A TOTP factor not confirmed within this is dropped. */
export const PENDING_TTL_MS = 10 * 60_000;
/** A WebAuthn registration must finish within this. */
export const REGISTRATION_TTL_MS = 5 * 60_000;
export const RECOVERY_CODE_COUNT = 10;
/** Factors (pending ones included) a principal may hold. */
export const MAX_FACTORS = 10;

/** The digests of the `mfa` bindings that guard changes to factors (SHA-256 hex of these texts). */
export const mfaDigests = {
  enrolTotp: (factorId: string) => digestOfText(`enrol:totp:${factorId}`),
  enrolWebauthn: (registrationId: string) => digestOfText(`enrol:webauthn:${registrationId}`),
  remove: (factorId: string) => digestOfText(`remove:${factorId}`),
  recoveryCodes: () => digestOfText('recovery-codes'),
};

export const publicFactor = (f: FactorRecord) => ({
  id: f.id,
  kind: f.kind,
  label: f.label,
  status: f.status,
  createdAt: new Date(f.createdAt).toISOString(),
  ...(f.lastUsedAt !== undefined && f.status === 'active' ? { lastUsedAt: new Date(f.lastUsedAt).toISOString() } : {}),
  ...(f.status === 'pending' ? { expiresAt: new Date(f.createdAt + PENDING_TTL_MS).toISOString() } : {}),
});

/** What an enrolment gives back: the factor and, shown once, fresh recovery codes. */
export interface Enrolled {
  factor: ReturnType<typeof publicFactor>;
  recoveryCodes: string[];
}

type Outcome<T> = { ok: true; value: T } | { ok: false; proof: ProofOutcome };

export class MfaFactors {
  constructor(
    private readonly deps: AppDeps,
    private readonly store: MfaStore,
    private readonly methods: MfaMethods,
    readonly stepUp: StepUp,
    private readonly issuer: string = 'Hourglass',
  ) {}

  async list(principal: Principal) {
    const now = this.deps.clock.now();
    const factors = (await this.store.factors(principal.id)).filter((f) => f.status === 'active' || now - f.createdAt < PENDING_TTL_MS);
    return { factors: factors.map(publicFactor), recoveryCodesLeft: await this.store.recoveryCodesLeft(principal.id) };
  }

  /** Starts a TOTP enrolment: the secret is shown once, and the factor stays pending until a code confirms it. */
  async beginTotp(principal: Principal, input: { label?: string }) {
    personOnly(principal);
    const sealer = this.deps.sealer;
    if (!sealer) throw new HgError('HG_CONFIG_INVALID', 'TOTP secrets are kept encrypted: set credentials.key or credentials.keyFile to enrol TOTP');
    const now = this.deps.clock.now();
    const id = mfaHandle('mfa');
    const secret = this.methods.totp.newSecret();
    const otpauthUri = this.methods.totp.uri({ issuer: this.issuer, account: principal.id, secretBase32: secret });
    await this.deps.store.transaction(async (tx) => {
      await tx.mfa.lockPrincipal(principal.id);
      await this.roomFor(tx, principal.id, now);
      await tx.mfa.insertFactor({
        id,
        principal: principal.id,
        kind: 'totp',
        label: input.label ?? 'Authenticator app',
        status: 'pending',
        createdAt: now,
        sealedSecret: sealer.seal(secret, totpSealContext(id)),
      });
    });
    return { factorId: id, otpauthUri, qrSvg: await this.methods.totp.qrSvg(otpauthUri), secret, expiresAt: now + PENDING_TTL_MS };
  }

  /** Confirms a pending TOTP factor with a code from the app; needs a proof when another factor is active. */
  async confirmTotp(principal: Principal, factorId: string, input: { code: string; proof?: StepUpProof }): Promise<Enrolled> {
    personOnly(principal);
    const sealer = this.deps.sealer;
    if (!sealer) throw new HgError('HG_CONFIG_INVALID', 'TOTP secrets are kept encrypted: set credentials.key or credentials.keyFile to enrol TOTP');
    const now = this.deps.clock.now();
    const outcome = await this.deps.store.transaction(async (tx): Promise<Outcome<Enrolled>> => {
      await tx.mfa.lockPrincipal(principal.id);
      await tx.mfa.dropPendingBefore(principal.id, now - PENDING_TTL_MS + 1);
      const f = await tx.mfa.getFactor(factorId);
      if (!f || f.principal !== principal.id || f.kind !== 'totp')
        throw new HgError('HG_NOT_FOUND', `no TOTP factor ${factorId} (an unconfirmed one is dropped after 10 minutes)`);
      if (f.status !== 'pending') throw new HgError('HG_INVALID_TRANSITION', `factor ${factorId} is confirmed already`);
      const guard = await this.guard(tx, principal, mfaDigests.enrolTotp(factorId), input.proof, now);
      if (guard) return { ok: false, proof: guard };
      const limited = await this.stepUp.limitedFor(tx, principal.id, now);
      if (limited) return { ok: false, proof: { ok: false, limited } };
      const step = this.methods.totp.verify({ secretBase32: sealer.open(f.sealedSecret!, totpSealContext(f.id)), lastUsedStep: null }, input.code, now);
      if (step === null) {
        await tx.mfa.recordFailure(principal.id, now);
        await this.audit(tx, now, [
          { type: 'mfa.failed', actor: principal.id, details: { principal: principal.id, method: 'totp', action: 'enrol', reason: 'wrong_code' } },
        ]);
        return { ok: false, proof: { ok: false, failed: 'wrong_code', method: 'totp' } };
      }
      if (!(await tx.mfa.activateFactor(f.id, now)) || !(await tx.mfa.useTotpStep(f.id, step, now))) throw new HgError('HG_CONCURRENT_UPDATE');
      const recoveryCodes = await this.enrolled(tx, principal, { ...f, status: 'active' }, now);
      return { ok: true, value: { factor: publicFactor({ ...f, status: 'active', lastUsedAt: now }), recoveryCodes } };
    });
    if (!outcome.ok) settle(outcome.proof);
    return (outcome as { ok: true; value: Enrolled }).value;
  }

  /** Options for navigator.credentials.create: the registration is finished with `verifyWebauthn`. */
  async webauthnOptions(principal: Principal): Promise<{ registrationId: string; expiresAt: number; options: PublicKeyCredentialCreationOptionsJSON }> {
    personOnly(principal);
    const rp = relyingParty(this.deps, this.issuer);
    const now = this.deps.clock.now();
    const registrationId = mfaHandle('mfc');
    const challenge = digestOfText(JSON.stringify(['hourglass-webauthn-registration-v1', registrationId, principal.id]));
    const webauthnChallenge = Buffer.from(challenge, 'hex').toString('base64url');
    const keys = await this.deps.store.transaction(async (tx) => {
      await tx.mfa.lockPrincipal(principal.id);
      const factors = await this.roomFor(tx, principal.id, now);
      await tx.mfa.insertChallenge({
        id: registrationId,
        principal: principal.id,
        purpose: 'registration',
        action: 'mfa',
        digest: mfaDigests.enrolWebauthn(registrationId),
        webauthnChallenge,
        createdAt: now,
        expiresAt: now + REGISTRATION_TTL_MS,
      });
      return factors.filter((f) => f.kind === 'webauthn' && f.credentialId);
    });
    const options = await this.methods.webauthn.registrationOptions({
      rp,
      userId: principal.id,
      userName: principal.id,
      challenge: webauthnChallenge,
      exclude: keys.map((k) => ({ id: k.credentialId!, ...(k.transports ? { transports: k.transports } : {}) })),
    });
    return { registrationId, expiresAt: now + REGISTRATION_TTL_MS, options };
  }

  /** Verifies the browser's registration response and makes the credential an active factor. */
  async verifyWebauthn(
    principal: Principal,
    input: { registrationId: string; response: RegistrationResponseJSON; label?: string; proof?: StepUpProof },
  ): Promise<Enrolled> {
    personOnly(principal);
    const rp = relyingParty(this.deps, this.issuer);
    const now = this.deps.clock.now();
    const outcome = await this.deps.store.transaction(async (tx): Promise<Outcome<Enrolled>> => {
      await tx.mfa.lockPrincipal(principal.id);
      const ch = await tx.mfa.getChallenge(principal.id, input.registrationId);
      if (!ch || ch.purpose !== 'registration') throw new HgError('HG_NOT_FOUND', `no WebAuthn registration ${input.registrationId}`);
      const guard = await this.guard(tx, principal, ch.digest, input.proof, now);
      if (guard) return { ok: false, proof: guard };
      const limited = await this.stepUp.limitedFor(tx, principal.id, now);
      if (limited) return { ok: false, proof: { ok: false, limited } };
      const refuse = async (reason: string): Promise<Outcome<Enrolled>> => {
        await tx.mfa.recordFailure(principal.id, now);
        await this.audit(tx, now, [
          { type: 'mfa.failed', actor: principal.id, details: { principal: principal.id, method: 'webauthn', action: 'enrol', reason } },
        ]);
        return { ok: false, proof: { ok: false, failed: reason, method: 'webauthn' } };
      };
      if (!(await tx.mfa.useChallenge(ch.id, now))) return refuse(ch.usedAt !== undefined ? 'challenge_used' : 'challenge_expired');
      const credential = await this.methods.webauthn.verifyRegistration({ rp, challenge: ch.webauthnChallenge!, response: input.response });
      if (!credential) return refuse('bad_attestation');
      if (await tx.mfa.factorByCredentialId(credential.credentialId)) throw new HgError('HG_IDENTITY_CONFLICT', 'this authenticator is registered already');
      await this.roomFor(tx, principal.id, now);
      const factor: FactorRecord = {
        id: mfaHandle('mfa'),
        principal: principal.id,
        kind: 'webauthn',
        label: input.label ?? 'Security key',
        status: 'active',
        createdAt: now,
        lastUsedAt: now,
        credentialId: credential.credentialId,
        publicKey: credential.publicKey,
        counter: credential.counter,
        ...(credential.transports ? { transports: credential.transports } : {}),
      };
      await tx.mfa.insertFactor(factor);
      const recoveryCodes = await this.enrolled(tx, principal, factor, now);
      return { ok: true, value: { factor: publicFactor(factor), recoveryCodes } };
    });
    if (!outcome.ok) settle(outcome.proof);
    return (outcome as { ok: true; value: Enrolled }).value;
  }

  /** Removes a factor; an active one needs a proof (binding `remove:<id>`). Removing the last one drops the recovery codes too. */
  async remove(principal: Principal, factorId: string, proof?: StepUpProof): Promise<{ removed: boolean }> {
    personOnly(principal);
    const now = this.deps.clock.now();
    const outcome = await this.deps.store.transaction(async (tx): Promise<Outcome<{ removed: boolean }>> => {
      await tx.mfa.lockPrincipal(principal.id);
      const f = await tx.mfa.getFactor(factorId);
      if (!f || f.principal !== principal.id) throw new HgError('HG_NOT_FOUND', `no factor ${factorId}`);
      if (f.status === 'active') {
        const guard = await this.guard(tx, principal, mfaDigests.remove(factorId), proof, now);
        if (guard) return { ok: false, proof: guard };
      }
      await tx.mfa.deleteFactor(f.id);
      const left = (await tx.mfa.factors(principal.id)).filter((x) => x.status === 'active');
      if (left.length === 0) await tx.mfa.deleteRecoveryCodes(principal.id);
      if (f.status === 'active') {
        await this.audit(tx, now, [{ type: 'mfa.removed', actor: principal.id, details: { principal: principal.id, factor: f.id, kind: f.kind } }]);
      }
      return { ok: true, value: { removed: true } };
    });
    if (!outcome.ok) settle(outcome.proof);
    return (outcome as { ok: true; value: { removed: boolean } }).value;
  }

  /** New recovery codes, replacing the old ones; needs a proof (binding `recovery-codes`). */
  async regenerateRecoveryCodes(principal: Principal, proof: StepUpProof | undefined): Promise<{ recoveryCodes: string[] }> {
    personOnly(principal);
    const now = this.deps.clock.now();
    const outcome = await this.deps.store.transaction(async (tx): Promise<Outcome<{ recoveryCodes: string[] }>> => {
      await tx.mfa.lockPrincipal(principal.id);
      const active = (await tx.mfa.factors(principal.id)).filter((f) => f.status === 'active');
      if (active.length === 0) throw new HgError('HG_MFA_REQUIRED', 'recovery codes need an MFA factor: enrol one first');
      const guard = await this.guard(tx, principal, mfaDigests.recoveryCodes(), proof, now);
      if (guard) return { ok: false, proof: guard };
      return { ok: true, value: { recoveryCodes: await this.newRecoveryCodes(tx, principal, now) } };
    });
    if (!outcome.ok) settle(outcome.proof);
    return (outcome as { ok: true; value: { recoveryCodes: string[] } }).value;
  }

  /**
   * When the principal holds an active factor, the change needs a proof for `{action: mfa,
   * digest}`: undefined when it may go ahead, else the refused outcome (committed by the caller).
   */
  private async guard(tx: StoreTx, principal: Principal, digest: string, proof: StepUpProof | undefined, now: number): Promise<ProofOutcome | undefined> {
    const active = (await tx.mfa.factors(principal.id)).filter((f) => f.status === 'active');
    if (active.length === 0) return undefined;
    if (!proof)
      throw new HgError('HG_MFA_REQUIRED', 'changing your MFA factors needs a step-up proof: ask POST /v1/mfa/challenges with action "mfa"', {
        details: { action: 'mfa', digest },
      });
    const outcome = await this.stepUp.proveIn(tx, principal.id, { action: 'mfa', digest }, proof, now);
    return outcome.ok ? undefined : outcome;
  }

  /** Drops stale pending factors and refuses an enrolment beyond MAX_FACTORS; returns the factors left. */
  private async roomFor(tx: StoreTx, principal: string, now: number): Promise<FactorRecord[]> {
    await tx.mfa.dropPendingBefore(principal, now - PENDING_TTL_MS + 1);
    const factors = await tx.mfa.factors(principal);
    if (factors.length >= MAX_FACTORS) throw new HgError('HG_INVALID_INPUT', `at most ${MAX_FACTORS} MFA factors per principal: remove one first`);
    return factors;
  }

  private async enrolled(tx: StoreTx, principal: Principal, f: FactorRecord, now: number): Promise<string[]> {
    await this.audit(tx, now, [
      { type: 'mfa.enrolled', actor: principal.id, details: { principal: principal.id, factor: f.id, kind: f.kind, label: f.label } },
    ]);
    return this.newRecoveryCodes(tx, principal, now);
  }

  private async newRecoveryCodes(tx: StoreTx, principal: Principal, now: number): Promise<string[]> {
    const { codes, hashes } = this.methods.recovery.generate(RECOVERY_CODE_COUNT);
    await tx.mfa.replaceRecoveryCodes(principal.id, hashes, now);
    await this.audit(tx, now, [{ type: 'mfa.recovery_codes_generated', actor: principal.id, details: { principal: principal.id, count: codes.length } }]);
    return codes;
  }

  private async audit(tx: StoreTx, now: number, drafts: AuditDraft[]) {
    await tx.appendAudit(stamp(this.deps, drafts, now, this.deps.config.current().policyHash));
  }
}

/** Machines and configured API tokens have no second factor: only a person's session enrols. */
function personOnly(principal: Principal): void {
  if (principal.auth?.kind !== 'session') throw new HgError('HG_FORBIDDEN', 'only a person signed in with a session can manage MFA factors (tokens cannot)');
}
