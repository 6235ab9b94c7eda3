// The identity section: defaults, and every refusal a newcomer would hit while connecting a provider.
import { describe, expect, it } from 'vitest';
import { configProblems, parseConfig } from '../support/config.js';

const base = (identity: string, server = 'server: { publicUrl: "https://hg.example.com/" }') =>
  `${server}\nidentity:\n${identity}\ntargets: {}\npolicies: []\n`;
const provider = (extra = '') => `  oidc:\n    - { name: corp, issuer: "https://login.example.com", clientId: hg, clientSecret: s3cret${extra} }`;

const problems = configProblems;

describe('identity configuration', () => {
  it('has safe defaults and reads a provider', () => {
    const c = parseConfig(base(provider()));
    expect(c.server.publicUrl).toBe('https://hg.example.com');
    expect(c.identity.sessions).toEqual({ idleTimeoutMs: 30 * 60_000, absoluteTimeoutMs: 12 * 3_600_000, cliTokenLifetimeMs: 15 * 60_000 });
    expect(c.identity.tokens).toEqual({ maxLifetimeMs: 90 * 86_400_000, defaultLifetimeMs: 30 * 86_400_000 });
    expect(c.identity.oidc[0]).toMatchObject({
      name: 'corp',
      displayName: 'corp',
      scopes: ['openid', 'email', 'profile'],
      claims: { principal: 'email', displayName: 'name', email: 'email' },
      userinfo: true,
      requireVerifiedEmail: true,
    });
    expect(c.identity.oidc[0]!.claims.groups).toBeUndefined();
    expect(parseConfig('targets: {}\npolicies: []\n').identity.oidc).toEqual([]);
  });

  it('refuses what would make sign-in unsafe or impossible', () => {
    expect(problems(base(provider(), 'server: {}'))).toEqual([expect.stringMatching(/^server\.publicUrl: is needed by identity\.oidc/)]);
    expect(problems(base(provider().replace('https://login.example.com', 'http://login.example.com')))).toEqual([
      expect.stringMatching(/issuer: must be an https:\/\/ URL \(http:\/\/ only for a loopback address\)/),
    ]);
    expect(problems(base(provider().replace('https://login.example.com', 'http://127.0.0.1:9000')))).toEqual([]);
    expect(problems(base(provider(', scopes: [email]')))).toEqual([expect.stringMatching(/scopes: must include openid/)]);
    expect(problems(base(`${provider()}\n    - { name: corp, issuer: "https://b.example.com", clientId: b, clientSecret: b }`))).toEqual([
      expect.stringMatching(/oidc\[1\]\.name: duplicate provider name/),
    ]);
    expect(problems(base('  sessions: { idleTimeout: 13h }'))).toEqual([expect.stringMatching(/idleTimeout: must not be longer than absoluteTimeout/)]);
    expect(problems(base('  tokens: { defaultLifetime: 100d }'))).toEqual([expect.stringMatching(/defaultLifetime: must not be longer than maxLifetime/)]);
    expect(problems(base('  roles: [{ group: admins, roles: [root] }]'))[0]).toMatch(/roles\[0\]\.roles\[0\]/);
    expect(problems(base(provider(', clientSecrt: x')))[0]).toMatch(/clientSecrt/);
    expect(problems(base('  oidc: []', 'server: { publicUrl: "https://hg.example.com/?x=1" }'))[0]).toMatch(/publicUrl: must not have a query/);
  });
  it('reads SCIM tokens and refuses ones that could not work or could be confused', () => {
    const A = 'a'.repeat(64);
    const B = 'B'.repeat(64);
    const scim = (tokens: string) => base(`  scim:\n    tokens: ${tokens}`);
    expect(parseConfig(base('  roles: []')).identity.scim).toBeUndefined();
    expect(parseConfig(scim(`[{ name: entra, sha256: ${A} }, { name: next, sha256: ${B} }]`)).identity.scim).toEqual({
      tokens: [
        { name: 'entra', sha256: A },
        { name: 'next', sha256: 'b'.repeat(64) },
      ],
    });
    expect(problems(scim('[]'))).toEqual(['identity.scim.tokens: must list at least one token']);
    expect(problems(scim(`[{ name: entra, sha256: abc }]`))).toEqual([
      expect.stringMatching(/^identity\.scim\.tokens\[0\]\.sha256: must be the 64 hex digit SHA-256/),
    ]);
    expect(problems(scim(`[{ name: entra, sha256: ${A} }, { name: entra, sha256: ${B} }]`))).toEqual([
      'identity.scim.tokens[1].name: duplicate token name "entra"',
    ]);
    expect(problems(scim(`[{ name: one, sha256: ${A} }, { name: two, sha256: ${A.toUpperCase()} }]`))).toEqual([
      'identity.scim.tokens[1].sha256: duplicate token hash: every token must be unique',
    ]);
    const five = [1, 2, 3, 4, 5].map((n) => `{ name: t${n}, sha256: "${'abcde'[n - 1]!.repeat(64)}" }`).join(', ');
    expect(problems(scim(`[${five}]`))).toEqual([expect.stringMatching(/^identity\.scim\.tokens: at most 4 tokens/)]);
    expect(problems(scim(`[{ name: entra, sha256: ${A}, extra: 1 }]`))).toEqual([expect.stringMatching(/^identity\.scim\.tokens\[0\]/)]);
    expect(problems(base(`  scim:\n    tokens: [{ name: entra, sha256: ${A} }]`, 'server: {}'))).toEqual([
      expect.stringMatching(/^server\.publicUrl: is needed by identity\.scim/),
    ]);
  });
  it('counts identity.roles in the policy hash: who holds roles is part of every decision', () => {
    const none = parseConfig(base('  roles: []')).policyHash;
    expect(parseConfig(base('  sessions: { idleTimeout: 10m }')).policyHash).toBe(none);
    const auditors = parseConfig(base('  roles: [{ group: hg-auditors, roles: [auditor] }]')).policyHash;
    const admins = parseConfig(base('  roles: [{ group: hg-auditors, roles: [admin] }]')).policyHash;
    expect(new Set([none, auditors, admins]).size).toBe(3);
  });
});
