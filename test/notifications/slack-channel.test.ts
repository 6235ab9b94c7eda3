/**
 * The `slack` message channel through the official WebClient against the Slack stand-in: DMs by
 * linked user and by e-mail, shared channels, updates in place, and Slack's errors as results.
 * The Block Kit rendering is checked on its own below.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMAIL_LOOKUP_TTL_MS, parseSlackRef, slackChannel } from '../../src/adapters/notifiers/slack/index.js';
import { APPROVE_ACTION, DENY_ACTION, escapeMrkdwn, fallbackText, messageBlocks, OPEN_ACTION } from '../../src/adapters/notifiers/slack/blocks.js';
import type { MessageChannel, RenderedMessage, SendInput } from '../../src/app/notifications/ports.js';
import type { HourglassConfig, SlackSettings } from '../../src/config/types.js';
import { parseConfig } from '../support/config.js';
import { startSlackStandIn, type SlackStandIn } from '../support/slack-standin.js';

const BOT_TOKEN = 'xoxb-1111-2222-standinbottoken';
const APP_TOKEN = 'xapp-1-A0STANDIN-3333-standinapptoken';
const SIGNING_SECRET = 'standin-signing-secret-0123456789';
const BASE = parseConfig(readFileSync(new URL('../../examples/demo.yaml', import.meta.url), 'utf8'));

function configWith(slack: Partial<SlackSettings> | undefined, apiUrl: string): HourglassConfig {
  return {
    ...BASE,
    notifications: {
      linkLifetimeMs: 4 * 3_600_000,
      ...(slack ? { slack: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, appToken: APP_TOKEN, apiUrl, timeoutMs: 2_000, ...slack } } : {}),
      teams: [],
      routes: [
        { channels: ['slack', 'slack:C0OPS', 'email'], topics: ['approval.*'], policies: ['*'] },
        { channels: ['slack:C0OPS', 'slack:C0AUDIT'], topics: ['alert'], policies: ['*'] },
      ],
    },
  };
}

const message = (overrides: Partial<RenderedMessage> = {}): RenderedMessage => ({
  topic: 'approval.requested',
  subject: 'alice asks for prod-db-admin',
  text: 'alice asks for prod-db-admin for 1h: "rotate the keys"',
  html: '<p>ignored by Slack</p>',
  facts: [
    { label: 'Requester', value: 'alice' },
    { label: 'Duration', value: '1h' },
  ],
  link: { label: 'Open the request', url: 'http://127.0.0.1:8420/requests/req_01' },
  ...overrides,
});

let n = 0;
const input = (overrides: Partial<SendInput> = {}): SendInput => {
  n += 1;
  return { notificationId: `ntf_${n}`, deliveryId: `ntf_${n}.1`, destination: 'slack', message: message(), ...overrides };
};

let slack: SlackStandIn;
let config: HourglassConfig;
let channel: MessageChannel;
let clock = 0;

beforeAll(async () => {
  slack = await startSlackStandIn({
    botToken: BOT_TOKEN,
    appToken: APP_TOKEN,
    users: [
      { id: 'U0ALICE', email: 'alice@example.com' },
      { id: 'U0BOB', email: 'Bob@Example.com' },
      { id: 'U0GONE', email: 'gone@example.com', deleted: true },
    ],
  });
  config = configWith({}, slack.apiUrl);
});
afterAll(async () => {
  await slack.close();
});
beforeEach(() => {
  slack.calls.length = 0;
  clock = 0;
  channel = slackChannel({ now: () => clock });
});

describe('what the channel serves', () => {
  it('serves nothing without notifications.slack; else each person`s DM and every routed channel, once', () => {
    expect(channel.kind).toBe('slack');
    expect(channel.destinations(configWith(undefined, slack.apiUrl))).toEqual([]);
    expect(channel.destinations(config)).toEqual(['slack', 'slack:C0OPS', 'slack:C0AUDIT']);
    expect(channel.personal('slack')).toBe(true);
    expect(channel.personal('slack:C0OPS')).toBe(false);
    expect(channel.updatesInPlace).toBe(true);
    expect(channel.secrets(config)).toEqual([BOT_TOKEN, SIGNING_SECRET, APP_TOKEN]);
    expect(channel.secrets(configWith({ signingSecret: undefined, appToken: undefined }, slack.apiUrl))).toEqual([BOT_TOKEN]);
  });
});

describe('personal messages', () => {
  it('posts to the linked Slack user (the app`s DM) with the bot token, without looking anyone up', async () => {
    const r = await channel.send(input({ recipient: { principal: 'alice', email: 'alice@example.com', slackUser: 'U0ALICE' } }), config);
    expect(r.kind).toBe('sent');
    const ref = parseSlackRef((r as { ref: string }).ref)!;
    expect(ref.channel).toBe('D0ALICE');
    expect(slack.calls.map((c) => c.method)).toEqual(['chat.postMessage']);
    const call = slack.calls[0]!;
    expect(call.auth).toBe(BOT_TOKEN);
    expect(call.body).toMatchObject({ channel: 'U0ALICE', text: fallbackText(message()), unfurl_links: 'false' });
    const posted = slack.messages.get(ref.ts)!;
    expect(posted.channel).toBe('D0ALICE');
    expect(posted.blocks).toEqual(messageBlocks(message()));
  });

  it('finds the user by e-mail (case aside), remembers them for 10 minutes, then asks again', async () => {
    const bob = { principal: 'bob', email: 'bob@example.com' };
    const first = await channel.send(input({ recipient: bob }), config);
    expect(first.kind).toBe('sent');
    expect(slack.calls.map((c) => [c.method, c.body.email ?? c.body.channel])).toEqual([
      ['users.lookupByEmail', 'bob@example.com'],
      ['chat.postMessage', 'U0BOB'],
    ]);
    clock += EMAIL_LOOKUP_TTL_MS - 1;
    await channel.send(input({ recipient: bob }), config);
    expect(slack.callsOf('users.lookupByEmail')).toHaveLength(1);
    clock += 1;
    await channel.send(input({ recipient: bob }), config);
    expect(slack.callsOf('users.lookupByEmail')).toHaveLength(2);
    expect(slack.callsOf('chat.postMessage')).toHaveLength(3);
  });

  it('skips a person Slack does not know (or only as deactivated), and one with no address at all', async () => {
    const unknown = await channel.send(input({ recipient: { principal: 'carol', email: 'carol@example.com' } }), config);
    expect(unknown).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('carol') });
    const gone = await channel.send(input({ recipient: { principal: 'gone', email: 'gone@example.com' } }), config);
    expect(gone.kind).toBe('skipped');
    const none = await channel.send(input({ recipient: { principal: 'dave' } }), config);
    expect(none).toMatchObject({ kind: 'skipped', reason: expect.stringContaining('dave') });
    expect(slack.callsOf('chat.postMessage')).toHaveLength(0);
    // Not found is not remembered: once Carol joins the workspace she is found.
    await channel.send(input({ recipient: { principal: 'carol', email: 'carol@example.com' } }), config);
    expect(slack.callsOf('users.lookupByEmail')).toHaveLength(3);
  });
});

describe('shared channels and updates in place', () => {
  it('posts one message to slack:C0OPS', async () => {
    const r = await channel.send(input({ destination: 'slack:C0OPS', message: message({ topic: 'alert', subject: 'Revocation overdue' }) }), config);
    expect(r.kind).toBe('sent');
    expect(parseSlackRef((r as { ref: string }).ref)!.channel).toBe('C0OPS');
    expect(slack.calls.map((c) => [c.method, c.body.channel])).toEqual([['chat.postMessage', 'C0OPS']]);
  });

  it('replaces an earlier message with chat.update, and skips when it was deleted in Slack', async () => {
    const prompt = await channel.send(input({ destination: 'slack:C0OPS', message: message({ decide: { requestId: 'req_01' } }) }), config);
    const ref = (prompt as { ref: string }).ref;
    const closed = message({ topic: 'approval.closed', subject: 'Approved by bob', text: 'bob approved the request' });
    const r = await channel.send(input({ destination: 'slack:C0OPS', message: closed, replaces: ref }), config);
    expect(r).toMatchObject({ kind: 'sent', ref });
    expect(slack.calls.map((c) => c.method)).toEqual(['chat.postMessage', 'chat.update']);
    const { ts } = parseSlackRef(ref)!;
    expect(slack.messages.get(ts)).toMatchObject({ channel: 'C0OPS', text: fallbackText(closed), blocks: messageBlocks(closed) });
    expect(JSON.stringify(slack.messages.get(ts)!.blocks)).not.toContain(APPROVE_ACTION);

    const missing = await channel.send(
      input({ destination: 'slack:C0OPS', message: closed, replaces: JSON.stringify({ channel: 'C0OPS', ts: '1.000001' }) }),
      config,
    );
    expect(missing.kind).toBe('skipped');
  });
});

describe('failures', () => {
  it('reports invalid_auth without the token (and builds a new client when the token changes)', async () => {
    const ok = await channel.send(input({ destination: 'slack:C0OPS' }), config);
    expect(ok.kind).toBe('sent');
    const wrongToken = 'xoxb-9999-wrong-token-value';
    const r = await channel.send(input({ destination: 'slack:C0OPS' }), configWith({ botToken: wrongToken }, slack.apiUrl));
    expect(r).toMatchObject({ kind: 'failed', message: 'slack: invalid_auth' });
    expect(slack.calls.at(-1)!.auth).toBe(wrongToken);
    expect(JSON.stringify(r)).not.toContain(wrongToken);
  });

  it('fails at once on a rate limit (HTTP 429 with Retry-After): the outbox retries, not the client', async () => {
    slack.failNext('chat.postMessage', 'ratelimited');
    const r = await channel.send(input({ destination: 'slack:C0OPS' }), config);
    expect(r).toMatchObject({ kind: 'failed', message: 'slack: ratelimited' });
    expect(r.durationMs).toBeLessThan(900); // Retry-After is 1 s: nobody waited for it
    expect(slack.callsOf('chat.postMessage')).toHaveLength(1);
    expect((await channel.send(input({ destination: 'slack:C0OPS' }), config)).kind).toBe('sent');
  });

  it('passes other Slack errors on as their codes', async () => {
    slack.failNext('chat.postMessage', 'channel_not_found');
    expect(await channel.send(input({ destination: 'slack:C0OPS' }), config)).toMatchObject({ kind: 'failed', message: 'slack: channel_not_found' });
    slack.failNext('users.lookupByEmail', 'missing_scope');
    expect(await channel.send(input({ recipient: { principal: 'alice', email: 'alice@example.com' } }), config)).toMatchObject({
      kind: 'failed',
      message: 'slack: missing_scope',
    });
  });

  it('fails on a Slack that does not answer in time, or is not there', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/api/`;
    try {
      const r = await channel.send(input({ destination: 'slack:C0OPS' }), configWith({ apiUrl: url, timeoutMs: 300 }, url));
      expect(r).toMatchObject({ kind: 'failed', message: 'slack: no answer within 300 ms' });
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
    const r = await channel.send(input({ destination: 'slack:C0OPS' }), configWith({ apiUrl: url }, url));
    expect(r).toMatchObject({ kind: 'failed', message: 'slack: request failed: ECONNREFUSED' });
  });

  it('skips when Slack was unconfigured since the message was queued', async () => {
    expect(await channel.send(input({ destination: 'slack:C0OPS' }), configWith(undefined, slack.apiUrl))).toMatchObject({ kind: 'skipped' });
  });
});

describe('Block Kit rendering', () => {
  type AnyBlock = { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: Record<string, unknown>[] };
  const blocksOf = (m: RenderedMessage, opts = {}) => messageBlocks(m, opts) as unknown as AnyBlock[];
  const buttons = (blocks: AnyBlock[]) => blocks.find((b) => b.type === 'actions')?.elements ?? [];

  it('escapes what would be markup or a mention, and keeps to 10 fields', () => {
    const m = message({
      text: 'reason: <!channel> & <https://evil.example|click>',
      facts: Array.from({ length: 12 }, (_, i) => ({ label: `L${i}`, value: i === 0 ? '<@U0BOSS>' : `v${i}` })),
    });
    const blocks = blocksOf(m);
    expect(blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: m.subject } });
    expect(blocks[1]!.text!.text).toBe('reason: &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    const fields = blocks.find((b) => b.fields)!.fields!;
    expect(fields).toHaveLength(10);
    expect(fields[0]!.text).toBe('*L0*\n&lt;@U0BOSS&gt;');
    expect(fallbackText(m)).not.toMatch(/[<>]/);
    expect(escapeMrkdwn('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
  });

  it('cuts long texts to Block Kit`s limits without splitting an entity', () => {
    const blocks = blocksOf(message({ subject: 'x'.repeat(400), text: '<'.repeat(2000) }));
    expect(Array.from(blocks[0]!.text!.text)).toHaveLength(150);
    const body = blocks[1]!.text!.text;
    expect(body.length).toBeLessThanOrEqual(3000);
    expect(body).toMatch(/^(&lt;)+…$/);
  });

  it('links out, and offers Approve and Deny (with a confirmation) when the message may decide', () => {
    const plain = buttons(blocksOf(message()));
    expect(plain).toEqual([expect.objectContaining({ action_id: OPEN_ACTION, url: 'http://127.0.0.1:8420/requests/req_01', style: 'primary' })]);

    const deciding = buttons(blocksOf(message({ decide: { requestId: 'req_01' } })));
    expect(deciding.map((b) => b.action_id)).toEqual([OPEN_ACTION, APPROVE_ACTION, DENY_ACTION]);
    expect(deciding[1]).toMatchObject({ value: 'req_01', style: 'primary' });
    expect(deciding[2]).toMatchObject({ value: 'req_01', style: 'danger', confirm: { style: 'danger' } });
  });

  it('shows a closed request without decide buttons, its text as a context line', () => {
    const closed = blocksOf(message({ topic: 'approval.closed', text: 'bob approved it', decide: { requestId: 'req_01' } }));
    expect(buttons(closed).map((b) => b.action_id)).toEqual([OPEN_ACTION]);
    expect(closed[1]).toMatchObject({ type: 'context', elements: [{ type: 'mrkdwn', text: 'bob approved it' }] });

    const decided = blocksOf(message({ decide: { requestId: 'req_01' } }), { closed: 'Approved by <bob>' });
    expect(buttons(decided).map((b) => b.action_id)).toEqual([OPEN_ACTION]);
    expect(decided.at(-1)).toMatchObject({ type: 'context', elements: [{ text: 'Approved by &lt;bob&gt;' }] });
  });
});
