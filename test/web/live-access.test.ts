// Live access end to end in real Chromium against a real server: an admin sees the live grants of
// several people counting down, filters them, revokes one with a required reason (the requester's
// My access shows it ended without a reload), locks a principal (their grants end, their new
// request is refused) and unlocks them, freezes a target and unfreezes it, each confirmed in a
// dialog. An auditor sees the same lists without a button. An approver sees the grants of
// others they approved and revokes one; a plain user sees none. axe-core on every state shown.
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/types.js';
import { callApi, expectAccessible, screenshot, startUi } from './support/ui-harness.js';

const YAML = `
principals:
  - { id: alice, groups: [eng], password: "\${HASH_alice}" }
  - { id: dave, groups: [eng], password: "\${HASH_dave}" }
  - { id: root, roles: [admin], password: "\${HASH_root}" }
  - { id: audrey, roles: [auditor], password: "\${HASH_audrey}" }
  - { id: lena, groups: [leads], password: "\${HASH_lena}" }
targets:
  db:
    type: hourglass
    entitlements: { read: {}, admin: {} }
  cache:
    type: hourglass
    entitlements: { flush: {} }
policies:
  - name: eng-self
    subjects: { groups: [eng] }
    entitlements: [db/read, cache/flush]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
  - name: eng-admin
    subjects: { groups: [eng] }
    entitlements: [db/admin]
    maxDuration: 8h
    reason: optional
    approval: { required: 1, approvers: { groups: [leads] } }
`;

const alice: Principal = { id: 'alice', groups: ['eng'], roles: [] };
const dave: Principal = { id: 'dave', groups: ['eng'], roles: [] };
const root: Principal = { id: 'root', groups: [], roles: ['admin'] };

describe('Live access', () => {
  const ui = startUi(YAML, ['alice', 'dave', 'root', 'audrey', 'lena']);
  const grant = async (who: Principal, entitlement: string, duration: string, startAt?: number) =>
    (await ui.hg.app.requests.submit(who, { entitlements: [entitlement], duration, reason: `${who.id} needs ${entitlement}`, ...(startAt ? { startAt } : {}) }))
      .request;

  it('an admin sees everyone’s grants counting down, filters them and revokes one with a reason; the requester sees it end', async () => {
    const read = await grant(alice, 'db/read', '30m');
    const flush = await grant(dave, 'cache/flush', '1h');
    const later = await grant(alice, 'cache/flush', '2h', Date.now() + 3_600_000);
    expect([read.status, flush.status, later.status]).toEqual(['active', 'active', 'scheduled']);

    const admin = await ui.signedIn('root');
    const { page } = admin;
    await page.getByRole('link', { name: 'Live access' }).click();
    await page.getByRole('heading', { level: 1, name: 'Live access' }).waitFor();
    const table = page.getByRole('table', { name: 'Active and scheduled grants' });
    await expect.poll(() => table.getByRole('row').count()).toBe(4); // the header and three grants
    expect(await page.getByText('3 grants active or scheduled').count()).toBe(1);
    // Soonest end first, then the scheduled one.
    expect(await table.getByRole('rowheader').allInnerTexts()).toEqual(['alice', 'dave', 'alice']);
    const readRow = table.getByRole('row', { name: /alice db\/read/ });
    expect(await readRow.innerText()).toContain('alice needs db/read');
    expect(await readRow.innerText()).toContain('nobody: self-service');
    expect(await table.getByRole('row', { name: /alice cache\/flush/ }).innerText()).toMatch(/Scheduled\s+starts in (60|59) minutes/);
    const timer = readRow.getByRole('timer');
    const first = await timer.innerText();
    expect(first).toMatch(/^(30m 00s|29m \d\ds) left$/);
    await expect.poll(() => timer.innerText()).not.toBe(first);

    // Filters, on the loaded grants, with a count.
    await page.getByLabel('Person', { exact: true }).fill('dav');
    await expect.poll(() => table.getByRole('row').count()).toBe(2);
    expect(await page.getByText('1 of 3 grants matches').count()).toBe(1);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Target', { exact: true }).selectOption('cache');
    await expect.poll(() => table.getByRole('row').count()).toBe(3);
    expect(await page.getByText('2 of 3 grants match').count()).toBe(1);
    expect(await page.getByLabel('Entitlement', { exact: true }).locator('option').allInnerTexts()).toEqual(['Any entitlement', 'cache/flush']);
    await page.getByLabel('Target', { exact: true }).selectOption('');
    await page.getByLabel('Entitlement', { exact: true }).selectOption('db/read');
    await expect.poll(() => table.getByRole('row').count()).toBe(2);
    await page.getByLabel('Person', { exact: true }).fill('nobody');
    await expect.poll(() => page.getByText('No grant matches the filters').count()).toBe(1);
    await expectAccessible(page);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => table.getByRole('row').count()).toBe(4);
    await expectAccessible(page);
    await screenshot(page, 'live-access');

    const phone = await ui.signedIn('root', { viewport: { width: 375, height: 800 } });
    await phone.page.getByRole('link', { name: 'Live access' }).click();
    await expect.poll(() => phone.page.getByRole('rowheader').count()).toBe(3);
    await expectAccessible(phone.page);
    await screenshot(phone.page, 'live-access-phone');
    await phone.context.close();

    // Alice watches her own page while the admin revokes her grant.
    const mine = await ui.signedIn('alice');
    await mine.page.getByRole('article', { name: /db\/read: Active/ }).waitFor();

    await readRow.getByRole('button', { name: "Revoke alice's access to db/read" }).click();
    const dialog = page.getByRole('dialog', { name: "Revoke alice's access to db/read?" });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('The grant ends at once');
    await dialog.getByRole('button', { name: 'Revoke access' }).click();
    await expect.poll(() => dialog.getByRole('alert').innerText()).toContain('Give reason first.');
    expect(await dialog.getByLabel('Reason (required)').getAttribute('aria-invalid')).toBe('true');
    expect((await ui.hg.stores.store.getRequest(read.id))?.status).toBe('active');
    await expectAccessible(page);
    await dialog.getByLabel('Reason (required)').fill('left the incident channel');
    await dialog.getByRole('button', { name: 'Revoke access' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe("Revoked alice's access to db/read.");
    expect(await page.getByRole('dialog').count()).toBe(0);
    await expect.poll(() => table.getByRole('row').count()).toBe(3);
    const revoked = await ui.hg.stores.store.getRequest(read.id);
    expect(revoked).toMatchObject({ status: 'revoked', endedBy: 'root', endReason: 'left the incident channel' });
    // Without a reload, alice's own page shows it ended.
    await mine.page.getByRole('article', { name: /db\/read: Ended early/ }).waitFor();
    await expectAccessible(page);

    // Lock alice: her scheduled grant ends and her new requests are refused, until she is unlocked.
    await page.getByLabel('Principal id').fill('alice');
    await page.getByRole('button', { name: 'Lock…' }).click();
    const lock = page.getByRole('dialog', { name: 'Lock alice?' });
    await lock.waitFor();
    expect(await lock.innerText()).toContain(
      'Locking alice at once revokes every active or scheduled grant of alice, cancels their pending requests, and refuses new requests, approvals and extensions from them until someone unlocks them.',
    );
    await expectAccessible(page);
    await lock.getByLabel('Reason (required)').fill('laptop stolen');
    await lock.getByRole('button', { name: 'Lock alice' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('alice is locked: 1 grant revoked, 0 pending requests cancelled.');
    expect((await ui.hg.stores.store.getRequest(later.id))?.status).toBe('revoked');
    const locked = page.getByRole('region', { name: 'Locked principals' });
    await expect.poll(() => locked.innerText()).toMatch(/alice\s+by root, .+: laptop stolen/);
    await expect.poll(() => table.getByRole('row').count()).toBe(2);
    const refused = await callApi(mine.page, 'POST', '/v1/requests', { entitlements: ['db/read'], duration: '10m' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('HG_PRINCIPAL_LOCKED');
    await expectAccessible(page);
    await locked.getByRole('button', { name: 'Unlock alice' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('alice is unlocked.');
    await expect.poll(() => locked.innerText()).toContain('No principal is locked.');
    const again = await callApi(mine.page, 'POST', '/v1/requests', { entitlements: ['db/read'], duration: '10m' });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    await mine.context.close();

    // Freeze cache: dave's grant on it ends; unfreeze.
    await page.getByLabel('Target name').fill('cache');
    await page.getByRole('button', { name: 'Freeze…' }).click();
    const freeze = page.getByRole('dialog', { name: 'Freeze cache?' });
    await freeze.waitFor();
    expect(await freeze.innerText()).toContain(
      'Freezing cache at once revokes every grant on cache, cancels the pending requests for it, and refuses new ones',
    );
    // Escape cancels, changes nothing, and gives the focus back to the button that opened it.
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Freeze…');
    expect((await ui.hg.stores.store.getRequest(flush.id))?.status).toBe('active');
    await page.getByRole('button', { name: 'Freeze…' }).click();
    await freeze.getByLabel('Reason (required)').fill('cache corruption');
    await freeze.getByRole('button', { name: 'Freeze cache' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('cache is frozen: 1 grant revoked, 0 pending requests cancelled.');
    expect((await ui.hg.stores.store.getRequest(flush.id))?.status).toBe('revoked');
    const frozen = page.getByRole('region', { name: 'Frozen targets' });
    await expect.poll(() => frozen.innerText()).toMatch(/cache\s+by root, .+: cache corruption/);
    await expectAccessible(page);
    await frozen.getByRole('button', { name: 'Unfreeze cache' }).click();
    await expect.poll(() => page.getByRole('status').innerText()).toBe('cache is unfrozen.');
    await expect.poll(() => frozen.innerText()).toContain('No target is frozen.');
    // The request alice made once unlocked is the one live grant left.
    await expect.poll(() => table.getByRole('rowheader').allInnerTexts()).toEqual(['alice']);
    await admin.context.close();
  }, 90_000);

  it('an auditor sees the grants and the locks, without a button', async () => {
    await grant(dave, 'db/read', '1h');
    await ui.hg.app.emergency.lockPrincipal(root, 'alice', 'under review');
    try {
      const { context, page } = await ui.signedIn('audrey');
      await page.getByRole('link', { name: 'Live access' }).click();
      const table = page.getByRole('table', { name: 'Active and scheduled grants' });
      await expect.poll(() => table.getByRole('rowheader').allInnerTexts()).toContain('dave');
      await expect.poll(() => page.getByRole('region', { name: 'Locked principals' }).innerText()).toContain('under review');
      expect(await page.getByRole('button', { name: /Revoke|Unlock|Unfreeze|Lock…|Freeze…/ }).count()).toBe(0);
      expect(await page.getByLabel('Principal id').count()).toBe(0);
      expect(await table.getByRole('columnheader', { name: 'Actions' }).count()).toBe(0);
      await expectAccessible(page);
      // The API refuses them anyway.
      const r = await callApi(page, 'POST', '/v1/principals/alice/unlock', {});
      expect(r.status).toBe(403);
      await context.close();
    } finally {
      await ui.hg.app.emergency.unlockPrincipal(root, 'alice');
    }
  }, 60_000);

  it('an approver sees the grants of others they approve, and revokes one; a plain user sees none of theirs', async () => {
    const lena: Principal = { id: 'lena', groups: ['leads'], roles: [] };
    const pending = (await ui.hg.app.requests.submit(alice, { entitlements: ['db/admin'], duration: '1h', reason: 'fix the index' })).request;
    await ui.hg.app.requests.approve(pending.id, lena);
    const self = await grant(dave, 'cache/flush', '1h');
    const { context, page } = await ui.signedIn('lena');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Live access' }).click();
    const table = page.getByRole('table', { name: 'Active and scheduled grants' });
    await expect.poll(() => table.getByRole('rowheader').allInnerTexts()).toEqual(['alice']);
    expect(await page.getByRole('heading', { name: 'Locks and freezes' }).count()).toBe(0);
    await expectAccessible(page);
    await table.getByRole('button', { name: /Revoke/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(/Reason/).fill('done with it');
    await dialog.getByRole('button', { name: /Revoke/ }).click();
    await expect.poll(async () => (await ui.hg.stores.store.getRequest(pending.id))?.status).toBe('revoked');
    expect((await ui.hg.stores.store.getRequest(pending.id))?.endedBy).toBe('lena');
    await context.close();

    const plain = await ui.signedIn('dave');
    await plain.page.goto(`${ui.base}/live`);
    await plain.page.getByRole('heading', { level: 1, name: 'Live access' }).waitFor();
    await expect.poll(() => plain.page.locator('[aria-busy="true"]').count()).toBe(0);
    expect(await plain.page.getByRole('table').count()).toBe(0);
    expect(await plain.page.getByText('The grants of others that you approve or review.').count()).toBe(1);
    await expectAccessible(plain.page);
    await ui.hg.app.requests.release(self.id, dave);
    await plain.context.close();
  }, 60_000);
});
