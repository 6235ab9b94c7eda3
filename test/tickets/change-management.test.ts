/**
 * Change management end to end against the Jira stand-in: a ticket must exist and be in an allowed
 * state at submission and at approval, approvers see its summary, a ticket that closes ends its
 * grant (polled, or pushed by the system), Hourglass comments when access starts and ends, and an
 * unreachable ticket system refuses rather than allows.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpHarness, freshStoreUrl, token, type HttpHarness, type StoreHandle } from '../support/app-harness.js';
import { startJiraStandIn, type TicketStandIn } from '../support/ticket-standins.js';

const PUSH_SECRET = 'jira-push-secret-0123456789';
let h: HttpHarness;
let handle: StoreHandle;
let jira: TicketStandIn;

const sha = (id: string) => createHash('sha256').update(`${id}-demo-token`).digest('hex');
const yaml = () => `
server:
  listen: 127.0.0.1:0
  store: "sqlite::memory:"
  publicUrl: https://hourglass.example.com
  allowedHosts: [127.0.0.1]
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: "${sha('alice')}" }] }
  - { id: bob, groups: [leads], apiTokens: [{ sha256: "${sha('bob')}" }] }
targets:
  db: { type: hourglass, entitlements: { write: {} } }
policies:
  - name: change
    subjects: { groups: [developers] }
    entitlements: [db/write]
    maxDuration: 4h
    ticket: { required: true, pattern: "^OPS-[0-9]+$", system: jira, states: [In Progress], endsWithTicket: true, comment: true }
    approval: { required: 1, approvers: { groups: [leads] } }
tickets:
  - name: jira
    type: jira
    url: ${jira.url}
    user: bot@example.com
    token: jira-api-token-xyz
    pollInterval: 1m
    webhookSecret: ${PUSH_SECRET}
    timeout: 2s
`;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  jira = await startJiraStandIn({
    email: 'bot@example.com',
    token: 'jira-api-token-xyz',
    issues: { 'OPS-1': { summary: 'Rotate the payments DB password', status: 'In Progress' }, 'OPS-2': { summary: 'Old work', status: 'Done' } },
  });
  h = await createHttpHarness({ yaml: yaml(), storeUrl: handle.url });
});
afterEach(async () => {
  await h?.close();
  await jira.close();
  await handle.cleanup();
});

const submit = (ticket: string) => h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/write'], duration: '1h', reason: 'rotate', ticket });
const get = async (id: string) => (await h.call('GET', `/v1/requests/${id}`, token('alice'))).body;
async function notify() {
  await h.app.notifications.fanOut();
  await h.app.notifications.deliverDue();
}
async function active() {
  const r = await submit('OPS-1');
  expect(r.status).toBe(201);
  expect((await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('bob'), {})).body.status).toBe('active');
  return r.body.id as string;
}

describe('tickets at submission and approval', () => {
  it('takes a ticket in an allowed state, and shows its summary', async () => {
    const r = await submit('OPS-1');
    expect(r.status).toBe(201);
    expect(r.body.ticketInfo).toMatchObject({
      system: 'jira',
      summary: 'Rotate the payments DB password',
      state: 'In Progress',
      url: `${jira.url}/browse/OPS-1`,
    });
  });

  it('refuses a missing ticket, or one in another state', async () => {
    const missing = await submit('OPS-404');
    expect(missing.body.error).toMatchObject({ code: 'HG_TERMS_NOT_MET', message: 'ticket OPS-404 was not found in jira' });
    const done = await submit('OPS-2');
    expect(done.body.error.message).toBe('ticket OPS-2 is Done in jira; allowed: In Progress');
  });

  it('refuses (503) when the ticket system cannot be asked, and says nothing of its token', async () => {
    jira.answerNext(503);
    const r = await submit('OPS-1');
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('HG_TICKET_UNAVAILABLE');
    expect(JSON.stringify(r.body)).not.toContain('jira-api-token-xyz');
  });

  it('checks again at approval', async () => {
    const r = await submit('OPS-1');
    jira.setState('OPS-1', 'Done');
    const approve = await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('bob'), {});
    expect(approve.body.error).toMatchObject({ code: 'HG_TERMS_NOT_MET', message: 'ticket OPS-1 is Done in jira; allowed: In Progress' });
    expect((await get(r.body.id)).status).toBe('pending');
  });
});

describe('access tied to its ticket', () => {
  it('ends when the ticket closes (polled), and comments when access starts and ends', async () => {
    const id = await active();
    await notify();
    expect(jira.comments).toEqual([{ key: 'OPS-1', text: expect.stringContaining('has access to db/write') }]);
    expect(jira.comments[0]!.text).toContain(`Audit trail: https://hourglass.example.com/audit?request=${id}`);

    await h.app.tickets.runOnce();
    expect((await get(id)).status).toBe('active');
    jira.setState('OPS-1', 'Done');
    await h.app.tickets.runOnce(); // within the poll interval: not asked again yet
    expect((await get(id)).status).toBe('active');
    h.clock.advance(60_000);
    await h.app.tickets.runOnce();
    const ended = await get(id);
    expect(ended).toMatchObject({ status: 'revoked', endedBy: 'system' });
    expect(ended.endReason).toBe('ticket OPS-1 is Done in jira; allowed: In Progress');
    await notify();
    expect(jira.comments.at(-1)!.text).toContain('has ended (revoked: ticket OPS-1 is Done in jira');
  });

  it('ends at once on a pushed event, which is only a hint', async () => {
    const id = await active();
    const push = (body: unknown, secret = PUSH_SECRET) =>
      h.server.inject({ method: 'POST', url: '/v1/integrations/tickets/jira/events', headers: { 'x-hourglass-token': secret }, payload: body as object });
    // The push claims the ticket is done, but Jira says it is in progress: nothing ends.
    expect((await push({ issue: { key: 'OPS-1', fields: { status: { name: 'Done' } } } })).json()).toEqual({ ticket: 'OPS-1', ended: 0 });
    expect((await push({ key: 'OPS-1' }, 'wrong-secret-0123456789')).statusCode).toBe(401);
    jira.setState('OPS-1', 'Done');
    expect((await push({ issue: { key: 'OPS-1' } })).json()).toEqual({ ticket: 'OPS-1', ended: 1 });
    expect((await get(id)).status).toBe('revoked');
  });

  it('leaves access as it is while the ticket system is down', async () => {
    const id = await active();
    jira.hold(true);
    h.clock.advance(60_000);
    await h.app.tickets.runOnce();
    jira.hold(false);
    expect((await get(id)).status).toBe('active');
  });
});

describe('tickets at a scheduled start', () => {
  const later = async () => {
    const r = await h.call('POST', '/v1/requests', token('alice'), {
      entitlements: ['db/write'],
      duration: '1h',
      reason: 'rotate',
      ticket: 'OPS-1',
      startAt: new Date(h.clock.now() + 3_600_000).toISOString(),
    });
    expect(r.status).toBe(201);
    expect((await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('bob'), {})).body.status).toBe('scheduled');
    return r.body.id as string;
  };

  it('cancels the start when the ticket is no longer allowed', async () => {
    const id = await later();
    jira.setState('OPS-1', 'Done');
    h.clock.advance(3_600_000);
    await h.app.due.runDue();
    expect(await get(id)).toMatchObject({ status: 'cancelled', endReason: 'at its start, ticket OPS-1 is Done in jira; allowed: In Progress' });
  });

  it('holds the start back while the ticket system cannot be asked, then starts', async () => {
    const id = await later();
    h.clock.advance(3_600_000);
    jira.answerNext(503);
    await h.app.due.runDue();
    expect((await get(id)).status).toBe('scheduled');
    h.clock.advance(15_000);
    await h.app.due.runDue();
    expect((await get(id)).status).toBe('active');
  });
});
