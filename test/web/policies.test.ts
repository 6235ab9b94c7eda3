// The Policies page end to end in real Chromium against a real server: an admin reads the
// policies in force (GET /v1/policies) as cards and searches them; "what would happen if" asks
// the explain API and shows an allowed case (under which policy, approved by whom) and a refused
// one with each policy's reasons. An auditor reads them too; a plain user gets no link, an
// explanation, and a 403 from the API. axe-core on every state shown.
import { describe, expect, it } from 'vitest';
import { callApi, expectAccessible, screenshot, startUi } from './support/ui-harness.js';

const YAML = `
principals:
  - { id: alice, groups: [eng], password: "\${HASH_alice}" }
  - { id: bob, groups: [leads], password: "\${HASH_bob}" }
  - { id: carol, groups: [leads], password: "\${HASH_carol}" }
  - { id: root, roles: [admin], password: "\${HASH_root}" }
  - { id: audrey, roles: [auditor], password: "\${HASH_audrey}" }
targets:
  db:
    type: hourglass
    entitlements: { read: {}, admin: {} }
policies:
  - name: eng-read
    subjects: { groups: [eng] }
    entitlements: [db/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
  - name: eng-admin
    subjects: { groups: [eng] }
    entitlements: [db/admin]
    maxDuration: 4h
    defaultDuration: 1h
    ticket: { required: true, pattern: "^INC-[0-9]+$" }
    approval: { required: 1, approvers: { groups: [leads] } }
    when: { days: [mon, tue, wed, thu, fri], hours: "07:00-19:00", timezone: Europe/Berlin }
  - name: break-glass
    subjects: { groups: [eng] }
    entitlements: [db/admin]
    maxDuration: 1h
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { groups: [leads] }, within: 24h }
`;

/** A weekday at 10:00 in Berlin, as the form's datetime-local input takes it (the browser runs in Europe/Berlin). */
const WEEKDAY_10AM = '2030-01-07T10:00';
const SUNDAY_10AM = '2030-01-06T10:00';

describe('Policies', () => {
  const ui = startUi(YAML, ['alice', 'bob', 'carol', 'root', 'audrey']);

  it('an admin reads the policies, searches them and asks what would happen', async () => {
    const { context, page } = await ui.signedIn('root');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('heading', { level: 1, name: 'Policies' }).waitFor();
    const cards = page.getByRole('article');
    await expect.poll(() => cards.count()).toBe(3);
    expect(await page.getByText('3 policies, tried in this order').count()).toBe(1);
    const admin = page.getByRole('article', { name: '2. eng-admin' });
    const text = await admin.innerText();
    expect(text).toMatch(/Who may ask\s+group eng/);
    expect(text).toMatch(/For\s+db\/admin/);
    expect(text).toMatch(/How long\s+up to 4h \(default 1h, at least 1m\)/);
    expect(text).toMatch(/Approval\s+1 approval from group leads; waits at most 1d/);
    expect(text).toMatch(/Ticket\s+required, matching \^INC-\[0-9\]\+\$/);
    expect(text).toMatch(/When\s+only Mon, Tue, Wed, Thu, Fri 07:00-19:00 \(Europe\/Berlin\)/);
    const glass = await page.getByRole('article', { name: '3. break-glass' }).innerText();
    expect(glass).toContain('break-glass');
    expect(glass).toMatch(/Review\s+within 1d by group leads/);
    expect(await page.getByRole('article', { name: '1. eng-read' }).innerText()).toContain('self-service');

    await page.getByLabel('Search', { exact: true }).fill('break');
    await expect.poll(() => cards.count()).toBe(1);
    expect(await page.getByText('1 of 3 policies matches').count()).toBe(1);
    await page.getByLabel('Search', { exact: true }).fill('');
    await expect.poll(() => cards.count()).toBe(3);
    await expectAccessible(page);

    // Allowed: alice, db/admin for 2h on a weekday morning: eng-admin decides, bob or carol approves.
    const form = page.getByRole('region', { name: 'What would happen if…' });
    await form.getByLabel('Principal').fill('alice');
    await form.getByLabel('Entitlements (required)').fill('db/admin');
    await form.getByLabel('Duration').fill('2h');
    await form.getByLabel('Asked at').fill(WEEKDAY_10AM);
    await form.getByRole('button', { name: 'What would happen?' }).click();
    const verdict = form.locator('.verdict');
    await expect.poll(() => verdict.innerText()).toContain('Allowed under policy eng-admin, for 2h.');
    expect(await verdict.innerText()).toContain('Needs 1 approval from group leads.');
    expect(await verdict.innerText()).toContain('Could approve: bob, carol');
    const details = form.locator('.what-if-details');
    expect(await details.innerText()).toContain('About alice, in groups eng');
    expect(await details.innerText()).toContain('Assumed, not checked: a reason will be given; a ticket matching the policy will be given');
    const rows = form.getByRole('table', { name: "Each policy's verdict" }).getByRole('row');
    expect(await rows.allInnerTexts()).toEqual([
      expect.stringMatching(/Entitlement\s+Policy\s+Verdict\s+Why/),
      expect.stringMatching(/db\/admin\s+eng-admin\s+decides\s+-/),
      expect.stringMatching(/db\/admin\s+break-glass\s+not a candidate\s+.*break-glass/),
    ]);
    await expectAccessible(page);
    await screenshot(page, 'policies');

    // Refused: on a Sunday, with a ticket of the wrong form: each reason is told.
    await form.getByLabel('Asked at').fill(SUNDAY_10AM);
    await form.getByLabel('Ticket').fill('JIRA-1');
    await form.getByRole('button', { name: 'What would happen?' }).click();
    await expect.poll(() => verdict.innerText()).toContain('Not allowed.');
    expect(await verdict.innerText()).toContain('(HG_TERMS_NOT_MET)');
    const refused = await form
      .getByRole('table', { name: "Each policy's verdict" })
      .getByRole('row', { name: /eng-admin/ })
      .innerText();
    expect(refused).toMatch(/db\/admin\s+eng-admin\s+refused/);
    expect(refused).toContain('ticket "JIRA-1" does not match ^INC-[0-9]+$');
    expect(refused).toContain('sun is not an allowed day (mon, tue, wed, thu, fri, Europe/Berlin)');
    await expectAccessible(page);

    // Somebody no policy names.
    await form.getByLabel('Principal').fill('bob');
    await form.getByLabel('Ticket').fill('');
    await form.getByRole('button', { name: 'What would happen?' }).click();
    await expect.poll(() => verdict.innerText()).toContain('(HG_NOT_ELIGIBLE)');
    expect(await details.innerText()).toContain('About bob, in groups leads');
    expect(await form.getByRole('row', { name: /eng-admin/ }).innerText()).toMatch(/not a candidate\s+.*bob is not among its subjects/);
    await expectAccessible(page);
    await context.close();
  }, 90_000);

  it('an auditor reads the policies too', async () => {
    const { context, page } = await ui.signedIn('audrey');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policies' }).click();
    await expect.poll(() => page.getByRole('article').count()).toBe(3);
    await expectAccessible(page);
    await context.close();
  }, 60_000);

  it('a plain user gets no link, an explanation, and 403 from the API', async () => {
    const { context, page } = await ui.signedIn('alice');
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policies' }).count()).toBe(0);
    await page.goto(`${ui.base}/policies`);
    await page.getByRole('heading', { level: 1, name: 'Policies' }).waitFor();
    expect(await page.getByText('The policies page is for admins and auditors, and you have neither role.').count()).toBe(1);
    expect(await page.getByRole('article').count()).toBe(0);
    await expectAccessible(page);
    const r = await callApi(page, 'GET', '/v1/policies');
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('HG_FORBIDDEN');
    await context.close();
  }, 60_000);
});
