/**
 * The dashboard's figures (src/app/stats.ts) where they need targets that can refuse: removals
 * overdue, on SQLite and PostgreSQL, with in-memory targets whose revoke fails; and the pure
 * helpers (quantiles, calendar days across clock changes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { statsFor } from '../../src/app/stats.js';
import { interpolate, lastLocalDays, quantile, quantileRank } from '../../src/core/stats.js';
import { freshStoreUrl, type Dialect, type StoreHandle } from '../support/app-harness.js';
import { SECOND } from '../support/builders.js';
import { admin, alice, memorySystem, memoryYaml, type MemorySystem } from '../support/memory-system.js';

const MIN = 60 * SECOND;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`revocations overdue on ${dialect}`, () => {
    let s: MemorySystem | undefined;
    let handle: StoreHandle | undefined;
    afterEach(async () => {
      await s?.close();
      await handle?.cleanup();
      s = undefined;
      handle = undefined;
    });

    it('lists a removal once it runs past its target revocationAlertAfter, says when the alert was raised, and drops it when done', async () => {
      handle = await freshStoreUrl(dialect);
      s = await memorySystem({ yaml: memoryYaml({ mem: '    revocationAlertAfter: 1m' }), store: handle.url, jitter: 0.5 });
      const stats = () => statsFor(s!.system.app.deps, admin, { days: 1 });

      const late = await s.submit(['mem/read']);
      const slow = await s.submit(['mem2/read']); // mem2 keeps the default revocationAlertAfter, 5m
      await s.system.access.runOnce();
      expect((await s.stored(late.id)).status).toBe('active');
      s.mem.failNext(1000, { verbs: ['revoke'] });
      s.mem2.failNext(1000, { verbs: ['revoke'] });
      await s.system.app.requests.revoke(late.id, admin, 'incident');
      await s.system.app.requests.revoke(slow.id, admin, 'incident');
      const since = s.clock.now();
      await s.system.access.runOnce(); // the first attempts fail
      expect((await stats()).revocationsOverdue).toEqual({ count: 0, requests: [] });

      // Past 1m, `late` is overdue even before the next attempt raises the alert; `slow` is not (5m).
      s.clock.advance(MIN);
      const before = (await stats()).revocationsOverdue;
      expect(before).toEqual({
        count: 1,
        requests: [
          {
            requestId: late.id,
            requester: 'alice',
            entitlements: ['mem/read'],
            status: 'revoked',
            removingSince: new Date(since).toISOString(),
            attempts: 1,
            lastError: 'target "mem": revoke: connection refused (injected)',
            alerted: false,
          },
        ],
      });
      await s.system.access.runOnce();
      expect(await s.events('alert.revocation_overdue', late.id)).toHaveLength(1);
      expect((await stats()).revocationsOverdue.requests).toMatchObject([{ requestId: late.id, attempts: 2, alerted: true }]);

      // Past 5m both are late, oldest first (both started together: by id).
      s.clock.advance(4 * MIN);
      const both = (await stats()).revocationsOverdue;
      expect(both.count).toBe(2);
      expect(both.requests.map((r) => r.requestId)).toEqual([late.id, slow.id].sort());

      // The targets come back: removal finishes and nothing is overdue.
      s.mem.recover();
      s.mem2.recover();
      s.clock.advance(MIN);
      await s.system.access.runOnce();
      expect((await s.stored(late.id)).access).toBe('removed');
      expect((await stats()).revocationsOverdue).toEqual({ count: 0, requests: [] });
      // The period's figures saw both activations.
      expect((await stats()).totals).toMatchObject({ activations: 2, submitted: 2 });
      expect((await stats()).topEntitlements).toEqual([
        { entitlement: 'mem/read', activations: 1 },
        { entitlement: 'mem2/read', activations: 1 },
      ]);
    });

    it('refuses whoever is neither admin nor auditor', async () => {
      handle = await freshStoreUrl(dialect);
      s = await memorySystem({ store: handle.url });
      await expect(statsFor(s.system.app.deps, alice, { days: 30 })).rejects.toMatchObject({ code: 'HG_FORBIDDEN' });
    });
  });
}

describe('stats helpers', () => {
  it('places quantiles as percentile_cont does', () => {
    expect(quantile([], 0.5)).toBeUndefined();
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 40, 60], 0.9)).toBe(56);
    expect(quantile([10, 40, 60], 1)).toBe(60);
    expect(quantileRank(5, 0.5)).toEqual({ offset: 2, frac: 0 });
    expect(interpolate(4, undefined, 0.5)).toBe(4);
  });

  it('gives calendar days of a zone, 23 and 25 hours long across its clock changes', () => {
    const HOUR = 60 * MIN;
    // Europe/Berlin moves to summer time on 2026-03-29 and back on 2026-10-25.
    const spring = lastLocalDays(Date.parse('2026-03-30T12:00:00Z'), 3, 'Europe/Berlin');
    expect(spring.map((d) => [d.date, new Date(d.start).toISOString(), (d.end - d.start) / HOUR])).toEqual([
      ['2026-03-28', '2026-03-27T23:00:00.000Z', 24],
      ['2026-03-29', '2026-03-28T23:00:00.000Z', 23],
      ['2026-03-30', '2026-03-29T22:00:00.000Z', 24],
    ]);
    const autumn = lastLocalDays(Date.parse('2026-10-25T12:00:00Z'), 1, 'Europe/Berlin');
    expect((autumn[0]!.end - autumn[0]!.start) / HOUR).toBe(25);
    // A zone whose offset is not whole hours, and one where midnight itself was skipped (Cuba springs forward at 00:00).
    expect(new Date(lastLocalDays(Date.parse('2026-01-05T12:00:00Z'), 1, 'Asia/Kathmandu')[0]!.start).toISOString()).toBe('2026-01-04T18:15:00.000Z');
    const havana = lastLocalDays(Date.parse('2026-03-08T12:00:00Z'), 1, 'America/Havana')[0]!;
    expect([havana.date, new Date(havana.start).toISOString()]).toEqual(['2026-03-08', '2026-03-08T05:00:00.000Z']);
    // UTC takes the short way.
    expect(lastLocalDays(Date.parse('2026-01-05T10:00:00Z'), 2, 'UTC')).toEqual([
      { date: '2026-01-04', start: Date.parse('2026-01-04T00:00:00Z'), end: Date.parse('2026-01-05T00:00:00Z') },
      { date: '2026-01-05', start: Date.parse('2026-01-05T00:00:00Z'), end: Date.parse('2026-01-06T00:00:00Z') },
    ]);
  });
});
