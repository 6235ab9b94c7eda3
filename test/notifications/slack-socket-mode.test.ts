/**
 * Button presses over Socket Mode: the official SocketModeClient against the Slack stand-in opens
 * the socket through apps.connections.open, acknowledges every envelope and hands decisions on.
 * The payload parser (shared with the HTTP interactions route) is checked on its own below.
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE_ACTION, DENY_ACTION, OPEN_ACTION } from '../../src/adapters/notifiers/slack/blocks.js';
import { decisionFrom, parseInteraction, type SlackDecision } from '../../src/adapters/notifiers/slack/interaction.js';
import { startSlackSocketMode, type SlackSocketMode } from '../../src/adapters/notifiers/slack/socket-mode.js';
import type { SlackSettings } from '../../src/config/types.js';
import { startSlackStandIn, type SlackStandIn } from '../support/slack-standin.js';

const BOT_TOKEN = 'xoxb-1111-2222-standinbottoken';
const APP_TOKEN = 'xapp-1-A0STANDIN-3333-standinapptoken';

let slack: SlackStandIn;
let socket: SlackSocketMode | undefined;
const lines: string[] = [];
const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });

const settings = (over: Partial<SlackSettings> = {}): SlackSettings => ({
  botToken: BOT_TOKEN,
  appToken: APP_TOKEN,
  apiUrl: slack.apiUrl,
  timeoutMs: 2_000,
  ...over,
});

async function until(cond: () => boolean, what: string, ms = 5_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  slack = await startSlackStandIn({ botToken: BOT_TOKEN, appToken: APP_TOKEN, users: [{ id: 'U0ALICE', email: 'alice@example.com' }] });
});
afterEach(async () => {
  await socket?.stop();
  socket = undefined;
});
afterAll(async () => {
  await slack.close();
});

describe('Socket Mode', () => {
  it('connects through apps.connections.open, acks a press, hands the decision on, and stop() closes the socket', async () => {
    const decisions: SlackDecision[] = [];
    socket = startSlackSocketMode(settings(), async (d) => void decisions.push(d), log);
    await socket.ready;
    const opened = slack.callsOf('apps.connections.open');
    expect(opened).toHaveLength(1);
    expect(opened[0]!.auth).toBe(APP_TOKEN);
    expect(slack.connections).toBe(1);

    const payload = slack.blockActions({ userId: 'U0ALICE', actionId: APPROVE_ACTION, value: 'req_01HZX', channel: 'D0ALICE', ts: '1700000000.000100' });
    await slack.sendInteractive(payload); // resolves on the ack
    await until(() => decisions.length === 1, 'the decision');
    expect(decisions[0]).toEqual({
      teamId: 'T0STANDIN',
      userId: 'U0ALICE',
      action: 'approve',
      requestId: 'req_01HZX',
      responseUrl: payload.response_url,
      channelId: 'D0ALICE',
      messageTs: '1700000000.000100',
    });

    await socket.stop();
    await until(() => slack.connections === 0, 'the socket to close');
    socket = undefined;
    expect(lines.join('')).not.toContain(APP_TOKEN);
  });

  it('acks and ignores the link button, other interactions and other envelopes; a failing handler is logged', async () => {
    const decisions: SlackDecision[] = [];
    socket = startSlackSocketMode(
      settings(),
      async (d) => {
        decisions.push(d);
        throw new Error('request req_02 is no longer pending');
      },
      log,
    );
    await socket.ready;
    const acked = slack.acks.length;
    await slack.sendInteractive(slack.blockActions({ userId: 'U0ALICE', actionId: OPEN_ACTION, value: 'req_02' }));
    await slack.sendInteractive({ type: 'view_submission', user: { id: 'U0ALICE' } });
    await slack.sendEnvelope('events_api', { type: 'event_callback', event: { type: 'app_home_opened', user: 'U0ALICE' } });
    await slack.sendEnvelope('slash_commands', { command: '/hourglass', text: 'help' });
    expect(slack.acks.length - acked).toBe(4);
    expect(decisions).toEqual([]);

    lines.length = 0;
    await slack.sendInteractive(slack.blockActions({ userId: 'U0ALICE', actionId: DENY_ACTION, value: 'req_02' }));
    await until(() => lines.some((l) => l.includes('Slack decision failed')), 'the failure to be logged');
    expect(decisions.map((d) => d.action)).toEqual(['deny']);
  });

  it('gives up starting on a wrong app token, without the token in the error or the log', async () => {
    lines.length = 0;
    const wrong = 'xapp-1-A0STANDIN-9999-wrongapptoken';
    socket = startSlackSocketMode(settings({ appToken: wrong }), async () => undefined, log);
    const err = await socket.ready.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain('invalid_auth');
    expect(err?.message).not.toContain(wrong);
    expect(lines.join('')).toContain('could not start');
    expect(lines.join('')).not.toContain(wrong);
    expect(slack.callsOf('apps.connections.open').at(-1)!.auth).toBe(wrong);
  });

  it('needs an app token', () => {
    expect(() => startSlackSocketMode(settings({ appToken: undefined }), async () => undefined, log)).toThrow(/appToken/);
  });
});

describe('parseInteraction', () => {
  const press = (over: Record<string, unknown> = {}) => ({ ...slack.blockActions({ userId: 'U0ALICE', actionId: APPROVE_ACTION, value: 'req_01' }), ...over });

  it('reads a decision from the form field`s JSON', () => {
    const r = parseInteraction(JSON.stringify(press()));
    expect(r).toMatchObject({ ok: true, decision: { teamId: 'T0STANDIN', userId: 'U0ALICE', action: 'approve', requestId: 'req_01' } });
  });

  it('takes the team from the user when an org-wide app gets team: null', () => {
    expect(decisionFrom(press({ team: null }))).toMatchObject({ ok: true, decision: { teamId: 'T0STANDIN' } });
  });

  it('refuses what is not a press of our buttons with a valid request id', () => {
    const action = (a: Record<string, unknown>) => press({ actions: [{ action_id: APPROVE_ACTION, type: 'button', value: 'req_01', ...a }] });
    const refused = [
      'not json',
      JSON.stringify([press()]),
      JSON.stringify(press({ type: 'view_submission' })),
      JSON.stringify(press({ actions: [] })),
      JSON.stringify(press({ actions: Array.from({ length: 26 }, () => ({ action_id: APPROVE_ACTION, type: 'button', value: 'req_01' })) })),
      JSON.stringify(action({ action_id: 'someone_else' })),
      JSON.stringify(action({ type: 'static_select' })),
      JSON.stringify(action({ value: '../../etc' })),
      JSON.stringify(action({ value: 'r'.repeat(65) })),
      JSON.stringify(press({ user: { id: 'alice' } })),
      JSON.stringify(press({ user: { id: 'U0ALICE' }, team: null })),
      JSON.stringify(press({ response_url: 'http://hooks.example.com/actions/x' })),
      JSON.stringify(press({ response_url: 'javascript:alert(1)' })),
      JSON.stringify(press({ padding: 'x'.repeat(256 * 1024) })),
    ];
    for (const json of refused) expect(parseInteraction(json).ok, json.slice(0, 80)).toBe(false);
  });
});
