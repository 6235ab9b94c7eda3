/**
 * `identity.saml`: SAML 2.0 identity providers (docs/identity.md, "Connect a SAML 2.0 provider").
 * Each entry names the IdP by what its metadata says (entity id, SSO URL, signing certificates);
 * the SP side (entity id, ACS) is derived from `server.publicUrl` and the provider's name.
 */
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import type { SamlProviderSettings } from '../types.js';
import { durationSchema, httpsOrLoopbackUrl, MINUTE, nonEmptyString, shortName, strictObject } from '../primitives.js';
import { isPlainObject, parseFields, shown, type RawProblem } from '../problems.js';

/** Entra's default NameID format (its value is the UPN), and what most IdPs send. */
export const SAML_NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

/**
 * AuthnContextClassRef values (or values of `attributes.authnMethods`) that mean a second factor:
 * Entra's `multipleauthn`, the REFEDS MFA profile, the SAML 2.0 two-factor classes, and the RFC 8176
 * `mfa` that Okta's `session.amr` attribute sends.
 */
export const DEFAULT_MFA_CONTEXTS = [
  'http://schemas.microsoft.com/claims/multipleauthn',
  'https://refeds.org/profile/mfa',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken',
  'mfa',
];

const certificateSchema = nonEmptyString.superRefine((text, ctx) => {
  const pem = text.includes('-----BEGIN') ? text : `-----BEGIN CERTIFICATE-----\n${text.replace(/\s+/g, '')}\n-----END CERTIFICATE-----\n`;
  try {
    new X509Certificate(pem);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is not an X.509 certificate (PEM, or the base64 of the IdP metadata)' });
  }
});

const bounded = (min: number, max: number, range: string) =>
  durationSchema.superRefine((ms, ctx) => {
    if (ms < min || ms > max) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be between ${range}` });
  });

export const samlShape = {
  name: shortName,
  displayName: nonEmptyString.optional(),
  idp: strictObject({
    entityId: nonEmptyString.pipe(z.string().max(1024)),
    ssoUrl: httpsOrLoopbackUrl,
    certificates: z
      .array(certificateSchema)
      .min(1, 'must list at least one signing certificate')
      .max(4, 'at most 4 certificates (two are enough for a rollover)'),
  }),
  entityId: nonEmptyString.pipe(z.string().max(1024)).optional(),
  nameIdFormat: nonEmptyString.default(SAML_NAMEID_EMAIL),
  attributes: strictObject({
    principal: nonEmptyString.optional(),
    groups: nonEmptyString.optional(),
    manager: nonEmptyString.optional(),
    displayName: nonEmptyString.optional(),
    email: nonEmptyString.optional(),
    authnMethods: nonEmptyString.optional(),
  }).default({}),
  clockSkew: bounded(0, 5 * MINUTE, '0s and 5m').default('60s'),
  maxAuthAge: bounded(MINUTE, 30 * 24 * 60 * MINUTE, '1m and 30d').optional(),
  allowIdpInitiated: z.boolean().default(false),
  mfaContexts: z.array(nonEmptyString).default(DEFAULT_MFA_CONTEXTS),
};

/** `identity.saml`, each entry checked; `taken` holds the OIDC provider names (a name is unique across both kinds). */
export function parseSaml(raw: unknown[], out: RawProblem[], publicUrl: string | undefined, taken: ReadonlySet<string>): SamlProviderSettings[] {
  const result: SamlProviderSettings[] = [];
  const seen = new Set<string>();
  raw.forEach((item, i) => {
    const path = ['identity', 'saml', i];
    if (!isPlainObject(item)) {
      out.push({ path, message: 'must be a mapping with at least name and idp: { entityId, ssoUrl, certificates }' });
      return;
    }
    const { values: v, ok } = parseFields(samlShape, item, path, out);
    if (!ok) return;
    if (seen.has(v.name!) || taken.has(v.name!)) {
      out.push({ path: [...path, 'name'], message: `duplicate provider name ${shown(v.name)} (names are unique across identity.oidc and identity.saml)` });
      return;
    }
    seen.add(v.name!);
    const a = v.attributes!;
    const base = `${publicUrl ?? ''}/v1/auth/saml/${v.name!}`;
    result.push({
      name: v.name!,
      displayName: v.displayName ?? v.name!,
      idp: { entityId: v.idp!.entityId, ssoUrl: v.idp!.ssoUrl, certificates: v.idp!.certificates },
      entityId: v.entityId ?? `${base}/metadata`,
      acsUrl: `${base}/acs`,
      nameIdFormat: v.nameIdFormat!,
      attributes: Object.fromEntries(Object.entries(a).filter(([, x]) => x !== undefined)) as SamlProviderSettings['attributes'],
      clockSkewMs: v.clockSkew!,
      ...(v.maxAuthAge !== undefined ? { maxAuthAgeMs: v.maxAuthAge } : {}),
      allowIdpInitiated: v.allowIdpInitiated!,
      mfaContexts: v.mfaContexts!,
    });
  });
  if (raw.length > 0 && !publicUrl) {
    out.push({ path: ['server', 'publicUrl'], message: 'is needed by identity.saml: the entity id and the ACS URL are built from it' });
  }
  return result;
}
