/**
 * The token kind: JWTs verified by an implementation of our own (node:crypto against the
 * published JWKS, not jose, which signs them), across a key rotation; every claim checked;
 * lifetimes capped by maxTokenLifetime and the grant's end; RFC 7662 introspection that answers
 * `active: false` the moment a grant ends early; the shared connector contract.
 */
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenConnectorFactory } from '../../src/adapters/connectors/token/index.js';
import { TokenConnector } from '../../src/adapters/connectors/token/connector.js';
import type { Credentials } from '../../src/app/connectors.js';
import { connectorContract, type ProbeResult } from '../connectors/contract.js';
import { tokenHash } from '../fixtures/policies.js';
import { configFromYaml, createHttpHarness, freshStoreUrl, T0, token, type StoreHandle } from '../support/app-harness.js';
import { parseConfig } from '../support/config.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-token-'));
const MIN = 60_000;

const pem = () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const keyA = join(dir, 'key-a.pem');
const keyB = join(dir, 'key-b.pem');
writeFileSync(keyA, pem(), { mode: 0o600 });
writeFileSync(keyB, pem(), { mode: 0o600 });

const yaml = (keyFile: string) => `
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
  - { id: api, roles: [checker], apiTokens: [{ sha256: ${tokenHash('api')} }] }
targets:
  internal-api:
    type: token
    issuer: https://hourglass.example.com
    audience: https://api.internal
    signingKeyFile: ${keyFile}
    entitlements:
      admin: { claims: { scope: admin, tier: [gold] } }
      read: { claims: { scope: read } }
  other-api:
    type: token
    issuer: https://hourglass.example.com
    audience: https://other.internal
    signingKeyFile: ${keyB}
    entitlements:
      any: {}
policies:
  - { name: p, subjects: { groups: [developers] }, entitlements: [internal-api/admin, internal-api/read, other-api/any], maxDuration: 8h, reason: optional, approval: { required: 0 } }
`;

let handle: StoreHandle;
let h: Awaited<ReturnType<typeof createHttpHarness>>;

beforeAll(async () => {
  handle = await freshStoreUrl('sqlite');
  h = await createHttpHarness({ yaml: yaml(keyA), storeUrl: handle.url, now: T0 });
});
afterAll(async () => {
  await h?.close();
  await handle?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function work() {
  await h.system.access.runOnce();
  await h.system.access.idle();
}

async function activeRequest(entitlements: string[], duration = '1h') {
  const r = await h.call('POST', '/v1/requests', token('alice'), { entitlements, duration });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  await work();
  return r.body.id as string;
}

async function tokensFor(id: string) {
  const res = await h.call('POST', `/v1/requests/${id}/credentials`, token('alice'));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.targets as Record<string, { kind: string; credentials: { entitlement: string; token: string; serial: number; jti: string; kid: string }[] }>;
}

/** Verifies a JWT with node:crypto against a JWKS: the independent check. Returns its header and claims, or throws. */
function verifyIndependently(jwt: string, jwks: { keys: Record<string, unknown>[] }) {
  const [h64, p64, s64] = jwt.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h64, 'base64url').toString()) as { alg: string; kid: string; typ: string };
  expect(header.alg).toBe('EdDSA');
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`kid ${header.kid} is not published`);
  const key = createPublicKey({ key: jwk as never, format: 'jwk' });
  if (!verify(null, Buffer.from(`${h64}.${p64}`), key, Buffer.from(s64, 'base64url'))) throw new Error('bad signature');
  return { header, claims: JSON.parse(Buffer.from(p64, 'base64url').toString()) as Record<string, unknown> };
}

const jwksNow = async () => (await h.server.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Record<string, unknown>[] };

async function introspect(tok: string, who = 'api', form = false) {
  const res = await h.server.inject({
    method: 'POST',
    url: '/v1/targets/internal-api/token/introspect',
    headers: { authorization: `Bearer ${token(who)}`, 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
    payload: form ? new URLSearchParams({ token: tok, token_type_hint: 'access_token' }).toString() : JSON.stringify({ token: tok }),
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

describe('token targets', () => {
  it('issues one token per entitlement, every claim as documented, verified against the JWKS by another implementation', async () => {
    const id = await activeRequest(['internal-api/admin', 'internal-api/read']);
    const targets = await tokensFor(id);
    expect(targets['internal-api']!.kind).toBe('token');
    const [admin, read] = targets['internal-api']!.credentials;
    expect([admin!.entitlement, read!.entitlement]).toEqual(['admin', 'read']);
    const jwks = await jwksNow();
    const { header, claims } = verifyIndependently(admin!.token, jwks);
    expect(header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: admin!.kid });
    // The kid is the key's RFC 7638 thumbprint, as jose computes it.
    expect(await calculateJwkThumbprint(jwks.keys.find((k) => k.kid === header.kid) as never, 'sha256')).toBe(header.kid);
    expect(claims).toEqual({
      iss: 'https://hourglass.example.com',
      aud: 'https://api.internal',
      sub: 'alice',
      jti: admin!.jti,
      iat: T0 / 1000,
      nbf: T0 / 1000,
      exp: (T0 + 15 * MIN) / 1000,
      scope: 'admin',
      tier: ['gold'],
      hourglass: { request: id, entitlement: 'internal-api/admin', serial: admin!.serial },
    });
    expect(verifyIndependently(read!.token, jwks).claims.scope).toBe('read');
    expect(admin!.jti).not.toBe(read!.jti);
    // The per-target JWKS holds the same key; the audit event names the token, never holds it.
    const own = (await h.server.inject({ method: 'GET', url: '/v1/targets/internal-api/token/jwks.json' })).json();
    expect(own.keys.map((k: { kid: string }) => k.kid)).toEqual([admin!.kid]);
    const audit = await h.call('GET', `/v1/audit?requestId=${id}&type=credentials.issued`, token('admin'));
    expect(audit.body.events.map((e: { details: { jti: string } }) => e.details.jti).sort()).toEqual([admin!.jti, read!.jti].sort());
    expect(JSON.stringify(audit.body)).not.toContain(admin!.token.split('.')[2]);
  });

  it('never lets a token outlive its grant, and gives a fresh one on every ask', async () => {
    const id = await activeRequest(['internal-api/read'], '10m');
    const [first] = (await tokensFor(id))['internal-api']!.credentials;
    expect(verifyIndependently(first!.token, await jwksNow()).claims.exp).toBe((T0 + 10 * MIN) / 1000);
    const [second] = (await tokensFor(id))['internal-api']!.credentials;
    expect(second!.jti).not.toBe(first!.jti);
  });

  it('introspection: active with the claims; inactive at once after an early end, for garbage, and for another audience', async () => {
    const id = await activeRequest(['internal-api/admin', 'other-api/any']);
    const targets = await tokensFor(id);
    const tok = targets['internal-api']!.credentials[0]!.token;
    const active = await introspect(tok);
    expect(active.status).toBe(200);
    expect(active.body).toMatchObject({ active: true, token_type: 'Bearer', username: 'alice', sub: 'alice', scope: 'admin', aud: 'https://api.internal' });
    expect((await introspect(tok, 'api', true)).body.active).toBe(true);
    expect((await introspect('not.a.jwt')).body).toEqual({ active: false });
    // A token of another target (audience) is not one of this target's.
    expect((await introspect(targets['other-api']!.credentials[0]!.token)).body).toEqual({ active: false });
    expect((await introspect(tok, 'alice')).status).toBe(403);

    await h.call('POST', `/v1/requests/${id}/revoke`, token('admin'), {});
    // Before the access worker has run: the grant's end alone makes it inactive.
    expect((await introspect(tok)).body).toEqual({ active: false });
    await work();
    expect((await introspect(tok)).body).toEqual({ active: false });
    expect((await h.call('POST', `/v1/requests/${id}/credentials`, token('alice'))).status).toBe(409);
  });

  it('a rotated key stays published until the last token it signed has expired', async () => {
    const id = await activeRequest(['internal-api/read']);
    const [old] = (await tokensFor(id))['internal-api']!.credentials;
    h.source.set(
      configFromYaml(
        yaml(join(dir, 'key-c.pem')).replace(`signingKeyFile: ${join(dir, 'key-c.pem')}`, `signingKeyFile: ${join(dir, 'key-c.pem')}\n    generateKey: true`),
        handle.url,
      ),
    );
    const [fresh] = (await tokensFor(id))['internal-api']!.credentials;
    expect(fresh!.kid).not.toBe(old!.kid);
    const both = await jwksNow();
    expect(both.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([old!.kid, fresh!.kid]));
    expect(verifyIndependently(old!.token, both).header.kid).toBe(old!.kid);
    expect((await introspect(old!.token)).body.active).toBe(true);
    expect((await introspect(fresh!.token)).body.active).toBe(true);
    // Once every token the old key signed has expired, it is no longer published.
    h.clock.advance(16 * MIN);
    const later = await jwksNow();
    expect(later.keys.map((k) => k.kid)).not.toContain(old!.kid);
    expect(later.keys.map((k) => k.kid)).toContain(fresh!.kid);
    expect(() => verifyIndependently(old!.token, later)).toThrow(/not published/);
  });

  it('policy validate refuses reserved claims and a missing key', () => {
    const bad = (entitlement: string, key = `signingKeyFile: ${keyA}`) => `
targets:
  t:
    type: token
    issuer: https://hg.example.com
    audience: x
    ${key}
    entitlements:
      e: ${entitlement}
`;
    expect(() => parseConfig(bad('{ claims: { sub: root } }'), {})).toThrow(/claims\.sub.*is set by Hourglass/s);
    expect(() => parseConfig(bad('{}', `signingKeyFile: ${join(dir, 'absent.pem')}`), {})).toThrow(/signingKeyFile.*does not exist/s);
    expect(() => parseConfig(bad('{}', 'signingKey: nope'), {})).toThrow(/signingKey.*not a private key/s);
  });
});

// The shared contract. The stand-in resource server verifies with jose against the published key
// and honours revocation as one that introspects would.
connectorContract('token', { issuesCredentials: false, issuesOnDemand: true, endsSessions: false, enforcesExpiry: true, canList: false }, async () => {
  const target = parseConfig(yaml(keyA), {}).targets['internal-api']!;
  const connector = new TokenConnector(target);
  const revoked = new Set<number>();
  const use = async (creds: Credentials, audience: string): Promise<ProbeResult> => {
    const issued = (creds.issued as { token: string; serial: number }[] | undefined) ?? [];
    if (issued.length === 0) return 'login-refused';
    try {
      const { payload } = await jwtVerify(issued[0]!.token, createLocalJWKSet({ keys: [connector.tokens.publicKey as never] }), {
        issuer: 'https://hourglass.example.com',
        audience,
      });
      return revoked.has((payload.hourglass as { serial: number }).serial) ? 'login-refused' : 'ok';
    } catch {
      return 'login-refused';
    }
  };
  return {
    factory: tokenConnectorFactory,
    target,
    entitlement: 'read',
    probe: (creds) => use(creds, 'https://api.internal'),
    probeBeyond: (creds) => use(creds, 'https://other.internal'),
    openSession: async () => {
      throw new Error('tokens do not end sessions: not asked');
    },
    secrets: [],
    refused: {},
    onDemand: {
      input: {},
      revoked: async (serials) => serials.forEach((s) => revoked.add(s)),
    },
    teardown: async () => {},
  };
});
