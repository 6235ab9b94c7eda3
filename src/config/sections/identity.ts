/**
 * The `identity` section: sign-in with the company IdP (OIDC, SAML in identity-saml.ts), SCIM
 * provisioning tokens, sessions, personal and machine tokens, and which IdP groups hold Hourglass
 * roles (docs/identity.md).
 */
import { z } from 'zod';
import type { IdentitySettings, OidcProviderSettings, ScimSettings } from '../types.js';
import { durationSchema, httpsOrLoopbackUrl, nonEmptyString, ROLES, shortName, strictObject } from '../primitives.js';
import { isPlainObject, parseFields, shown, type RawProblem } from '../problems.js';
import { parseSaml } from './identity-saml.js';

const DAY = 86_400_000;

export const oidcShape = {
  name: shortName,
  displayName: nonEmptyString.optional(),
  issuer: httpsOrLoopbackUrl,
  clientId: nonEmptyString,
  clientSecret: nonEmptyString,
  scopes: z.array(nonEmptyString).default(['openid', 'email', 'profile']),
  claims: strictObject({
    principal: nonEmptyString.default('email'),
    groups: nonEmptyString.optional(),
    manager: nonEmptyString.optional(),
    displayName: nonEmptyString.default('name'),
    email: nonEmptyString.default('email'),
  }).default({}),
  userinfo: z.boolean().default(true),
  requireVerifiedEmail: z.boolean().default(true),
  mfaMethods: z.array(nonEmptyString).default(['mfa', 'otp', 'hwk', 'swk', 'fpt', 'face', 'sms', 'pop']),
};

export const sessionsShape = {
  idleTimeout: durationSchema.default('30m'),
  absoluteTimeout: durationSchema.default('12h'),
  cliTokenLifetime: durationSchema.default('15m'),
};

export const identityShape = {
  sessions: strictObject(sessionsShape).default({}),
  tokens: strictObject({ maxLifetime: durationSchema.default('90d'), defaultLifetime: durationSchema.default('30d') }).default({}),
  roles: z.array(strictObject({ group: nonEmptyString, roles: z.array(z.enum(ROLES)).min(1) })).default([]),
  oidc: z.array(z.unknown()).default([]),
  saml: z.array(z.unknown()).default([]),
  scim: strictObject({
    tokens: z
      .array(
        strictObject({
          name: shortName,
          sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the 64 hex digit SHA-256 of the token (printf %s TOKEN | sha256sum)'),
        }),
      )
      .min(1, 'must list at least one token')
      .max(4, 'at most 4 tokens (two are enough for a rotation)'),
  }).optional(),
};

export const DEFAULT_IDENTITY: IdentitySettings = {
  sessions: { idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 3_600_000, cliTokenLifetimeMs: 15 * 60_000 },
  tokens: { maxLifetimeMs: 90 * DAY, defaultLifetimeMs: 30 * DAY },
  roles: [],
  oidc: [],
  saml: [],
};

function parseScim(v: { tokens: { name: string; sha256: string }[] } | undefined, out: RawProblem[]): ScimSettings | undefined {
  if (v === undefined) return undefined;
  const names = new Set<string>();
  const digests = new Set<string>();
  v.tokens.forEach((t, i) => {
    const path = ['identity', 'scim', 'tokens', i];
    if (names.has(t.name)) out.push({ path: [...path, 'name'], message: `duplicate token name ${shown(t.name)}` });
    if (digests.has(t.sha256.toLowerCase())) out.push({ path: [...path, 'sha256'], message: 'duplicate token hash: every token must be unique' });
    names.add(t.name);
    digests.add(t.sha256.toLowerCase());
  });
  return { tokens: v.tokens.map((t) => ({ name: t.name, sha256: t.sha256.toLowerCase() })) };
}

function parseOidc(raw: unknown[], out: RawProblem[]): OidcProviderSettings[] {
  const result: OidcProviderSettings[] = [];
  const seen = new Set<string>();
  raw.forEach((item, i) => {
    const path = ['identity', 'oidc', i];
    if (!isPlainObject(item)) {
      out.push({ path, message: 'must be a mapping with at least name, issuer, clientId and clientSecret' });
      return;
    }
    const { values: v, ok } = parseFields(oidcShape, item, path, out);
    if (!ok) return;
    if (seen.has(v.name!)) {
      out.push({ path: [...path, 'name'], message: `duplicate provider name ${shown(v.name)}` });
      return;
    }
    seen.add(v.name!);
    if (!v.scopes!.includes('openid')) out.push({ path: [...path, 'scopes'], message: 'must include openid' });
    const c = v.claims!;
    result.push({
      name: v.name!,
      displayName: v.displayName ?? v.name!,
      issuer: v.issuer!,
      clientId: v.clientId!,
      clientSecret: v.clientSecret!,
      scopes: v.scopes!,
      claims: {
        principal: c.principal,
        displayName: c.displayName,
        email: c.email,
        ...(c.groups ? { groups: c.groups } : {}),
        ...(c.manager ? { manager: c.manager } : {}),
      },
      userinfo: v.userinfo!,
      requireVerifiedEmail: v.requireVerifiedEmail!,
      mfaMethods: v.mfaMethods!,
    });
  });
  return result;
}

export function parseIdentity(raw: unknown, out: RawProblem[], publicUrl: string | undefined): IdentitySettings {
  if (raw === undefined || raw === null) return DEFAULT_IDENTITY;
  if (!isPlainObject(raw)) {
    out.push({ path: ['identity'], message: 'must be a mapping' });
    return DEFAULT_IDENTITY;
  }
  const { values: v, ok } = parseFields(identityShape, raw, ['identity'], out);
  if (!ok) return DEFAULT_IDENTITY;
  const s = v.sessions!;
  if (s.idleTimeout > s.absoluteTimeout) out.push({ path: ['identity', 'sessions', 'idleTimeout'], message: 'must not be longer than absoluteTimeout' });
  if (s.cliTokenLifetime > s.absoluteTimeout) {
    out.push({ path: ['identity', 'sessions', 'cliTokenLifetime'], message: 'must not be longer than absoluteTimeout' });
  }
  const t = v.tokens!;
  if (t.defaultLifetime > t.maxLifetime) out.push({ path: ['identity', 'tokens', 'defaultLifetime'], message: 'must not be longer than maxLifetime' });
  const oidc = parseOidc(v.oidc!, out);
  const saml = parseSaml(v.saml!, out, publicUrl, new Set(oidc.map((p) => p.name)));
  if (oidc.length > 0 && !publicUrl) {
    out.push({ path: ['server', 'publicUrl'], message: 'is needed by identity.oidc: the URL browsers and the provider reach Hourglass at' });
  }
  const scim = parseScim(v.scim, out);
  if (scim && !publicUrl) {
    out.push({ path: ['server', 'publicUrl'], message: 'is needed by identity.scim: SCIM resources carry their absolute location' });
  }
  return {
    sessions: { idleTimeoutMs: s.idleTimeout, absoluteTimeoutMs: s.absoluteTimeout, cliTokenLifetimeMs: s.cliTokenLifetime },
    tokens: { maxLifetimeMs: t.maxLifetime, defaultLifetimeMs: t.defaultLifetime },
    roles: v.roles!.map((r) => ({ group: r.group, roles: [...new Set(r.roles)] })),
    oidc,
    saml,
    ...(scim ? { scim } : {}),
  };
}
