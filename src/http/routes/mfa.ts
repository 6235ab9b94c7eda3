/**
 * Step-up MFA: enrolling factors (TOTP, WebAuthn), recovery codes, and challenges bound to what
 * a proof approves (docs/identity.md, "Step-up MFA"). Only a person's session manages factors.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import type { StepUpProof } from '../../app/identity/step-up.js';
import { defineRoute } from '../route.js';
import * as s from '../schemas.js';
import type { RouteContext } from './context.js';

const idParams = z.object({ id: z.string().min(1).max(64) });

/** A browser's PublicKeyCredential as JSON (base64url fields); @simplewebauthn/server checks the inside. */
const credentialJson = z
  .object({
    id: s.text(1400, 1),
    rawId: s.text(1400, 1),
    type: z.literal('public-key'),
    response: z.record(z.unknown()),
    clientExtensionResults: z.record(z.unknown()).default({}),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  })
  .strict();

/** A step-up proof: the challenge it answers and exactly one of a TOTP code, a recovery code or a WebAuthn assertion. */
export const proofSchema = z
  .object({
    challenge: s.text(64, 1).describe('the id from POST /v1/mfa/challenges'),
    totp: s.text(16, 1).optional().describe('the 6-digit code of the authenticator app'),
    recoveryCode: s.text(64, 1).optional(),
    webauthn: credentialJson.optional().describe("navigator.credentials.get's answer as JSON"),
  })
  .strict()
  .refine((p) => [p.totp, p.recoveryCode, p.webauthn].filter((x) => x !== undefined).length === 1, 'give exactly one of totp, recoveryCode and webauthn');

/** The schema's output as the use cases take it. */
export const toProof = (p: z.output<typeof proofSchema>): StepUpProof => ({
  challenge: p.challenge,
  ...(p.totp !== undefined ? { totp: p.totp } : {}),
  ...(p.recoveryCode !== undefined ? { recoveryCode: p.recoveryCode } : {}),
  ...(p.webauthn !== undefined ? { webauthn: p.webauthn as unknown as AuthenticationResponseJSON } : {}),
});

const factorShape = z
  .object({
    id: z.string(),
    kind: z.enum(['totp', 'webauthn']),
    label: z.string(),
    status: z.enum(['pending', 'active']),
    createdAt: z.string(),
    lastUsedAt: z.string().optional(),
    expiresAt: z.string().optional(),
  })
  .strict();
const enrolledShape = z.object({ factor: factorShape, recoveryCodes: z.array(z.string()) }).strict();
const label = s.text(64, 1).optional();
const iso = (ms: number) => new Date(ms).toISOString();

export function mfaRoutes({ server, table, opts }: RouteContext) {
  const mfa = opts.mfa;
  if (!mfa) return;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/mfa/factors',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: 'Your MFA factors (pending TOTP enrolments included) and how many recovery codes are left',
    responses: { 200: { description: 'factors (never their secrets)', schema: z.object({ factors: z.array(factorShape), recoveryCodesLeft: z.number() }) } },
    handler: ({ principal }) => mfa.list(principal),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/mfa/totp',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: 'Start a TOTP enrolment: the secret, its otpauth:// URI and QR code are shown once; confirm with a code within 10 minutes',
    body: z.object({ label }).strict(),
    responses: {
      201: {
        description: 'the pending factor',
        schema: z.object({ factorId: z.string(), otpauthUri: z.string(), qrSvg: z.string(), secret: z.string(), expiresAt: z.string() }).strict(),
      },
    },
    handler: async ({ principal, body, reply }) => {
      const r = await mfa.beginTotp(principal, body.label !== undefined ? { label: body.label } : {});
      reply.status(201);
      return { ...r, expiresAt: iso(r.expiresAt) };
    },
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/mfa/totp/:id/confirm',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: 'Confirm a TOTP enrolment with a code; returns 10 new recovery codes, shown once (a proof is needed when a factor is active)',
    params: idParams,
    body: z.object({ code: s.text(16, 1), proof: proofSchema.optional() }).strict(),
    responses: { 200: { description: 'the active factor and new recovery codes', schema: enrolledShape } },
    handler: ({ principal, params, body }) => mfa.confirmTotp(principal, params.id, { code: body.code, ...(body.proof ? { proof: toProof(body.proof) } : {}) }),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/mfa/webauthn/options',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: 'Start a WebAuthn (passkey, security key) registration: options for navigator.credentials.create',
    body: z.object({}).strict(),
    responses: {
      200: {
        description: 'the registration id and the creation options (PublicKeyCredentialCreationOptionsJSON)',
        schema: z.object({ registrationId: z.string(), expiresAt: z.string(), options: z.record(z.unknown()) }).strict(),
      },
    },
    handler: async ({ principal }) => {
      const r = await mfa.webauthnOptions(principal);
      return { registrationId: r.registrationId, expiresAt: iso(r.expiresAt), options: r.options as unknown as Record<string, unknown> };
    },
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/mfa/webauthn',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: "Finish a WebAuthn registration with the browser's answer; returns 10 new recovery codes (a proof is needed when a factor is active)",
    body: z.object({ registrationId: s.text(64, 1), response: credentialJson, label, proof: proofSchema.optional() }).strict(),
    responses: { 201: { description: 'the active factor and new recovery codes', schema: enrolledShape } },
    handler: async ({ principal, body, reply }) => {
      const r = await mfa.verifyWebauthn(principal, {
        registrationId: body.registrationId,
        response: body.response as unknown as RegistrationResponseJSON,
        ...(body.label !== undefined ? { label: body.label } : {}),
        ...(body.proof ? { proof: toProof(body.proof) } : {}),
      });
      reply.status(201);
      return r;
    },
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/mfa/factors/:id/remove',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: 'Remove a factor; an active one needs a proof for action mfa, digest SHA-256("remove:<id>")',
    params: idParams,
    body: z.object({ proof: proofSchema.optional() }).strict(),
    responses: { 200: { description: 'removed', schema: z.object({ removed: z.boolean() }).strict() } },
    handler: ({ principal, params, body }) => mfa.remove(principal, params.id, body.proof ? toProof(body.proof) : undefined),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/mfa/challenges',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: 'A step-up challenge bound to an action, a request and the digest of what is being approved; answer it within 2 minutes, once',
    body: z
      .object({
        action: z.enum(['request', 'approve', 'credentials', 'mfa']),
        requestId: s.text(128, 1).optional(),
        digest: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (SHA-256)'),
      })
      .strict(),
    responses: {
      201: {
        description: 'the challenge; `webauthn` holds the options for navigator.credentials.get when a WebAuthn factor is enrolled',
        schema: z
          .object({
            id: z.string(),
            expiresAt: z.string(),
            methods: z.array(z.enum(['totp', 'webauthn', 'recovery_code'])),
            webauthn: z.record(z.unknown()).optional(),
          })
          .strict(),
      },
    },
    handler: async ({ principal, body, reply }) => {
      const c = await mfa.stepUp.challenge(principal, {
        action: body.action,
        digest: body.digest,
        ...(body.requestId !== undefined ? { requestId: body.requestId } : {}),
      });
      reply.status(201);
      return {
        id: c.id,
        expiresAt: iso(c.expiresAt),
        methods: c.methods,
        ...(c.webauthn ? { webauthn: c.webauthn as unknown as Record<string, unknown> } : {}),
      };
    },
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/mfa/recovery-codes',
    tag: 'identity',
    auth: 'bearer',
    scope: 'request',
    summary: 'Replace your recovery codes with 10 new ones, shown once; needs a proof for action mfa, digest SHA-256("recovery-codes")',
    body: z.object({ proof: proofSchema.optional() }).strict(),
    responses: { 200: { description: 'the new recovery codes', schema: z.object({ recoveryCodes: z.array(z.string()) }).strict() } },
    handler: ({ principal, body }) => mfa.regenerateRecoveryCodes(principal, body.proof ? toProof(body.proof) : undefined),
  });
}
