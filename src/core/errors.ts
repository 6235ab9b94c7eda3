/**
 * One error type with stable codes. Only the HTTP layer maps a code to a status
 * (src/http/error-status.ts); core and app code never think in HTTP.
 */
export const ERROR_CODES = {
  HG_INVALID_INPUT: 'The request is malformed or a field is invalid.',
  HG_UNAUTHENTICATED: 'No valid credentials were presented.',
  HG_FORBIDDEN: 'The caller may not do this.',
  HG_NOT_ELIGIBLE: 'No policy lets the requester ask for this entitlement.',
  HG_SELF_APPROVAL: 'A requester can never approve, deny or review their own request.',
  HG_NOT_APPROVER: 'The caller is not an eligible approver or reviewer for this request.',
  HG_PRINCIPAL_LOCKED: 'The principal is locked by an administrator.',
  HG_TARGET_FROZEN: 'The target is frozen by an administrator.',
  HG_NOT_FOUND: 'No such object.',
  HG_INVALID_TRANSITION: 'The request is no longer in a state that allows this.',
  HG_CONCURRENT_UPDATE: 'Another change to this request won; re-read it and retry if still wanted.',
  HG_ALREADY_APPROVED: 'This approver has already approved this request.',
  HG_IDEMPOTENCY_MISMATCH: 'The Idempotency-Key was used before with a different request.',
  HG_TERMS_NOT_MET: "The request is outside its policy's terms.",
  HG_KEY_REFUSED: 'The public key is malformed, of a refused type, or too weak to certify.',
  HG_SIGN_IN_REFUSED: "The identity provider's answer was refused (state, signature, issuer, audience, time or replay).",
  HG_IDENTITY_CONFLICT: 'The sign-in names a principal already linked to another identity.',
  HG_MFA_REQUIRED: 'This needs a fresh step-up MFA proof (or an MFA factor enrolled first).',
  HG_MFA_FAILED: 'The step-up MFA proof was refused.',
  HG_LINK_INVALID: 'The one-time link is unknown, expired, already used, or was sent to someone else.',
  HG_PAYLOAD_TOO_LARGE: 'The request body is too large.',
  HG_RATE_LIMITED: 'Too many requests; slow down.',
  HG_TARGET_UNAVAILABLE: 'A target system could not be reached or refused the change.',
  HG_TICKET_UNAVAILABLE: 'The ticket system a policy checks tickets in could not be asked; nothing was changed.',
  HG_STORE_UNAVAILABLE: 'The store is unavailable.',
  HG_STORE_IN_USE: 'The SQLite store is in use by another server.',
  HG_CONFIG_INVALID: 'The configuration is invalid.',
  HG_INTERNAL: 'An internal error occurred.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface HgErrorOptions {
  /** Structured, secret-free detail safe to return to the caller (e.g. per-policy reasons). */
  details?: unknown;
  /** The underlying error (standard `Error.cause`), for logs; never returned to callers. */
  cause?: unknown;
}

export class HgError extends Error {
  readonly code: ErrorCode;
  /** Structured, secret-free detail safe to return to the caller (e.g. per-policy reasons). */
  readonly details?: unknown;

  constructor(code: ErrorCode, message?: string, opts: HgErrorOptions = {}) {
    super(message ?? ERROR_CODES[code], opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HgError';
    this.code = code;
    if (opts.details !== undefined) this.details = opts.details;
  }
}

export function isHgError(e: unknown): e is HgError {
  return e instanceof HgError;
}
