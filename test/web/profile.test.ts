// The Profile page end to end in real Chromium against a real server: your sessions with this one
// marked, another signed out from here (its API calls get 401 and its page shows the sign-in
// page once the live stream ends), this one signed out, sign out everywhere (another tab finds out
// at its next call); a personal access token created (shown once, copied, working as a bearer
// token within its scopes, gone after a reload) and revoked (then 401); an authenticator app
// enrolled through the page with codes from Debian's oathtool (a wrong code refused, recovery
// codes shown and downloaded), a second one confirmed with step-up MFA, new recovery codes and
// both removed through the MFA prompt; a passkey registered and removed with Chromium's virtual
// authenticator. axe-core on every state shown; desktop and phone screenshots.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { addVirtualAuthenticator } from '../support/browser.js';
import { callApi, enrolTotp, expectAccessible, screenshot, startUi, totpNext, totpNow } from './support/ui-harness.js';

const USERS = ['alice', 'sam', 'eve', 'tom', 'tia', 'wes'];
const YAML = `
credentials: { key: "${randomBytes(32).toString('base64')}" }
principals:
${USERS.map((u) => `  - { id: ${u}, groups: [developers], password: "\${HASH_${u}}" }`).join('\n')}
targets:
  demo-db:
    type: hourglass
    entitlements:
      read: { description: Read-only access to the demo database }
policies:
  - name: developers-read
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;

const signInPage = (page: Page) => page.getByRole('heading', { level: 1, name: 'Sign in to Hourglass' });
const session = (page: Page, name: RegExp) => page.getByRole('listitem', { name });

async function gotoProfile(page: Page, user: string) {
  await page.getByRole('link', { name: user, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'Sessions' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'MFA devices' }).waitFor();
  await expect.poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
}

/** The MFA prompt: answers with a TOTP code or a recovery code. */
async function prove(page: Page, answer: { totp: string } | { recoveryCode: string }) {
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.waitFor();
  await expectAccessible(page);
  if ('recoveryCode' in answer) {
    await dialog.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await dialog.getByLabel('Recovery code').fill(answer.recoveryCode);
  } else {
    await dialog.getByLabel('Code from your authenticator app').fill(answer.totp);
  }
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect.poll(() => dialog.count()).toBe(0);
}

/** The recovery codes on the page: checks there are 10 and dismisses them. */
async function takeRecoveryCodes(page: Page): Promise<string[]> {
  await page.getByRole('heading', { name: 'Your new recovery codes' }).waitFor();
  const codes = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
  expect(codes).toHaveLength(10);
  for (const c of codes) expect(c).toMatch(/^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/);
  return codes;
}

describe('the Profile page', () => {
  // WebAuthn refuses IP-address origins: this server is reached at http://localhost:PORT.
  const ui = startUi(YAML, USERS, { host: 'localhost' });
  const bearer = (token: string, method = 'GET', path = '/v1/me', body?: unknown) =>
    fetch(`${ui.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  it('lists your sessions with this one marked; signs another out (it loses access, its page shows sign-in), then this one', async () => {
    const a = await ui.signedIn('sam');
    const b = await ui.signedIn('sam');
    await gotoProfile(a.page, 'sam');
    const who = await a.page.getByRole('region', { name: 'Who you are' }).innerText();
    expect(who).toMatch(/Principal\s+sam/);
    expect(who).toMatch(/Groups\s+developers/);
    expect(who).toMatch(/Signed in with\s+a local password \(browser\)/);
    expect(who).toMatch(/Methods\s+password \(pwd\)/);
    expect(who).toMatch(/Session ends\s+in \d+ hours/);
    await expect.poll(() => a.page.getByRole('region', { name: 'Sessions' }).getByRole('listitem').count()).toBe(2);
    const mine = session(a.page, /\(this session\)$/);
    expect(await mine.count()).toBe(1);
    expect(await mine.innerText()).toMatch(/This session[\s\S]*Signed in with\s+a local password; methods: password \(pwd\)[\s\S]*Address\s+\S+/);
    expect(await mine.innerText()).toMatch(/User agent\s+Mozilla/);
    await expectAccessible(a.page);

    // The other one: signed out from here.
    const other = session(a.page, /^Browser session, Chrome on Linux$/);
    await other.getByRole('button', { name: /^Sign out Browser session/ }).click();
    await a.page.getByText('Signed out that session').waitFor();
    await expect.poll(() => a.page.getByRole('region', { name: 'Sessions' }).getByRole('listitem').count()).toBe(1);
    await expectAccessible(a.page);
    expect((await callApi(b.page, 'GET', '/v1/me')).status).toBe(401);
    // Its page finds out by itself when the live stream checks the session (every 25 s) and ends.
    await signInPage(b.page).waitFor({ timeout: 45_000 });
    expect(await b.page.getByRole('link', { name: 'sam', exact: true }).count()).toBe(0);

    // This one: back to the sign-in page, and the cookie no longer works.
    await session(a.page, /\(this session\)$/)
      .getByRole('button', { name: 'Sign out this session' })
      .click();
    await signInPage(a.page).waitFor();
    expect((await callApi(a.page, 'GET', '/v1/me')).status).toBe(401);
    await a.context.close();
    await b.context.close();
  }, 90_000);

  it('signs out everywhere after a confirmation; another tab finds out at its next call', async () => {
    const a = await ui.signedIn('eve');
    const b = await ui.signedIn('eve');
    await gotoProfile(a.page, 'eve');
    await a.page.getByRole('button', { name: 'Sign out everywhere' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'Sign out everywhere?' });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('all 2, this browser included');
    await expectAccessible(a.page);
    // Cancel first: nothing happens.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    expect((await callApi(b.page, 'GET', '/v1/me')).status).toBe(200);

    await a.page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await dialog.getByRole('button', { name: 'Sign out everywhere' }).click();
    await signInPage(a.page).waitFor();
    await expectAccessible(a.page);
    expect(await ui.hg.stores.store.listAudit({ type: 'auth.sessions_revoked', limit: 10 }).then((r) => r.events.map((e) => e.details))).toContainEqual(
      expect.objectContaining({ principal: 'eve', sessions: 2 }),
    );
    // The other tab, on My access, opens Profile: its first call gets 401 and it shows the sign-in page.
    await b.page.getByRole('link', { name: 'eve', exact: true }).click();
    await signInPage(b.page).waitFor();
    await a.context.close();
    await b.context.close();
  }, 60_000);

  it('creates a token shown once (copied, works as a bearer token within its scopes, gone after a reload) and revokes it', async () => {
    const { context, page } = await ui.signedIn('tom');
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ui.base });
    await gotoProfile(page, 'tom');
    await page.getByText('You have no personal access tokens.').waitFor();

    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog', { name: 'New personal access token' });
    await dialog.waitFor();
    expect(await dialog.getByRole('checkbox', { name: /^read: every GET under \/v1/ }).isChecked()).toBe(true);
    expect(await dialog.getByRole('checkbox').count()).toBe(6);
    await expectAccessible(page);
    await dialog.getByRole('button', { name: 'Create token' }).click();
    await dialog.getByText('Give the token a name').waitFor();
    expect(await dialog.getByLabel('Name').getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(page);
    await dialog.getByLabel('Name').fill('nightly report');
    await dialog.getByLabel('Expires after').selectOption({ label: '7 days' });
    await dialog.getByRole('button', { name: 'Create token' }).click();

    const shown = page.getByRole('dialog', { name: 'Token nightly report created' });
    await shown.waitFor();
    const field = shown.getByRole('textbox', { name: 'New token' });
    const token = await field.inputValue();
    expect(token).toMatch(/^hgp_/);
    expect(await shown.innerText()).toContain('shown only this once');
    await expectAccessible(page);
    await shown.getByRole('button', { name: 'Copy new token' }).click();
    await shown.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);

    // It works as a bearer token, within its scope: read, not request.
    const me = await bearer(token);
    expect(me.status).toBe(200);
    expect(((await me.json()) as { id: string }).id).toBe('tom');
    const write = await bearer(token, 'POST', '/v1/tokens', { name: 'more', scopes: ['read'] });
    expect(write.status).toBe(403);

    await shown.getByRole('button', { name: 'Done, I have copied it' }).click();
    await expect.poll(() => shown.count()).toBe(0);
    expect(await page.content()).not.toContain(token);
    const row = page.getByRole('listitem', { name: 'Token nightly report' });
    await row.waitFor();
    expect(await row.innerText()).toMatch(/Scopes\s+read[\s\S]*Expires\s+in 7 days/);
    await expectAccessible(page);
    await page.reload();
    await row.waitFor();
    expect(await page.content()).not.toContain(token);
    expect(await row.innerText()).toMatch(/Last used\s+(now|\d+ seconds? ago)/);

    await row.getByRole('button', { name: 'Revoke token nightly report' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke token nightly report?' });
    await confirm.waitFor();
    await expectAccessible(page);
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    await page.getByText('Revoked token nightly report: it no longer works.').waitFor();
    await page.getByText('You have no personal access tokens.').waitFor();
    expect((await bearer(token)).status).toBe(401);
    await context.close();
  }, 60_000);

  it('enrols authenticator apps through the page, makes new recovery codes and removes both through the MFA prompt', async () => {
    const { context, page } = await ui.signedIn('tia');
    await gotoProfile(page, 'tia');
    await page.getByText('No MFA factor yet.').waitFor();

    // The first app: no proof needed.
    await page.getByLabel('Name (optional)').fill('Work phone');
    await page.getByRole('button', { name: 'Add authenticator app' }).click();
    const enrol = page.getByRole('region', { name: 'Add an authenticator app' });
    await enrol.waitFor();
    const qr = enrol.getByRole('img', { name: /^QR code for Hourglass \(tia\)/ });
    // The QR code is an SVG data: image, which the CSP allows: it must have loaded.
    await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    const first = (await enrol.locator('.totp-secret').innerText()).replace(/\s+/g, '');
    expect(first).toMatch(/^[A-Z2-7]{16,}$/);
    expect(await page.getByRole('listitem', { name: 'Work phone (Authenticator app, pending)' }).innerText()).toContain('Waiting for a code');
    await expectAccessible(page);
    await screenshot(page, 'profile-totp');
    await enrol.getByLabel('Code from the app').fill('000000');
    await enrol.getByRole('button', { name: 'Confirm' }).click();
    await enrol.getByText('That code was not accepted.').waitFor();
    await expectAccessible(page);
    await enrol.getByLabel('Code from the app').fill(await totpNow(first));
    await enrol.getByRole('button', { name: 'Confirm' }).click();
    const codes1 = await takeRecoveryCodes(page);
    await page.getByRole('status').getByText('Added Work phone. Save your new recovery codes.').waitFor();
    await expectAccessible(page);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download as text' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('hourglass-recovery-codes-tia.txt');
    const text = readFileSync((await file.path())!, 'utf8');
    expect(text).toContain('Hourglass recovery codes for tia');
    for (const c of codes1) expect(text).toContain(c);
    await page.getByRole('button', { name: 'Done, I have saved them' }).click();
    await expect.poll(() => page.getByText(codes1[0]!).count()).toBe(0);
    expect(await page.getByRole('listitem', { name: 'Work phone (Authenticator app, active)' }).innerText()).toMatch(/Last used\s+(now|\d+ seconds? ago)/);
    expect(await page.getByText('Recovery codes: 10 of 10 left.').count()).toBe(1);

    // A second app, with the first one active: its confirmation asks for a proof from the first.
    await page.getByLabel('Name (optional)').fill('Spare phone');
    await page.getByRole('button', { name: 'Add authenticator app' }).click();
    await enrol.waitFor();
    const second = (await enrol.locator('.totp-secret').innerText()).replace(/\s+/g, '');
    await enrol.getByLabel('Code from the app').fill(await totpNow(second));
    await enrol.getByRole('button', { name: 'Confirm' }).click();
    await prove(page, { totp: await totpNext(first) });
    const codes2 = await takeRecoveryCodes(page);
    expect(codes2).not.toContain(codes1[0]);
    await page.getByRole('button', { name: 'Done, I have saved them' }).click();
    await page.getByRole('listitem', { name: 'Spare phone (Authenticator app, active)' }).waitFor();

    // New recovery codes, proved with a recovery code; the old ones stop working.
    await page.getByRole('button', { name: 'New recovery codes' }).click();
    await prove(page, { recoveryCode: codes2[0]! });
    const codes3 = await takeRecoveryCodes(page);
    await page.getByRole('status').getByText('New recovery codes made: the old ones no longer work.').waitFor();
    await page.getByRole('button', { name: 'Done, I have saved them' }).click();

    // Removing each needs a proof: a code of the other app, then a recovery code.
    await page.getByRole('button', { name: 'Remove Work phone' }).click();
    await prove(page, { totp: await totpNext(second) });
    await page.getByRole('status').getByText('Removed Work phone.').waitFor();
    await expect.poll(() => page.getByRole('listitem', { name: /^Work phone/ }).count()).toBe(0);
    await page.getByRole('button', { name: 'Remove Spare phone' }).click();
    await prove(page, { recoveryCode: codes3[1]! });
    await page.getByText('No MFA factor yet.').waitFor();
    await expectAccessible(page);
    const removed = (await ui.hg.stores.store.listAudit({ type: 'mfa.removed', limit: 10 })).events.filter((e) => e.actor === 'tia');
    expect(removed).toHaveLength(2);
    await context.close();
  }, 90_000);

  it('registers a passkey with the virtual authenticator and removes it with the key as the proof', async () => {
    const { context, page } = await ui.signedIn('wes');
    await addVirtualAuthenticator(page);
    await gotoProfile(page, 'wes');
    await page.getByLabel('Name (optional)').fill('Laptop passkey');
    await page.getByRole('button', { name: 'Add security key or passkey' }).click();
    await takeRecoveryCodes(page);
    await page.getByRole('status').getByText('Added Laptop passkey. Save your new recovery codes.').waitFor();
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Done, I have saved them' }).click();
    const row = page.getByRole('listitem', { name: 'Laptop passkey (Security key or passkey, active)' });
    await row.waitFor();

    await row.getByRole('button', { name: 'Remove Laptop passkey' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await expectAccessible(page);
    await dialog.getByRole('button', { name: 'Use a security key or passkey' }).click();
    await page.getByRole('status').getByText('Removed Laptop passkey.').waitFor();
    await page.getByText('No MFA factor yet.').waitFor();
    const verified = (await ui.hg.stores.store.listAudit({ type: 'mfa.verified', limit: 50 })).events.filter((e) => e.actor === 'wes');
    expect(verified.at(-1)!.details).toMatchObject({ action: 'mfa', method: 'webauthn' });
    await context.close();
  }, 60_000);

  it('screenshots: desktop and phone (375 px)', async () => {
    const other = await ui.signedIn('alice');
    const { context, page } = await ui.signedIn('alice');
    expect((await callApi(page, 'POST', '/v1/tokens', { name: 'ci deploy', scopes: ['read', 'request'], expiresIn: '30d' })).status).toBe(201);
    await enrolTotp(page);
    await gotoProfile(page, 'alice');
    await page.getByRole('listitem', { name: 'Token ci deploy' }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'profile');

    const phone = await ui.signedIn('alice', { viewport: { width: 375, height: 800 } });
    await gotoProfile(phone.page, 'alice');
    await phone.page.getByRole('listitem', { name: 'Token ci deploy' }).waitFor();
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await expectAccessible(phone.page);
    await screenshot(phone.page, 'profile-phone');
    await Promise.all([context.close(), other.context.close(), phone.context.close()]);
  }, 60_000);
});
