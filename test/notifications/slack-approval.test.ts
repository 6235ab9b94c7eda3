/**
 * Approving from Slack over the interactions URL (and Socket Mode): the signature is checked on the
 * exact bytes, a Slack user counts only through a link their Hourglass principal made (and only if
 * their e-mail addresses agree), and every rule of the core holds: never one's own request, distinct
 * approvers, quorum, and never where the policy asks MFA to approve.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signSlackRequest } from '../../src/adapters/notifiers/slack/signature.js';
import { createHttpHarness, freshStoreUrl, token, type HttpHarness, type StoreHandle } from '../support/app-harness.js';
import { notifyYaml, SIGNING_SECRET, slackUser, startParts, type Parts } from './support.js';

let h: HttpHarness;
let handle: StoreHandle;
let parts: Parts;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  parts = await startParts();
  h = await createHttpHarness({ yaml: notifyYaml(parts), storeUrl: handle.url });
});
afterEach(async () => {
  await h?.close();
  await parts.close();
  await handle.cleanup();
});

const submit = (who: string, body: Record<string, unknown>) => h.call('POST', '/v1/requests', token(who), body);
async function pass() {
  await h.app.notifications.fanOut();
  await h.app.notifications.deliverDue();
}

/** What Slack would post for a press by `who` (signed unless told otherwise). */
async function press(who: string, action: 'approve' | 'deny', requestId: string, o: { secret?: string; at?: number; tamper?: boolean } = {}) {
  const payload = parts.slack.blockActions({ userId: slackUser(who), actionId: `hourglass_${action}`, value: requestId });
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const ts = Math.floor((o.at ?? h.clock.now()) / 1000);
  const before = answers(who).length;
  const res = await h.server.inject({
    method: 'POST',
    url: '/v1/integrations/slack/interactions',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': signSlackRequest(o.secret ?? SIGNING_SECRET, ts, body),
    },
    payload: o.tamper ? body.replace('hourglass_', 'hourglass_x') : body,
  });
  if (res.statusCode === 200) await until(() => answers(who).length > before);
  return { status: res.statusCode, body: res.body, answer: answers(who).at(-1) };
}

/** What the presser was told: ephemeral in a channel, or a DM without blocks. */
const answers = (who: string) => [
  ...parts.slack.ephemerals.filter((e) => e.user === slackUser(who)).map((e) => e.text ?? ''),
  ...[...parts.slack.messages.values()].filter((m) => m.channel === `D${slackUser(who).slice(1)}` && !m.blocks?.length).map((m) => m.text ?? ''),
];

async function until(ok: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Presses once unlinked, follows the link signed in as `who`: linked. */
async function link(who: string, requestId: string) {
  const first = await press(who, 'approve', requestId);
  const url = /https:\/\/hourglass\.example\.com\/profile#chat-link=(hgl_[A-Za-z0-9_-]{43})/.exec(first.answer ?? '');
  expect(url, first.answer).not.toBeNull();
  return h.call('POST', '/v1/integrations/slack/link', token(who), { token: url![1] });
}

const events = async (id: string) =>
  (await h.call('GET', `/v1/audit?requestId=${id}`, token('auditor'))).body.events as { type: string; actor: string; details: Record<string, unknown> }[];

describe('approving from Slack', () => {
  it('offers buttons only where the policy allows it, and counts a linked press like a click', async () => {
    const r = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await pass();
    const prompt = [...parts.slack.messages.values()].find((m) => m.channel === `D${slackUser('bob').slice(1)}`)!;
    expect(JSON.stringify(prompt.blocks)).toContain('hourglass_approve');

    const unlinked = await press('bob', 'approve', r.body.id);
    expect(unlinked.status).toBe(200);
    expect(unlinked.answer).toContain('link your Slack account');
    expect((await h.call('GET', `/v1/requests/${r.body.id}`, token('alice'))).body.approvals).toHaveLength(0);

    const linked = await h.call('POST', '/v1/integrations/slack/link', token('bob'), { token: /chat-link=(hgl_\S{43})/.exec(unlinked.answer!)![1] });
    expect(linked).toMatchObject({ status: 200, body: { provider: 'slack', userId: slackUser('bob') } });
    expect((await h.call('GET', '/v1/integrations/slack/link', token('bob'))).body.link.userId).toBe(slackUser('bob'));

    const first = await press('bob', 'approve', r.body.id);
    expect(first.answer).toContain('still waits for other approvers');
    expect((await press('bob', 'approve', r.body.id)).answer).toContain('approved this request already');
    expect((await h.call('GET', `/v1/requests/${r.body.id}`, token('alice'))).body.status).toBe('pending');

    expect((await link('carol', r.body.id)).status).toBe(200);
    expect((await press('carol', 'approve', r.body.id)).answer).toBe('You approved the request.');
    expect((await h.call('GET', `/v1/requests/${r.body.id}`, token('alice'))).body.status).toBe('active');

    const approvals = (await events(r.body.id)).filter((e) => e.type === 'request.approved');
    expect(approvals.map((e) => [e.actor, e.details.via])).toEqual([
      ['bob', 'slack'],
      ['carol', 'slack'],
    ]);
    expect((await events(r.body.id)).length).toBeGreaterThan(0);
    const audit = (await h.call('GET', '/v1/audit?type=chat.linked', token('auditor'))).body.events as { actor: string }[];
    expect(audit.map((e) => e.actor).sort()).toEqual(['bob', 'carol']);
  });

  it('never lets the requester approve their own request from Slack', async () => {
    const r = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    expect((await link('alice', r.body.id)).status).toBe(200);
    expect((await press('alice', 'approve', r.body.id)).answer).toBe('You cannot decide on your own request.');
    expect((await events(r.body.id)).some((e) => e.type === 'decision.refused' && e.details.via === 'slack')).toBe(true);
  });

  it('refuses a press where the policy asks MFA to approve or does not allow chat', async () => {
    const mfa = await submit('alice', { entitlements: ['db/admin'], duration: '30m', reason: 'x' });
    const plain = await submit('alice', { entitlements: ['db/write'], duration: '30m', reason: 'x' });
    await pass();
    const bobs = [...parts.slack.messages.values()].filter((m) => m.channel === `D${slackUser('bob').slice(1)}`);
    expect(bobs).toHaveLength(2);
    for (const m of bobs) expect(JSON.stringify(m.blocks)).not.toContain('hourglass_approve');

    expect((await link('bob', mfa.body.id)).status).toBe(200);
    for (const id of [mfa.body.id, plain.body.id]) {
      expect((await press('bob', 'approve', id)).answer).toContain('decide in the web UI');
      expect((await h.call('GET', `/v1/requests/${id}`, token('alice'))).body.approvals).toHaveLength(0);
    }
  });

  it('refuses unsigned, tampered, replayed-late and wrongly signed posts', async () => {
    const r = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    expect((await press('bob', 'approve', r.body.id, { secret: 'another-secret-0123456789abcdef' })).status).toBe(401);
    expect((await press('bob', 'approve', r.body.id, { tamper: true })).status).toBe(401);
    expect((await press('bob', 'approve', r.body.id, { at: h.clock.now() - 6 * 60_000 })).status).toBe(401);
    const unsigned = await h.server.inject({
      method: 'POST',
      url: '/v1/integrations/slack/interactions',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'payload={}',
    });
    expect(unsigned.statusCode).toBe(401);
    expect(parts.slack.ephemerals).toHaveLength(0);
  });

  it('binds no account through a link forwarded to someone else', async () => {
    const r = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    const mallorys = await press('erin', 'approve', r.body.id);
    const tokenOf = /chat-link=(hgl_\S{43})/.exec(mallorys.answer!)![1];
    // bob opens erin's link: his e-mail is not that Slack user's, so nothing is linked.
    const res = await h.call('POST', '/v1/integrations/slack/link', token('bob'), { token: tokenOf });
    expect(res.status).toBe(403);
    expect(res.body.error.details.reason).toBe('email_mismatch');
    expect((await h.call('GET', '/v1/integrations/slack/link', token('bob'))).body.link).toBeNull();
    expect((await press('erin', 'approve', r.body.id)).answer).toContain('link your Slack account');
  });

  it('unlinks: presses stop counting', async () => {
    const r = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    await link('bob', r.body.id);
    expect((await h.call('POST', '/v1/integrations/slack/unlink', token('bob'), {})).body).toEqual({ unlinked: true });
    expect((await press('bob', 'approve', r.body.id)).answer).toContain('link your Slack account');
    expect((await h.call('GET', `/v1/requests/${r.body.id}`, token('alice'))).body.approvals).toHaveLength(0);
  });
});

describe('over Socket Mode', () => {
  it('takes presses over the connection the server opens at start, with the same rules', async () => {
    await h.close();
    h = await createHttpHarness({ yaml: notifyYaml(parts, { socketMode: true }), storeUrl: handle.url });
    await h.system.start();
    await parts.slack.connected(5000);
    const r = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    expect((await link('bob', r.body.id)).status).toBe(200);
    const before = answers('bob').length;
    await parts.slack.sendInteractive(parts.slack.blockActions({ userId: slackUser('bob'), actionId: 'hourglass_approve', value: r.body.id }));
    await until(() => answers('bob').length > before);
    expect(answers('bob').at(-1)).toContain('still waits for other approvers');
    expect((await h.call('GET', `/v1/requests/${r.body.id}`, token('alice'))).body.approvals).toEqual([expect.objectContaining({ by: 'bob' })]);
    // Alice's own press over the socket is refused like any other.
    expect((await link('alice', r.body.id)).status).toBe(200);
    const mine = answers('alice').length;
    await parts.slack.sendInteractive(parts.slack.blockActions({ userId: slackUser('alice'), actionId: 'hourglass_approve', value: r.body.id }));
    await until(() => answers('alice').length > mine);
    expect(answers('alice').at(-1)).toBe('You cannot decide on your own request.');
  });
});
