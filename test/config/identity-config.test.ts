// The identity section: defaults, and every refusal a newcomer would hit while connecting a provider.
import { describe, expect, it } from 'vitest';
import { HgError } from '../../src/core/errors.js';
import { parseConfig } from '../support/config.js';

const base = (identity: string, server = 'server: { publicUrl: "https://hg.example.com/" }') =>
  `${server}\nidentity:\n${identity}\ntargets: {}\npolicies: []\n`;
const provider = (extra = '') => `  oidc:\n    - { name: corp, issuer: "https://login.example.com", clientId: hg, clientSecret: s3cret${extra} }`;

function problems(text: string): string[] {
  try {
    parseConfig(text);
  } catch (e) {
    if (e instanceof HgError) return ((e.details as { problems: { path: string; message: string }[] }).problems ?? []).map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

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
});
