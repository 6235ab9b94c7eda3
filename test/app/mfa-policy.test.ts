// Policies that require step-up MFA (`mfa: { required, maxAge, for }`), over HTTP on SQLite and
// PostgreSQL: submitting, approving and fetching credentials each need a proof bound to that very
// call (TOTP codes from Debian's oathtool), or a recent MFA sign-in at the IdP; a stolen session
// or token alone cannot act, and a proof made for one request serves no other.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tokenHash } from '../fixtures/policies.js';
import { sharedHttpHarness, token, type Dialect } from '../support/app-harness.js';
import { runCli } from '../support/spawn-server.js';

const OATHTOOL = '/usr/bin/oathtool';
if (!existsSync(OATHTOOL)) throw new Error(`${OATHTOOL} is missing: install the Debian package oathtool (scripts/install-test-deps.sh)`);
const run = promisify(execFile);
const oathtool = async (secret: string, ms: number) => (await run(OATHTOOL, ['--totp', '-b', '--now', `@${Math.floor(ms / 1000)}`, secret])).stdout.trim();

const MIN = 60_000;
const dir = mkdtempSync(join(tmpdir(), 'hg-mfa-policy-'));
const keyFile = join(dir, 'key.pem');
writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });

const YAML = `
server: { publicUrl: "https://hourglass.example.com" }
credentials: { key: "${randomBytes(32).toString('base64')}" }
identity:
  oidc:
    - { name: corp, issuer: "https://login.example.com", clientId: hg, clientSecret: s3cret, mfaMethods: [otp] }
principals:
  - { id: admin, roles: [admin], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
  api:
    type: token
    issuer: https://hourglass.example.com
    audience: https://api.internal
    signingKeyFile: ${keyFile}
    entitlements: { deploy: {}, admin: {}, read: {} }
policies:
  - name: deploy
    subjects: { groups: [eng] }
    entitlements: [api/deploy]
    maxDuration: 1h
    reason: optional
    approval: { required: 0 }
    mfa: { required: true, maxAge: 5m, for: [request, credentials] }
  - name: admin
    subjects: { groups: [eng] }
    entitlements: [api/admin]
    maxDuration: 1h
    reason: optional
    approval: { required: 1, approvers: { groups: [leads] } }
    mfa: { required: true, maxAge: 10m, for: [approve] }
  - { name: read, subjects: { groups: [eng] }, entitlements: [api/read], maxDuration: 1h, reason: optional, approval: { required: 0 } }
`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`policies requiring step-up MFA on ${dialect}`, () => {
    const h = sharedHttpHarness(dialect, YAML);

    const signIn = (id: string, groups: string[], facts: { amr?: string[]; authTime?: number } = {}) =>
      h.system.signIn.signIn(
        {
          provider: 'oidc:corp',
          subject: `s-${id}`,
          principalId: id,
          groups,
          amr: facts.amr ?? ['pwd'],
          ...(facts.authTime !== undefined ? { authTime: facts.authTime } : {}),
        },
        { client: 'cli' },
      );

    /** Enrols TOTP for the session's principal; returns a function giving the current code. */
    async function enrolTotp(secret: string) {
      const begun = await h.call('POST', '/v1/mfa/totp', secret, {});
      const totp = begun.body.secret as string;
      expect((await h.call('POST', `/v1/mfa/totp/${begun.body.factorId}/confirm`, secret, { code: await oathtool(totp, h.clock.now()) })).status).toBe(200);
      // Each proof needs a code of a later time step than the last accepted one.
      return async () => {
        h.clock.advance(31_000);
        return oathtool(totp, h.clock.now());
      };
    }

    /** The proof for what an HG_MFA_REQUIRED answer asked for. */
    async function proofFor(secret: string, refused: { body: { error: { details: Record<string, unknown> } } }, code: string) {
      const { action, requestId, digest } = refused.body.error.details as { action: string; requestId?: string; digest: string };
      const ch = await h.call('POST', '/v1/mfa/challenges', secret, { action, digest, ...(requestId ? { requestId } : {}) });
      expect(ch.status).toBe(201);
      return { challenge: ch.body.id as string, totp: code };
    }

    it('submitting needs a proof bound to that very submission; a policy without mfa needs none', async () => {
      const s = await signIn('dana@example.com', ['eng']);
      const code = await enrolTotp(s.secret);
      const ask = { entitlements: ['api/deploy'], duration: '30m' };
      const refused = await h.call('POST', '/v1/requests', s.secret, ask);
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({
        code: 'HG_MFA_REQUIRED',
        details: { action: 'request', digest: expect.stringMatching(/^[0-9a-f]{64}$/), maxAgeSeconds: 300 },
      });
      // A proof made for this submission does not carry a longer one.
      const proof = await proofFor(s.secret, refused, await code());
      const longer = await h.call('POST', '/v1/requests', s.secret, { ...ask, duration: '1h', mfa: proof });
      expect(longer.status).toBe(403);
      expect(longer.body.error.code).toBe('HG_MFA_FAILED');
      const ok = await h.call('POST', '/v1/requests', s.secret, { ...ask, mfa: await proofFor(s.secret, refused, await code()) });
      expect(ok.status).toBe(201);
      expect(['active', 'scheduled']).toContain(ok.body.status); // approval.required 0: granted
      // The proof works once.
      const again = await h.call('POST', '/v1/requests', s.secret, { ...ask, mfa: proof });
      expect(again.body.error.code).toBe('HG_MFA_FAILED');
      expect((await h.call('POST', '/v1/requests', s.secret, { entitlements: ['api/read'], duration: '10m' })).status).toBe(201);
      const verified = (await h.store.listAudit({ type: 'mfa.verified', limit: 50 })).events.filter((e) => e.actor === 'dana@example.com');
      expect(verified.at(-1)!.details).toMatchObject({ action: 'request', method: 'totp' });
    });

    it('fetching credentials needs its own proof; a recent MFA sign-in at the IdP counts instead, a stale one does not', async () => {
      // Signed in with MFA (amr otp, the provider's mfaMethods) just now: no proof needed while it is recent.
      const fresh = await signIn('erin@example.com', ['eng'], { amr: ['pwd', 'otp'], authTime: h.clock.now() });
      const granted = await h.call('POST', '/v1/requests', fresh.secret, { entitlements: ['api/deploy'], duration: '30m' });
      expect(granted.status).toBe(201);
      // The grant becomes active once the access work has run for it.
      await expect
        .poll(async () => {
          await h.system.access.runOnce();
          return (await h.call('GET', `/v1/requests/${granted.body.id}`, token('admin'))).body.status;
        })
        .toBe('active');
      expect((await h.call('POST', `/v1/requests/${granted.body.id}/credentials`, fresh.secret, {})).status).toBe(200);
      h.clock.advance(6 * MIN); // past maxAge 5m
      const stale = await h.call('POST', `/v1/requests/${granted.body.id}/credentials`, fresh.secret, {});
      expect(stale.status).toBe(403);
      expect(stale.body.error).toMatchObject({ code: 'HG_MFA_REQUIRED', details: { action: 'credentials', requestId: granted.body.id } });
      const code = await enrolTotp(fresh.secret);
      const proof = await proofFor(fresh.secret, stale, await code());
      const ok = await h.call('POST', `/v1/requests/${granted.body.id}/credentials`, fresh.secret, { mfa: proof });
      expect(ok.status).toBe(200);
      expect(Object.keys(ok.body.targets)).toEqual(['api']);
      // A session whose IdP reported no MFA method never counts, however recent.
      const plain = await signIn('fred@example.com', ['eng'], { amr: ['pwd'], authTime: h.clock.now() });
      expect((await h.call('POST', '/v1/requests', plain.secret, { entitlements: ['api/deploy'], duration: '30m' })).body.error.code).toBe('HG_MFA_REQUIRED');
    });

    it("approving needs the approver's proof for that request; a token or a file principal cannot give one", async () => {
      const requester = await signIn('gina@example.com', ['eng']);
      const pending = await h.call('POST', '/v1/requests', requester.secret, { entitlements: ['api/admin'], duration: '30m' });
      expect(pending.body.status).toBe('pending');
      expect(pending.body.awaiting[0].mfaMaxAgeSeconds).toBe(600);
      const other = await h.call('POST', '/v1/requests', requester.secret, { entitlements: ['api/admin'], duration: '20m' });
      const lead = await signIn('lee@example.com', ['leads']);
      const code = await enrolTotp(lead.secret);
      const refused = await h.call('POST', `/v1/requests/${pending.body.id}/approve`, lead.secret, {});
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'HG_MFA_REQUIRED', details: { action: 'approve', requestId: pending.body.id } });
      // A proof for this request is refused for the other one.
      const proof = await proofFor(lead.secret, refused, await code());
      const wrong = await h.call('POST', `/v1/requests/${other.body.id}/approve`, lead.secret, { mfa: proof });
      expect(wrong.body.error.code).toBe('HG_MFA_FAILED');
      expect((await h.call('GET', `/v1/requests/${other.body.id}`, token('admin'))).body.status).toBe('pending');
      const ok = await h.call('POST', `/v1/requests/${pending.body.id}/approve`, lead.secret, { mfa: await proofFor(lead.secret, refused, await code()) });
      expect(ok.status).toBe(200);
      expect(ok.body.approvals.map((a: { by: string }) => a.by)).toEqual(['lee@example.com']);
      // The lead's personal access token alone cannot approve: tokens carry no MFA sign-in and cannot prove.
      const pat = await h.call('POST', '/v1/tokens', lead.secret, { name: 'ci', scopes: ['approve', 'read'] });
      const byToken = await h.call('POST', `/v1/requests/${other.body.id}/approve`, pat.body.token, {});
      expect(byToken.body.error.code).toBe('HG_MFA_REQUIRED');
      // Someone who may not approve gets the usual refusal, not an MFA prompt.
      const stranger = await signIn('sam@example.com', ['eng']);
      expect((await h.call('POST', `/v1/requests/${other.body.id}/approve`, stranger.secret, {})).body.error.code).not.toMatch(/^HG_MFA/);
    });

    it('the CLI answers the MFA prompt with --otp: hourglass request and approve', async () => {
      const base = await h.server.listen({ host: '127.0.0.1', port: 0 });
      const asker = await signIn('olga@example.com', ['eng']);
      const askerCode = await enrolTotp(asker.secret);
      const cli = (secret: string, args: string[]) => runCli([...args, '--json'], { HOURGLASS_URL: base, HOURGLASS_TOKEN: secret });
      const without = await cli(asker.secret, ['request', 'api/deploy', '--for', '15m']);
      expect(without.code).not.toBe(0);
      expect(without.code).toBe(3);
      expect(without.stderr).toContain('HG_MFA_REQUIRED');
      expect(without.stderr).toContain('--otp');
      const code = await askerCode();
      const asked = await cli(asker.secret, ['request', 'api/deploy', '--for', '15m', '--otp', code]);
      expect(asked.code, asked.stderr).toBe(0);
      expect(JSON.parse(asked.stdout).requester).toBe('olga@example.com');
      expect(asked.stdout + asked.stderr).not.toContain(code);
      const pending = await h.call('POST', '/v1/requests', asker.secret, { entitlements: ['api/admin'], duration: '15m' });
      const lead = await signIn('lia@example.com', ['leads']);
      const leadCode = await enrolTotp(lead.secret);
      const wrong = await cli(lead.secret, ['approve', pending.body.id, '--otp', '000000']);
      expect(wrong.stderr).toContain('HG_MFA_FAILED');
      const approved = await cli(lead.secret, ['approve', pending.body.id, '--otp', await leadCode()]);
      expect(approved.code, approved.stderr).toBe(0);
      expect(JSON.parse(approved.stdout).approvals.map((a: { by: string }) => a.by)).toEqual(['lia@example.com']);
    });

    it('explain tells the requester which step-up MFA each action needs, before they ask', async () => {
      const s = await signIn('erin@example.com', ['eng']);
      const explain = async (q: string) => (await h.call('GET', `/v1/policies/explain?${q}`, s.secret)).body;
      expect((await explain('entitlement=api/deploy')).requires.mfa).toEqual({ request: 300, approve: null, credentials: 300 });
      expect((await explain('entitlement=api/admin')).requires.mfa).toEqual({ request: null, approve: 600, credentials: null });
      expect((await explain('entitlement=api/deploy,api/admin')).requires.mfa).toEqual({ request: 300, approve: 600, credentials: 300 });
      expect((await explain('entitlement=api/read')).requires.mfa).toBeNull();
      const listed = (await h.call('GET', '/v1/entitlements', s.secret)).body.entitlements as { entitlement: string; policies: { mfa?: unknown }[] }[];
      expect(listed.find((e) => e.entitlement === 'api/deploy')!.policies[0]!.mfa).toEqual({ for: ['credentials', 'request'], maxAge: 300_000 });
      expect(listed.find((e) => e.entitlement === 'api/read')!.policies[0]!.mfa).toBeUndefined();
      const address = h.server.server.address();
      const base = address && typeof address === 'object' ? `http://127.0.0.1:${address.port}` : await h.server.listen({ host: '127.0.0.1', port: 0 });
      const text = await runCli(['policy', 'explain', '--entitlement', 'api/deploy'], { HOURGLASS_URL: base, HOURGLASS_TOKEN: s.secret });
      expect(text.stdout).toContain('requires: step-up MFA for requesting (5m), fetching credentials (5m)');
    });

    it('the configuration says exactly what it accepts', async () => {
      const { parseConfig } = await import('../support/config.js');
      const base = (mfa: string) => YAML.replace('mfa: { required: true, maxAge: 5m, for: [request, credentials] }', mfa);
      const deploy = (c: ReturnType<typeof parseConfig>) => c.policies.find((p) => p.name === 'deploy')!;
      expect(deploy(parseConfig(base('mfa: { required: true }'))).mfa).toEqual({ for: ['approve', 'credentials', 'request'], maxAgeMs: 5 * MIN });
      expect(deploy(parseConfig(base('mfa: { required: false, maxAge: 1h }'))).mfa).toBeUndefined();
      expect(() => parseConfig(base('mfa: { required: true, maxAge: 30s }'))).toThrow(/mfa\.maxAge: must be between 1m and 12h/);
      expect(() => parseConfig(base('mfa: { required: true, for: [login] }'))).toThrow(/mfa\.for/);
      expect(() => parseConfig(base('mfa: { required: true, for: [] }'))).toThrow(/must name at least one of request, approve, credentials/);
    });
  });
}
