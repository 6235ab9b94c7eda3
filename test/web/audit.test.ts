// The Audit page end to end in real Chromium against a real server, as an auditor, after requests
// and decisions made through the app: filters by type, person, request and time, kept in the URL
// (a reload keeps them); one request's story as a timeline in order; verification with the head
// and the newest signed checkpoint, and a tampered row shown as a broken chain at its seq; exports
// honouring the filters; a non-auditor gets no link and a plain refusal. axe-core on every state.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/types.js';
import { callApi, expectAccessible, screenshot, startUi } from './support/ui-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-ui-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const YAML = `
principals:
  - { id: alice, groups: [eng], password: "\${HASH_alice}" }
  - { id: bob, groups: [leads], password: "\${HASH_bob}" }
  - { id: audrey, roles: [auditor], password: "\${HASH_audrey}" }
targets:
  db:
    type: hourglass
    entitlements:
      read: { description: Read the demo database }
      write: { description: Write the demo database }
policies:
  - name: eng-db
    subjects: { groups: [eng] }
    entitlements: [db/read, db/write]
    maxDuration: 8h
    reason: required
    approval: { required: 1, approvers: { groups: [leads] } }
audit:
  checkpoints:
    every: 5
    interval: 0
    keyFile: ${join(dir, 'signing.pem')}
    generateKey: true
    file: ${join(dir, 'checkpoints.jsonl')}
`;

const alice: Principal = { id: 'alice', groups: ['eng'], roles: [] };
const bob: Principal = { id: 'bob', groups: ['leads'], roles: [] };

/**
 * The instant as a datetime-local value in the browser's zone (the harness uses Europe/Berlin), to
 * the second; without `:00` seconds, as Chromium writes such a value (else fill() calls it malformed).
 */
const berlinInput = (ms: number) =>
  new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'Europe/Berlin',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  })
    .format(ms)
    .replace(' ', 'T')
    .replace(/:00$/, '');

/** The table's rows as the page shows them. */
async function rows(page: Page): Promise<{ type: string; actor: string; request: string }[]> {
  return page.locator('table.audit-table tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({
      type: tr.querySelector('td[data-label="Type"]')!.textContent!.trim(),
      actor: tr.querySelector('td[data-label="Person"]')!.textContent!.trim(),
      request: tr.querySelector('td[data-label="Request"]')!.textContent!.trim(),
    })),
  );
}

const params = (page: Page) => Object.fromEntries(new URL(page.url()).searchParams);

describe('the Audit page', () => {
  const ui = startUi(YAML, ['alice', 'bob', 'audrey']);
  let revoked: string; // submitted, approved, activated, revoked
  let denied: string; // submitted, denied, after `between`
  let between: number;

  const openAudit = async (opts?: { viewport?: { width: number; height: number } }) => {
    const s = await ui.signedIn('audrey', opts);
    await s.page.getByRole('link', { name: 'Audit', exact: true }).click();
    await s.page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    return s;
  };

  it('filters by type, person, request and time; the URL carries the filters and a reload keeps them', async () => {
    const r1 = (await ui.hg.app.requests.submit(alice, { entitlements: ['db/read'], duration: '1h', reason: 'monthly report' })).request;
    await ui.hg.app.requests.approve(r1.id, bob, 'fine');
    await ui.hg.app.requests.revoke(r1.id, bob, 'report done');
    revoked = r1.id;
    await new Promise((r) => setTimeout(r, 1100));
    between = Date.now();
    await new Promise((r) => setTimeout(r, 1100));
    const r2 = (await ui.hg.app.requests.submit(alice, { entitlements: ['db/write'], duration: '2h', reason: 'schema change' })).request;
    await ui.hg.app.requests.deny(r2.id, bob, 'not this week');
    denied = r2.id;

    const { page, context } = await openAudit();
    await expect.poll(async () => (await rows(page)).length).toBeGreaterThan(5);
    const all = await rows(page);
    expect(all.map((r) => r.type)).toEqual(
      expect.arrayContaining(['server.started', 'request.submitted', 'request.approved', 'grant.revoked', 'request.denied']),
    );
    await expectAccessible(page);

    // Type, with a prefix.
    await page.getByLabel('Type', { exact: true }).fill('grant.*');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(async () => (await rows(page)).map((r) => r.type)).toEqual(['grant.activated', 'grant.revoked']);
    expect(params(page)).toEqual({ type: 'grant.*' });
    expect(await page.getByRole('table').locator('caption').innerText()).toBe('Audit events: type grant.*, oldest first');
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    await expect.poll(async () => (await rows(page)).map((r) => r.type)).toEqual(['grant.activated', 'grant.revoked']);
    expect(await page.getByLabel('Type', { exact: true }).inputValue()).toBe('grant.*');
    await expectAccessible(page);

    // Person.
    await page.getByLabel('Type', { exact: true }).fill('');
    await page.getByLabel('Person', { exact: true }).fill('bob');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect
      .poll(async () => (await rows(page)).filter((r) => r.actor === 'bob' && r.type.startsWith('auth.') === false).map((r) => r.type))
      .toEqual(['request.approved', 'grant.activated', 'grant.revoked', 'request.denied']);
    expect((await rows(page)).every((r) => r.actor === 'bob')).toBe(true);
    expect(params(page)).toEqual({ actor: 'bob' });

    // Request: a request id.
    await page.getByLabel('Person', { exact: true }).fill('');
    await page.getByLabel('Request', { exact: true }).fill(denied);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(async () => (await rows(page)).map((r) => `${r.type} ${r.actor}`)).toEqual(['request.submitted alice', 'request.denied bob']);
    expect(params(page)).toEqual({ requestId: denied });

    // Time, in the viewer's zone: from `between` on, only the second request's events (and sign-ins after it).
    await page.getByLabel('Request', { exact: true }).fill('');
    await page.getByLabel('From', { exact: true }).fill(berlinInput(between));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => params(page).since).toBe(new Date(Math.floor(between / 1000) * 1000).toISOString());
    await expect
      .poll(async () => (await rows(page)).filter((r) => r.request !== 'none').map((r) => `${r.type} ${r.request}`))
      .toEqual([`request.submitted ${denied}`, `request.denied ${denied}`]);
    // ...and up to it: the first request's, none of the second's.
    await page.getByLabel('From', { exact: true }).fill('');
    await page.getByLabel('To', { exact: true }).fill(berlinInput(between));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(async () => new Set((await rows(page)).filter((r) => r.request !== 'none').map((r) => r.request))).toEqual(new Set([revoked]));
    await expectAccessible(page);

    // Back in history: the previous filter again, in the table and in the form.
    await page.goBack();
    await expect.poll(() => page.getByLabel('From', { exact: true }).inputValue()).toBe(berlinInput(between));
    expect(await page.getByLabel('To', { exact: true }).inputValue()).toBe('');

    // A range that ends before it starts is refused on the page.
    await page.getByLabel('To', { exact: true }).fill(berlinInput(between - 3_600_000));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    expect(await page.getByRole('alert').innerText()).toContain('The end of the time range is before its start.');
    expect(await page.getByLabel('To', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(page);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.url()).toBe(`${ui.base}/audit`);
    await context.close();
  }, 60_000);

  it("shows one request's story as a timeline in order, with who and when, and a link to filter by it", async () => {
    const { page, context } = await openAudit();
    await page.getByLabel('Type', { exact: true }).fill('request.submitted');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(async () => (await rows(page)).length).toBe(2);
    await page.getByRole('link', { name: revoked }).click();

    const story = page.getByRole('region', { name: `Story of request ${revoked}` });
    const steps = story.getByRole('list', { name: `Events of request ${revoked}, oldest first` }).getByRole('listitem');
    await expect.poll(() => steps.count()).toBeGreaterThanOrEqual(4);
    const texts = await steps.allInnerTexts();
    expect(texts.map((t) => t.split('\n')[0])).toEqual(['Submitted by alice', 'Approved by bob', 'Activated by bob', 'Revoked by bob']);
    expect(texts[0]).toContain('db/read for 1h; “monthly report”; policy eng-db');
    expect(texts[1]).toContain('“fine”');
    expect(texts[3]).toContain('“report done”');
    expect(texts[0]).toMatch(/\d{1,2} \w{3} \d{4}, \d\d:\d\d (CET|CEST)/);
    // The heading has the focus: keyboard and screen-reader users land on the story.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(`Story of request ${revoked}`);
    expect(params(page)).toEqual({ type: 'request.submitted', story: revoked });
    await expectAccessible(page);

    await screenshot(page, 'audit');

    // A raw event on demand, from the keyboard.
    const raw = page.locator('table.audit-table tbody tr').first().locator('details.raw');
    await raw.locator('summary').focus();
    await page.keyboard.press('Enter');
    expect(JSON.parse(await raw.locator('pre').innerText())).toMatchObject({ type: 'request.submitted', actor: 'alice', seq: expect.any(Number) });
    await expectAccessible(page);

    // The link filters the table by this request; the URL keeps the story open across a reload.
    await story.getByRole('link', { name: 'Show only this request’s events in the table' }).click();
    await expect.poll(async () => (await rows(page)).map((r) => r.type)).toEqual(['request.submitted', 'request.approved', 'grant.activated', 'grant.revoked']);
    expect(params(page)).toEqual({ requestId: revoked, story: revoked });
    await page.reload();
    await expect
      .poll(() =>
        page
          .getByRole('region', { name: `Story of request ${revoked}` })
          .getByRole('listitem')
          .count(),
      )
      .toBe(4);
    await page.getByRole('button', { name: 'Close story' }).click();
    await expect.poll(() => page.getByRole('region', { name: /Story of request/ }).count()).toBe(0);
    expect(params(page)).toEqual({ requestId: revoked });
    await context.close();

    const phone = await openAudit({ viewport: { width: 375, height: 800 } });
    await expect.poll(async () => (await rows(phone.page)).length).toBeGreaterThan(5);
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await expectAccessible(phone.page);
    await screenshot(phone.page, 'audit-phone');
    await phone.context.close();
  }, 60_000);

  it('export links download the filtered CSV and JSON Lines', async () => {
    const { page, context } = await openAudit();
    await page.getByLabel('Request', { exact: true }).fill(denied);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(async () => (await rows(page)).length).toBe(2);
    await expectAccessible(page);

    const download = async (name: string) => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name }).click()]);
      return { name: file.suggestedFilename(), text: readFileSync((await file.path())!, 'utf8') };
    };
    const csv = await download('Download CSV');
    expect(csv.name).toMatch(/^hourglass-audit-\d{8}T\d{6}Z\.csv$/);
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('seq,id,at,type,actor,requestId,policyHash,prevHash,hash,details');
    expect(lines.slice(1).map((l) => l.split(',').slice(3, 6).join(','))).toEqual([`request.submitted,alice,${denied}`, `request.denied,bob,${denied}`]);

    const jsonl = await download('Download JSON Lines');
    expect(jsonl.name).toMatch(/\.jsonl$/);
    const events = jsonl.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => [e.type, e.requestId])).toEqual([
      ['request.submitted', denied],
      ['request.denied', denied],
    ]);
    expect(events[1].details).toMatchObject({ comment: 'not this week' });
    await context.close();
  }, 60_000);

  it('reads 100 events at a time; Load more follows the cursor to the end', async () => {
    for (let i = 0; i < 100; i++) await ui.hg.app.requests.submit(alice, { entitlements: ['db/write'], duration: '1h', reason: `batch ${i}` });
    const { page, context } = await openAudit();
    await page.getByLabel('Person', { exact: true }).fill('alice');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(async () => (await rows(page)).length).toBe(100);
    expect(await page.getByRole('status').filter({ hasText: 'events shown' }).innerText()).toBe('100 events shown; more match.');
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(async () => (await rows(page)).length).toBe(102);
    const ids = await page.locator('table.audit-table tbody tr td[data-label="Time"] .seq').allInnerTexts();
    expect(new Set(ids).size).toBe(102);
    expect(await page.getByRole('status').filter({ hasText: 'events shown' }).innerText()).toBe('102 events shown.');
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    await expectAccessible(page);
    await context.close();
  }, 60_000);

  it('a non-auditor sees no Audit link, and the page says they lack the role', async () => {
    const { page, context } = await ui.signedIn('alice');
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).count()).toBe(0);
    await page.goto(`${ui.base}/audit`);
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.count()).toBe(1);
    expect(await alert.innerText()).toMatch(/You cannot read the audit log\. It needs the auditor or admin role, and alice has neither\. .*\(HG_FORBIDDEN\)/);
    expect(await page.getByRole('button', { name: 'Verify the chain' }).count()).toBe(0);
    await expectAccessible(page);
    await context.close();
  }, 60_000);

  it('verifies the chain with the head and the last checkpoint; a tampered row shows as broken at its seq', async () => {
    const { page, context } = await openAudit();
    await ui.hg.checkpoints.runOnce(); // sign the head now (every 5 events; sign-ins added some)
    const latest = (await callApi(page, 'GET', '/v1/audit/checkpoints/latest')).body;
    expect(latest).toMatchObject({ configured: true, checkpoint: { seq: expect.any(Number), shipped: { file: expect.any(String) } } });
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    const chain = page.getByRole('region', { name: 'Chain integrity' });
    const head = (await callApi(page, 'GET', '/v1/audit/head')).body;
    await expect.poll(() => chain.innerText()).toContain(head.hash);
    expect(await chain.innerText()).toContain(`event #${head.seq}, hash ${head.hash}`);
    await expect.poll(() => chain.innerText()).toContain(latest.checkpoint.hash);
    const text = await chain.innerText();
    expect(text).toContain(`#${latest.checkpoint.seq}`);
    expect(text).toContain(latest.keyId);
    expect(text).toMatch(/Shipped\s+file \(/);
    expect(text).toContain(`Key ${latest.keyId} signed that the chain's hash at event #${latest.checkpoint.seq} was this one, and a copy left the database.`);

    await chain.getByRole('button', { name: 'Verify the chain' }).click();
    await expect.poll(() => chain.innerText()).toContain('Verified.');
    expect(await chain.innerText()).toMatch(
      new RegExp(`The chain is intact: ${head.seq} events verified, every link and hash matches, up to head ${head.seq}\\.`),
    );
    expect(await chain.innerText()).toContain(`Last good link: ${head.head}`);
    await expectAccessible(page);

    // Someone edits a row behind the server's back: the denial's comment.
    const deniedSeq = (await ui.hg.stores.store.listAudit({ requestId: denied, type: 'request.denied', limit: 1 })).events[0]!.seq!;
    const db = ui.hg.stores.store.db;
    const original = (await sql<{ details: string }>`SELECT details FROM audit_events WHERE seq = ${deniedSeq}`.execute(db)).rows[0]!.details;
    await sql`UPDATE audit_events SET details = ${JSON.stringify({ comment: 'approved after all' })} WHERE seq = ${deniedSeq}`.execute(db);
    try {
      await chain.getByRole('button', { name: 'Verify the chain' }).click();
      const failure = chain.getByRole('alert');
      await expect.poll(() => failure.count()).toBe(1);
      expect(await failure.innerText()).toMatch(
        new RegExp(`^Verification failed\\. The chain is broken at event #${deniedSeq}: .+\\. ${deniedSeq - 1} events before it verified\\.`),
      );
      await expectAccessible(page);
      // The table shows the edited row as it now reads: the chain, not the row, is the evidence.
      await page.getByLabel('Request', { exact: true }).fill(denied);
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await expect.poll(() => page.locator('table.audit-table').innerText()).toContain('“approved after all”');
    } finally {
      await sql`UPDATE audit_events SET details = ${original} WHERE seq = ${deniedSeq}`.execute(db);
    }
    await context.close();
  }, 60_000);
});
