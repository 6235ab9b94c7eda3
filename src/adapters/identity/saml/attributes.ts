/**
 * From a verified SAML assertion to the identity Hourglass signs in. Pure: which attribute
 * carries what is configuration (docs/identity.md, "Connect a SAML 2.0 provider").
 */
import type { ExternalIdentity } from '../../../app/identity/sign-in.js';
import type { SamlProviderSettings } from '../../../config/types.js';
import { NAMEID_EMAIL, type SamlAssertion } from './service-provider.js';

/** Classes that say "a password, nothing more": recorded as `amr: [pwd]`. */
const PASSWORD_CLASSES = new Set(['urn:oasis:names:tc:SAML:2.0:ac:classes:Password', 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport']);

/** An attribute's values; own properties only, so a configured name such as `constructor` finds nothing. */
const valuesOf = (a: SamlAssertion, name: string | undefined): string[] | undefined =>
  name !== undefined && Object.hasOwn(a.attributes, name) ? a.attributes[name]!.map((v) => v.trim()).filter(Boolean) : undefined;

/** The identity, or a reason to refuse the sign-in (short, secret-free). */
export function identityFromAssertion(p: SamlProviderSettings, a: SamlAssertion): ExternalIdentity | string {
  let principal: string;
  if (p.attributes.principal !== undefined) {
    const values = valuesOf(a, p.attributes.principal) ?? [];
    if (values.length === 0) return `the identity provider sent no ${p.attributes.principal} attribute to name the principal`;
    // Several values would let the IdP's ordering pick the principal.
    if (new Set(values).size > 1) return `the ${p.attributes.principal} attribute has several values: it cannot name one principal`;
    principal = values[0]!;
  } else {
    principal = a.nameId;
  }
  // E-mail addresses (and Entra's UPN) are compared without case: the same person must reach the same principal.
  const isEmail = /^[^@\s]+@[^@\s]+$/.test(principal);
  const emailNameId = a.nameIdFormat === NAMEID_EMAIL;
  const groups = p.attributes.groups !== undefined ? (valuesOf(a, p.attributes.groups) ?? []).filter((g) => g.length <= 256) : undefined;
  const manager = valuesOf(a, p.attributes.manager)?.[0];
  const name = valuesOf(a, p.attributes.displayName)?.[0];
  const email = valuesOf(a, p.attributes.email)?.[0];
  const acr = a.authnContextClassRef;
  const methods = [...(acr ? [acr] : []), ...(valuesOf(a, p.attributes.authnMethods) ?? [])];
  const mfa = methods.some((m) => p.mfaContexts.includes(m));
  return {
    provider: `saml:${p.name}`,
    subject: emailNameId ? a.nameId.toLowerCase() : a.nameId,
    principalId: isEmail ? principal.toLowerCase() : principal,
    ...(name ? { displayName: name.slice(0, 200) } : {}),
    ...(email ? { email: email.slice(0, 320) } : {}),
    ...(groups ? { groups } : {}),
    ...(manager ? { manager: manager.toLowerCase() } : {}),
    ...(a.authnInstant !== undefined ? { authTime: a.authnInstant } : {}),
    amr: mfa ? ['mfa'] : acr && PASSWORD_CLASSES.has(acr) ? ['pwd'] : [],
    ...(acr ? { acr } : {}),
  };
}
