// Links from notifications end to end in real Chromium against a real server: an approver's
// one-time link (made as a notification makes it, ApprovalLinks.create) opened signed out survives
// the sign-in, is redeemed once (then gone from the URL, so a reload does not use it again) and
// focuses the request's card; another person's link, a used, an expired and a made-up one each
// say so and still show the page; My access focuses the request of `/?request=ID`. The Profile
// page's Slack section: not linked, a link from Slack (ApprovalLinks.createChatLink) cancelled,
// then confirmed (checked against the Slack stand-in's users.lookupByEmail), refused for a Slack
// account with someone else's address, and unlinked after a confirmation. axe-core on each state.
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/types.js';
import { startSlackStandIn } from '../support/slack-standin.js';
import { callApi, expectAccessible, screenshot, signInWithPassword, startUi } from './support/ui-harness.js';

const BOT_TOKEN = 'xoxb-ui-test-bot-token-0123456789';
const TEAM = 'T0STANDIN';
const slack = await startSlackStandIn({
  botToken: BOT_TOKEN,
  users: [
    { id: 'U01BOB', email: 'bob@example.com' },
    { id: 'U02CAROL', email: 'carol@example.com' },
  ],
});
afterAll(() => slack.close());

const YAML = `
principals:
  - { id: alice, groups: [eng], email: alice@example.com, password: "\${HASH_alice}" }
  - { id: bob, groups: [leads], email: bob@example.com, password: "\${HASH_bob}" }
  - { id: carol, groups: [leads], email: carol@example.com, password: "\${HASH_carol}" }
targets:
  db:
    type: hourglass
    entitlements:
      read: { description: Read the demo database }
      write: { description: Write to the demo database }
policies:
  - name: eng-db
    subjects: { groups: [eng] }
    entitlements: [db/read, db/write]
    maxDuration: 8h
    reason: optional
    approval: { required: 1, approvers: { groups: [leads] } }
notifications:
  slack: { botToken: "${BOT_TOKEN}", apiUrl: "${slack.apiUrl}" }
  teams: [{ name: x, url: "https://example.com/x" }]
  routes: [{ channels: ["teams:x"], topics: [alert] }]
`;

const alice: Principal = { id: 'alice', groups: ['eng'], roles: [] };
const HOUR = 3_600_000;

/** The request id of the element that has the focus, if it is a request's card. */
const focusedRequest = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-request-id') ?? null);
const linkStatus = (page: Page) => page.getByRole('main').getByRole('status').first();
const tokenOf = (url: string) => new URL(url).hash.replace('#link=', '').replace('#chat-link=', '');

describe('links from notifications', () => {
  const ui = startUi(YAML, ['alice', 'bob', 'carol']);
  const ask = async (entitlement: string) => (await ui.hg.app.requests.submit(alice, { entitlements: [entitlement], duration: '1h' })).request;
  const approvalLink = (who: string, requestId: string, now = Date.now(), lifetime = HOUR) =>
    ui.hg.app.notifications.links.create(who, requestId, now, lifetime);
  /** Opens `url` in a new context and signs in there, on whatever page the URL names. */
  const openSignedOut = async (url: string, who: string) => {
    const { context, page } = await ui.fresh();
    await page.goto(url);
    await signInWithPassword(page, who, `${who}-password`);
    return { context, page };
  };

  it("opens the request of an approver's link after signing in, focused; the link is used once and leaves the URL", async () => {
    await ask('db/read');
    const req = await ask('db/write');
    const link = await approvalLink('bob', req.id);
    expect(link.url).toBe(`${ui.base}/approvals?request=${req.id}#link=${tokenOf(link.url)}`);

    const { context, page } = await openSignedOut(link.url, 'bob');
    await page.getByRole('heading', { level: 1, name: 'Approvals' }).waitFor();
    await expect.poll(() => focusedRequest(page)).toBe(req.id);
    await expect.poll(() => linkStatus(page).innerText()).toBe('Opened from your notification.');
    const card = page.locator(`[data-request-id="${req.id}"]`);
    expect(await card.getAttribute('tabindex')).toBe('-1');
    expect(await card.getAttribute('aria-label')).toBe('db/write: Waiting for approval');
    expect(await card.evaluate((el) => el.getBoundingClientRect().top >= 0 && el.getBoundingClientRect().top < window.innerHeight)).toBe(true);
    // The token left the URL (and the history entry); the request id stayed.
    expect(new URL(page.url()).hash).toBe('');
    expect(new URL(page.url()).search).toBe(`?request=${req.id}`);
    await expectAccessible(page);
    await screenshot(page, 'approvals-from-link');

    // Used: the server says so to anyone who tries again, and a reload does not try.
    const again = await callApi(page, 'POST', '/v1/links/redeem', { token: tokenOf(link.url) });
    expect(again.status).toBe(410);
    expect(again.body.error.details).toEqual({ reason: 'used' });
    await page.reload();
    await expect.poll(() => focusedRequest(page)).toBe(req.id);
    expect(await linkStatus(page).innerText()).toBe('');

    // Decided from there: the card goes, and the same URL then says the request no longer waits.
    await card.getByRole('button', { name: 'Approve', exact: true }).click();
    await expect.poll(async () => (await ui.hg.stores.store.getRequest(req.id))?.status).toBe('active');
    await page.reload();
    await expect.poll(() => linkStatus(page).innerText()).toContain('That request is no longer waiting for your decision');
    await context.close();
  }, 60_000);

  it('says whose link it is when someone else opens it (which leaves it working), and when it was used, expired or made up', async () => {
    const req = await ask('db/read');
    const link = await approvalLink('bob', req.id);

    const carol = await openSignedOut(link.url, 'carol');
    await expect
      .poll(() => linkStatus(carol.page).innerText())
      .toBe('This link was sent to someone else; you are signed in as carol. To use it, sign out and sign in as the person it was sent to.');
    // Still the Approvals page, carol may decide it too: the card is there and focused.
    await expect.poll(() => focusedRequest(carol.page)).toBe(req.id);
    expect(new URL(carol.page.url()).hash).toBe('');
    await expectAccessible(carol.page);
    await screenshot(carol.page, 'approvals-link-other-person');

    // Refused for carol, it still works for bob, once.
    const bob = await openSignedOut(link.url, 'bob');
    await expect.poll(() => linkStatus(bob.page).innerText()).toBe('Opened from your notification.');
    await bob.page.goto(link.url);
    await expect
      .poll(() => linkStatus(bob.page).innerText())
      .toBe('This link was used already: each link from a notification works once. The request is shown below.');
    await expect.poll(() => focusedRequest(bob.page)).toBe(req.id);
    await expectAccessible(bob.page);

    const expired = await approvalLink('bob', req.id, Date.now() - 2 * HOUR, HOUR);
    await bob.page.goto(expired.url);
    await expect.poll(() => linkStatus(bob.page).innerText()).toBe('This link has expired. The request is shown below.');

    await bob.page.goto(`${ui.base}/approvals?request=${req.id}#link=hgl_not-a-real-token`);
    await expect
      .poll(() => linkStatus(bob.page).innerText())
      .toBe('This is not a link Hourglass sent, or it was copied incompletely. The request is shown below.');
    await expect.poll(() => focusedRequest(bob.page)).toBe(req.id);
    expect(new URL(bob.page.url()).hash).toBe('');
    await expectAccessible(bob.page);
    await carol.context.close();
    await bob.context.close();
  }, 60_000);

  it('My access focuses the request a notification names', async () => {
    const req = await ask('db/write');
    const { context, page } = await ui.signedIn('alice');
    await page.goto(`${ui.base}/?request=${req.id}`);
    await page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
    await expect.poll(() => focusedRequest(page)).toBe(req.id);
    expect(await linkStatus(page).innerText()).toBe('');
    await expectAccessible(page);

    await page.goto(`${ui.base}/?request=r_not_there`);
    await expect.poll(() => linkStatus(page).innerText()).toBe('The request from your notification is not among those shown here.');
    expect(await focusedRequest(page)).toBeNull();
    await context.close();
  }, 60_000);

  it('links a Slack account from a link Slack sent (cancel first), refuses one with another address, and unlinks after a confirmation', async () => {
    const { context, page } = await ui.signedIn('bob');
    await page.goto(`${ui.base}/profile`);
    const section = page.getByRole('region', { name: 'Slack' });
    await section.getByText('Not linked: press Approve on a Hourglass message in Slack to link your account.').waitFor();
    await expectAccessible(page);

    // Cancel: nothing is linked, the token leaves the URL and stays unused.
    const mine = await ui.hg.app.notifications.links.createChatLink(`slack:${TEAM}:U01BOB`, Date.now());
    expect(mine.url).toBe(`${ui.base}/profile#chat-link=${tokenOf(mine.url)}`);
    await page.goto(mine.url);
    const card = page.getByRole('region', { name: 'Link your Slack account' });
    await card.waitFor();
    expect(await card.innerText()).toContain('Link the Slack account that asked for this link to bob?');
    await expect.poll(() => card.evaluate((el) => el === document.activeElement)).toBe(true);
    await expectAccessible(page);
    await screenshot(page, 'profile-slack-link');
    await card.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => card.count()).toBe(0);
    expect(new URL(page.url()).hash).toBe('');
    expect((await callApi(page, 'GET', '/v1/integrations/slack/link')).body).toEqual({ configured: true, link: null });

    // Link: the server checks bob's address against Slack's, then the page shows the account.
    await page.goto(mine.url);
    await card.getByRole('button', { name: 'Link', exact: true }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Linked Slack user' }).innerText())
      .toBe(`Linked Slack user U01BOB (workspace ${TEAM}) to bob: press the button in Slack again to decide from there.`);
    expect(await card.count()).toBe(0);
    expect(new URL(page.url()).hash).toBe('');
    await expect.poll(() => section.innerText()).toContain('U01BOB');
    expect(await section.innerText()).toContain(TEAM);
    expect(slack.callsOf('users.lookupByEmail').map((c) => c.body.email)).toEqual(['bob@example.com']);
    expect((await callApi(page, 'GET', '/v1/integrations/slack/link')).body).toEqual({
      configured: true,
      link: { provider: 'slack', teamId: TEAM, userId: 'U01BOB' },
    });
    await expectAccessible(page);

    // Someone else's Slack account (carol's address): refused, said in the card, the link stays with carol's account unused by bob.
    const carols = await ui.hg.app.notifications.links.createChatLink(`slack:${TEAM}:U02CAROL`, Date.now());
    await page.goto(carols.url);
    await card.getByRole('button', { name: 'Link', exact: true }).click();
    const refusal = card.getByRole('alert');
    await expect.poll(() => refusal.innerText()).toContain('Slack was not linked.');
    expect(await refusal.innerText()).toContain('(HG_FORBIDDEN)');
    expect(new URL(page.url()).hash).toBe('');
    await expectAccessible(page);
    // Trying the same token again says it was used, in words about Slack.
    await card.getByRole('button', { name: 'Link', exact: true }).click();
    await expect
      .poll(() => refusal.innerText())
      .toContain('This link from Slack was used already. Press Approve or Deny on the message in Slack again for a new link.');
    await card.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => section.innerText()).toContain('U01BOB');

    // Unlink, confirmed first.
    await section.getByRole('button', { name: 'Unlink Slack' }).click();
    const dialog = page.getByRole('dialog', { name: 'Unlink your Slack account?' });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('Slack user U01BOB (workspace T0STANDIN) stops acting as bob');
    await expectAccessible(page);
    await dialog.getByRole('button', { name: 'Unlink Slack' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    await section.getByText('Not linked: press Approve on a Hourglass message in Slack to link your account.').waitFor();
    expect(await section.innerText()).toContain('Unlinked Slack user U01BOB');
    const audit = await ui.hg.stores.store.listAudit({ type: 'chat.unlinked', limit: 10 });
    expect(audit.events.map((e) => e.actor)).toEqual(['bob']);
    await context.close();
  }, 60_000);
});
