/**
 * From what an OpenID provider said (ID token claims, then userinfo) to the identity Hourglass
 * signs in. Pure: the provider's quirks (docs/identity.md) are settled by configuration.
 */
import type { OidcProviderSettings } from '../../../config/types.js';
import type { ExternalIdentity } from '../../../app/identity/sign-in.js';

type Claims = Record<string, unknown>;

/** A claim at a path (`realm_access.roles` in Keycloak), from the ID token, else userinfo. */
export function claimAt(claims: Claims, path: string): unknown {
  let v: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, part)) return undefined;
    v = (v as Claims)[part];
  }
  return v;
}

const stringList = (v: unknown): string[] | undefined => {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x.length > 0 && x.length <= 256);
  return undefined;
};

/** The identity, or a reason to refuse the sign-in (short, secret-free). */
export function identityFromClaims(p: OidcProviderSettings, idToken: Claims, userinfo: Claims | undefined): ExternalIdentity | string {
  const all: Claims = { ...(userinfo ?? {}), ...idToken };
  const sub = idToken.sub;
  if (typeof sub !== 'string' || !sub) return 'the ID token has no subject';
  const id = claimAt(all, p.claims.principal);
  if (typeof id !== 'string' || !id) return `the provider sent no ${p.claims.principal} claim to name the principal`;
  // An unverified e-mail is whatever the user typed at the IdP: naming principals by it would let
  // anyone become anyone (the "nOAuth" takeover).
  if (p.claims.principal === 'email' && p.requireVerifiedEmail && all.email_verified !== true && all.email_verified !== 'true') {
    return 'the e-mail address is not verified by the provider (email_verified is not true)';
  }
  const groups = p.claims.groups ? (stringList(claimAt(all, p.claims.groups)) ?? []) : undefined;
  const manager = p.claims.manager ? claimAt(all, p.claims.manager) : undefined;
  const name = claimAt(all, p.claims.displayName);
  const email = claimAt(all, p.claims.email);
  const amr = stringList(idToken.amr) ?? [];
  return {
    provider: `oidc:${p.name}`,
    subject: sub,
    principalId: p.claims.principal === 'email' ? id.toLowerCase() : id,
    ...(typeof name === 'string' ? { displayName: name.slice(0, 200) } : {}),
    ...(typeof email === 'string' ? { email: email.slice(0, 320) } : {}),
    ...(groups ? { groups } : {}),
    ...(typeof manager === 'string' && manager ? { manager: manager.toLowerCase() } : {}),
    ...(typeof idToken.auth_time === 'number' ? { authTime: idToken.auth_time * 1000 } : {}),
    amr,
    ...(typeof idToken.acr === 'string' ? { acr: idToken.acr } : {}),
  };
}

/** Did the provider report a second factor? (Step-up MFA counts it while `authTime` is recent.) */
export const provesMfa = (p: OidcProviderSettings, amr: readonly string[]): boolean => amr.some((m) => p.mfaMethods.includes(m));
