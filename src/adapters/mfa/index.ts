/** The factor methods step-up MFA uses (src/app/identity/mfa-ports.ts), for the composition root. */
import type { MfaMethods } from '../../app/identity/mfa-ports.js';
import { matchRecoveryCode, newRecoveryCodes } from './recovery-codes.js';
import { newTotpSecret, otpauthUri, qrSvg, verifyTotp } from './totp.js';
import { webauthnMethods } from './webauthn.js';

export const mfaMethods: MfaMethods = {
  totp: {
    newSecret: () => newTotpSecret().secretBase32,
    uri: otpauthUri,
    qrSvg,
    verify: verifyTotp,
  },
  recovery: { generate: newRecoveryCodes, match: matchRecoveryCode },
  webauthn: webauthnMethods,
};
