// Step-up MFA with TOTP and recovery codes, on SQLite and PostgreSQL: enrolment through the HTTP
// routes with codes computed by Debian's oathtool from the otpauth:// URI, proofs bound to their
// challenge (another request, an expired or a used challenge refused), no reuse of a code, the
// failure rate limit, recovery codes working once, factor changes guarded by a proof, and the
// IdP's amr/auth_time counting as a recent step-up.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { digestOfText, StepUp, type StepUpProof } from '../../src/app/identity/step-up.js';
import { mfaDigests } from '../../src/app/identity/mfa.js';
import type { Principal } from '../../src/core/types.js';
import { tokenHash } from '../fixtures/policies.js';
import { sharedHttpHarness, token, type Dialect } from '../support/app-harness.js';

const OATHTOOL = '/usr/bin/oathtool';
if (!existsSync(OATHTOOL)) throw new Error(`${OATHTOOL} is missing: install the Debian package oathtool (scripts/install-test-deps.sh)`);
const run = promisify(execFile);
const oathtool = async (secret: string, ms: number) => (await run(OATHTOOL, ['--totp', '-b', '--now', `@${Math.floor(ms / 1000)}`, secret])).stdout.trim();

const MIN = 60_000;
/** A code that is not the one given (nor, but with a chance of 2 in 10^6, another of the window). */
const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
const YAML = `
server: { publicUrl: "https://hourglass.example.com" }
credentials: { key: "${randomBytes(32).toString('base64')}" }
principals:
  - { id: admin, roles: [admin], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
`;

const digestA = digestOfText('request A: db/admin for 1h');
const digestB = digestOfText('request B: db/admin for 8h');

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`step-up MFA with TOTP on ${dialect}`, () => {
    const h = sharedHttpHarness(dialect, YAML);

    const signIn = (id: string, facts: { amr?: string[]; authTime?: number } = {}) =>
      h.system.signIn.signIn(
        {
          provider: 'oidc:corp',
          subject: `s-${id}`,
          principalId: id,
          groups: ['eng'],
          amr: facts.amr ?? ['pwd'],
          ...(facts.authTime !== undefined ? { authTime: facts.authTime } : {}),
        },
        { client: 'cli' },
      );
    const principalOf = async (secret: string): Promise<Principal> => (await h.system.sessions.authenticate(secret, false))!;
    const audit = async (type: string) => (await h.store.listAudit({ type, limit: 500 })).events;

    /** Enrols TOTP over HTTP; returns the secret read from the otpauth:// URI and the recovery codes. */
    async function enrol(secret: string, proof?: StepUpProof) {
      const begun = await h.call('POST', '/v1/mfa/totp', secret, { label: 'phone' });
      expect(begun.status).toBe(201);
      const uri = new URL(begun.body.otpauthUri);
      expect(uri.protocol).toBe('otpauth:');
      expect(uri.searchParams.get('issuer')).toBe('Hourglass');
      expect(begun.body.qrSvg).toMatch(/^<svg/);
      const totpSecret = uri.searchParams.get('secret')!;
      expect(totpSecret).toBe(begun.body.secret);
      const code = await oathtool(totpSecret, h.clock.now());
      const confirmed = await h.call('POST', `/v1/mfa/totp/${begun.body.factorId}/confirm`, secret, { code, ...(proof ? { proof } : {}) });
      return { totpSecret, factorId: begun.body.factorId as string, confirmed };
    }

    it('enrols with the otpauth URI and an oathtool code; the secret is sealed at rest and in no event', async () => {
      const s = await signIn('alice@example.com');
      const begun = await h.call('POST', '/v1/mfa/totp', s.secret, {});
      const totpSecret = new URL(begun.body.otpauthUri).searchParams.get('secret')!;
      // A wrong code is refused and audited; the factor stays pending.
      const wrong = await h.call('POST', `/v1/mfa/totp/${begun.body.factorId}/confirm`, s.secret, {
        code: wrongCode(await oathtool(totpSecret, h.clock.now())),
      });
      expect(wrong.status).toBe(403);
      expect(wrong.body.error.code).toBe('HG_MFA_FAILED');
      expect((await h.call('GET', '/v1/mfa/factors', s.secret)).body.factors.map((f: { status: string }) => f.status)).toEqual(['pending']);
      const ok = await h.call('POST', `/v1/mfa/totp/${begun.body.factorId}/confirm`, s.secret, { code: await oathtool(totpSecret, h.clock.now()) });
      expect(ok.status).toBe(200);
      expect(ok.body.factor).toMatchObject({ id: begun.body.factorId, kind: 'totp', status: 'active' });
      expect(ok.body.recoveryCodes).toHaveLength(10);
      // Confirmed once only.
      expect((await h.call('POST', `/v1/mfa/totp/${begun.body.factorId}/confirm`, s.secret, { code: '123456' })).status).toBe(409);
      const listed = await h.call('GET', '/v1/mfa/factors', s.secret);
      expect(listed.body).toMatchObject({ recoveryCodesLeft: 10, factors: [{ kind: 'totp', status: 'active', label: 'Authenticator app' }] });
      // At rest: sealed (AES-256-GCM), never the base32 secret; recovery codes hashed.
      const rows = await h.store.db.selectFrom('mfa_factors').selectAll().execute();
      expect(rows[0]!.secret).toMatch(/^v1\./);
      const everything = JSON.stringify([
        rows,
        await h.store.db.selectFrom('mfa_recovery_codes').selectAll().execute(),
        (await h.store.listAudit({ limit: 1000 })).events,
      ]);
      expect(everything).not.toContain(totpSecret);
      for (const code of ok.body.recoveryCodes as string[]) expect(everything).not.toContain(code);
      const [enrolled] = await audit('mfa.enrolled');
      expect(enrolled!.details).toMatchObject({ principal: 'alice@example.com', factor: begun.body.factorId, kind: 'totp' });
      expect((await audit('mfa.failed'))[0]!.details).toMatchObject({ principal: 'alice@example.com', method: 'totp', reason: 'wrong_code' });
      expect(await audit('mfa.recovery_codes_generated')).toHaveLength(1);
    });

    it('a proof is bound to its challenge: another request, an expired or a used challenge, a reused code are refused', async () => {
      const s = await signIn('bob@example.com');
      const { totpSecret, confirmed } = await enrol(s.secret);
      expect(confirmed.status).toBe(200);
      const bob = await principalOf(s.secret);
      const A = { action: 'approve' as const, requestId: 'req_A', digest: digestA };
      const B = { action: 'approve' as const, requestId: 'req_B', digest: digestB };
      const failed = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: 'HG_MFA_FAILED' });

      // The code that confirmed the enrolment cannot be used again within its window.
      const c0 = await h.system.stepUp.challenge(bob, A);
      expect(c0.methods).toEqual(['totp', 'recovery_code']);
      await failed(h.system.stepUp.verify(bob, A, { challenge: c0.id, totp: await oathtool(totpSecret, h.clock.now()) }));

      // A challenge for request A does not prove anything about request B (nor the same request with another digest).
      h.clock.advance(30_000);
      const c1 = await h.system.stepUp.challenge(bob, A);
      await failed(h.system.stepUp.verify(bob, B, { challenge: c1.id, totp: await oathtool(totpSecret, h.clock.now()) }));
      const c2 = await h.system.stepUp.challenge(bob, A);
      await failed(h.system.stepUp.verify(bob, { ...A, digest: digestB }, { challenge: c2.id, totp: await oathtool(totpSecret, h.clock.now()) }));
      // Right binding, right code: accepted, once.
      const c3 = await h.system.stepUp.challenge(bob, A);
      const code = await oathtool(totpSecret, h.clock.now());
      expect(await h.system.stepUp.verify(bob, A, { challenge: c3.id, totp: code })).toEqual({ method: 'totp', at: h.clock.now() });
      h.clock.advance(30_000);
      await failed(h.system.stepUp.verify(bob, A, { challenge: c3.id, totp: await oathtool(totpSecret, h.clock.now()) }));
      // An expired challenge is refused.
      const c4 = await h.system.stepUp.challenge(bob, A);
      h.clock.advance(2 * MIN + 1);
      await failed(h.system.stepUp.verify(bob, A, { challenge: c4.id, totp: await oathtool(totpSecret, h.clock.now()) }));
      // Another principal's challenge is unknown to bob (after the failure window, which the five failures above filled).
      h.clock.advance(5 * MIN);
      const carol = await signIn('carol@example.com');
      await enrol(carol.secret);
      const cc = await h.system.stepUp.challenge(await principalOf(carol.secret), A);
      await failed(h.system.stepUp.verify(bob, A, { challenge: cc.id, totp: await oathtool(totpSecret, h.clock.now()) }));

      const reasons = (await audit('mfa.failed')).filter((e) => e.actor === 'bob@example.com').map((e) => (e.details as { reason: string }).reason);
      expect(reasons).toEqual(['wrong_code', 'other_binding', 'other_binding', 'challenge_used', 'challenge_expired', 'unknown_challenge']);
      const [verified] = (await audit('mfa.verified')).filter((e) => e.actor === 'bob@example.com');
      expect(verified!.details).toMatchObject({ principal: 'bob@example.com', method: 'totp', action: 'approve', requestId: 'req_A' });
      expect(verified!.requestId).toBe('req_A');
      // Nothing in the events holds a code or the secret.
      expect(JSON.stringify(await h.store.listAudit({ limit: 1000 }))).not.toContain(totpSecret);
    });

    it('five failed proofs in five minutes lock proofs out for the rest of the window (Retry-After), whatever the code', async () => {
      const s = await signIn('dave@example.com');
      const { totpSecret } = await enrol(s.secret);
      const dave = await principalOf(s.secret);
      const binding = { action: 'mfa' as const, digest: mfaDigests.recoveryCodes() };
      h.clock.advance(30_000);
      // A code that is not 6 digits is a wrong code like any other: it counts.
      const c0 = await h.call('POST', '/v1/mfa/challenges', s.secret, binding);
      expect((await h.call('POST', '/v1/mfa/recovery-codes', s.secret, { proof: { challenge: c0.body.id, totp: 'abcdef' } })).status).toBe(403);
      for (let i = 0; i < 4; i++) {
        const c = await h.call('POST', '/v1/mfa/challenges', s.secret, binding);
        expect(c.status).toBe(201);
        const proof = i % 2 ? { totp: wrongCode(await oathtool(totpSecret, h.clock.now())) } : { recoveryCode: 'aaaa-bbbb-cccc-dddd' };
        const r = await h.call('POST', '/v1/mfa/recovery-codes', s.secret, { proof: { challenge: c.body.id, ...proof } });
        expect(r.status).toBe(403);
        expect(r.body.error.code).toBe('HG_MFA_FAILED');
        h.clock.advance(1000);
      }
      // Five failures: even the right code is refused now.
      const limited = await h.call('POST', '/v1/mfa/challenges', s.secret, binding);
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('HG_RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(200);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(300);
      await expect(h.system.stepUp.verify(dave, binding, { challenge: 'mfc_whatever', totp: await oathtool(totpSecret, h.clock.now()) })).rejects.toMatchObject(
        {
          code: 'HG_RATE_LIMITED',
        },
      );
      // Another principal is not affected.
      const erin = await signIn('erin@example.com');
      const e = await enrol(erin.secret);
      expect(e.confirmed.status).toBe(200);
      // Once the window has passed, the right code works again.
      h.clock.advance(5 * MIN);
      const c = await h.call('POST', '/v1/mfa/challenges', s.secret, binding);
      expect(c.status).toBe(201);
      const r = await h.call('POST', '/v1/mfa/recovery-codes', s.secret, { proof: { challenge: c.body.id, totp: await oathtool(totpSecret, h.clock.now()) } });
      expect(r.status).toBe(200);
      expect(r.body.recoveryCodes).toHaveLength(10);
    });

    it('a recovery code works once; recovery codes are replaced by new ones', async () => {
      const s = await signIn('frank@example.com');
      const { confirmed } = await enrol(s.secret);
      const codes = confirmed.body.recoveryCodes as string[];
      const frank = await principalOf(s.secret);
      const A = { action: 'credentials' as const, requestId: 'req_C', digest: digestA };
      const c1 = await h.system.stepUp.challenge(frank, A);
      // Case and dashes do not matter.
      expect(await h.system.stepUp.verify(frank, A, { challenge: c1.id, recoveryCode: codes[3]!.toUpperCase().replace(/-/g, '') })).toMatchObject({
        method: 'recovery_code',
      });
      const c2 = await h.system.stepUp.challenge(frank, A);
      await expect(h.system.stepUp.verify(frank, A, { challenge: c2.id, recoveryCode: codes[3]! })).rejects.toMatchObject({ code: 'HG_MFA_FAILED' });
      expect((await h.call('GET', '/v1/mfa/factors', s.secret)).body.recoveryCodesLeft).toBe(9);
      // Regenerating needs a proof; the old codes stop working.
      expect((await h.call('POST', '/v1/mfa/recovery-codes', s.secret, {})).body.error.code).toBe('HG_MFA_REQUIRED');
      const c3 = await h.call('POST', '/v1/mfa/challenges', s.secret, { action: 'mfa', digest: mfaDigests.recoveryCodes() });
      const fresh = await h.call('POST', '/v1/mfa/recovery-codes', s.secret, { proof: { challenge: c3.body.id, recoveryCode: codes[0] } });
      expect(fresh.status).toBe(200);
      const c4 = await h.system.stepUp.challenge(frank, A);
      await expect(h.system.stepUp.verify(frank, A, { challenge: c4.id, recoveryCode: codes[1]! })).rejects.toMatchObject({ code: 'HG_MFA_FAILED' });
      const c5 = await h.system.stepUp.challenge(frank, A);
      expect(await h.system.stepUp.verify(frank, A, { challenge: c5.id, recoveryCode: fresh.body.recoveryCodes[0] })).toMatchObject({
        method: 'recovery_code',
      });
    });

    it('a stolen session cannot remove MFA nor enrol its own factor; tokens cannot enrol; a stale pending factor is dropped', async () => {
      const s = await signIn('gina@example.com');
      const { totpSecret, factorId } = await enrol(s.secret);
      // Removing needs a proof, and one bound to removing this factor.
      const noProof = await h.call('POST', `/v1/mfa/factors/${factorId}/remove`, s.secret, {});
      expect(noProof.status).toBe(403);
      expect(noProof.body.error.code).toBe('HG_MFA_REQUIRED');
      // A second enrolment (the thief's own app) needs a proof too.
      const thief = await enrol(s.secret);
      expect(thief.confirmed.status).toBe(403);
      expect(thief.confirmed.body.error.code).toBe('HG_MFA_REQUIRED');
      h.clock.advance(30_000);
      const forOther = await h.call('POST', '/v1/mfa/challenges', s.secret, { action: 'mfa', digest: mfaDigests.remove('mfa_someOtherFactor') });
      const refused = await h.call('POST', `/v1/mfa/factors/${factorId}/remove`, s.secret, {
        proof: { challenge: forOther.body.id, totp: await oathtool(totpSecret, h.clock.now()) },
      });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('HG_MFA_FAILED');
      h.clock.advance(30_000);
      const right = await h.call('POST', '/v1/mfa/challenges', s.secret, { action: 'mfa', digest: mfaDigests.remove(factorId) });
      const removed = await h.call('POST', `/v1/mfa/factors/${factorId}/remove`, s.secret, {
        proof: { challenge: right.body.id, totp: await oathtool(totpSecret, h.clock.now()) },
      });
      expect(removed.body).toEqual({ removed: true });
      expect((await audit('mfa.removed')).some((e) => (e.details as { factor: string }).factor === factorId)).toBe(true);
      // The last factor gone, its recovery codes go too; the thief's pending enrolment is dropped after 10 minutes.
      expect((await h.call('GET', '/v1/mfa/factors', s.secret)).body.recoveryCodesLeft).toBe(0);
      h.clock.advance(10 * MIN);
      expect((await h.call('GET', '/v1/mfa/factors', s.secret)).body.factors).toEqual([]);
      const late = await h.call('POST', `/v1/mfa/totp/${thief.factorId}/confirm`, s.secret, { code: await oathtool(thief.totpSecret, h.clock.now()) });
      expect(late.status).toBe(404);
      // With no factor, a challenge says MFA must be enrolled first.
      expect((await h.call('POST', '/v1/mfa/challenges', s.secret, { action: 'request', digest: digestA })).body.error.code).toBe('HG_MFA_REQUIRED');
      // A personal access token (and a configured API token) cannot enrol.
      const pat = await h.call('POST', '/v1/tokens', s.secret, { name: 'laptop', scopes: ['read', 'request'] });
      expect((await h.call('POST', '/v1/mfa/totp', pat.body.token, {})).status).toBe(403);
      expect((await h.call('POST', '/v1/mfa/totp', token('admin'), {})).status).toBe(403);
    });

    it("the IdP's amr and auth_time count as a recent step-up while within maxAge", async () => {
      const mfaMethods = ['mfa', 'otp', 'hwk'];
      const withOtp = await principalOf((await signIn('hank@example.com', { amr: ['pwd', 'otp'], authTime: h.clock.now() - 2 * MIN })).secret);
      expect(StepUp.recentSignIn(withOtp.auth, 5 * MIN, h.clock.now(), mfaMethods)).toBe(true);
      expect(StepUp.recentSignIn(withOtp.auth, 1 * MIN, h.clock.now(), mfaMethods)).toBe(false);
      expect(StepUp.recentSignIn(withOtp.auth, 5 * MIN, h.clock.now() + 4 * MIN, mfaMethods)).toBe(false);
      // A password alone, or no auth_time, proves nothing.
      const pwd = await principalOf((await signIn('ivy@example.com', { amr: ['pwd'], authTime: h.clock.now() })).secret);
      expect(StepUp.recentSignIn(pwd.auth, 5 * MIN, h.clock.now(), mfaMethods)).toBe(false);
      const noTime = await principalOf((await signIn('jo@example.com', { amr: ['otp'] })).secret);
      expect(StepUp.recentSignIn(noTime.auth, 5 * MIN, h.clock.now(), mfaMethods)).toBe(false);
      // A token never counts, nor an auth_time far in the future.
      expect(StepUp.recentSignIn({ kind: 'token', id: 'tok_x', amr: ['otp'], authTime: h.clock.now() }, 5 * MIN, h.clock.now(), mfaMethods)).toBe(false);
      expect(StepUp.recentSignIn({ kind: 'session', id: 'ses_x', amr: ['otp'], authTime: h.clock.now() + 10 * MIN }, 5 * MIN, h.clock.now(), mfaMethods)).toBe(
        false,
      );
    });
  });
}
