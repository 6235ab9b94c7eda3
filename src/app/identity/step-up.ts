/**
 * Step-up MFA proofs bound to what they approve (docs/identity.md, "Step-up MFA"). A challenge
 * names a binding (the action, the request and a digest of what is being approved); a proof
 * answers one challenge, once, and only for that binding. The WebAuthn challenge the
 * authenticator signs is derived from the challenge id and the binding, so an assertion made for
 * one request cannot be presented for another even with the right challenge id.
 */
import { hash, randomBytes } from 'node:crypto';
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { HgError } from '../../core/errors.js';
import type { AuthContext, Principal } from '../../core/types.js';
import { stamp, type AppDeps } from '../context.js';
import type { StoreTx } from '../ports.js';
import type { ChallengeRecord, FactorRecord, MfaMethods, RelyingParty, StepUpBinding, StepUpMethod } from './mfa-ports.js';

/** A step-up challenge must be answered within this. */
export const STEP_UP_TTL_MS = 2 * 60_000;
/** Failed proofs allowed per principal in any window of this length... */
export const FAILURE_WINDOW_MS = 5 * 60_000;
/** ...before further proofs are refused with HG_RATE_LIMITED until the oldest of them is that old. */
export const MAX_FAILURES = 5;
/** An IdP's authentication time at most this far in the future still counts (clock skew). */
const AUTH_TIME_SKEW_MS = 60_000;

const ACTIONS = ['request', 'approve', 'credentials', 'mfa'] as const;
const DIGEST = /^[0-9a-f]{64}$/;
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export interface StepUpProof {
  /** The challenge id (`mfc_...`). */
  challenge: string;
  totp?: string;
  recoveryCode?: string;
  webauthn?: AuthenticationResponseJSON;
}

export interface StepUpChallenge {
  id: string;
  expiresAt: number;
  methods: StepUpMethod[];
  /** For navigator.credentials.get when a WebAuthn factor is enrolled. */
  webauthn?: PublicKeyCredentialRequestOptionsJSON;
}

/** What proving came to inside a transaction; a failure commits (its audit event and the count) before it is thrown. */
export type ProofOutcome =
  { ok: true; method: StepUpMethod; factor?: string } | { ok: false; failed: string; method: StepUpMethod } | { ok: false; limited: number };

/** SHA-256 (hex) of a text: the digest of a binding for an MFA operation (`remove:mfa_...`, `recovery-codes`). */
export const digestOfText = (text: string): string => hash('sha256', text);

/** A public handle with 128 random bits: factors `mfa_...`, challenges `mfc_...`. */
export const mfaHandle = (prefix: 'mfa' | 'mfc'): string => `${prefix}_${randomBytes(16).toString('base64url')}`;

/** The bytes a WebAuthn authenticator signs for a step-up: bound to the challenge and what it is for. */
export function webauthnChallengeFor(id: string, binding: StepUpBinding): string {
  return hash('sha256', JSON.stringify(['hourglass-step-up-v1', id, binding.action, binding.requestId ?? null, binding.digest]), 'base64url');
}

/** The relying party of server.publicUrl: WebAuthn credentials are scoped to its host. */
export function relyingParty(deps: AppDeps, name: string): RelyingParty {
  const url = deps.config.current().server.publicUrl;
  if (!url) throw new HgError('HG_CONFIG_INVALID', 'WebAuthn needs server.publicUrl: credentials are bound to its host name');
  const u = new URL(url);
  return { rpId: u.hostname, origin: u.origin, name };
}

/** The TOTP secret is sealed with the credentials key, bound to its factor. */
export const totpSealContext = (factorId: string) => `mfa-totp:${factorId}`;

export function assertBinding(binding: StepUpBinding): void {
  if (!ACTIONS.includes(binding.action)) throw new HgError('HG_INVALID_INPUT', `action must be one of ${ACTIONS.join(', ')}`);
  if (typeof binding.digest !== 'string' || !DIGEST.test(binding.digest))
    throw new HgError('HG_INVALID_INPUT', 'digest must be 64 lower-case hex digits (SHA-256)');
  if (binding.requestId !== undefined && !REQUEST_ID.test(binding.requestId)) throw new HgError('HG_INVALID_INPUT', 'requestId is malformed');
}

const sameBinding = (c: ChallengeRecord, b: StepUpBinding) => c.action === b.action && (c.requestId ?? null) === (b.requestId ?? null) && c.digest === b.digest;

/** Throws what a refused outcome means; returns a success. */
export function settle(outcome: ProofOutcome): { method: StepUpMethod; factor?: string } {
  if (outcome.ok) return outcome;
  if ('limited' in outcome) {
    throw Object.assign(new HgError('HG_RATE_LIMITED', 'too many failed MFA proofs; retry later'), { retryAfterSeconds: outcome.limited });
  }
  throw new HgError('HG_MFA_FAILED', 'the MFA proof was refused: ask for a new challenge and try again', { details: { reason: outcome.failed } });
}

export class StepUp {
  constructor(
    private readonly deps: AppDeps,
    private readonly methods: MfaMethods,
    private readonly rpName = 'Hourglass',
  ) {}

  /**
   * True when the session's identity provider proved MFA (an `amr` value in `mfaMethods`) at most
   * `maxAgeMs` ago: such a sign-in counts as a step-up of its own.
   */
  static recentSignIn(auth: AuthContext | undefined, maxAgeMs: number, now: number, mfaMethods: readonly string[]): boolean {
    if (auth?.kind !== 'session' || auth.authTime === undefined || !auth.amr?.some((m) => mfaMethods.includes(m))) return false;
    const age = now - auth.authTime;
    return age <= maxAgeMs && age >= -AUTH_TIME_SKEW_MS;
  }

  /** A challenge for `binding`, answered with any factor the principal holds. HG_MFA_REQUIRED when none is enrolled. */
  async challenge(principal: Principal, binding: StepUpBinding): Promise<StepUpChallenge> {
    assertBinding(binding);
    const now = this.deps.clock.now();
    const id = mfaHandle('mfc');
    const webauthnChallenge = webauthnChallengeFor(id, binding);
    const { factors, recovery, limited } = await this.deps.store.transaction(async (tx) => {
      await tx.mfa.lockPrincipal(principal.id);
      const limited = await this.limitedFor(tx, principal.id, now);
      if (limited) return { factors: [], recovery: 0, limited };
      const factors = (await tx.mfa.factors(principal.id)).filter((f) => f.status === 'active');
      if (factors.length === 0) return { factors, recovery: 0, limited: 0 };
      const recovery = (await tx.mfa.recoveryCodes(principal.id)).filter((h) => h !== null).length;
      await tx.mfa.insertChallenge({
        id,
        principal: principal.id,
        purpose: 'step_up',
        action: binding.action,
        ...(binding.requestId !== undefined ? { requestId: binding.requestId } : {}),
        digest: binding.digest,
        webauthnChallenge,
        createdAt: now,
        expiresAt: now + STEP_UP_TTL_MS,
      });
      return { factors, recovery, limited: 0 };
    });
    if (limited) settle({ ok: false, limited });
    if (factors.length === 0) {
      throw new HgError('HG_MFA_REQUIRED', 'no MFA factor is enrolled: enrol one with POST /v1/mfa/totp or POST /v1/mfa/webauthn/options');
    }
    const keys = factors.filter((f) => f.kind === 'webauthn' && f.credentialId);
    const methods: StepUpMethod[] = [];
    if (factors.some((f) => f.kind === 'totp')) methods.push('totp');
    if (keys.length) methods.push('webauthn');
    if (recovery > 0) methods.push('recovery_code');
    const webauthn = keys.length
      ? await this.methods.webauthn.authenticationOptions({
          rp: relyingParty(this.deps, this.rpName),
          challenge: webauthnChallenge,
          allow: keys.map((k) => ({ id: k.credentialId!, ...(k.transports ? { transports: k.transports } : {}) })),
        })
      : undefined;
    return { id, expiresAt: now + STEP_UP_TTL_MS, methods, ...(webauthn ? { webauthn } : {}) };
  }

  /** Checks a proof for `binding` and consumes its challenge; throws HG_MFA_FAILED or HG_RATE_LIMITED. */
  async verify(principal: Principal, binding: StepUpBinding, proof: StepUpProof): Promise<{ method: StepUpMethod; at: number }> {
    assertBinding(binding);
    const now = this.deps.clock.now();
    const outcome = await this.deps.store.transaction(async (tx) => {
      await tx.mfa.lockPrincipal(principal.id);
      return this.proveIn(tx, principal.id, binding, proof, now);
    });
    return { method: settle(outcome).method, at: now };
  }

  /**
   * The proof checked inside the caller's transaction (which must hold `lockPrincipal`): the
   * challenge is consumed whatever the result, and a failure is counted and audited in it, so the
   * caller must commit before throwing what `settle` says.
   */
  async proveIn(tx: StoreTx, principal: string, binding: StepUpBinding, proof: StepUpProof, now: number): Promise<ProofOutcome> {
    const method = methodOf(proof);
    const limited = await this.limitedFor(tx, principal, now);
    if (limited) return { ok: false, limited };
    const config = this.deps.config.current();
    const fail = async (reason: string): Promise<ProofOutcome> => {
      await tx.mfa.recordFailure(principal, now);
      await tx.appendAudit(
        stamp(
          this.deps,
          [
            {
              type: 'mfa.failed',
              actor: principal,
              ...(binding.requestId !== undefined ? { requestId: binding.requestId } : {}),
              details: { principal, method, action: binding.action, reason },
            },
          ],
          now,
          config.policyHash,
        ),
      );
      return { ok: false, failed: reason, method };
    };
    const challenge = typeof proof.challenge === 'string' ? await tx.mfa.getChallenge(principal, proof.challenge) : undefined;
    if (!challenge || challenge.purpose !== 'step_up') return fail('unknown_challenge');
    if (!(await tx.mfa.useChallenge(challenge.id, now))) return fail(challenge.usedAt !== undefined ? 'challenge_used' : 'challenge_expired');
    if (!sameBinding(challenge, binding)) return fail('other_binding');
    const factors = (await tx.mfa.factors(principal)).filter((f) => f.status === 'active');
    if (factors.length === 0) return fail('no_factor');

    let factor: FactorRecord | undefined;
    if (method === 'totp') {
      factor = await this.totpIn(tx, factors, proof.totp!, now);
      if (!factor) return fail('wrong_code');
    } else if (method === 'recovery_code') {
      const index = this.methods.recovery.match(proof.recoveryCode!, await tx.mfa.recoveryCodes(principal));
      if (index === null || !(await tx.mfa.useRecoveryCode(principal, index, now))) return fail('wrong_code');
    } else {
      const response = proof.webauthn!;
      factor = factors.find((f) => f.kind === 'webauthn' && f.credentialId === response.id);
      if (!factor) return fail('unknown_credential');
      const expected = webauthnChallengeFor(challenge.id, binding);
      if (challenge.webauthnChallenge !== expected) return fail('other_binding');
      const r = await this.methods.webauthn.verifyAuthentication({
        rp: relyingParty(this.deps, this.rpName),
        challenge: expected,
        response,
        credential: {
          id: factor.credentialId!,
          publicKey: factor.publicKey!,
          counter: factor.counter ?? 0,
          ...(factor.transports ? { transports: factor.transports } : {}),
        },
      });
      if (!r) return fail('bad_assertion');
      if (!(await tx.mfa.useWebAuthnCounter(factor.id, factor.counter ?? 0, r.counter, now))) return fail('counter');
    }
    await tx.appendAudit(
      stamp(
        this.deps,
        [
          {
            type: 'mfa.verified',
            actor: principal,
            ...(binding.requestId !== undefined ? { requestId: binding.requestId } : {}),
            details: {
              principal,
              method,
              action: binding.action,
              ...(binding.requestId !== undefined ? { requestId: binding.requestId } : {}),
              ...(factor ? { factor: factor.id } : {}),
              challenge: challenge.id,
            },
          },
        ],
        now,
        config.policyHash,
      ),
    );
    return { ok: true, method, ...(factor ? { factor: factor.id } : {}) };
  }

  /** Seconds until the principal may try again; 0 when under the limit. */
  async limitedFor(tx: StoreTx, principal: string, now: number): Promise<number> {
    const failures = await tx.mfa.failuresSince(principal, now - FAILURE_WINDOW_MS);
    if (failures.length < MAX_FAILURES) return 0;
    // The window holds MAX_FAILURES or more: the next try can succeed once the oldest of the last ones leaves it.
    const oldest = failures[failures.length - MAX_FAILURES]!;
    return Math.max(1, Math.ceil((oldest + FAILURE_WINDOW_MS - now) / 1000));
  }

  /** The TOTP factor the code is for, its time step recorded (compare-and-set: a code works once). */
  private async totpIn(tx: StoreTx, factors: FactorRecord[], code: string, now: number): Promise<FactorRecord | undefined> {
    const sealer = this.deps.sealer;
    if (!sealer) return undefined;
    for (const f of factors) {
      if (f.kind !== 'totp' || !f.sealedSecret) continue;
      const secretBase32 = sealer.open(f.sealedSecret, totpSealContext(f.id));
      const step = this.methods.totp.verify({ secretBase32, lastUsedStep: f.lastUsedStep ?? null }, code, now);
      if (step !== null && (await tx.mfa.useTotpStep(f.id, step, now))) return f;
    }
    return undefined;
  }
}

function methodOf(proof: StepUpProof): StepUpMethod {
  const given = [proof.totp !== undefined, proof.recoveryCode !== undefined, proof.webauthn !== undefined].filter(Boolean).length;
  if (given !== 1) throw new HgError('HG_INVALID_INPUT', 'a proof carries exactly one of totp, recoveryCode and webauthn');
  if (proof.totp !== undefined) return 'totp';
  if (proof.recoveryCode !== undefined) return 'recovery_code';
  return 'webauthn';
}
