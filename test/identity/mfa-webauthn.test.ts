// Step-up MFA with WebAuthn, on SQLite and PostgreSQL: a real Chromium with the CDP virtual
// authenticator registers a passkey through the HTTP routes and answers step-up challenges;
// an assertion made for one binding is refused for another, a used challenge is refused, and a
// signature counter that goes back (a cloned authenticator) is refused.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOfText } from '../../src/app/identity/step-up.js';
import type { Principal } from '../../src/core/types.js';
import { addVirtualAuthenticator, launchBrowser, type VirtualAuthenticator } from '../support/browser.js';
import { createHttpHarness, freshStoreUrl, T0, type Dialect, type StoreHandle } from '../support/app-harness.js';

/** The browser side of both ceremonies: JSON options in, the credential as JSON out (base64url fields). */
const CEREMONY = `
  const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  const str = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  window.hgCreate = async (o) => {
    const c = await navigator.credentials.create({ publicKey: { ...o, challenge: b64(o.challenge), user: { ...o.user, id: b64(o.user.id) },
      excludeCredentials: (o.excludeCredentials || []).map((x) => ({ ...x, id: b64(x.id) })) } });
    return { id: c.id, rawId: str(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), authenticatorAttachment: c.authenticatorAttachment || undefined,
      response: { clientDataJSON: str(c.response.clientDataJSON), attestationObject: str(c.response.attestationObject), transports: c.response.getTransports() } };
  };
  window.hgGet = async (o) => {
    const c = await navigator.credentials.get({ publicKey: { ...o, challenge: b64(o.challenge), allowCredentials: (o.allowCredentials || []).map((x) => ({ ...x, id: b64(x.id) })) } });
    return { id: c.id, rawId: str(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), authenticatorAttachment: c.authenticatorAttachment || undefined,
      response: { clientDataJSON: str(c.response.clientDataJSON), authenticatorData: str(c.response.authenticatorData), signature: str(c.response.signature),
        userHandle: c.response.userHandle ? str(c.response.userHandle) : undefined } };
  };
`;

const digestA = digestOfText('request A');
const digestB = digestOfText('request B');

describe('step-up MFA with WebAuthn', () => {
  let browser: Browser;
  /** Serves a blank page at http://localhost:PORT: the relying party's origin (a secure context). */
  let site: Server;
  let origin: string;
  beforeAll(async () => {
    browser = await launchBrowser();
    site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>hourglass</title>'));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    origin = `http://localhost:${(site.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
  });

  for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
    describe(`on ${dialect}`, () => {
      let handle: StoreHandle;
      let h: Awaited<ReturnType<typeof createHttpHarness>>;
      let page: Page;
      let authenticator: VirtualAuthenticator;
      beforeAll(async () => {
        handle = await freshStoreUrl(dialect);
        h = await createHttpHarness({ yaml: `server: { publicUrl: "${origin}" }\n`, storeUrl: handle.url, now: T0 });
        const context = await browser.newContext();
        page = await context.newPage();
        await page.goto(origin);
        await page.evaluate(CEREMONY);
        authenticator = await addVirtualAuthenticator(page);
      });
      afterAll(async () => {
        await page?.context().close();
        await h?.close();
        await handle?.cleanup();
      });

      const create = (options: unknown) => page.evaluate((o) => (window as unknown as { hgCreate(o: unknown): Promise<unknown> }).hgCreate(o), options);
      const get = (options: unknown) => page.evaluate((o) => (window as unknown as { hgGet(o: unknown): Promise<{ id: string }> }).hgGet(o), options);

      it('registers a passkey, then proves step-ups bound to their request; another binding, a reused challenge and a counter going back are refused', async () => {
        const s = await h.system.signIn.signIn(
          { provider: 'oidc:corp', subject: 's-kim', principalId: 'kim@example.com', groups: ['eng'], amr: ['pwd'] },
          { client: 'cli' },
        );
        const kim: Principal = (await h.system.sessions.authenticate(s.secret, false))!;

        // Registration: rpId and origin from server.publicUrl.
        const options = await h.call('POST', '/v1/mfa/webauthn/options', s.secret, {});
        expect(options.status).toBe(200);
        expect(options.body.options.rp).toEqual({ id: 'localhost', name: 'Hourglass' });
        expect(options.body.options.authenticatorSelection.userVerification).toBe('preferred');
        const response = await create(options.body.options);
        // A response for another registration (its challenge) is refused.
        const other = await h.call('POST', '/v1/mfa/webauthn/options', s.secret, {});
        const mixed = await h.call('POST', '/v1/mfa/webauthn', s.secret, { registrationId: other.body.registrationId, response });
        expect(mixed.status).toBe(403);
        expect(mixed.body.error.code).toBe('HG_MFA_FAILED');
        const registered = await h.call('POST', '/v1/mfa/webauthn', s.secret, { registrationId: options.body.registrationId, response, label: 'laptop' });
        expect(registered.status).toBe(201);
        expect(registered.body.factor).toMatchObject({ kind: 'webauthn', status: 'active', label: 'laptop' });
        expect(registered.body.recoveryCodes).toHaveLength(10);
        // Registering anything more now needs a step-up proof; the authenticator is excluded from new options.
        const again = await h.call('POST', '/v1/mfa/webauthn', s.secret, { registrationId: options.body.registrationId, response });
        expect(again.status).toBe(403);
        expect(again.body.error.code).toBe('HG_MFA_REQUIRED');
        const next = await h.call('POST', '/v1/mfa/webauthn/options', s.secret, {});
        expect(next.body.options.excludeCredentials.map((c: { id: string }) => c.id)).toEqual([(response as { id: string }).id]);

        // A step-up for request A.
        const A = { action: 'approve' as const, requestId: 'req_A', digest: digestA };
        const B = { action: 'approve' as const, requestId: 'req_B', digest: digestB };
        const cA = await h.call('POST', '/v1/mfa/challenges', s.secret, A);
        expect(cA.status).toBe(201);
        expect(cA.body.methods).toEqual(['webauthn', 'recovery_code']);
        expect(cA.body.webauthn.rpId).toBe('localhost');
        const assertionA = await get(cA.body.webauthn);
        // Presented for request B with B's own challenge: the signed challenge is A's, so it fails.
        const cB = await h.system.stepUp.challenge(kim, B);
        await expect(h.system.stepUp.verify(kim, B, { challenge: cB.id, webauthn: assertionA as never })).rejects.toMatchObject({ code: 'HG_MFA_FAILED' });
        // Presented for request B with A's challenge id: the binding differs.
        await expect(h.system.stepUp.verify(kim, B, { challenge: cA.body.id, webauthn: assertionA as never })).rejects.toMatchObject({ code: 'HG_MFA_FAILED' });
        // That consumed A's challenge: a fresh one for A, then accepted once.
        const cA2 = await h.system.stepUp.challenge(kim, A);
        const assertionA2 = await get(cA2.webauthn);
        expect(await h.system.stepUp.verify(kim, A, { challenge: cA2.id, webauthn: assertionA2 as never })).toEqual({ method: 'webauthn', at: h.clock.now() });
        await expect(h.system.stepUp.verify(kim, A, { challenge: cA2.id, webauthn: assertionA2 as never })).rejects.toMatchObject({ code: 'HG_MFA_FAILED' });

        // A clone of the authenticator (its signature counter set back) is refused.
        h.clock.advance(5 * 60_000); // past the failure window the refusals above began
        const { credentials } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.authenticatorId });
        expect(credentials).toHaveLength(1);
        const stored = await h.store.db.selectFrom('mfa_factors').select('counter').where('kind', '=', 'webauthn').executeTakeFirstOrThrow();
        expect(Number(stored.counter)).toBeGreaterThan(0);
        await authenticator.cdp.send('WebAuthn.removeCredential', {
          authenticatorId: authenticator.authenticatorId,
          credentialId: credentials[0]!.credentialId,
        });
        await authenticator.cdp.send('WebAuthn.addCredential', {
          authenticatorId: authenticator.authenticatorId,
          credential: { ...credentials[0]!, signCount: 0 },
        });
        const cA3 = await h.system.stepUp.challenge(kim, A);
        await expect(h.system.stepUp.verify(kim, A, { challenge: cA3.id, webauthn: (await get(cA3.webauthn)) as never })).rejects.toMatchObject({
          code: 'HG_MFA_FAILED',
        });

        const reasons = (await h.store.listAudit({ type: 'mfa.failed', limit: 100 })).events.map((e) => (e.details as { reason: string }).reason);
        expect(reasons).toEqual(['bad_attestation', 'bad_assertion', 'other_binding', 'challenge_used', 'bad_assertion']);
        const verified = (await h.store.listAudit({ type: 'mfa.verified', limit: 100 })).events;
        expect(verified.map((e) => e.details)).toEqual([
          expect.objectContaining({
            principal: 'kim@example.com',
            method: 'webauthn',
            action: 'approve',
            requestId: 'req_A',
            factor: registered.body.factor.id,
          }),
        ]);
        // No assertion or signature in any event.
        expect(JSON.stringify(await h.store.listAudit({ limit: 1000 }))).not.toContain(
          (assertionA2 as unknown as { response: { signature: string } }).response.signature,
        );
      });
    });
  }
});
