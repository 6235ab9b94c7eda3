// The Request access page end to end in real Chromium against a real server: entitlements by
// target with search and each one's terms; validation by the server's explain API (a refusal
// disables Activate, fixing the form enables it); several entitlements and a start time in one
// request; a request made with the keyboard alone; step-up MFA with a TOTP code from Debian's
// oathtool, a wrong code refused with HG_MFA_FAILED. axe-core on every state shown.
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { addVirtualAuthenticator } from '../support/browser.js';
import { callApi, enrolTotp, expectAccessible, screenshot, startUi, tabTo, totpNext } from './support/ui-harness.js';

const YAML = `
credentials: { key: "${randomBytes(32).toString('base64')}" }
principals:
  - { id: alice, groups: [developers, oncall], manager: mallory, password: "\${HASH_alice}" }
  - { id: dana, groups: [developers], password: "\${HASH_dana}" }
  - { id: mallory, groups: [managers], password: "\${HASH_mallory}" }
  - { id: bob, groups: [sre-leads], password: "\${HASH_bob}" }
targets:
  app:
    type: hourglass
    entitlements:
      deploy: { description: Deploy releases to production }
      logs: { description: Read the production logs }
  db:
    type: hourglass
    entitlements:
      read: { description: Read-only access to the orders database }
      admin: { description: Full administrative access to the orders database }
      maintenance: { description: Schema changes to the orders database }
policies:
  - name: read-only
    subjects: { groups: [developers] }
    entitlements: [app/logs, db/read]
    maxDuration: 8h
    defaultDuration: 2h
    reason: optional
    approval: { required: 0 }
  - name: db-admin
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    maxDuration: 4h
    defaultDuration: 1h
    reason: required
    ticket: { required: true, pattern: "^CHG-[0-9]+$" }
    approval: { required: 1, approvers: { groups: [sre-leads], manager: true } }
    mfa: { required: true, maxAge: 10m, for: [approve] }
  - name: maintenance-window
    subjects: { groups: [developers] }
    entitlements: [db/maintenance]
    maxDuration: 2h
    reason: optional
    approval: { required: 0 }
    when: { days: [mon, tue, wed, thu, fri], hours: "09:00-17:00", timezone: Europe/Berlin, sourceNetworks: [10.0.0.0/8] }
  - name: deploy
    subjects: { groups: [developers] }
    entitlements: [app/deploy]
    maxDuration: 1h
    defaultDuration: 30m
    reason: optional
    approval: { required: 0 }
    mfa: { required: true, maxAge: 5m, for: [request] }
  - name: emergency
    subjects: { groups: [oncall] }
    entitlements: [db/admin]
    maxDuration: 1h
    defaultDuration: 30m
    reason: required
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { groups: [sre-leads] }, within: 1d }
`;

const activate = (page: Page) => page.getByRole('button', { name: 'Activate' });
const verdict = (page: Page) => page.locator('.verdict');
const item = (page: Page, entitlement: string) => page.locator('li.entitlement', { has: page.getByLabel(entitlement, { exact: false }) });
const gotoRequest = async (page: Page) => {
  await page.getByRole('link', { name: 'Request access' }).first().click();
  await page.getByRole('heading', { level: 1, name: 'Request access' }).waitFor();
  await page.getByRole('checkbox', { name: /db\/read/ }).waitFor();
};
/** Waits for the server's verdict on the form as it is now (after the debounce). */
const settled = async (page: Page) => {
  await expect.poll(() => page.locator('.verdict [aria-busy="false"]').count()).toBe(1);
  await expect.poll(() => page.getByText('Checking the changes…').count()).toBe(0);
};

describe('the Request access page', () => {
  const ui = startUi(YAML, ['alice', 'dana', 'mallory', 'bob']);

  it('shows every entitlement by target with its terms; search filters and counts; break-glass is a separate, labelled choice', async () => {
    const { context, page } = await ui.signedIn('alice');
    await gotoRequest(page);
    expect(await page.getByRole('group', { name: 'Target app' }).getByRole('checkbox').count()).toBe(2);
    expect(await page.getByRole('group', { name: 'Target db' }).getByRole('checkbox').count()).toBe(3);
    expect(await page.getByRole('status').innerText()).toBe('5 entitlements');

    const admin = await item(page, 'db/admin').innerText();
    expect(admin).toContain('Policy db-admin');
    expect(admin).toMatch(/Duration\s+up to 4h \(default 1h, at least 1m\)/);
    expect(admin).toMatch(/Approval\s+1 from group sre-leads, your manager/);
    expect(admin).toMatch(/Step-up MFA\s+to approve \(or an MFA sign-in within the last 10m\)/);
    expect(admin).toMatch(/Ticket\s+required, matching \^CHG-\[0-9\]\+\$/);
    expect(admin).toMatch(/Reason\s+required/);
    expect(admin).toContain('Also as break-glass (policy emergency)');
    const maintenance = await item(page, 'db/maintenance').innerText();
    expect(maintenance).toMatch(/When\s+only Mon, Tue, Wed, Thu, Fri 09:00-17:00 \(Europe\/Berlin\)/);
    expect(maintenance).toMatch(/From\s+networks 10\.0\.0\.0\/8/);
    expect(await item(page, 'app/deploy').innerText()).toMatch(/Step-up MFA\s+to request \(or an MFA sign-in within the last 5m\)/);
    // The terms are the checkbox's description, so a screen reader reads them with it.
    expect(await page.getByRole('checkbox', { name: /db\/admin/ }).getAttribute('aria-describedby')).toBeTruthy();
    await expectAccessible(page);

    await page.getByLabel('Search').fill('orders');
    await expect.poll(() => page.getByRole('status').innerText()).toBe('3 of 5 entitlements match');
    expect(await page.getByRole('group', { name: 'Target app' }).count()).toBe(0);
    await page.getByLabel('Search').fill('production logs');
    await expect.poll(() => page.getByRole('checkbox').count()).toBe(2); // app/logs and the break-glass choice
    await page.getByLabel('Search').fill('nothing like this');
    await expect.poll(() => page.getByRole('status').innerText()).toBe('No entitlement matches “nothing like this”');
    await expectAccessible(page);
    await page.getByLabel('Search').fill('');

    // Choosing db/admin: the server says who approves; reason and ticket are marked required.
    await page.getByRole('checkbox', { name: /db\/admin/ }).check();
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('Needs 1 approval from group sre-leads, your manager');
    expect(await verdict(page).innerText()).toContain('Could approve: mallory, bob (your manager: mallory)');
    expect(await page.getByLabel('Duration').inputValue()).toBe('1h');
    await page.getByLabel('Reason (required)').waitFor();
    await page.getByLabel('Ticket (required)').waitFor();
    expect(await page.getByText('Format: ^CHG-[0-9]+$').count()).toBe(1);
    expect(await activate(page).isDisabled()).toBe(true);
    expect(await verdict(page).innerText()).toContain('Before you activate: give a reason; give a ticket.');
    await page.getByLabel('Reason').fill('rebuild the orders index');
    await page.getByLabel('Ticket').fill('INC-7');
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('ticket "INC-7" does not match ^CHG-[0-9]+$');
    expect(await verdict(page).innerText()).toContain('(HG_TERMS_NOT_MET)');
    expect(await activate(page).isDisabled()).toBe(true);
    await page.getByLabel('Ticket').fill('CHG-7');
    await settled(page);
    await expect.poll(() => activate(page).isEnabled()).toBe(true);
    await screenshot(page, 'request');
    await expectAccessible(page);

    // Break-glass: its own terms, no approval, reviewed afterwards; the default follows the policy.
    await page.getByRole('checkbox', { name: /Break-glass/ }).check();
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('Break-glass: access begins at once, without approval');
    expect(await verdict(page).innerText()).toContain('Reviewed within 1d by group sre-leads (bob)');
    expect(await item(page, 'db/admin').innerText()).toContain('none: break-glass access begins at once; reviewed within 1d by group sre-leads');
    expect(await page.getByLabel('Duration').inputValue()).toBe('30m');
    await expectAccessible(page);
    await context.close();

    const phone = await ui.signedIn('alice', { viewport: { width: 375, height: 800 } });
    await gotoRequest(phone.page);
    await phone.page.getByRole('checkbox', { name: /db\/read/ }).check();
    await settled(phone.page);
    await expect.poll(() => verdict(phone.page).innerText()).toContain('Self-service: active at once.');
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await screenshot(phone.page, 'request-phone');
    await expectAccessible(phone.page);
    await phone.context.close();
  }, 60_000);

  it("validates with the server's explain API: a too-long duration is refused with its message, Activate disabled; fixed, enabled", async () => {
    const { context, page } = await ui.signedIn('dana');
    await gotoRequest(page);
    expect(await page.getByRole('checkbox', { name: /Break-glass/ }).count()).toBe(0); // dana is not on call
    await page.getByRole('checkbox', { name: /db\/read/ }).check();
    await settled(page);
    expect(await page.getByLabel('Duration').inputValue()).toBe('2h');
    await page.getByLabel('Duration').fill('9h');
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('duration 9h exceeds the maximum 8h');
    expect(await verdict(page).innerText()).toContain('(HG_TERMS_NOT_MET)');
    expect(await activate(page).isDisabled()).toBe(true);
    await expectAccessible(page);
    await page.getByLabel('Duration').fill('soon');
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('(HG_INVALID_INPUT)');
    expect(await activate(page).isDisabled()).toBe(true);
    await page.getByLabel('Duration').fill('8h');
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('Allowed under policy read-only, for 8h. Self-service: active at once.');
    expect(await activate(page).isEnabled()).toBe(true);
    // A start outside the window is checked by the server at that start (explain's startAt).
    await page.getByRole('checkbox', { name: /db\/read/ }).uncheck();
    await page.getByRole('checkbox', { name: /db\/maintenance/ }).check();
    await page.getByLabel('Duration').fill('1h');
    await page.getByLabel('Start (optional)').fill(await saturdayMorning(page));
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('at the requested start: sat is not an allowed day');
    expect(await activate(page).isDisabled()).toBe(true);
    await expectAccessible(page);
    await context.close();
  }, 60_000);

  it('several entitlements in one request, starting later: a scheduled grant on My access', async () => {
    const { context, page } = await ui.signedIn('dana');
    await gotoRequest(page);
    await page.getByRole('checkbox', { name: /app\/logs/ }).check();
    await page.getByRole('checkbox', { name: /db\/read/ }).check();
    expect(await page.getByText('Chosen: app/logs, db/read').count()).toBe(1);
    await page.getByLabel('Duration').fill('1h');
    const start = await page.evaluate(() => {
      const d = new Date(Date.now() + 3 * 3_600_000);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    });
    await page.getByLabel('Start (optional)').fill(start);
    await page.getByLabel('Reason').fill('look at last night’s orders');
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toMatch(/Self-service: scheduled, active from /);
    await expectAccessible(page);
    await activate(page).click();
    await page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
    await expect.poll(() => page.getByRole('article', { name: /app\/logs, db\/read: Scheduled/ }).count()).toBe(1);
    const mine = (await callApi(page, 'GET', '/v1/requests?mine=true')).body.requests;
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status: 'scheduled', entitlements: ['app/logs', 'db/read'], reason: 'look at last night’s orders' });
    // The start typed in Berlin time (the browser's zone) is that instant.
    const berlin = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Berlin', dateStyle: 'short', timeStyle: 'short' }).format(Date.parse(mine[0].startAt));
    expect(berlin.replace(' ', 'T')).toBe(start);
    await expectAccessible(page);
    await context.close();
  }, 60_000);

  it('a request made with the keyboard alone ends on My access with the request listed', async () => {
    const { context, page } = await ui.signedIn('dana');
    await tabTo(page, page.getByRole('link', { name: 'Request access' }).first());
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Request access' }).waitFor();
    await tabTo(page, page.getByLabel('Search'));
    await page.keyboard.type('logs');
    await page.keyboard.press('Enter'); // to the first match, not submitting the form
    const logs = page.getByRole('checkbox', { name: /app\/logs/ });
    await expect.poll(() => logs.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('Space');
    expect(await logs.isChecked()).toBe(true);
    await tabTo(page, page.getByLabel('Reason'));
    await page.keyboard.type('check the error rate');
    await tabTo(page, page.getByLabel('Duration'), 'Shift+Tab');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('45m');
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('for 45m');
    await tabTo(page, activate(page));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
    await expect.poll(() => page.getByRole('article', { name: /app\/logs: Active/ }).count()).toBe(1);
    await context.close();
  }, 60_000);

  it('step-up MFA: Activate asks for the TOTP code; a wrong one is refused with HG_MFA_FAILED, the right one makes the request', async () => {
    const { context, page } = await ui.signedIn('alice');
    const secret = await enrolTotp(page);

    await gotoRequest(page);
    await page.getByRole('checkbox', { name: /app\/deploy/ }).check();
    await settled(page);
    await expect.poll(() => verdict(page).innerText()).toContain('You will be asked for a second factor when you activate');
    await activate(page).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('A policy asks for a second factor to make this request.');
    const code = dialog.getByLabel('Code from your authenticator app');
    await expect.poll(() => code.evaluate((el) => el === document.activeElement)).toBe(true);
    await expectAccessible(page);
    const right = await totpNext(secret);
    await code.fill(right === '123456' ? '654321' : '123456');
    await page.keyboard.press('Enter');
    await expect.poll(() => dialog.getByRole('alert').innerText()).toContain('(HG_MFA_FAILED)');
    await screenshot(page, 'request-mfa');
    await expectAccessible(page);
    await code.fill(await totpNext(secret));
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
    await expect.poll(() => page.getByRole('article', { name: /app\/deploy: Active/ }).count()).toBe(1);
    const audit = (await ui.hg.stores.store.listAudit({ type: 'mfa.*', limit: 50 })).events.filter((e) => e.actor === 'alice').map((e) => e.type);
    expect(audit).toEqual(expect.arrayContaining(['mfa.failed', 'mfa.verified']));

    // Cancelling the prompt sends nothing.
    await gotoRequest(page);
    await page.getByRole('checkbox', { name: /app\/deploy/ }).check();
    await settled(page);
    await activate(page).click();
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    expect(await activate(page).isEnabled()).toBe(true);
    expect((await callApi(page, 'GET', '/v1/requests?mine=true')).body.requests).toHaveLength(1);
    await context.close();
  }, 60_000);
});

describe('the Request access page with a security key', () => {
  // WebAuthn refuses IP-address origins: this server is reached at http://localhost:PORT.
  const ui = startUi(YAML, ['alice', 'dana', 'mallory', 'bob'], { host: 'localhost' });

  it("Activate offers the security key; the browser's assertion is the proof and the request is made", async () => {
    const { context, page } = await ui.signedIn('dana');
    await addVirtualAuthenticator(page);
    const options = await callApi(page, 'POST', '/v1/mfa/webauthn/options', {});
    expect(options.status).toBe(200);
    const response = await page.evaluate(createCredential, options.body.options);
    expect((await callApi(page, 'POST', '/v1/mfa/webauthn', { registrationId: options.body.registrationId, response })).status).toBe(201);

    await gotoRequest(page);
    await page.getByRole('checkbox', { name: /app\/deploy/ }).check();
    await settled(page);
    await activate(page).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await expectAccessible(page);
    await dialog.getByRole('button', { name: 'Use a security key or passkey' }).click();
    await page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
    await expect.poll(() => page.getByRole('article', { name: /app\/deploy: Active/ }).count()).toBe(1);
    const verified = (await ui.hg.stores.store.listAudit({ type: 'mfa.verified', limit: 50 })).events.filter((e) => e.actor === 'dana');
    expect(verified.at(-1)!.details).toMatchObject({ action: 'request', method: 'webauthn' });
    await context.close();
  }, 60_000);
});

/** navigator.credentials.create with the server's options (base64url fields), its answer as JSON: runs in the page. */
async function createCredential(o: any): Promise<unknown> {
  const bytes = (s: string) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  const text = (buf: ArrayBuffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buf)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
  const c = (await navigator.credentials.create({
    publicKey: {
      ...o,
      challenge: bytes(o.challenge),
      user: { ...o.user, id: bytes(o.user.id) },
      excludeCredentials: (o.excludeCredentials ?? []).map((x: any) => ({ ...x, id: bytes(x.id) })),
    },
  })) as any;
  return {
    id: c.id,
    rawId: text(c.rawId),
    type: c.type,
    clientExtensionResults: c.getClientExtensionResults(),
    response: {
      clientDataJSON: text(c.response.clientDataJSON),
      attestationObject: text(c.response.attestationObject),
      transports: c.response.getTransports(),
    },
  };
}

/** The next Saturday at 10:00 in the browser's zone, as a datetime-local value. */
function saturdayMorning(page: Page): Promise<string> {
  return page.evaluate(() => {
    const d = new Date();
    d.setDate(d.getDate() + ((6 - d.getDay() + 7) % 7 || 7));
    d.setHours(10, 0, 0, 0);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T10:00`;
  });
}
