/**
 * The `teams` channel against a stand-in Workflows webhook (real HTTP on loopback): the card it
 * posts, Markdown escaping of requesters' words, and failures that never show the URL's `sig`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adaptiveCardMessage, escapeCardMarkdown } from '../../src/adapters/notifiers/teams/card.js';
import { teamsChannel } from '../../src/adapters/notifiers/teams/index.js';
import type { RenderedMessage, SendInput } from '../../src/app/notifications/ports.js';
import type { HourglassConfig, TeamsWebhook } from '../../src/config/types.js';
import { configFromYaml, DEMO_YAML } from '../support/app-harness.js';
import { cardMessageProblem, startTeamsStandin, type TeamsStandin } from '../support/teams-standin.js';

let teams: TeamsStandin;
const base = configFromYaml(DEMO_YAML);

beforeAll(async () => {
  teams = await startTeamsStandin();
});
afterAll(async () => {
  await teams.close();
});
beforeEach(() => {
  teams.cards.length = 0;
  teams.requests.length = 0;
  teams.hold(false);
});

function configWith(hooks: Partial<TeamsWebhook>[], allowedHosts: string[] = ['127.0.0.1']): HourglassConfig {
  return {
    ...base,
    server: { ...base.server, allowedHosts },
    notifications: {
      linkLifetimeMs: 3_600_000,
      teams: hooks.map((h) => ({ name: 'ops', url: teams.url(), timeoutMs: 2_000, ...h })),
      routes: [],
    },
  };
}

const INJECTED = 'urgent [click here](https://evil.example/phish) **now** _please_ `rm -rf` # HEAD';

function message(overrides: Partial<RenderedMessage> = {}): RenderedMessage {
  return {
    topic: 'approval.requested',
    subject: 'alice asks for prod-db-admin for 2h',
    text: 'alice asks for access.\nReason: fix the outage',
    html: '<p>alice asks for access.</p>',
    facts: [
      { label: 'Requester', value: 'alice' },
      { label: 'Entitlements', value: 'prod-db-admin' },
      { label: 'Duration', value: '2h' },
      { label: 'Reason', value: 'fix the outage' },
    ],
    link: { label: 'Review the request', url: 'https://hourglass.example/requests/r-1' },
    ...overrides,
  };
}

const input = (msg: RenderedMessage = message(), destination = 'teams:ops'): SendInput => ({
  notificationId: 'n-1',
  deliveryId: 'n-1.1',
  destination,
  message: msg,
});

/** A character that formats, not preceded by the backslash that escapes it. */
const UNESCAPED = /(^|[^\\])(\\\\)*[*_[\]`#]/;

describe('teams channel: shape', () => {
  it('serves one shared destination per configured webhook, and lists every URL and sig as secrets', () => {
    const ch = teamsChannel();
    const config = configWith([{ name: 'ops' }, { name: 'sec', url: teams.url('other-sig-value') }]);
    expect(ch.kind).toBe('teams');
    expect(ch.destinations(config)).toEqual(['teams:ops', 'teams:sec']);
    expect(ch.destinations(base)).toEqual([]);
    expect(ch.personal('teams:ops')).toBe(false);
    expect(ch.updatesInPlace).toBe(false);
    const secrets = ch.secrets(config);
    expect(secrets).toEqual(expect.arrayContaining([teams.url(), teams.sig, teams.url('other-sig-value'), 'other-sig-value']));
  });

  it('builds the Workflows body the stand-in accepts', () => {
    const body = adaptiveCardMessage(message());
    expect(cardMessageProblem(body)).toBeUndefined();
    expect(body.attachments[0].content.body[0]).toEqual({
      type: 'TextBlock',
      text: 'alice asks for prod-db-admin for 2h',
      weight: 'Bolder',
      size: 'Medium',
      wrap: true,
    });
    // No link: no actions, still a valid card.
    const noLink = adaptiveCardMessage(message({ link: undefined, facts: [] }));
    expect(noLink.attachments[0].content.actions).toEqual([]);
    expect(noLink.attachments[0].content.body.map((e) => e.type)).toEqual(['TextBlock', 'TextBlock']);
    expect(cardMessageProblem(noLink)).toBeUndefined();
  });
});

describe('teams channel: delivery', () => {
  it('delivers a card with the facts and a link out', async () => {
    const r = await teamsChannel().send(input(), configWith([{}]));
    expect(r.kind).toBe('sent');
    expect(teams.requests).toHaveLength(1);
    expect(teams.requests[0]!.status).toBe(202);
    // Unsigned: the workflow authenticates by its sig, our HMAC headers would only be noise.
    expect(teams.requests[0]!.headers['hourglass-signature']).toBeUndefined();
    const card = teams.cards[0]!;
    expect(card.type).toBe('AdaptiveCard');
    expect(card.version).toBe('1.4');
    expect(card.body).toEqual([
      { type: 'TextBlock', text: 'alice asks for prod-db-admin for 2h', weight: 'Bolder', size: 'Medium', wrap: true },
      { type: 'TextBlock', text: 'alice asks for access.\nReason: fix the outage', wrap: true },
      {
        type: 'FactSet',
        facts: [
          { title: 'Requester', value: 'alice' },
          { title: 'Entitlements', value: 'prod-db-admin' },
          { title: 'Duration', value: '2h' },
          { title: 'Reason', value: 'fix the outage' },
        ],
      },
    ]);
    expect(card.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Review the request', url: 'https://hourglass.example/requests/r-1' }]);
  });

  it('escapes Markdown in every value, so a reason cannot become a link or formatting', async () => {
    const msg = message({
      subject: `bob asks: ${INJECTED}`,
      text: `Reason: ${INJECTED}\n- not a list\n1. nor this\n\\[already escaped?](https://evil.example)`,
      facts: [
        { label: 'Reason', value: INJECTED },
        { label: '**Ticket**', value: 'OPS-1 [x](javascript:alert(1))' },
      ],
    });
    const r = await teamsChannel().send(input(msg), configWith([{}]));
    expect(r.kind).toBe('sent');
    const card = teams.cards[0]!;
    const texts = [
      ...card.body.filter((e) => e.type === 'TextBlock').map((e) => e.text as string),
      ...card.body.filter((e) => e.type === 'FactSet').flatMap((e) => (e.facts as { title: string; value: string }[]).flatMap((f) => [f.title, f.value])),
    ];
    for (const t of texts) expect(t, t).not.toMatch(UNESCAPED);
    const reason = (card.body[2]!.facts as { value: string }[])[0]!.value;
    expect(reason).toBe('urgent \\[click here\\](https://evil.example/phish) \\*\\*now\\*\\* \\_please\\_ \\`rm -rf\\` \\# HEAD');
    const text = card.body[1]!.text as string;
    expect(text).toContain('\n\\- not a list\n1\\. nor this\n');
    // A backslash typed by the requester is escaped too: it cannot cancel our escape.
    expect(text).toContain('\\\\\\[already escaped?\\](https://evil.example)');
  });

  it('leaves text without Markdown as typed', () => {
    expect(escapeCardMarkdown('alice: 2h on prod-db (ticket OPS-42), well-known.')).toBe('alice: 2h on prod-db (ticket OPS-42), well-known.');
  });

  it('fails on a wrong sig with the status only, never the sig', async () => {
    const wrong = 'wrong-sig-0123456789abcdef';
    const ch = teamsChannel();
    const config = configWith([{ url: teams.url(wrong) }]);
    const r = await ch.send(input(), config);
    expect(r).toMatchObject({ kind: 'failed', message: 'HTTP 401' });
    expect(teams.requests[0]!.status).toBe(401);
    expect(JSON.stringify(r)).not.toContain(wrong);
    expect(ch.secrets(config)).toContain(wrong);
  });

  it('fails on other refusals from the workflow (retried later)', async () => {
    teams.answerNext(1, 429);
    const r = await teamsChannel().send(input(), configWith([{}]));
    expect(r).toMatchObject({ kind: 'failed', message: 'HTTP 429' });
    const again = await teamsChannel().send(input(), configWith([{}]));
    expect(again.kind).toBe('sent');
  });

  it('refuses an internal address not listed in server.allowedHosts, before connecting', async () => {
    const r = await teamsChannel().send(input(), configWith([{}], []));
    expect(r.kind).toBe('failed');
    expect(r.kind === 'failed' && r.message).toMatch(/^refused: 127\.0\.0\.1 is an internal address/);
    expect(JSON.stringify(r)).not.toContain(teams.sig);
    expect(teams.requests).toHaveLength(0);
  });

  it('refuses a name that resolves to an internal address too', async () => {
    const r = await teamsChannel().send(input(), configWith([{ url: teams.url().replace('127.0.0.1', 'localhost') }], []));
    expect(r.kind === 'failed' && r.message).toMatch(/^refused: localhost resolves to an internal address/);
    expect(teams.requests).toHaveLength(0);
  });

  it('fails when the workflow does not answer within the webhook timeout', async () => {
    teams.hold(true);
    const started = Date.now();
    const r = await teamsChannel().send(input(), configWith([{ timeoutMs: 300 }]));
    expect(r).toMatchObject({ kind: 'failed', message: 'no answer within 300 ms' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(JSON.stringify(r)).not.toContain(teams.sig);
  });

  it('fails on a network error without the URL', async () => {
    const closed = await startTeamsStandin();
    const url = closed.url();
    await closed.close();
    const r = await teamsChannel().send(input(), configWith([{ url }]));
    expect(r.kind).toBe('failed');
    expect(r.kind === 'failed' && r.message).toMatch(/ECONNREFUSED/);
    expect(JSON.stringify(r)).not.toContain(closed.sig);
  });

  it('skips a destination whose webhook is no longer configured', async () => {
    const r = await teamsChannel().send(input(message(), 'teams:gone'), configWith([{}]));
    expect(r).toMatchObject({ kind: 'skipped' });
    expect(teams.requests).toHaveLength(0);
  });
});

describe('teams stand-in: strict like a workflow that posts the card', () => {
  it('answers 400 to bodies that are not one Adaptive Card message', async () => {
    const good = adaptiveCardMessage(message());
    const content = good.attachments[0].content;
    const bad: unknown[] = [
      { ...good, type: 'card' },
      { ...good, attachments: [] },
      { ...good, attachments: [good.attachments[0], good.attachments[0]] },
      { ...good, attachments: [{ ...good.attachments[0], contentType: 'application/vnd.microsoft.card.hero' }] },
      { ...good, attachments: [{ ...good.attachments[0], content: { ...content, type: 'HeroCard' } }] },
      { ...good, attachments: [{ ...good.attachments[0], content: { ...content, version: undefined } }] },
      { ...good, attachments: [{ ...good.attachments[0], content: { ...content, body: 'text' } }] },
      { ...good, attachments: [{ ...good.attachments[0], content: { ...content, actions: [{ type: 'Action.Submit', title: 'Approve' }] } }] },
    ];
    for (const body of bad) {
      const res = await fetch(teams.url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    const ok = await fetch(teams.url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
    expect(ok.status).toBe(202);
    expect(teams.cards).toHaveLength(1);
  });
});
