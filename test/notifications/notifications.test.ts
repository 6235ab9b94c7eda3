/**
 * Notifications end to end over the real app and a real SQLite store: a real SMTP server (STARTTLS,
 * AUTH) receives and parses the mail, the Slack and Teams stand-ins receive what the official
 * clients send. Approvers are told with a one-time link, requesters when their request is decided,
 * active, ending and ended, admins on alerts; escalation reaches the next tier; Slack prompts turn
 * into their outcome; nothing secret is ever in a message or the log.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpHarness, freshStoreUrl, token, type HttpHarness, type StoreHandle } from '../support/app-harness.js';
import type { ReceivedMail } from '../support/smtp-server.js';
import { BOT_TOKEN, notifyYaml, SIGNING_SECRET, SMTP_PASSWORD, slackUser, startParts, type Parts } from './support.js';

let h: HttpHarness;
let handle: StoreHandle;
let parts: Parts;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  parts = await startParts();
});
afterEach(async () => {
  await h?.close();
  await parts.close();
  await handle.cleanup();
});

async function open(yaml = notifyYaml(parts)) {
  h = await createHttpHarness({ yaml, storeUrl: handle.url });
}

/** One pass of the notification worker: fan out, then deliver what is due. */
async function pass() {
  await h.app.notifications.fanOut();
  await h.app.notifications.deliverDue();
}

const submit = (who: string, body: Record<string, unknown>) => h.call('POST', '/v1/requests', token(who), body);
const mailTo = (who: string) => parts.smtp.messages.filter((m) => m.envelope.to.includes(`${who}@example.com`));
const linkIn = (mail: ReceivedMail) => /#link=(hgl_[A-Za-z0-9_-]{43})/.exec(mail.text ?? '')?.[1];
const log = async (q = '') => (await h.call('GET', `/v1/notifications/deliveries?limit=1000${q}`, token('admin'))).body.deliveries as Record<string, unknown>[];
/** Messages in the app's DM with this person (the stand-in names a DM D + the user id without its U). */
const slackTo = (who: string) => [...parts.slack.messages.values()].filter((m) => m.channel === `D${slackUser(who).slice(1)}`);

describe('approvers, requesters and admins are told', () => {
  it('asks every approver by e-mail, Slack and the shared Teams channel, with a one-time link, and nothing secret', async () => {
    await open();
    const r = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'deploy <b>hotfix</b>' });
    expect(r.status).toBe(201);
    await pass();

    for (const who of ['bob', 'carol']) {
      const [mail] = mailTo(who);
      expect(mail, who).toBeDefined();
      expect(mail!.subject).toBe('Alice Example asks for db/write');
      expect(mail!.text).toContain('Entitlements: db/write');
      expect(mail!.text).toContain('Reason: deploy <b>hotfix</b>');
      // The HTML part escapes what the requester typed.
      expect(mail!.html).toContain('deploy &lt;b&gt;hotfix&lt;/b&gt;');
      expect(mail!.html).not.toContain('<b>hotfix</b>');
      expect(linkIn(mail!)).toMatch(/^hgl_/);
      expect(mail!.text).toContain(`https://hourglass.example.com/approvals?request=${r.body.id}#link=`);
      expect(mail!.headers.get('x-hourglass-topic')).toBe('approval.requested');
    }
    expect(mailTo('alice')).toHaveLength(0);
    expect(linkIn(mailTo('bob')[0]!)).not.toBe(linkIn(mailTo('carol')[0]!));
    expect(slackTo('bob')).toHaveLength(1);
    expect(slackTo('carol')).toHaveLength(1);
    expect(parts.teams.cards).toHaveLength(1);

    const entries = await log(`&requestId=${r.body.id}`);
    const outcome = (dest: string, who: string | null) => entries.find((e) => e.destination === dest && e.recipient === who)?.outcome;
    expect(outcome('email', 'bob')).toBe('sent');
    expect(outcome('slack', 'carol')).toBe('sent');
    expect(outcome('teams:ops', null)).toBe('sent');
    // nomail has neither an address nor a Slack user with one: skipped, not retried.
    expect(outcome('email', 'nomail')).toBe('skipped');
    expect(outcome('slack', 'nomail')).toBe('skipped');

    const everything = JSON.stringify([parts.smtp.messages.map((m) => [m.text, m.html]), [...parts.slack.messages.values()], parts.teams.cards, entries]);
    for (const secret of [SMTP_PASSWORD, BOT_TOKEN, SIGNING_SECRET, parts.teams.sig]) expect(everything).not.toContain(secret);
  });

  it('delivers each notification once, however often fan-out and delivery run', async () => {
    await open();
    await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'x' });
    await pass();
    await pass();
    await h.app.notifications.fanOut();
    await pass();
    expect(mailTo('bob')).toHaveLength(1);
    expect(parts.teams.cards).toHaveLength(1);
  });

  it('tells the requester when it is approved and active, before it ends and when it ended; Slack prompts become the outcome', async () => {
    await open();
    const r = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'deploy' });
    await pass();
    const prompt = slackTo('bob')[0]!;
    expect(JSON.stringify(prompt.blocks)).toContain('Review the request');

    expect((await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('bob'), { comment: 'ok' })).status).toBe(200);
    await pass();
    expect(mailTo('alice').map((m) => m.subject)).toEqual(['Your access to db/write is active']);
    // Updated in place: the same message (ts) now says it is approved.
    const updated = parts.slack.messages.get(prompt.ts)!;
    expect(updated.text).toContain('approved and active');
    expect(slackTo('bob')).toHaveLength(1);

    h.clock.advance(46 * 60_000); // the reminder is due 15 minutes before the end
    await h.app.due.runDue();
    await pass();
    expect(mailTo('alice').map((m) => m.subject)).toContain(
      `Your access to db/write ends at ${new Date(h.clock.now() + 14 * 60_000).toISOString().slice(0, 17)}00Z`,
    );

    h.clock.advance(15 * 60_000);
    await h.app.due.runDue();
    await pass();
    expect(mailTo('alice').map((m) => m.subject)).toContain('Your access to db/write has ended');
    expect(mailTo('alice').at(-1)!.text).toContain('expired');
  });

  it('tells the requester of a denial with its comment', async () => {
    await open();
    const r = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'deploy' });
    await h.call('POST', `/v1/requests/${r.body.id}/deny`, token('carol'), { comment: 'not during the freeze' });
    await pass();
    const [mail] = mailTo('alice');
    expect(mail!.subject).toBe('Your request for db/write was denied');
    expect(mail!.text).toContain('denied by Carol Example');
    expect(mail!.text).toContain('Comment: not during the freeze');
  });

  it('alerts admins (and asks the reviewers) when break-glass is used', async () => {
    await open();
    await submit('dave', { entitlements: ['db/admin'], duration: '30m', reason: 'outage', breakGlass: true });
    await pass();
    expect(mailTo('admin').map((m) => m.subject)).toEqual(['Hourglass alert: Break-glass access was used']);
    expect(mailTo('bob').map((m) => m.subject)).toEqual(['Break-glass access by Dave Example needs your review']);
    expect(parts.teams.cards.map((c) => JSON.stringify(c))).toEqual([expect.stringContaining('Break-glass access was used')]);
  });
});

describe('escalation', () => {
  it('asks the next tier when nobody decided in time, and lets it approve', async () => {
    await open();
    const r = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'deploy' });
    await pass();
    expect(mailTo('erin')).toHaveLength(0);
    // Before the escalation erin is no approver: the request is not even visible to her.
    expect((await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('erin'), {})).status).toBe(404);

    h.clock.advance(30 * 60_000);
    await h.app.due.runDue();
    await pass();
    expect(mailTo('erin').map((m) => m.subject)).toEqual(['Escalated: Alice Example asks for db/write']);
    expect(mailTo('erin')[0]!.text).toContain('escalated to you');
    // The first tier was asked already: not again.
    expect(mailTo('bob')).toHaveLength(1);
    const events = (await h.call('GET', `/v1/audit?requestId=${r.body.id}`, token('auditor'))).body.events as {
      type: string;
      details: Record<string, unknown>;
    }[];
    expect(events.find((e) => e.type === 'request.escalated')?.details).toMatchObject({ tiers: { write: 1 } });
    expect((await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('erin'), {})).body.status).toBe('active');
  });
});

describe('one-time links', () => {
  it('work once, for the person they were sent to, until they expire', async () => {
    await open();
    const r = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'deploy' });
    await pass();
    const bobs = linkIn(mailTo('bob')[0]!)!;
    const carols = linkIn(mailTo('carol')[0]!)!;

    const forwarded = await h.call('POST', '/v1/links/redeem', token('carol'), { token: bobs });
    expect(forwarded.status).toBe(410);
    expect(forwarded.body.error.details.reason).toBe('other_person');
    const ok = await h.call('POST', '/v1/links/redeem', token('bob'), { token: bobs });
    expect(ok).toMatchObject({ status: 200, body: { requestId: r.body.id } });
    expect((await h.call('POST', '/v1/links/redeem', token('bob'), { token: bobs })).body.error.details.reason).toBe('used');
    expect((await h.call('POST', '/v1/links/redeem', token('bob'), { token: 'hgl_' + 'x'.repeat(43) })).body.error.details.reason).toBe('unknown');

    h.clock.advance(60 * 60_000 + 1);
    expect((await h.call('POST', '/v1/links/redeem', token('carol'), { token: carols })).body.error.details.reason).toBe('expired');
  });
});

describe('delivery', () => {
  it('retries a failed attempt with backoff, sends it once after recovery, and logs every attempt', async () => {
    await open();
    parts.teams.answerNext(2, 503);
    await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'x' });
    await pass();
    expect(parts.teams.cards).toHaveLength(0);
    await pass(); // not due yet: no second attempt
    expect(parts.teams.requests).toHaveLength(1);
    h.clock.advance(20 * 60_000);
    await pass(); // second attempt: 503 again
    h.clock.advance(20 * 60_000);
    await pass();
    expect(parts.teams.cards).toHaveLength(1);
    const attempts = (await log('&destination=teams:ops')).map((e) => [e.attempt, e.outcome, e.error]);
    expect(attempts).toEqual([
      [3, 'sent', null],
      [2, 'failed', 'HTTP 503'],
      [1, 'failed', 'HTTP 503'],
    ]);
    const overview = (await h.call('GET', '/v1/notifications', token('auditor'))).body;
    expect(overview.destinations.find((d: { destination: string }) => d.destination === 'teams:ops')).toMatchObject({ sent: 1, pending: 0, failing: 0 });
    expect((await h.call('GET', '/v1/notifications', token('alice'))).status).toBe(403);
  });

  it('gives up a day after the event, and never sends a prompt for a request decided meanwhile', async () => {
    await open();
    parts.teams.answerNext(1000, 500);
    const r = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'x' });
    await h.app.notifications.fanOut();
    // Decided before any delivery ran: the prompts are not sent at all.
    await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('bob'), {});
    await h.app.notifications.deliverDue();
    expect(mailTo('carol')).toHaveLength(0);
    const carol = (await log('&recipient=carol')).find((e) => e.topic === 'approval.requested');
    expect(carol).toMatchObject({ outcome: 'skipped', error: 'the request is active already' });

    await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'y' });
    for (let i = 0; i < 40; i++) {
      await pass();
      h.clock.advance(60 * 60_000);
    }
    const last = (await log('&destination=teams:ops')).find((e) => e.outcome !== 'failed' || String(e.error).startsWith('gave up'));
    expect(last?.error).toMatch(/^gave up after \d+ attempts: HTTP 500$/);
    expect(
      (await h.call('GET', '/v1/notifications', token('admin'))).body.destinations.find((d: { destination: string }) => d.destination === 'teams:ops'),
    ).toMatchObject({
      pending: 0,
      failing: 0,
      skipped: expect.any(Number),
    });
  });
});

describe('the daily digest', () => {
  it('lists what waits for each approver once a day, at the configured local time', async () => {
    await open(notifyYaml(parts, { digest: '{ at: "10:30", timezone: UTC }' }));
    await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'one' });
    await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass();
    const digests = (who: string) => mailTo(who).filter((m) => m.headers.get('x-hourglass-topic') === 'digest');
    expect(digests('bob')).toHaveLength(0);
    h.clock.advance(30 * 60_000);
    await pass();
    await pass();
    expect(digests('bob').map((m) => m.subject)).toEqual(['2 request(s) wait for your approval']);
    expect(digests('bob')[0]!.text).toContain('Alice Example: db/write for 1h, waiting 30m');
    expect(digests('alice')).toHaveLength(0);
    // A day later both have timed out (pendingTimeouts 4h and 24h): nothing waits, no digest.
    h.clock.advance(24 * 60 * 60_000);
    await h.app.due.runDue();
    await h.app.due.runDue();
    await pass();
    expect(digests('bob')).toHaveLength(1);
  });
});

describe('extensions and reminders', () => {
  it('asks the approvers of an extension, and reminds approvers before a request times out', async () => {
    await open(
      notifyYaml(parts).replace(
        '    maxDuration: 2h\n    pendingTimeout: 4h',
        '    maxDuration: 2h\n    pendingTimeout: 4h\n    extension: { allowed: true, maxTotal: 4h }',
      ),
    );
    const r = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'x' });
    await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('bob'), {});
    expect((await h.call('POST', `/v1/requests/${r.body.id}/extend`, token('alice'), { duration: '30m', reason: 'more' })).status).toBeLessThan(300);
    await pass();
    const ext = mailTo('carol').filter((m) => m.headers.get('x-hourglass-topic') === 'extension.requested');
    expect(ext.map((m) => m.subject)).toEqual(['Alice Example asks to extend db/write']);
    expect(ext[0]!.text).toContain('by 30m');
    expect(linkIn(ext[0]!)).toMatch(/^hgl_/);

    const waiting = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'y' });
    await pass();
    h.clock.advance(3 * 60 * 60_000); // the reminder is due 1h before the 4h pending timeout
    for (let i = 0; i < 3; i++) await h.app.due.runDue(); // one transition per request per pass: escalation, then the reminder
    await pass();
    const reminders = mailTo('carol').filter((m) => m.headers.get('x-hourglass-topic') === 'approval.reminder');
    expect(reminders.map((m) => m.subject)).toEqual(['Reminder: Alice Example still waits for db/write']);
    expect(reminders[0]!.text).toContain(`request=${waiting.body.id}`);
  });
});
