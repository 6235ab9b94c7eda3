/**
 * On-call in policies, end to end against the PagerDuty stand-in: a requester on call now is
 * approved without an approver and the grant must be reviewed; anyone else waits; an unreadable
 * schedule approves nobody; an on-call escalation tier asks whoever is on call when it is reached.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpHarness, freshStoreUrl, T0, token, type HttpHarness, type StoreHandle } from '../support/app-harness.js';
import { startPagerDutyStandIn, type PagerDutyStandin } from '../support/oncall-standins.js';

let h: HttpHarness;
let handle: StoreHandle;
let pd: PagerDutyStandin;

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const sha = (id: string) => createHash('sha256').update(`${id}-demo-token`).digest('hex');
const who = (id: string, groups: string[]) =>
  `  - { id: ${id}, groups: [${groups.join(', ')}], email: ${id}@example.com, apiTokens: [{ sha256: "${sha(id)}" }] }`;

const yaml = () => `
server:
  listen: 127.0.0.1:0
  store: "sqlite::memory:"
  allowedHosts: [127.0.0.1]
principals:
${who('alice', ['developers'])}
${who('mallory', ['developers'])}
${who('bob', ['leads'])}
${who('carol', ['sre'])}
  - { id: auditor, roles: [auditor], apiTokens: [{ sha256: "${sha('auditor')}" }] }
targets:
  db: { type: hourglass, entitlements: { admin: {}, write: {} } }
policies:
  - name: oncall-admin
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    maxDuration: 2h
    reason: optional
    approval: { required: 1, approvers: { groups: [leads] }, onCall: primary }
    review: { approvers: { groups: [leads] }, within: 2h }
  - name: write
    subjects: { groups: [developers] }
    entitlements: [db/write]
    maxDuration: 2h
    reason: optional
    pendingTimeout: 2h
    approval:
      required: 1
      approvers: { groups: [leads] }
      escalation: [{ after: 30m, onCall: primary }]
oncall:
  - { name: primary, type: pagerduty, schedule: PSCHED1, token: pd-api-token-0123, url: "${pd.url}", cache: 0, timeout: 2s }
`;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  pd = await startPagerDutyStandIn({
    token: 'pd-api-token-0123',
    schedules: { PSCHED1: [{ email: 'alice@example.com', start: iso(T0 - HOUR), end: iso(T0 + HOUR) }] },
  });
  h = await createHttpHarness({ yaml: yaml(), storeUrl: handle.url });
});
afterEach(async () => {
  await h?.close();
  await pd.close();
  await handle.cleanup();
});

const submit = (id: string, entitlement: string) => h.call('POST', '/v1/requests', token(id), { entitlements: [entitlement], duration: '1h' });
const events = async (id: string) =>
  (await h.call('GET', `/v1/audit?requestId=${id}`, token('auditor'))).body.events as { type: string; details: Record<string, unknown> }[];
const types = async (id: string) => (await events(id)).map((e) => e.type);

describe('approval.onCall', () => {
  it('approves a requester on call now, and the grant must be reviewed', async () => {
    const r = await submit('alice', 'db/admin');
    expect(r.body.status).toBe('active');
    expect(r.body.approvals).toEqual([expect.objectContaining({ by: 'oncall:primary' })]);
    const reviewable = (await h.call('GET', '/v1/requests?reviewable=true', token('bob'))).body.requests.map((x: { id: string }) => x.id);
    expect(reviewable).toContain(r.body.id);
    expect((await h.call('POST', `/v1/requests/${r.body.id}/review`, token('bob'), { comment: 'saw the incident' })).status).toBe(200);
  });

  it('raises the review alert when nobody reviews in time', async () => {
    const r = await submit('alice', 'db/admin');
    expect(await types(r.body.id)).toEqual(['request.submitted', 'request.auto_approved', 'grant.activated']);
    h.clock.advance(2 * HOUR);
    await h.app.due.runDue(); // the grant expires
    await h.app.due.runDue(); // the review is overdue
    expect(await types(r.body.id)).toContain('alert.review_overdue');
  });

  it('leaves anyone not on call to the approvers, and approves nobody when the schedule cannot be read', async () => {
    expect((await submit('mallory', 'db/admin')).body.status).toBe('pending');
    pd.answerNext(5, 500);
    expect((await submit('alice', 'db/admin')).body.status).toBe('pending');
  });
});

describe('an on-call escalation tier', () => {
  it('asks whoever is on call when the tier is reached', async () => {
    const r = await submit('mallory', 'db/write');
    expect(r.body.status).toBe('pending');
    expect((await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('carol'), {})).status).toBe(404);
    pd.setSchedule('PSCHED1', [{ email: 'carol@example.com', start: iso(T0), end: iso(T0 + 2 * HOUR) }]);
    h.clock.advance(30 * 60_000);
    await h.app.due.runDue();
    expect((await events(r.body.id)).find((e) => e.type === 'request.escalated')?.details).toMatchObject({
      approvers: { write: { groups: [], users: ['carol'] } },
    });
    expect((await h.call('POST', `/v1/requests/${r.body.id}/approve`, token('carol'), {})).body.status).toBe('active');
  });
});
