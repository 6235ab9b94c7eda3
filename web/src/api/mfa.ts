/**
 * Step-up MFA for any call a policy guards (submit, approve, credentials): the call is made; if
 * the server answers HG_MFA_REQUIRED, a challenge bound to what its `details` name is created
 * (POST /v1/mfa/challenges) and the page shows <MfaPrompt> from `prompt`; the person's answer
 * is sent with the same call again as `mfa: {challenge, totp | recoveryCode | webauthn}`
 * (docs/identity.md, "Step-up MFA"). A challenge works once, so a refused proof gets a new one.
 */
import { useCallback, useRef, useState } from 'react';
import { api, ApiError } from './client.js';

export type MfaMethod = 'totp' | 'webauthn' | 'recovery_code';

export interface ChallengeJson {
  id: string;
  expiresAt: string;
  methods: MfaMethod[];
  /** Options for navigator.credentials.get, when a WebAuthn factor is enrolled. */
  webauthn?: Record<string, unknown>;
}

/** What an HG_MFA_REQUIRED answer asks a proof for. */
export interface StepUpNeed {
  action: 'request' | 'approve' | 'credentials' | 'mfa';
  digest: string;
  requestId?: string;
  maxAgeSeconds?: number;
}

/** The proof sent with the guarded call (proofSchema in src/http/routes/mfa.ts): exactly one answer. */
export type MfaProof = { challenge: string } & ({ totp: string } | { recoveryCode: string } | { webauthn: unknown });
export type MfaAnswer = { totp: string } | { recoveryCode: string } | { webauthn: true };

/** The need for a proof in an error, when it is HG_MFA_REQUIRED with the binding to ask a challenge for. */
export function stepUpNeed(err: unknown): StepUpNeed | undefined {
  if (!(err instanceof ApiError) || err.code !== 'HG_MFA_REQUIRED') return undefined;
  const d = err.details as Partial<StepUpNeed> | undefined;
  if (!d || typeof d.action !== 'string' || typeof d.digest !== 'string') return undefined;
  return {
    action: d.action,
    digest: d.digest,
    ...(typeof d.requestId === 'string' ? { requestId: d.requestId } : {}),
    ...(typeof d.maxAgeSeconds === 'number' ? { maxAgeSeconds: d.maxAgeSeconds } : {}),
  };
}

export const createChallenge = (need: StepUpNeed) =>
  api<ChallengeJson>('POST', '/v1/mfa/challenges', { action: need.action, digest: need.digest, ...(need.requestId ? { requestId: need.requestId } : {}) });

/** What <MfaPrompt> shows and calls back. */
export interface StepUpPrompt {
  need: StepUpNeed;
  challenge: ChallengeJson;
  busy: boolean;
  /** The last refused proof (HG_MFA_FAILED, HG_RATE_LIMITED) or a WebAuthn failure. */
  error?: ApiError | Error;
  answer(a: MfaAnswer): void;
  cancel(): void;
}

interface Pending {
  attempt: (proof?: MfaProof) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  need: StepUpNeed;
}

type PromptState = Omit<StepUpPrompt, 'answer' | 'cancel'>;

/**
 * `run(attempt)` calls `attempt()`; when a proof is needed it shows the prompt and calls
 * `attempt(proof)` with each answer until one is accepted. Resolves with the call's result, or
 * undefined when the person cancels; rejects with any other error.
 */
export function useStepUp() {
  const [state, setState] = useState<PromptState | null>(null);
  const pending = useRef<Pending | null>(null);

  const run = useCallback(<T>(attempt: (proof?: MfaProof) => Promise<T>): Promise<T | undefined> => {
    return new Promise<T | undefined>((resolve, reject) => {
      attempt().then(resolve, async (err: unknown) => {
        const need = stepUpNeed(err);
        if (!need) return reject(err);
        try {
          const challenge = await createChallenge(need);
          pending.current = { attempt, resolve: resolve as (v: unknown) => void, reject, need };
          setState({ need, challenge, busy: false });
        } catch (e) {
          reject(e);
        }
      });
    });
  }, []);

  const answer = useCallback(
    async (a: MfaAnswer) => {
      const p = pending.current;
      if (!p || !state) return;
      setState({ ...state, busy: true });
      const finish = () => {
        pending.current = null;
        setState(null);
      };
      let proof: MfaProof;
      try {
        proof = 'webauthn' in a ? { challenge: state.challenge.id, webauthn: await assertWebauthn(state.challenge) } : { challenge: state.challenge.id, ...a };
      } catch (e) {
        // The browser's dialog was dismissed or failed: the challenge is unused, try again.
        setState({ ...state, busy: false, error: e instanceof Error ? e : new Error(String(e)) });
        return;
      }
      try {
        const result = await p.attempt(proof);
        finish();
        p.resolve(result);
      } catch (err) {
        if (err instanceof ApiError && (err.code === 'HG_MFA_FAILED' || stepUpNeed(err))) {
          // The challenge is spent either way: a fresh one for the next try.
          try {
            const challenge = await createChallenge(stepUpNeed(err) ?? p.need);
            setState({ need: p.need, challenge, busy: false, error: err });
          } catch (e) {
            setState({ ...state, busy: false, error: e instanceof Error ? e : err });
          }
          return;
        }
        finish();
        p.reject(err);
      }
    },
    [state],
  );

  const cancel = useCallback(() => {
    const p = pending.current;
    pending.current = null;
    setState(null);
    p?.resolve(undefined);
  }, []);

  const prompt: StepUpPrompt | null = state ? { ...state, answer: (a) => void answer(a), cancel } : null;
  return { run, prompt };
}

/** navigator.credentials.get with the challenge's options, as JSON; the library is loaded only when needed. */
async function assertWebauthn(challenge: ChallengeJson): Promise<unknown> {
  if (!challenge.webauthn) throw new Error('this challenge offers no security key or passkey');
  const { startAuthentication } = await import('@simplewebauthn/browser');
  return startAuthentication({ optionsJSON: challenge.webauthn as unknown as Parameters<typeof startAuthentication>[0]['optionsJSON'] });
}
