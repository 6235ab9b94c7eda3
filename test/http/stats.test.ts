// GET /v1/stats over HTTP on SQLite and PostgreSQL: two days of requests made through the API
// with the manual clock, and the dashboard's figures checked to the number (per day in UTC and
// in a zone 14 hours ahead, time to approve with a quorum of two, top entitlements, break-glass
// reviews, grants ending within the hour); admins and auditors only.
import { describe, expect, it } from 'vitest';
import { tokenHash } from '../fixtures/policies.js';
import { sharedHttpHarness, T0, token, type Dialect } from '../support/app-harness.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

const who = (id: string, groups: string[], roles: string[] = []) =>
  `  - { id: ${id}, groups: [${groups.join(', ')}], roles: [${roles.join(', ')}], apiTokens: [{ sha256: ${tokenHash(id)} }] }`;

const YAML = `
principals:
${who('alice', ['eng'])}
${who('carol', ['eng'])}
${who('dan', ['eng'])}
${who('bob', ['leads'])}
${who('erin', ['leads'])}
${who('admin', [], ['admin'])}
${who('auditor', [], ['auditor'])}
${who('checker', [], ['checker'])}
${who('plain', [])}
targets:
  db:
    type: hourglass
    entitlements:
      read: {}
      write: {}
      root: {}
policies:
  - name: self-read
    subjects: { groups: [eng] }
    entitlements: [db/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
  - name: write
    subjects: { groups: [eng] }
    entitlements: [db/write]
    maxDuration: 8h
    reason: optional
    approval: { required: 1, approvers: { groups: [leads] } }
  - name: root
    subjects: { groups: [eng] }
    entitlements: [db/root]
    maxDuration: 8h
    reason: optional
    approval: { required: 2, approvers: { groups: [leads] } }
  - name: break-glass
    subjects: { groups: [eng] }
    entitlements: [db/root]
    maxDuration: 4h
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { groups: [leads] }, within: 1h }
`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`GET /v1/stats on ${dialect}`, () => {
    const h = sharedHttpHarness(dialect, YAML);
    const at = (ms: number) => h.clock.set(ms);
    const submit = async (who: string, body: object) => {
      const r = await h.call('POST', '/v1/requests', token(who), { reason: 'work', ...body });
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
      return r.body.id as string;
    };
    const act = async (who: string, id: string, action: string, body: object = {}) => {
      const r = await h.call('POST', `/v1/requests/${id}/${action}`, token(who), body);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    };

    it('counts what was done through the API, per day, with approval times, top entitlements, break-glass and expiring grants', async () => {
      // Monday 2026-01-05 (UTC).
      at(T0);
      await submit('alice', { entitlements: ['db/read'], duration: '8h' }); // self-service: active at once
      const write1 = await submit('alice', { entitlements: ['db/write'], duration: '2h' });
      at(T0 + 10 * MIN);
      await act('bob', write1, 'approve'); // approved after 10 min
      const write2 = await submit('carol', { entitlements: ['db/write'], duration: '1h' });
      at(T0 + 30 * MIN);
      await act('bob', write2, 'deny');
      const root1 = await submit('carol', { entitlements: ['db/root'], duration: '1h' });
      at(T0 + 40 * MIN);
      await act('bob', root1, 'approve'); // one of two: no approval time, it never completed
      at(T0 + 50 * MIN);
      await act('erin', root1, 'deny');

      // Tuesday 2026-01-06.
      const TUE = T0 + DAY;
      at(TUE);
      const root2 = await submit('alice', { entitlements: ['db/root'], duration: '3h' });
      at(TUE + 30 * MIN);
      await act('bob', root2, 'approve');
      at(TUE + 60 * MIN);
      await act('erin', root2, 'approve'); // the quorum after 60 min; ends 14:00
      const write3 = await submit('alice', { entitlements: ['db/write'], duration: '30m' });
      at(TUE + 100 * MIN);
      await act('bob', write3, 'approve'); // after 40 min; ends 12:10
      const glass1 = await submit('carol', { entitlements: ['db/root'], duration: '2h', breakGlass: true }); // ends 13:40, review due 12:40
      at(TUE + 105 * MIN);
      const glass2 = await submit('dan', { entitlements: ['db/root'], duration: '30m', breakGlass: true }); // ends 12:15
      at(TUE + 110 * MIN);
      await act('bob', glass2, 'review', { comment: 'checked' });
      at(TUE + 165 * MIN); // Tuesday 12:45: carol's review is overdue, her grant ends within the hour

      const r = await h.call('GET', '/v1/stats?days=7', token('admin'));
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const s = r.body;
      expect(s.period).toEqual({ days: 7, timeZone: 'UTC', since: '2025-12-31T00:00:00.000Z', until: '2026-01-07T00:00:00.000Z' });
      expect(s.perDay.map((d: { date: string }) => d.date)).toEqual([
        '2025-12-31',
        '2026-01-01',
        '2026-01-02',
        '2026-01-03',
        '2026-01-04',
        '2026-01-05',
        '2026-01-06',
      ]);
      const none = { activations: 0, submitted: 0, denied: 0, breakGlass: 0 };
      expect(s.perDay[0]).toEqual({ date: '2025-12-31', start: '2025-12-31T00:00:00.000Z', ...none });
      expect(s.perDay[4]).toEqual({ date: '2026-01-04', start: '2026-01-04T00:00:00.000Z', ...none });
      expect(s.perDay[5]).toEqual({ date: '2026-01-05', start: '2026-01-05T00:00:00.000Z', activations: 2, submitted: 4, denied: 2, breakGlass: 0 });
      expect(s.perDay[6]).toEqual({ date: '2026-01-06', start: '2026-01-06T00:00:00.000Z', activations: 4, submitted: 4, denied: 0, breakGlass: 2 });
      expect(s.totals).toEqual({ activations: 6, submitted: 8, denied: 2, breakGlass: 2 });
      // 10, 40 and 60 minutes: the median is 40; the 90th percentile lies 0.8 of the way from 40 to 60.
      expect(s.timeToApprove).toEqual({ requests: 3, medianMs: 40 * MIN, p90Ms: 56 * MIN });
      expect(s.topEntitlements).toEqual([
        { entitlement: 'db/root', activations: 3 },
        { entitlement: 'db/write', activations: 2 },
        { entitlement: 'db/read', activations: 1 },
      ]);
      expect(s.breakGlass).toEqual({
        count: 2,
        latest: [
          {
            requestId: glass2,
            requester: 'dan',
            entitlements: ['db/root'],
            reason: 'work',
            at: new Date(TUE + 105 * MIN).toISOString(),
            review: { state: 'reviewed', by: 'bob', at: new Date(TUE + 110 * MIN).toISOString(), dueAt: new Date(TUE + 165 * MIN).toISOString() },
          },
          {
            requestId: glass1,
            requester: 'carol',
            entitlements: ['db/root'],
            reason: 'work',
            at: new Date(TUE + 100 * MIN).toISOString(),
            review: { state: 'overdue', by: null, at: null, dueAt: new Date(TUE + 160 * MIN).toISOString() },
          },
        ],
      });
      // Ending within the hour from 12:45: carol's (13:40); not alice's root (14:00), nor those already past.
      expect(s.expiringSoon).toEqual({
        withinMs: 60 * MIN,
        count: 1,
        grants: [{ requestId: glass1, principal: 'carol', entitlement: 'db/root', expiresAt: new Date(TUE + 220 * MIN).toISOString() }],
      });
      expect(s.revocationsOverdue).toEqual({ count: 0, requests: [] });

      // The same days seen from UTC+14, where Monday 10:00 UTC is already Tuesday midnight.
      const far = (await h.call('GET', '/v1/stats?days=7&tz=Pacific/Kiritimati', token('auditor'))).body;
      expect(far.period).toEqual({ days: 7, timeZone: 'Pacific/Kiritimati', since: '2025-12-31T10:00:00.000Z', until: '2026-01-07T10:00:00.000Z' });
      expect(far.perDay.at(-1)).toEqual({ date: '2026-01-07', start: '2026-01-06T10:00:00.000Z', activations: 4, submitted: 4, denied: 0, breakGlass: 2 });
      expect(far.perDay.at(-2)).toEqual({ date: '2026-01-06', start: '2026-01-05T10:00:00.000Z', activations: 2, submitted: 4, denied: 2, breakGlass: 0 });
      expect(far.totals).toEqual(s.totals);

      // One day (today only): Monday's requests fall out, and so does its 10-minute approval.
      const today = (await h.call('GET', '/v1/stats?days=1', token('admin'))).body;
      expect(today.totals).toEqual({ activations: 4, submitted: 4, denied: 0, breakGlass: 2 });
      expect(today.timeToApprove).toEqual({ requests: 2, medianMs: 50 * MIN, p90Ms: 58 * MIN });
      expect(today.topEntitlements).toEqual([
        { entitlement: 'db/root', activations: 3 },
        { entitlement: 'db/write', activations: 1 },
      ]);

      // Default: 30 days.
      const month = (await h.call('GET', '/v1/stats', token('admin'))).body;
      expect(month.perDay).toHaveLength(30);
      expect(month.period.since).toBe('2025-12-08T00:00:00.000Z');
      expect(month.totals).toEqual(s.totals);
    });

    it('answers empty figures for a period without events', async () => {
      h.clock.advance(400 * DAY);
      const s = (await h.call('GET', '/v1/stats?days=2', token('admin'))).body;
      expect(s.totals).toEqual({ activations: 0, submitted: 0, denied: 0, breakGlass: 0 });
      expect(s.timeToApprove).toEqual({ requests: 0, medianMs: null, p90Ms: null });
      expect(s.topEntitlements).toEqual([]);
      expect(s.breakGlass).toEqual({ count: 0, latest: [] });
      expect(s.expiringSoon.count).toBe(0);
    });

    it('is for admins and auditors only, and checks days and tz', async () => {
      for (const id of ['plain', 'alice', 'checker']) {
        const r = await h.call('GET', '/v1/stats', token(id));
        expect(r.status).toBe(403);
        expect(r.body.error.code).toBe('HG_FORBIDDEN');
      }
      expect((await h.call('GET', '/v1/stats', token('auditor'))).status).toBe(200);
      for (const q of ['days=0', 'days=367', 'days=1.5', 'tz=Mars/Olympus', 'other=1']) {
        const r = await h.call('GET', `/v1/stats?${q}`, token('admin'));
        expect(r.status, q).toBe(400);
        expect(r.body.error.code).toBe('HG_INVALID_INPUT');
      }
      expect((await h.call('GET', '/v1/stats?days=366', token('admin'))).status).toBe(200);
    });
  });
}
