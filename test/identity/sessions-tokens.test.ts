// Sessions (idle and absolute timeouts, cookie vs bearer, sign-out everywhere), personal access
// tokens (scopes, expiry, revocation, shown once, stored hashed) and machine principals (their
// tokens, policies naming them, retirement ending their grants at once), on SQLite and PostgreSQL.
import { generateKeyPairSync, hash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenHash } from '../fixtures/policies.js';
import { TOKEN_CACHE_MS } from '../../src/app/identity/tokens.js';
import { sharedHttpHarness, token, type Dialect } from '../support/app-harness.js';

const MIN = 60_000;
const dir = mkdtempSync(join(tmpdir(), 'hg-identity-'));
const keyFile = join(dir, 'key.pem');
writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });

const YAML = `
server: { publicUrl: "https://hourglass.example.com" }
identity:
  sessions: { idleTimeout: 30m, absoluteTimeout: 8h, cliTokenLifetime: 15m }
  tokens: { maxLifetime: 30d, defaultLifetime: 7d }
  roles: [{ group: hg-auditors, roles: [auditor] }, { group: gateways, roles: [checker] }]
principals:
  - { id: admin, roles: [admin], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
  api:
    type: token
    issuer: https://hourglass.example.com
    audience: https://api.internal
    signingKeyFile: ${keyFile}
    entitlements: { deploy: {}, read: {} }
policies:
  - { name: ci, subjects: { groups: [ci] }, entitlements: [api/deploy], maxDuration: 1h, reason: optional, approval: { required: 0 } }
  - { name: people, subjects: { groups: [eng] }, entitlements: [api/read], maxDuration: 1h, reason: optional, approval: { required: 0 } }
`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`identity on ${dialect}`, () => {
    const h = sharedHttpHarness(dialect, YAML);

    const signIn = (sub: string, id: string, groups: string[], client: 'browser' | 'cli' = 'browser') =>
      h.system.signIn.signIn({ provider: 'oidc:corp', subject: sub, principalId: id, groups, amr: ['pwd'] }, { client, ip: '203.0.113.5' });
    const cookie = (secret: string) => ({ cookie: `__Host-hourglass_session=${secret}` });

    it('a browser session: cookie only, idle and absolute timeouts, CSRF on writes, listed and signed out', async () => {
      const s = await signIn('s-carol', 'carol@example.com', ['eng', 'hg-auditors']);
      expect(s.secret).toMatch(/^hgs_/);
      // The cookie works; the same secret as a bearer token does not (a cookie is no API token).
      const me = await h.call('GET', '/v1/auth/session', undefined, undefined, cookie(s.secret));
      expect(me.status).toBe(200);
      expect(me.body.principal).toEqual({ id: 'carol@example.com', groups: ['eng', 'hg-auditors'], roles: ['auditor'] });
      expect(me.body.csrfToken).toBe(s.csrf);
      expect((await h.call('GET', '/v1/me', s.secret)).status).toBe(401);
      // The cookie prefix binds it to https: the plain name is not read when publicUrl is https.
      expect((await h.call('GET', '/v1/me', undefined, undefined, { cookie: `hourglass_session=${s.secret}` })).status).toBe(401);
      // Writes need the CSRF token.
      const body = { entitlements: ['api/read'], duration: '30m' };
      expect((await h.call('POST', '/v1/requests', undefined, body, cookie(s.secret))).status).toBe(403);
      expect((await h.call('POST', '/v1/requests', undefined, body, { ...cookie(s.secret), 'x-csrf-token': s.csrf })).status).toBe(201);
      // Activity keeps it alive; 30 idle minutes end it.
      h.clock.advance(25 * MIN);
      expect((await h.call('GET', '/v1/me', undefined, undefined, cookie(s.secret))).status).toBe(200);
      h.clock.advance(25 * MIN);
      expect((await h.call('GET', '/v1/me', undefined, undefined, cookie(s.secret))).status).toBe(200);
      h.clock.advance(31 * MIN);
      expect((await h.call('GET', '/v1/me', undefined, undefined, cookie(s.secret))).status).toBe(401);
      // The absolute timeout ends a session however busy.
      const busy = await signIn('s-carol', 'carol@example.com', ['eng']);
      for (let t = 0; t < 8 * 60; t += 20) {
        h.clock.advance(20 * MIN);
        const status = (await h.call('GET', '/v1/me', undefined, undefined, cookie(busy.secret))).status;
        expect(status, `at ${t + 20} min`).toBe(t + 20 < 8 * 60 ? 200 : 401);
      }
    });

    it("sign out everywhere ends every session; an admin can list and end anyone's", async () => {
      const a = await signIn('s-dave', 'dave@example.com', ['eng']);
      const b = await signIn('s-dave', 'dave@example.com', ['eng'], 'cli');
      expect(b.secret).toMatch(/^hga_/);
      expect((await h.call('GET', '/v1/me', b.secret)).status).toBe(200);
      const listed = await h.call('GET', '/v1/sessions?principal=dave@example.com', token('admin'));
      expect(listed.body.sessions.map((x: { id: string }) => x.id).sort()).toEqual([a.session.id, b.session.id].sort());
      expect((await h.call('GET', '/v1/sessions?principal=admin', b.secret)).status).toBe(403);
      const out = await h.call('POST', '/v1/sessions/revoke-all', b.secret, {});
      expect(out.body).toEqual({ sessions: 2 });
      expect((await h.call('GET', '/v1/me', b.secret)).status).toBe(401);
      expect((await h.call('GET', '/v1/me', undefined, undefined, cookie(a.secret))).status).toBe(401);
      const types = (await h.store.listAudit({ limit: 500 })).events.map((e) => e.type);
      expect(types).toContain('auth.sessions_revoked');
    });

    it('personal access tokens: shown once, stored hashed, scoped, expiring, revocable by owner and admin', async () => {
      const s = await signIn('s-erin', 'erin@example.com', ['eng'], 'cli');
      const made = await h.call('POST', '/v1/tokens', s.secret, { name: 'laptop', scopes: ['read'], expiresIn: '1d' });
      expect(made.status).toBe(201);
      const pat = made.body.token as string;
      expect(pat).toMatch(/^hgp_[\w-]{43}$/);
      // Only the digest is stored.
      const rows = await h.store.db.selectFrom('api_tokens').selectAll().execute();
      expect(rows.some((r) => r.digest === hash('sha256', pat))).toBe(true);
      expect(JSON.stringify(rows)).not.toContain(pat);
      // The token reads, but cannot request: it lacks the scope.
      expect((await h.call('GET', '/v1/me', pat)).body.id).toBe('erin@example.com');
      const refused = await h.call('POST', '/v1/requests', pat, { entitlements: ['api/read'], duration: '30m' });
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toMatch(/request scope/);
      // A scoped token cannot mint a broader one.
      expect((await h.call('POST', '/v1/tokens', pat, { name: 'wider', scopes: ['read', 'request'] })).status).toBe(403);
      // Over the maximum lifetime, unknown scopes: refused.
      expect((await h.call('POST', '/v1/tokens', s.secret, { name: 'x', scopes: ['read'], expiresIn: '31d' })).status).toBe(400);
      expect((await h.call('POST', '/v1/tokens', s.secret, { name: 'x', scopes: ['root'] })).status).toBe(400);
      const listed = await h.call('GET', '/v1/tokens', pat);
      expect(listed.body.tokens).toEqual([expect.objectContaining({ id: made.body.id, name: 'laptop', scopes: ['read'] })]);
      expect(JSON.stringify(listed.body)).not.toContain(pat);
      // Revoked by an admin: stops at once.
      expect((await h.call('POST', `/v1/tokens/${made.body.id}/revoke`, token('admin'))).body).toEqual({ revoked: true });
      expect((await h.call('GET', '/v1/me', pat)).status).toBe(401);
      // Another token expires on time.
      const short = await h.call('POST', '/v1/tokens', s.secret, { name: 'short', scopes: ['read'], expiresIn: '10m' });
      h.clock.advance(9 * MIN);
      expect((await h.call('GET', '/v1/me', short.body.token)).status).toBe(200);
      h.clock.advance(2 * MIN);
      expect((await h.call('GET', '/v1/me', short.body.token)).status).toBe(401);
      // Someone else's token is not found for a non-admin.
      const other = await signIn('s-frank', 'frank@example.com', ['eng'], 'cli');
      expect((await h.call('POST', `/v1/tokens/${short.body.id}/revoke`, other.secret)).status).toBe(404);
      const types = (await h.store.listAudit({ limit: 500 })).events.map((e) => e.type);
      expect(types).toContain('token.created');
      expect(types).toContain('token.revoked');
    });

    it('machine principals: registered by an admin, named by policies, retired with their grants ended at once', async () => {
      expect((await h.call('POST', '/v1/machines', token('admin'), { id: 'deploy-bot', groups: ['ci'], description: 'CI deploys' })).status).toBe(200);
      expect((await h.call('POST', '/v1/machines', token('admin'), { id: 'admin', groups: [] })).status).toBe(409);
      // A person cannot mint tokens for a machine, nor for anyone else.
      const s = await signIn('s-gina', 'gina@example.com', ['eng'], 'cli');
      expect((await h.call('POST', '/v1/tokens', s.secret, { name: 'x', scopes: ['request'], principal: 'deploy-bot' })).status).toBe(403);
      // A person's principal is no machine.
      expect((await h.call('POST', '/v1/tokens', token('admin'), { name: 'x', scopes: ['request'], principal: 'gina@example.com' })).status).toBe(400);
      const made = await h.call('POST', '/v1/tokens', token('admin'), { name: 'pipeline', scopes: ['request', 'read'], principal: 'deploy-bot' });
      const bot = made.body.token as string;
      const req = await h.call('POST', '/v1/requests', bot, { entitlements: ['api/deploy'], duration: '30m' });
      expect(req.status).toBe(201);
      expect(['active', 'scheduled']).toContain(req.body.status); // eligible by its group: approval.required 0
      // The machine cannot sign in through an identity provider.
      await expect(
        h.system.signIn.signIn({ provider: 'oidc:corp', subject: 'x', principalId: 'deploy-bot', amr: [] }, { client: 'browser' }),
      ).rejects.toMatchObject({
        code: 'HG_IDENTITY_CONFLICT',
      });
      const retired = await h.call('POST', '/v1/machines/deploy-bot/retire', token('admin'));
      expect(retired.body).toMatchObject({ revoked: [req.body.id], tokens: 1 });
      expect((await h.call('GET', '/v1/me', bot)).status).toBe(401);
      expect((await h.app.requests.get({ id: 'admin', groups: [], roles: ['admin'] }, req.body.id)).status).toBe('revoked');
      const ev = (await h.store.listAudit({ limit: 500 })).events.find((e) => e.type === 'principal.deactivated');
      expect(ev?.details).toMatchObject({ principal: 'deploy-bot', via: 'admin', call: 'POST /v1/machines/deploy-bot/retire' });
      // Retired: no sign-in brings it back.
      expect((await h.call('GET', '/v1/me', bot)).status).toBe(401);
    });

    it(`a gateway checking with a machine token looks the token up once per ${TOKEN_CACHE_MS} ms, and its revocation here applies at once`, async () => {
      expect((await h.call('POST', '/v1/machines', token('admin'), { id: 'edge-gw', groups: ['gateways'] })).status).toBe(200);
      const made = await h.call('POST', '/v1/tokens', token('admin'), { name: 'edge', scopes: ['check'], principal: 'edge-gw' });
      const gw = made.body.token as string;
      const identity = h.stores.identity;
      const original = identity.tokenBySecret;
      let lookups = 0;
      identity.tokenBySecret = (digest) => {
        lookups += 1;
        return original.call(identity, digest);
      };
      try {
        for (let i = 0; i < 20; i++) expect((await h.call('GET', '/v1/check?principal=x&entitlement=api/read', gw)).status).toBe(200);
        expect(lookups).toBe(1);
        expect((await h.call('POST', `/v1/tokens/${made.body.id}/revoke`, token('admin'))).status).toBe(200);
        expect((await h.call('GET', '/v1/check?principal=x&entitlement=api/read', gw)).status).toBe(401);
      } finally {
        identity.tokenBySecret = original;
      }
    });
  });
}
