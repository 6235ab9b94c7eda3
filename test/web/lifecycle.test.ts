// The web UI end to end in real Chromium against a real server: a requester asks, an approver
// approves in a second browser context, the grant shows active with a countdown and ends on
// screen without a reload; deny, cancel and release; axe-core on every page shown.
import { describe, expect, it } from 'vitest';
import { expectAccessible, layoutShift, screenshot, startUi, tabTo } from './support/ui-harness.js';

const YAML = `
principals:
  - { id: alice, groups: [developers], password: "\${HASH_alice}" }
  - { id: bob, groups: [sre-leads], password: "\${HASH_bob}" }
targets:
  demo-db:
    type: hourglass
    entitlements:
      read: { description: Read-only access to the demo database }
      admin: { description: Full administrative access to the demo database }
policies:
  - name: developers-read
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
  - name: developers-admin
    subjects: { groups: [developers] }
    entitlements: [demo-db/admin]
    maxDuration: 50s
    reason: required
    approval: { required: 1, approvers: { groups: [sre-leads] } }
`;

describe('request, approve, active, ended: in the browser', () => {
  const ui = startUi(YAML, ['alice', 'bob']);

  it('alice asks, bob approves in his own browser, alice sees it active counting down, then ended, without a reload', async () => {
    const alice = await ui.signedIn('alice');
    await screenshot(alice.page, 'my-access-empty');
    await expectAccessible(alice.page);

    await alice.page.getByRole('link', { name: 'Request access' }).first().click();
    await alice.page.getByRole('heading', { level: 1, name: 'Request access' }).waitFor();
    await alice.page.getByLabel(/demo-db\/admin/).check();
    await alice.page.getByLabel('Duration').fill('12s');
    await alice.page.getByLabel('Reason').fill('add an index');
    await expectAccessible(alice.page);
    await alice.page.getByRole('button', { name: 'Activate' }).click();
    await alice.page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
    const card = alice.page.getByRole('article', { name: /demo-db\/admin/ });
    await expect.poll(() => card.getByText('Waiting for approval', { exact: true }).count()).toBe(1);
    await expect.poll(() => card.innerText()).toContain('1 more from group sre-leads');

    const bob = await ui.signedIn('bob');
    await bob.page.getByRole('link', { name: 'Approvals' }).click();
    const decision = bob.page.getByRole('article', { name: /demo-db\/admin/ });
    await expect.poll(() => decision.innerText()).toContain('add an index');
    await expectAccessible(bob.page);
    await decision.getByLabel('Comment (optional)').fill('go ahead');
    await decision.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => bob.page.getByText('Nothing is waiting for your decision.').count()).toBe(1);

    // Alice's page was not reloaded: it shows the grant active with a countdown, then ended.
    await expect.poll(() => card.getByText('Active', { exact: true }).count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => card.getByRole('timer').innerText()).toMatch(/^\d+s left$/);
    expect(await card.innerText()).toContain('bob (“go ahead”)');
    await screenshot(alice.page, 'my-access-active');
    await expectAccessible(alice.page);
    // Loading My access afresh with a grant on it: nothing jumps once it is drawn.
    await alice.page.reload();
    await card.getByRole('timer').waitFor();
    await alice.page.waitForTimeout(1500);
    expect(await layoutShift(alice.page)).toBeLessThanOrEqual(0.1);
    await expect.poll(() => card.getByText('Ended: time ran out').count(), { timeout: 20_000 }).toBe(1);
    expect((await ui.hg.stores.store.listAudit({ type: 'grant.expired', limit: 10 })).events).toHaveLength(1);
    await alice.context.close();
    await bob.context.close();
  }, 60_000);

  it('deny, cancel and release from the page, each reflected at once', async () => {
    const alice = await ui.signedIn('alice');
    const bob = await ui.signedIn('bob');
    const ask = async (entitlement: string, duration: string) => {
      await alice.page.getByRole('link', { name: 'Request access' }).first().click();
      await alice.page.getByLabel(new RegExp(entitlement)).check();
      await alice.page.getByLabel('Duration').fill(duration);
      await alice.page.getByLabel('Reason').fill(`need ${entitlement}`);
      await alice.page.getByRole('button', { name: 'Activate' }).click();
      await alice.page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
    };

    await ask('demo-db/admin', '30s');
    await bob.page.getByRole('link', { name: 'Approvals' }).click();
    const decision = bob.page.getByRole('article', { name: /demo-db\/admin/ });
    await decision.getByLabel('Comment (optional)').fill('use read instead');
    await decision.getByRole('button', { name: 'Deny' }).click();
    const denied = alice.page.getByRole('article', { name: /demo-db\/admin: Denied/ });
    await expect.poll(() => denied.count(), { timeout: 10_000 }).toBe(1);
    expect(await denied.innerText()).toContain('bob (“use read instead”)');

    await ask('demo-db/admin', '30s');
    const waiting = alice.page.getByRole('article', { name: /demo-db\/admin: Waiting for approval/ });
    await waiting.getByRole('button', { name: 'Cancel request' }).click();
    await expect.poll(() => alice.page.getByRole('article', { name: /demo-db\/admin: Cancelled/ }).count()).toBe(1);

    await ask('demo-db/read', '1h');
    const active = alice.page.getByRole('article', { name: /demo-db\/read: Active/ });
    await expect.poll(() => active.count()).toBe(1);
    await active.getByRole('button', { name: 'Release now' }).click();
    await expect.poll(() => alice.page.getByRole('article', { name: /demo-db\/read: Ended early/ }).count()).toBe(1);
    await alice.context.close();
    await bob.context.close();
  }, 60_000);

  it('an approver decides with the keyboard alone: to Approvals, a comment, Approve', async () => {
    const alice = { id: 'alice', groups: ['developers'], roles: [] };
    const { request } = await ui.hg.app.requests.submit(alice, { entitlements: ['demo-db/admin'], duration: '30s', reason: 'keyboard check' });
    const bob = await ui.signedIn('bob');
    const page = bob.page;
    await tabTo(page, page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }));
    await page.keyboard.press('Enter');
    const decision = page.getByRole('article', { name: /demo-db\/admin/ });
    await decision.waitFor();
    await tabTo(page, decision.getByLabel('Comment (optional)'));
    await page.keyboard.type('fine by keyboard');
    await tabTo(page, decision.getByRole('button', { name: 'Approve', exact: true }));
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await ui.hg.stores.store.getRequest(request.id))?.status).toBe('active');
    expect((await ui.hg.stores.store.getRequest(request.id))?.approvals[0]).toMatchObject({ by: 'bob', comment: 'fine by keyboard' });
    await bob.context.close();
  }, 60_000);

  it("a wrong password is refused on the page with the server's message; the page meets WCAG AA", async () => {
    const { context, page } = await ui.fresh();
    await page.getByRole('heading', { level: 1, name: 'Sign in to Hourglass' }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'sign-in');
    await page.getByLabel('User', { exact: true }).fill('alice');
    await page.getByLabel('Password', { exact: true }).fill('not her password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain('unknown principal or wrong password');
    await context.close();
  });
});
