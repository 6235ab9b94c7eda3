/**
 * WebAuthn ceremonies (passkeys and security keys) with @simplewebauthn/server. The challenge is
 * chosen by the caller (src/app/identity/mfa.ts derives it from the binding), so an assertion made
 * for one request never verifies for another. No attestation is asked for: any authenticator the
 * person holds will do, and its public key is what later assertions are checked against.
 */
import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import type { MfaMethods } from '../../app/identity/mfa-ports.js';

/** How long the browser lets the person take (ms); the challenge's own expiry is the store's. */
const TIMEOUT_MS = 120_000;

type WebAuthnMethods = MfaMethods['webauthn'];

export const webauthnMethods: WebAuthnMethods = {
  registrationOptions: ({ rp, userId, userName, challenge, exclude }) =>
    generateRegistrationOptions({
      rpName: rp.name,
      rpID: rp.rpId,
      userName,
      userID: new TextEncoder().encode(userId),
      challenge: Buffer.from(challenge, 'base64url'),
      timeout: TIMEOUT_MS,
      attestationType: 'none',
      excludeCredentials: exclude,
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    }),

  async verifyRegistration({ rp, challenge, response }) {
    try {
      const r = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.rpId,
        requireUserVerification: false,
      });
      if (!r.verified) return null;
      const c = r.registrationInfo.credential;
      return {
        credentialId: c.id,
        publicKey: Buffer.from(c.publicKey).toString('base64url'),
        counter: c.counter,
        ...(c.transports?.length ? { transports: c.transports } : {}),
      };
    } catch {
      // The library throws on every malformed or mismatching response; the reason is not the caller's.
      return null;
    }
  },

  authenticationOptions: ({ rp, challenge, allow }) =>
    generateAuthenticationOptions({
      rpID: rp.rpId,
      challenge: Buffer.from(challenge, 'base64url'),
      allowCredentials: allow,
      timeout: TIMEOUT_MS,
      userVerification: 'preferred',
    }),

  async verifyAuthentication({ rp, challenge, response, credential }) {
    try {
      // The library refuses a counter that did not grow (unless both are 0: authenticators
      // without a counter, as synced passkeys often are).
      const r = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.rpId,
        credential: {
          id: credential.id,
          publicKey: Buffer.from(credential.publicKey, 'base64url'),
          counter: credential.counter,
          ...(credential.transports ? { transports: credential.transports } : {}),
        },
        requireUserVerification: false,
      });
      return r.verified ? { counter: r.authenticationInfo.newCounter } : null;
    } catch {
      return null;
    }
  },
};
