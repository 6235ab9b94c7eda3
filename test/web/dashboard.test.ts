// The Dashboard end to end in real Chromium against a real server, as an auditor, after requests,
// approvals, a denial, a break-glass use and a revocation made through the app: the tiles, the
// chart (a canvas drawn by the lazily loaded uPlot, without a CSP violation) and its table, top
// entitlements, expiring grants and an overdue removal, with links; the period selector; a plain
// user gets no link and a plain refusal. axe-core on every state.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/types.js';
import { formatRemaining } from '../../web/src/lib/time.js';
import { callApi, expectAccessible, screenshot, startUi } from './support/ui-harness.js';

const YAML = `
principals:
  - { id: alice, groups: [eng], password: "\${HASH_alice}" }
  - { id: carol, groups: [eng], password: "\${HASH_carol}" }
  - { id: dave, groups: [eng], password: "\${HASH_dave}" }
  - { id: bob, groups: [leads], password: "\${HASH_bob}" }
  - { id: audrey, roles: [auditor], password: "\${HASH_audrey}" }
  - { id: root, roles: [admin], password: "\${HASH_root}" }
targets:
  db:
    type: hourglass
    entitlements:
      read: { description: Read the demo database }
      write: { description: Write the demo database }
      root: { description: Everything }
policies:
  - name: self-read
    subjects: { groups: [eng] }
    entitlements: [db/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
  - name: write
    subjects: { groups: [eng] }
    entitlements: [db/write]
    maxDuration: 8h
    reason: optional
    approval: { required: 1, approvers: { groups: [leads] } }
  - name: break-glass
    subjects: { groups: [eng] }
    entitlements: [db/root]
    maxDuration: 1h
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { groups: [leads] }, within: 12h }
`;

const p = (id: string, groups: string[], roles: Principal['roles'] = []): Principal => ({ id, groups, roles });
const alice = p('alice', ['eng']);
const carol = p('carol', ['eng']);
const dave = p('dave', ['eng']);
const bob = p('bob', ['leads']);
const admin = p('root', [], ['admin']);

/** Today's date in the browser's zone (the harness uses Europe/Berlin), as the server counts it. */
const berlinToday = () => new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Berlin' }).format(Date.now());

const tile = (page: Page, key: string) => page.locator(`.tiles li[data-tile="${key}"]`);
const tileValue = async (page: Page, key: string) => (await tile(page, key).locator('.tile-value').innerText()).trim();

/** Reports every CSP violation of the page's documents into window.__csp (an init script runs before the page's own). */
async function watchCsp(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
}
const cspViolations = (page: Page) => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);

describe('the Dashboard page', () => {
  const ui = startUi(YAML, ['alice', 'carol', 'dave', 'bob', 'audrey', 'root']);
  let revoked: string;

  it('shows what was done through the app: tiles, the chart and its table, top entitlements, expiring grants and an overdue removal', async () => {
    const app = ui.hg.app.requests;
    await app.submit(alice, { entitlements: ['db/read'], duration: '30m' }); // active at once, ends within the hour
    const write = (await app.submit(alice, { entitlements: ['db/write'], duration: '2h' })).request;
    await new Promise((r) => setTimeout(r, 1100));
    await app.approve(write.id, bob, 'fine'); // approved after a second or so
    const denied = (await app.submit(carol, { entitlements: ['db/write'], duration: '1h' })).request;
    await app.deny(denied.id, bob, 'not today');
    await app.submit(carol, { entitlements: ['db/root'], duration: '30m', reason: 'outage', breakGlass: true }); // ends within the hour
    revoked = (await app.submit(dave, { entitlements: ['db/read'], duration: '3h' })).request.id;
    await app.revoke(revoked, admin, 'done');
    // The target never confirmed the removal: what a refusing target leaves behind (the overdue
    // logic itself is tested with targets that really refuse in test/app/stats.test.ts). Its next
    // attempt is an hour away, so the access worker leaves it alone during the test.
    const store = ui.hg.stores.store;
    const req = (await store.getRequest(revoked))!;
    const late = {
      ...req,
      access: 'removing' as const,
      removingSince: Date.now() - 10 * 60_000,
      removalAlerted: true,
      accessAttempts: 7,
      accessError: 'target "db": revoke: connection refused',
      accessNextAt: Date.now() + 3_600_000,
    };
    await store.db
      .updateTable('requests')
      .set({ access: 'removing', access_due_at: late.accessNextAt, body: JSON.stringify(late) })
      .where('id', '=', revoked)
      .execute();

    const { page, context } = await ui.signedIn('audrey');
    await watchCsp(page);
    await page.reload(); // the watch starts with a document; the dashboard then opens without a reload
    await page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
    await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await expect.poll(() => tileValue(page, 'activations')).toBe('4');

    // The numbers the API gives for this browser's zone are the ones on screen.
    const api = (await callApi(page, 'GET', '/v1/stats?days=30&tz=Europe%2FBerlin')).body;
    expect(api.totals).toEqual({ activations: 4, submitted: 5, denied: 1, breakGlass: 1 });
    expect(api.timeToApprove.requests).toBe(1);
    expect(api.timeToApprove.medianMs).toBeGreaterThanOrEqual(1000);
    expect(await tileValue(page, 'approve')).toBe(formatRemaining(api.timeToApprove.medianMs));
    expect(await tileValue(page, 'break-glass')).toBe('1');
    expect(await tileValue(page, 'expiring')).toBe('2');
    expect(await tileValue(page, 'overdue')).toBe('1');
    expect(await tile(page, 'overdue').getAttribute('class')).toContain('alarm');
    expect(await tile(page, 'activations').getAttribute('class')).not.toContain('alarm');

    // The chart: a canvas drawn by uPlot, labelled for screen readers.
    const chart = page.getByRole('img', { name: /^Activations per day over the last 30 days: 4 in all/ });
    await chart.waitFor();
    await expect.poll(() => chart.locator('canvas').count()).toBeGreaterThan(0);
    await expectAccessible(page);

    // Its table: today's row has the day's numbers.
    await page.getByText('Show as table').click();
    const today = page.locator(`.as-table tr[data-date="${berlinToday()}"]`);
    expect(await today.locator('td').allInnerTexts()).toEqual(['4', '5', '1', '1']);
    expect(await page.locator('.as-table tbody tr').count()).toBe(30);
    await expectAccessible(page);
    await page.getByText('Show as table').click(); // closed again, for the screenshot

    // Top entitlements, most first, ties by name.
    const top = await page
      .locator('table.bars tbody tr')
      .evaluateAll((trs) => trs.map((tr) => `${tr.querySelector('th')!.textContent!.trim()} ${tr.querySelector('.bar-value')!.textContent!.trim()}`));
    expect(top).toEqual(['db/read 2', 'db/root 1', 'db/write 1']);

    // The lists.
    const glass = page.getByRole('region', { name: 'Latest break-glass uses' });
    expect(await glass.locator('tbody tr').count()).toBe(1);
    expect(await glass.innerText()).toContain('Review pending');
    const expiring = page.getByRole('region', { name: 'Grants expiring within the hour' });
    expect(await expiring.locator('tbody tr td:nth-child(2)').allInnerTexts()).toEqual(['alice', 'carol']);
    const overdue = page.getByRole('region', { name: 'Overdue removals' });
    expect(await overdue.innerText()).toContain('target "db": revoke: connection refused');
    await screenshot(page, 'dashboard');
    expect(await cspViolations(page)).toEqual([]);

    // An overdue removal links to its request's story.
    await overdue.getByRole('link', { name: `Story of request ${revoked}` }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    expect(new URL(page.url()).searchParams.get('story')).toBe(revoked);
    await context.close();
  }, 90_000);

  it('switches the period, keeps it in the URL, and loads the chart on a direct visit without a CSP violation', async () => {
    const { page, context } = await ui.signedIn('root');
    await watchCsp(page);
    await page.goto(`${ui.base}/dashboard`);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await expect.poll(() => tileValue(page, 'activations')).toBe('4');
    await page
      .getByRole('img', { name: /over the last 30 days/ })
      .locator('canvas')
      .first()
      .waitFor();

    await page.getByRole('radio', { name: '7 days' }).check();
    await expect.poll(() => page.getByRole('status').innerText()).toMatch(/^The last 7 days, counted in calendar days of Europe\/Berlin/);
    expect(new URL(page.url()).search).toBe('?days=7');
    await page
      .getByRole('img', { name: /over the last 7 days: 4 in all/ })
      .locator('canvas')
      .first()
      .waitFor();
    await page.getByText('Show as table').click();
    expect(await page.locator('.as-table tbody tr').count()).toBe(7);
    await expectAccessible(page);
    await page.reload();
    await page.getByRole('img', { name: /over the last 7 days/ }).waitFor();
    expect(await page.getByRole('radio', { name: '7 days' }).isChecked()).toBe(true);
    expect(await cspViolations(page)).toEqual([]);
    await context.close();

    const phone = await ui.signedIn('audrey', { viewport: { width: 375, height: 800 } });
    await phone.page.goto(`${ui.base}/dashboard`);
    await phone.page
      .getByRole('img', { name: /over the last 30 days/ })
      .locator('canvas')
      .first()
      .waitFor();
    await expectAccessible(phone.page);
    await screenshot(phone.page, 'dashboard-phone');
    await phone.context.close();
  }, 90_000);

  it('shows a plain user no link, and a clear refusal at /dashboard', async () => {
    const { page, context } = await ui.signedIn('alice');
    expect(await page.getByRole('link', { name: 'Dashboard', exact: true }).count()).toBe(0);
    await page.goto(`${ui.base}/dashboard`);
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    const refusal = page.getByRole('alert');
    await expect.poll(() => refusal.innerText()).toContain('You cannot see the dashboard.');
    expect(await refusal.innerText()).toContain('HG_FORBIDDEN');
    expect(await page.locator('.tiles').count()).toBe(0);
    await expectAccessible(page);
    await context.close();
  }, 60_000);
});
