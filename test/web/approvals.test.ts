// The Approvals inbox end to end in real Chromium against a real server: an approver sees what
// each entitlement gives on its target (token claims, SSH logins), the requester's history and
// risk hints (first time, outside usual hours, long duration, break-glass); decides two requests
// at once, one of which the server refuses (step-up MFA) and says so, then approves it through the
// MFA prompt with a TOTP code from Debian's oathtool; a reviewer reviews a
// break-glass grant with a required comment. axe-core on every state shown; desktop and phone.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/types.js';
import { enrolTotp, expectAccessible, screenshot, startUi, totpNext } from './support/ui-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-ui-approvals-'));
const keyFile = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });
  return path;
};

/** A fixed-offset zone where it is 02:xx now: outside usual hours whatever the day (Etc/GMT-3 is UTC+3). */
function zoneAtTwoAm(now = new Date()): string {
  let offset = (((2 - now.getUTCHours()) % 24) + 24) % 24;
  if (offset > 14) offset -= 24;
  return offset === 0 ? 'Etc/GMT' : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}
const ZONE = zoneAtTwoAm();

const YAML = `
credentials: { key: "${randomBytes(32).toString('base64')}" }
principals:
  - { id: alice, groups: [eng], password: "\${HASH_alice}" }
  - { id: bob, groups: [leads], password: "\${HASH_bob}" }
  - { id: rita, groups: [reviewers], password: "\${HASH_rita}" }
targets:
  api:
    type: token
    issuer: https://hourglass.example.com
    audience: https://api.internal
    signingKeyFile: ${keyFile('token.pem')}
    entitlements:
      deploy: { description: Deploy to production, claims: { scope: deploy, env: [prod] } }
      read: { claims: { scope: read } }
  hosts:
    type: ssh
    ca: { keyFile: ${keyFile('ca.pem')} }
    entitlements:
      login: { principals: [deploy], extensions: [permit-pty] }
  db:
    type: hourglass
    entitlements:
      root: { description: Everything on the demo database }
policies:
  - name: eng-api
    subjects: { groups: [eng] }
    entitlements: [api/deploy, hosts/login]
    maxDuration: 8h
    reason: required
    approval: { required: 1, approvers: { groups: [leads] } }
    when: { timezone: "${ZONE}" }
  - name: eng-read
    subjects: { groups: [eng] }
    entitlements: [api/read]
    maxDuration: 8h
    reason: required
    approval: { required: 1, approvers: { groups: [leads] } }
    mfa: { required: true, maxAge: 5m, for: [approve] }
  - name: break-glass
    subjects: { groups: [eng] }
    entitlements: [db/root]
    maxDuration: 1h
    reason: required
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { groups: [reviewers] }, within: 24h }
`;

const alice: Principal = { id: 'alice', groups: ['eng'], roles: [] };

describe('the Approvals inbox', () => {
  const ui = startUi(YAML, ['alice', 'bob', 'rita']);
  const ask = async (entitlements: string[], duration: string, extra: { breakGlass?: boolean } = {}) =>
    (await ui.hg.app.requests.submit(alice, { entitlements, duration, reason: `need ${entitlements.join(' ')}`, ...extra })).request;

  it('shows what the entitlements give, the history and the risk hints; desktop and phone', async () => {
    const earlier = await ask(['hosts/login'], '1h');
    await ui.hg.app.requests.deny(earlier.id, { id: 'bob', groups: ['leads'], roles: [] }, 'not now');
    const req = await ask(['api/deploy', 'hosts/login'], '7h');

    const bob = await ui.signedIn('bob');
    await bob.page.getByRole('link', { name: 'Approvals' }).click();
    const card = bob.page.getByRole('article', { name: /api\/deploy, hosts\/login/ });
    await expect.poll(() => card.innerText()).toContain('Recent history of alice');
    const text = await card.innerText();
    // What it gives: the token's claims and the certificate's logins.
    expect(text).toContain('Claims');
    expect(text).toContain('scope=deploy, env=["prod"]');
    expect(text).toContain('Logins (principals)');
    expect(text).toContain('permit-pty');
    // Hints: first time for api/deploy only (hosts/login was asked before), outside usual hours, 7h of 8h.
    const hints = card.getByRole('list', { name: 'Risk hints' });
    expect(await hints.getByRole('listitem').allInnerTexts()).toEqual([
      'New: First time alice asks for api/deploy.',
      expect.stringMatching(new RegExp(`^Off hours: Requested \\w{3} 02:\\d\\d \\(${ZONE.replace('+', '\\+')}\\)`)),
      'Long: Asks for 88% of the longest duration policy eng-api allows.',
    ]);
    expect(text).toContain(`Usual hours: Mon–Fri 07:00–19:00 (${ZONE})`);
    // History: the denied request for hosts/login.
    expect(text).toMatch(/Denied\s+hosts\/login for 1h, asked/);
    expect(text).toContain('1 more from group leads');
    await expectAccessible(bob.page);
    await screenshot(bob.page, 'approvals');

    const phone = await ui.signedIn('bob', { viewport: { width: 375, height: 800 } });
    await phone.page.getByRole('link', { name: 'Approvals' }).click();
    await expect.poll(() => phone.page.getByRole('article', { name: /api\/deploy, hosts\/login/ }).innerText()).toContain('Recent history of alice');
    await expectAccessible(phone.page);
    await screenshot(phone.page, 'approvals-phone');
    await phone.context.close();

    await card.getByLabel('Comment (optional)').fill('7h is too long');
    await card.getByRole('button', { name: 'Deny' }).click();
    await expect.poll(() => bob.page.getByText('Nothing is waiting for your decision.').count()).toBe(1);
    expect((await ui.hg.stores.store.getRequest(req.id))?.status).toBe('denied');
    await bob.context.close();
  }, 60_000);

  it('approves two requests with one comment; the one needing step-up MFA is refused and says why', async () => {
    const deploy = await ask(['api/deploy'], '1h');
    const read = await ask(['api/read'], '1h');
    const bob = await ui.signedIn('bob');
    await bob.page.getByRole('link', { name: 'Approvals' }).click();
    await expect.poll(() => bob.page.getByRole('article').count()).toBe(2);
    const all = bob.page.getByLabel('Select all (2)');
    await all.focus();
    await bob.page.keyboard.press('Space'); // as a keyboard user would
    expect(await all.isChecked()).toBe(true);
    expect(await bob.page.getByLabel('Select api/read for alice').isChecked()).toBe(true);
    await bob.page.getByLabel('Select api/read for alice').uncheck();
    expect(await all.evaluate((el) => (el as HTMLInputElement).indeterminate)).toBe(true);
    await bob.page.getByLabel('Select api/read for alice').check();
    await bob.page.getByLabel('Comment for the selected requests (optional)').fill('release train 42');
    await expectAccessible(bob.page);
    await bob.page.getByRole('button', { name: 'Approve selected (2)' }).click();

    const status = bob.page.getByRole('status').filter({ hasText: 'approved' });
    await expect.poll(() => status.innerText()).toContain('1 approved, 1 not decided.');
    const outcome = await status.innerText();
    expect(outcome).toContain('api/deploy for alice: approved');
    expect(outcome).toMatch(/api\/read for alice: not decided\. .+\(HG_MFA_REQUIRED\)/);
    await expect.poll(async () => (await ui.hg.stores.store.getRequest(deploy.id))?.status).toBe('active');
    expect((await ui.hg.stores.store.getRequest(deploy.id))?.approvals[0]).toMatchObject({ by: 'bob', comment: 'release train 42' });
    expect((await ui.hg.stores.store.getRequest(read.id))?.status).toBe('pending');

    // The one left is still there, still selected; approving it alone says the same, in words.
    const left = bob.page.getByRole('article', { name: /api\/read/ });
    await expect.poll(() => bob.page.getByRole('article').count()).toBe(1);
    await left.getByRole('button', { name: 'Approve', exact: true }).click();
    await expect.poll(() => left.getByRole('alert').innerText()).toContain('HG_MFA_REQUIRED');
    expect(await left.innerText()).toContain('needs a fresh second factor (step-up MFA)');
    await expectAccessible(bob.page);

    // Once bob has a second factor, Approve asks for it and approves with the proof bound to this request.
    const secret = await enrolTotp(bob.page);
    await left.getByRole('button', { name: 'Approve', exact: true }).click();
    const dialog = bob.page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await expectAccessible(bob.page);
    await dialog.getByLabel('Code from your authenticator app').fill(await totpNext(secret));
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(async () => (await ui.hg.stores.store.getRequest(read.id))?.status).toBe('active');
    await expect.poll(() => bob.page.getByRole('article').count()).toBe(0);
    const verified = (await ui.hg.stores.store.listAudit({ type: 'mfa.verified', limit: 10 })).events.filter((e) => e.actor === 'bob');
    expect(verified).toHaveLength(1);
    await bob.context.close();
  }, 60_000);

  it('a reviewer reviews a break-glass grant, with a comment required', async () => {
    const bg = await ask(['db/root'], '30m', { breakGlass: true });
    expect(bg.status).toBe('active');
    const rita = await ui.signedIn('rita');
    await rita.page.getByRole('link', { name: 'Approvals' }).click();
    await rita.page.getByRole('heading', { level: 2, name: 'Break-glass grants to review' }).waitFor();
    const card = rita.page.getByRole('article', { name: /db\/root: Active/ });
    await expect.poll(() => card.innerText()).toContain('Break-glass request (policy break-glass)');
    expect(await card.innerText()).toContain('Review due');
    expect(await rita.page.getByText('Nothing is waiting for your decision.').count()).toBe(1);
    await expectAccessible(rita.page);

    await card.getByRole('button', { name: 'Review' }).click();
    await expect.poll(() => card.getByRole('alert').innerText()).toContain('a review needs a comment');
    expect(await card.getByLabel('Review comment (required)').getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(rita.page);
    await card.getByLabel('Review comment (required)').fill('checked the session log: index rebuild');
    await card.getByRole('button', { name: 'Review' }).click();
    await expect.poll(() => rita.page.getByText('No break-glass grant is waiting for your review.').count()).toBe(1);
    expect((await ui.hg.stores.store.getRequest(bg.id))?.review).toMatchObject({ by: 'rita', comment: 'checked the session log: index rebuild' });
    await expectAccessible(rita.page);
    await rita.context.close();
  }, 60_000);
});
