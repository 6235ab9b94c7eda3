/**
 * Policies that require step-up MFA (`mfa: { required: true, maxAge, for }`): before a request is
 * submitted, approved, or its credentials fetched, the person proves a second factor for that
 * very action. A recent sign-in with MFA at the identity provider counts; otherwise the call must
 * carry a proof (src/app/identity/step-up.ts) bound to a digest of what it does, so a stolen
 * cookie or token alone cannot act, and a proof made for one request serves no other.
 */
import { canonicalJson, sha256Hex } from '../core/audit-chain.js';
import { HgError } from '../core/errors.js';
import type { AccessRequest, MfaAction, MfaTerms, Principal } from '../core/types.js';
import type { AppDeps } from './context.js';
import type { StepUpBinding } from './identity/mfa-ports.js';
import { StepUp, type StepUpProof } from './identity/step-up.js';

/** The strictest requirement for `action` among these policies or frozen terms: the shortest maxAge. */
export function mfaFor(all: readonly { mfa?: MfaTerms }[], action: MfaAction): number | undefined {
  const ages = all.filter((t) => t.mfa?.for.includes(action)).map((t) => t.mfa!.maxAgeMs);
  return ages.length > 0 ? Math.min(...ages) : undefined;
}

/** What a submission asks for, as its proof binds it: the same body gives the same digest. */
export function submissionDigest(requester: string, ask: object): string {
  return sha256Hex(canonicalJson({ requester, ...ask }));
}

/** What an approval or a credentials fetch acts on: the request as it was submitted. */
export function requestDigest(req: AccessRequest): string {
  return sha256Hex(
    canonicalJson({
      id: req.id,
      requester: req.requester,
      entitlements: req.entitlements,
      durationMs: req.durationMs,
      reason: req.reason ?? null,
      policyHash: req.policyHash,
      // Approving an extension approves its duration too.
      extension: req.pendingExtension ? { by: req.pendingExtension.by, at: req.pendingExtension.at, durationMs: req.pendingExtension.durationMs } : null,
    }),
  );
}

/** The `amr` values that prove MFA for the provider a session came from. */
function mfaMethodsOf(deps: AppDeps, source: string | undefined): string[] {
  if (source?.startsWith('oidc:')) return deps.config.current().identity.oidc.find((p) => `oidc:${p.name}` === source)?.mfaMethods ?? [];
  // A SAML sign-in records `mfa` only when the assertion proved a second factor (saml/attributes.ts).
  if (source?.startsWith('saml:')) return ['mfa'];
  return [];
}

/**
 * Passes when the policy needs no MFA for this, the session's sign-in proved MFA within maxAge,
 * or `proof` answers a challenge for exactly this binding. Else HG_MFA_REQUIRED, whose details
 * give the binding to ask a challenge for (POST /v1/mfa/challenges).
 */
export async function requireStepUp(
  deps: AppDeps,
  principal: Principal,
  binding: StepUpBinding & { action: MfaAction },
  maxAgeMs: number | undefined,
  proof: StepUpProof | undefined,
): Promise<void> {
  if (maxAgeMs === undefined) return;
  const now = deps.clock.now();
  if (StepUp.recentSignIn(principal.auth, maxAgeMs, now, mfaMethodsOf(deps, principal.auth?.source))) return;
  const details = {
    action: binding.action,
    ...(binding.requestId ? { requestId: binding.requestId } : {}),
    digest: binding.digest,
    maxAgeSeconds: maxAgeMs / 1000,
  };
  if (proof === undefined || !deps.stepUp) {
    throw new HgError('HG_MFA_REQUIRED', `a policy requires a fresh step-up MFA proof to ${binding.action}: ask POST /v1/mfa/challenges for this binding`, {
      details,
    });
  }
  await deps.stepUp.verify(principal, binding, proof);
}
