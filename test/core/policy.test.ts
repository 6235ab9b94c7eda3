import { describe, expect, it } from 'vitest';
import { candidatesFor, evaluateRequest, hhmm, inNetworks, subjectMatches, termViolations, termsOf, windowViolations } from '../../src/core/policy.js';
import type { TimeWindow } from '../../src/core/types.js';
import { DAY, HOUR, MINUTE, T0, ask, breakGlassPolicy, policy, principal, subjects } from '../support/builders.js';

/** True when the window's day and hour rules allow the instant. */
function open(window: TimeWindow, at: number): boolean {
  return windowViolations(window, at).length === 0;
}

describe('subjectMatches', () => {
  it('matches by user id', () => {
    expect(subjectMatches(subjects({ users: ['alice'] }), principal('alice'))).toBe(true);
  });

  it('matches by any shared group', () => {
    expect(subjectMatches(subjects({ groups: ['ops', 'developers'] }), principal('x', ['developers']))).toBe(true);
    expect(subjectMatches(subjects({ groups: ['ops'] }), principal('x', ['qa', 'ops']))).toBe(true);
  });

  it('does not match other users, other groups or empty sets', () => {
    expect(subjectMatches(subjects({ users: ['bob'], groups: ['ops'] }), principal('alice', ['developers']))).toBe(false);
    expect(subjectMatches(subjects(), principal('alice', ['developers']))).toBe(false);
    expect(subjectMatches(subjects({ groups: ['developers'] }), principal('alice'))).toBe(false);
  });

  it('is exact: no case folding, no prefix match, a user id is not a group', () => {
    expect(subjectMatches(subjects({ users: ['Alice'] }), principal('alice'))).toBe(false);
    expect(subjectMatches(subjects({ groups: ['dev'] }), principal('x', ['developers']))).toBe(false);
    expect(subjectMatches(subjects({ groups: ['alice'] }), principal('alice'))).toBe(false);
    expect(subjectMatches(subjects({ users: ['developers'] }), principal('x', ['developers']))).toBe(false);
  });
});

describe('candidatesFor', () => {
  const a = policy({ name: 'a', entitlements: ['db/read', 'db/write'] });
  const b = policy({ name: 'b', entitlements: ['db/read'], subjects: { groups: ['ops'] } });
  const c = policy({ name: 'c', entitlements: ['db/read'], subjects: { groups: [], users: ['alice'] } });
  const d = policy({ name: 'd', entitlements: ['other/x'] });
  const bg = breakGlassPolicy({ name: 'bg', entitlements: ['db/read'], subjects: { groups: ['developers'] } });
  const all = [a, b, bg, c, d];

  it('keeps the policies that grant the entitlement to the requester, in file order', () => {
    expect(candidatesFor(all, ask(), 'db/read').map((p) => p.name)).toEqual(['a', 'c']);
    expect(candidatesFor([c, a], ask(), 'db/read').map((p) => p.name)).toEqual(['c', 'a']);
    expect(candidatesFor(all, ask(), 'db/write').map((p) => p.name)).toEqual(['a']);
    expect(candidatesFor(all, ask(), 'nope/none')).toEqual([]);
  });

  it('leaves out policies for other subjects', () => {
    const bob = principal('bob', ['ops']);
    expect(candidatesFor(all, ask({ requester: bob }), 'db/read').map((p) => p.name)).toEqual(['b']);
    expect(candidatesFor(all, ask({ requester: principal('eve') }), 'db/read')).toEqual([]);
  });

  it('offers break-glass policies only to break-glass requests, and only them', () => {
    expect(candidatesFor(all, ask({ breakGlass: true }), 'db/read').map((p) => p.name)).toEqual(['bg']);
    expect(candidatesFor(all, ask({ breakGlass: false }), 'db/read').map((p) => p.name)).not.toContain('bg');
    expect(candidatesFor([a], ask({ breakGlass: true }), 'db/read')).toEqual([]);
  });

  it('restricts to a named policy, which may be a break-glass policy', () => {
    expect(candidatesFor(all, ask({ policyName: 'c' }), 'db/read').map((p) => p.name)).toEqual(['c']);
    expect(candidatesFor(all, ask({ policyName: 'bg' }), 'db/read').map((p) => p.name)).toEqual(['bg']);
    expect(candidatesFor(all, ask({ policyName: 'a', breakGlass: true }), 'db/read').map((p) => p.name)).toEqual(['a']);
  });

  it('a named policy still has to grant the entitlement to the requester', () => {
    expect(candidatesFor(all, ask({ policyName: 'b' }), 'db/read')).toEqual([]);
    expect(candidatesFor(all, ask({ policyName: 'd' }), 'db/read')).toEqual([]);
    expect(candidatesFor(all, ask({ policyName: 'missing' }), 'db/read')).toEqual([]);
  });
});

describe('termViolations', () => {
  const p = policy({ minDuration: 5 * MINUTE, maxDuration: 8 * HOUR });

  it('accepts a request inside every term', () => {
    expect(termViolations(p, ask(), HOUR)).toEqual([]);
  });

  describe('duration', () => {
    it('accepts exactly the minimum and exactly the maximum', () => {
      expect(termViolations(p, ask(), 5 * MINUTE)).toEqual([]);
      expect(termViolations(p, ask(), 8 * HOUR)).toEqual([]);
    });

    it('refuses below the minimum', () => {
      expect(termViolations(p, ask(), 5 * MINUTE - 1000)).toEqual(['duration 4m59s is below the minimum 5m']);
    });

    it('refuses above the maximum', () => {
      expect(termViolations(p, ask(), 8 * HOUR + 1000)).toEqual(['duration 8h1s exceeds the maximum 8h']);
      expect(termViolations(p, ask(), 9 * HOUR)).toEqual(['duration 9h exceeds the maximum 8h']);
    });
  });

  describe('reason', () => {
    const required = policy({ reason: 'required' });

    it('requires a non-blank reason when the policy says so', () => {
      expect(termViolations(required, ask(), HOUR)).toEqual(['a reason is required']);
      expect(termViolations(required, ask({ reason: '' }), HOUR)).toEqual(['a reason is required']);
      expect(termViolations(required, ask({ reason: '  \t ' }), HOUR)).toEqual(['a reason is required']);
      expect(termViolations(required, ask({ reason: 'INC-1 database is on fire' }), HOUR)).toEqual([]);
    });

    it('does not require one when optional', () => {
      expect(termViolations(policy({ reason: 'optional' }), ask(), HOUR)).toEqual([]);
    });
  });

  describe('ticket', () => {
    it('requires a non-blank ticket when the policy says so', () => {
      const required = policy({ ticket: { required: true } });
      expect(termViolations(required, ask(), HOUR)).toEqual(['a ticket is required']);
      expect(termViolations(required, ask({ ticket: '   ' }), HOUR)).toContain('a ticket is required');
      expect(termViolations(required, ask({ ticket: 'ANY-1' }), HOUR)).toEqual([]);
    });

    it('checks a given ticket against the pattern', () => {
      const patterned = policy({ ticket: { required: true, pattern: '^INC-[0-9]+$' } });
      expect(termViolations(patterned, ask({ ticket: 'INC-42' }), HOUR)).toEqual([]);
      expect(termViolations(patterned, ask({ ticket: 'CHG-42' }), HOUR)).toEqual(['ticket "CHG-42" does not match ^INC-[0-9]+$']);
      expect(termViolations(patterned, ask({ ticket: 'INC-42x' }), HOUR)).toHaveLength(1);
      expect(termViolations(patterned, ask(), HOUR)).toEqual(['a ticket is required']);
    });

    it('checks the pattern of an optional ticket only when one is given', () => {
      const optional = policy({ ticket: { required: false, pattern: '^INC-[0-9]+$' } });
      expect(termViolations(optional, ask(), HOUR)).toEqual([]);
      expect(termViolations(optional, ask({ ticket: 'INC-7' }), HOUR)).toEqual([]);
      expect(termViolations(optional, ask({ ticket: 'nope' }), HOUR)).toEqual(['ticket "nope" does not match ^INC-[0-9]+$']);
    });
  });

  it('refuses a break-glass ask under a policy that is not break-glass', () => {
    expect(termViolations(policy({ name: 'plain' }), ask({ breakGlass: true }), HOUR)).toEqual(['policy plain is not a break-glass policy']);
    expect(termViolations(breakGlassPolicy(), ask({ breakGlass: true }), HOUR)).toEqual([]);
  });

  it('lists every broken term', () => {
    const strict = policy({ reason: 'required', ticket: { required: true }, maxDuration: HOUR });
    expect(termViolations(strict, ask({ breakGlass: true }), 2 * HOUR)).toHaveLength(4);
  });

  describe('time window', () => {
    const weekdays = policy({
      when: { timezone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], hours: { from: 9 * 60, to: 17 * 60 } },
    });

    it('accepts a request inside the window (T0 is Monday 11:00 in Berlin)', () => {
      expect(termViolations(weekdays, ask({ now: T0 }), HOUR)).toEqual([]);
    });

    it('refuses a request outside the allowed days, naming the local day', () => {
      const saturday = Date.UTC(2026, 0, 10, 10, 0);
      expect(termViolations(weekdays, ask({ now: saturday }), HOUR)).toEqual(['sat is not an allowed day (mon, tue, wed, thu, fri, Europe/Berlin)']);
    });

    it('refuses a request outside the allowed hours, naming the local time', () => {
      const early = Date.UTC(2026, 0, 5, 7, 59); // 08:59 CET
      expect(termViolations(weekdays, ask({ now: early }), HOUR)).toEqual(['08:59 is outside the allowed hours 09:00-17:00 (Europe/Berlin)']);
    });

    it('also checks a future start against the window', () => {
      const saturdayStart = Date.UTC(2026, 0, 10, 10, 0);
      const reasons = termViolations(weekdays, ask({ now: T0, startAt: saturdayStart }), HOUR);
      expect(reasons).toEqual(['at the requested start: sat is not an allowed day (mon, tue, wed, thu, fri, Europe/Berlin)']);
      expect(termViolations(weekdays, ask({ now: T0, startAt: T0 + 2 * HOUR }), HOUR)).toEqual([]);
    });

    it('ignores a start that is not in the future', () => {
      expect(termViolations(weekdays, ask({ now: T0, startAt: T0 - 3 * DAY }), HOUR)).toEqual([]);
    });
  });

  describe('source networks', () => {
    const v4 = policy({ when: { timezone: 'UTC', sourceNetworks: ['10.0.0.0/8', '192.168.1.0/24'] } });
    const v6 = policy({ when: { timezone: 'UTC', sourceNetworks: ['2001:db8::/32', '::1/128'] } });

    it('accepts an IPv4 address inside a block', () => {
      expect(termViolations(v4, ask({ sourceIp: '10.1.2.3' }), HOUR)).toEqual([]);
      expect(termViolations(v4, ask({ sourceIp: '192.168.1.255' }), HOUR)).toEqual([]);
    });

    it('refuses an address outside every block, naming it', () => {
      expect(termViolations(v4, ask({ sourceIp: '192.168.2.1' }), HOUR)).toEqual(['source address 192.168.2.1 is not in 10.0.0.0/8, 192.168.1.0/24']);
    });

    it('refuses when the source address is unknown', () => {
      expect(termViolations(v4, ask(), HOUR)).toEqual(['source address unknown is not in 10.0.0.0/8, 192.168.1.0/24']);
    });

    it('treats IPv4-mapped IPv6 addresses as the IPv4 address they carry', () => {
      expect(termViolations(v4, ask({ sourceIp: '::ffff:10.9.8.7' }), HOUR)).toEqual([]);
      expect(termViolations(v4, ask({ sourceIp: '::ffff:172.16.0.1' }), HOUR)).toHaveLength(1);
    });

    it('matches IPv6 addresses against IPv6 blocks', () => {
      expect(termViolations(v6, ask({ sourceIp: '2001:db8:abcd::1' }), HOUR)).toEqual([]);
      expect(termViolations(v6, ask({ sourceIp: '2001:0DB8:0000:0000::0001' }), HOUR)).toEqual([]);
      expect(termViolations(v6, ask({ sourceIp: '::1' }), HOUR)).toEqual([]);
      expect(termViolations(v6, ask({ sourceIp: '2001:db9::1' }), HOUR)).toHaveLength(1);
      expect(termViolations(v6, ask({ sourceIp: '::2' }), HOUR)).toHaveLength(1);
    });

    it('never matches an address of the other family', () => {
      expect(termViolations(v6, ask({ sourceIp: '10.1.2.3' }), HOUR)).toHaveLength(1);
      expect(termViolations(v4, ask({ sourceIp: '2001:db8::1' }), HOUR)).toHaveLength(1);
    });
  });
});

describe('inNetworks', () => {
  it.each([
    ['10.0.0.1', ['10.0.0.0/8'], true],
    ['10.255.255.255', ['10.0.0.0/8'], true],
    ['11.0.0.0', ['10.0.0.0/8'], false],
    ['203.0.113.7', ['203.0.113.7/32'], true],
    ['203.0.113.8', ['203.0.113.7/32'], false],
    ['1.2.3.4', ['0.0.0.0/0'], true],
    ['::ffff:1.2.3.4', ['0.0.0.0/0'], true],
    ['::ffff:203.0.113.7', ['203.0.113.0/24'], true],
    ['::ffff:cb00:7107', ['203.0.113.0/24'], true], // the same mapped address in hex form
    ['2001:db8::1', ['2001:db8::/32'], true],
    ['2001:db8:ffff:ffff::1', ['2001:db8::/32'], true],
    ['2001:db9::', ['2001:db8::/32'], false],
    ['fe80::1', ['fe80::/10'], true],
    ['2001:db8::1', ['::/0'], true],
    ['1.2.3.4', ['::/0'], false],
    ['2001:db8::1', ['0.0.0.0/0'], false],
    ['2001:db8::1', ['10.0.0.0/8', '2001:db8::/48'], true],
  ] as const)('%s in %j is %s', (ip, cidrs, expected) => {
    expect(inNetworks(ip, cidrs)).toBe(expected);
  });

  it('refuses missing and malformed addresses', () => {
    expect(inNetworks(undefined, ['0.0.0.0/0'])).toBe(false);
    expect(inNetworks('', ['0.0.0.0/0'])).toBe(false);
    expect(inNetworks('not-an-ip', ['0.0.0.0/0'])).toBe(false);
    expect(inNetworks('10.0.0.1', [])).toBe(false);
  });
});

describe('windowViolations', () => {
  const officeHours: TimeWindow = { timezone: 'UTC', hours: { from: 9 * 60, to: 17 * 60 } };

  it('treats the start as inside and the end as outside', () => {
    expect(open(officeHours, Date.UTC(2026, 0, 5, 8, 59))).toBe(false);
    expect(open(officeHours, Date.UTC(2026, 0, 5, 9, 0))).toBe(true);
    expect(open(officeHours, Date.UTC(2026, 0, 5, 16, 59))).toBe(true);
    expect(open(officeHours, Date.UTC(2026, 0, 5, 17, 0))).toBe(false);
  });

  it('reads midnight as 00:00, not 24:00', () => {
    const firstHour: TimeWindow = { timezone: 'UTC', hours: { from: 0, to: 60 } };
    expect(open(firstHour, Date.UTC(2026, 0, 5, 0, 0))).toBe(true);
    expect(open(firstHour, Date.UTC(2026, 0, 5, 0, 59))).toBe(true);
    expect(open(firstHour, Date.UTC(2026, 0, 5, 1, 0))).toBe(false);
    expect(windowViolations(firstHour, Date.UTC(2026, 0, 5, 23, 0))).toEqual(['23:00 is outside the allowed hours 00:00-01:00 (UTC)']);
  });

  it('allows an end of 24:00 (1440 minutes)', () => {
    const wholeDay: TimeWindow = { timezone: 'UTC', hours: { from: 0, to: 1440 } };
    const evening: TimeWindow = { timezone: 'UTC', hours: { from: 20 * 60, to: 1440 } };
    for (let m = 0; m < 1440; m += 7) expect(open(wholeDay, Date.UTC(2026, 0, 5, 0, m))).toBe(true);
    expect(open(evening, Date.UTC(2026, 0, 5, 23, 59))).toBe(true);
    expect(open(evening, Date.UTC(2026, 0, 6, 0, 0))).toBe(false);
    expect(open(evening, Date.UTC(2026, 0, 5, 19, 59))).toBe(false);
  });

  it('handles a window across midnight', () => {
    const night: TimeWindow = { timezone: 'UTC', hours: { from: 22 * 60, to: 6 * 60 } };
    expect(open(night, Date.UTC(2026, 0, 5, 21, 59))).toBe(false);
    expect(open(night, Date.UTC(2026, 0, 5, 22, 0))).toBe(true);
    expect(open(night, Date.UTC(2026, 0, 5, 23, 59))).toBe(true);
    expect(open(night, Date.UTC(2026, 0, 6, 0, 0))).toBe(true);
    expect(open(night, Date.UTC(2026, 0, 6, 5, 59))).toBe(true);
    expect(open(night, Date.UTC(2026, 0, 6, 6, 0))).toBe(false);
    expect(open(night, Date.UTC(2026, 0, 6, 12, 0))).toBe(false);
    expect(windowViolations(night, Date.UTC(2026, 0, 6, 12, 0))).toEqual(['12:00 is outside the allowed hours 22:00-06:00 (UTC)']);
  });

  it('checks the day in the window time zone, not in UTC', () => {
    const mondays: TimeWindow = { timezone: 'Europe/Berlin', days: ['mon'] };
    // Sunday 23:30 UTC is Monday 00:30 in Berlin; Monday 23:30 UTC is already Tuesday there.
    expect(open(mondays, Date.UTC(2026, 0, 4, 23, 30))).toBe(true);
    expect(open(mondays, Date.UTC(2026, 0, 5, 23, 30))).toBe(false);
    expect(windowViolations(mondays, Date.UTC(2026, 0, 5, 23, 30))).toEqual(['tue is not an allowed day (mon, Europe/Berlin)']);
    // Monday 03:00 UTC is still Sunday 22:00 in New York.
    const nySundays: TimeWindow = { timezone: 'America/New_York', days: ['sun'] };
    expect(open(nySundays, Date.UTC(2026, 0, 5, 3, 0))).toBe(true);
    expect(open(nySundays, Date.UTC(2026, 0, 5, 5, 0))).toBe(false);
  });

  it('names every weekday correctly', () => {
    const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
    days.forEach((day, i) => {
      const at = T0 + i * DAY; // T0 is a Monday
      expect(open({ timezone: 'UTC', days: [day] }, at)).toBe(true);
      expect(open({ timezone: 'UTC', days: days.filter((d) => d !== day) }, at)).toBe(false);
    });
  });

  it('uses half-hour offsets (Asia/Kolkata is UTC+05:30)', () => {
    const w: TimeWindow = { timezone: 'Asia/Kolkata', hours: { from: 9 * 60, to: 9 * 60 + 30 } };
    expect(open(w, Date.UTC(2026, 0, 5, 3, 29))).toBe(false);
    expect(open(w, Date.UTC(2026, 0, 5, 3, 30))).toBe(true);
    expect(open(w, Date.UTC(2026, 0, 5, 3, 59))).toBe(true);
    expect(open(w, Date.UTC(2026, 0, 5, 4, 0))).toBe(false);
  });

  describe('Europe/Berlin across daylight saving time', () => {
    const office: TimeWindow = {
      timezone: 'Europe/Berlin',
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      hours: { from: 9 * 60, to: 17 * 60 },
    };

    it('in winter (CET, UTC+1) the window is 08:00-16:00 UTC', () => {
      // Friday 27 March 2026, the last weekday before the change on Sunday 29 March.
      expect(open(office, Date.UTC(2026, 2, 27, 7, 59))).toBe(false);
      expect(open(office, Date.UTC(2026, 2, 27, 8, 0))).toBe(true);
      expect(open(office, Date.UTC(2026, 2, 27, 15, 59))).toBe(true);
      expect(open(office, Date.UTC(2026, 2, 27, 16, 0))).toBe(false);
    });

    it('in summer (CEST, UTC+2) the window is 07:00-15:00 UTC', () => {
      // Monday 30 March 2026, the first weekday after the change.
      expect(open(office, Date.UTC(2026, 2, 30, 6, 59))).toBe(false);
      expect(windowViolations(office, Date.UTC(2026, 2, 30, 6, 59))).toEqual(['08:59 is outside the allowed hours 09:00-17:00 (Europe/Berlin)']);
      expect(open(office, Date.UTC(2026, 2, 30, 7, 0))).toBe(true);
      expect(open(office, Date.UTC(2026, 2, 30, 14, 59))).toBe(true);
      expect(open(office, Date.UTC(2026, 2, 30, 15, 0))).toBe(false);
    });

    it('the same UTC instant of day is inside in summer and outside in winter', () => {
      expect(open(office, Date.UTC(2026, 6, 6, 7, 30))).toBe(true); // Monday 6 July, 09:30 CEST
      expect(open(office, Date.UTC(2026, 0, 5, 7, 30))).toBe(false); // Monday 5 January, 08:30 CET
    });

    it('back in winter time after the change on Sunday 25 October', () => {
      expect(open(office, Date.UTC(2026, 9, 23, 7, 0))).toBe(true); // Friday, 09:00 CEST
      expect(open(office, Date.UTC(2026, 9, 26, 7, 0))).toBe(false); // Monday, 08:00 CET
      expect(open(office, Date.UTC(2026, 9, 26, 8, 0))).toBe(true); // Monday, 09:00 CET
    });

    it('on the spring-forward night the local hour 02:00-03:00 does not exist', () => {
      const twoToThree: TimeWindow = { timezone: 'Europe/Berlin', hours: { from: 2 * 60, to: 3 * 60 } };
      expect(open(twoToThree, Date.UTC(2026, 2, 29, 0, 59))).toBe(false); // 01:59 CET
      expect(open(twoToThree, Date.UTC(2026, 2, 29, 1, 0))).toBe(false); // 03:00 CEST
      expect(windowViolations(twoToThree, Date.UTC(2026, 2, 29, 1, 0))).toEqual(['03:00 is outside the allowed hours 02:00-03:00 (Europe/Berlin)']);
    });

    it('on the fall-back night the local hour 02:00-03:00 happens twice', () => {
      const twoToThree: TimeWindow = { timezone: 'Europe/Berlin', hours: { from: 2 * 60, to: 3 * 60 } };
      expect(open(twoToThree, Date.UTC(2026, 9, 25, 0, 30))).toBe(true); // 02:30 CEST
      expect(open(twoToThree, Date.UTC(2026, 9, 25, 1, 30))).toBe(true); // 02:30 CET
      expect(open(twoToThree, Date.UTC(2026, 9, 25, 2, 0))).toBe(false); // 03:00 CET
    });

    it('a window across midnight follows the local clock in both seasons', () => {
      const night: TimeWindow = { timezone: 'Europe/Berlin', hours: { from: 22 * 60, to: 6 * 60 } };
      // Summer: 22:00 CEST = 20:00 UTC, 06:00 CEST = 04:00 UTC.
      expect(open(night, Date.UTC(2026, 6, 6, 19, 59))).toBe(false);
      expect(open(night, Date.UTC(2026, 6, 6, 20, 0))).toBe(true);
      expect(open(night, Date.UTC(2026, 6, 6, 22, 0))).toBe(true); // local midnight
      expect(open(night, Date.UTC(2026, 6, 7, 3, 59))).toBe(true);
      expect(open(night, Date.UTC(2026, 6, 7, 4, 0))).toBe(false);
      // Winter: 22:00 CET = 21:00 UTC, 06:00 CET = 05:00 UTC.
      expect(open(night, Date.UTC(2026, 0, 5, 20, 59))).toBe(false);
      expect(open(night, Date.UTC(2026, 0, 5, 21, 0))).toBe(true);
      expect(open(night, Date.UTC(2026, 0, 6, 4, 59))).toBe(true);
      expect(open(night, Date.UTC(2026, 0, 6, 5, 0))).toBe(false);
    });
  });
});

describe('hhmm', () => {
  it('formats minutes after midnight', () => {
    expect(hhmm(0)).toBe('00:00');
    expect(hhmm(9 * 60 + 5)).toBe('09:05');
    expect(hhmm(23 * 60 + 59)).toBe('23:59');
    expect(hhmm(1440)).toBe('24:00');
  });
});

describe('evaluateRequest', () => {
  it('grants under the only candidate with its default duration', () => {
    const p = policy({ name: 'p', defaultDuration: 2 * HOUR });
    const v = evaluateRequest([p], ask());
    expect(v).toEqual({
      ok: true,
      durationMs: 2 * HOUR,
      chosen: { 'db/read': p },
      candidates: { 'db/read': [{ policy: 'p', reasons: [] }] },
    });
  });

  it('uses an explicit duration', () => {
    const v = evaluateRequest([policy()], ask({ durationMs: 3 * HOUR }));
    expect(v.ok && v.durationMs).toBe(3 * HOUR);
  });

  it('picks the FIRST candidate in file order whose terms are met', () => {
    const needsTicket = policy({ name: 'needs-ticket', ticket: { required: true } });
    const first = policy({ name: 'first-ok' });
    const second = policy({ name: 'second-ok' });
    const v = evaluateRequest([needsTicket, first, second], ask());
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.chosen['db/read']?.name).toBe('first-ok');
    expect(v.candidates['db/read']).toEqual([
      { policy: 'needs-ticket', reasons: ['a ticket is required'] },
      { policy: 'first-ok', reasons: [] },
      { policy: 'second-ok', reasons: [] },
    ]);

    const swapped = evaluateRequest([second, needsTicket, first], ask());
    expect(swapped.ok && swapped.chosen['db/read']?.name).toBe('second-ok');
  });

  it('prefers an earlier policy that needs approval over a later self-service one (file order, not convenience)', () => {
    const approved = policy({ name: 'approved', approval: { required: 1, approvers: { groups: ['leads'] } } });
    const self = policy({ name: 'self' });
    const v = evaluateRequest([approved, self], ask());
    expect(v.ok && v.chosen['db/read']?.name).toBe('approved');
  });

  it('skips a policy whose duration limits refuse the explicit duration', () => {
    const short = policy({ name: 'short', maxDuration: HOUR });
    const long = policy({ name: 'long', maxDuration: 8 * HOUR });
    const v = evaluateRequest([short, long], ask({ durationMs: 4 * HOUR }));
    expect(v.ok && v.chosen['db/read']?.name).toBe('long');
    expect(v.candidates['db/read']?.[0]).toEqual({ policy: 'short', reasons: ['duration 4h exceeds the maximum 1h'] });
  });

  it("reports each candidate's reasons when none is met", () => {
    const a = policy({ name: 'a', reason: 'required' });
    const b = policy({ name: 'b', ticket: { required: true }, maxDuration: HOUR });
    const v = evaluateRequest([a, b], ask({ durationMs: 2 * HOUR }));
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.code).toBe('HG_TERMS_NOT_MET');
    expect(v.candidates).toEqual({
      'db/read': [
        { policy: 'a', reasons: ['a reason is required'] },
        { policy: 'b', reasons: ['duration 2h exceeds the maximum 1h', 'a ticket is required'] },
      ],
    });
    expect(v.message).toContain('db/read');
    expect(v.message).toContain('a: a reason is required');
    expect(v.message).toContain('b: duration 2h exceeds the maximum 1h; a ticket is required');
  });

  it('answers HG_NOT_ELIGIBLE when no policy is a candidate', () => {
    const v = evaluateRequest([policy({ subjects: { groups: ['ops'] } })], ask());
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.code).toBe('HG_NOT_ELIGIBLE');
    expect(v.message).toBe('alice is not eligible for db/read');
    expect(v.candidates).toEqual({ 'db/read': [] });
  });

  it('says how the request was made when it is not eligible', () => {
    const plain = [policy()];
    const bg = evaluateRequest(plain, ask({ breakGlass: true }));
    expect(!bg.ok && bg.message).toBe('alice is not eligible for db/read as break-glass');
    const named = evaluateRequest(plain, ask({ policyName: 'other' }));
    expect(!named.ok && named.code).toBe('HG_NOT_ELIGIBLE');
    expect(!named.ok && named.message).toBe('alice is not eligible for db/read under policy other');
  });

  it('grants break-glass only under a break-glass policy', () => {
    const plain = policy({ name: 'plain' });
    const bg = breakGlassPolicy({ subjects: { groups: ['developers'] } });
    const v = evaluateRequest([plain, bg], ask({ breakGlass: true }));
    expect(v.ok && v.chosen['db/read']?.name).toBe('break-glass');
    const normal = evaluateRequest([bg, plain], ask());
    expect(normal.ok && normal.chosen['db/read']?.name).toBe('plain');
  });

  it('honours a named policy', () => {
    const a = policy({ name: 'a' });
    const b = policy({ name: 'b', defaultDuration: 2 * HOUR });
    const v = evaluateRequest([a, b], ask({ policyName: 'b' }));
    expect(v.ok && v.chosen['db/read']?.name).toBe('b');
    expect(v.ok && v.durationMs).toBe(2 * HOUR);
    expect(v.candidates['db/read']?.map((c) => c.policy)).toEqual(['b']);
  });

  it('refuses a break-glass ask naming a policy that is not break-glass', () => {
    const v = evaluateRequest([policy({ name: 'a' })], ask({ policyName: 'a', breakGlass: true }));
    expect(!v.ok && v.code).toBe('HG_TERMS_NOT_MET');
    expect(v.candidates['db/read']).toEqual([{ policy: 'a', reasons: ['policy a is not a break-glass policy'] }]);
  });

  describe('several entitlements', () => {
    const read = policy({ name: 'read', entitlements: ['db/read'], defaultDuration: 2 * HOUR });
    const write = policy({
      name: 'write',
      entitlements: ['db/write'],
      defaultDuration: 30 * MINUTE,
      approval: { required: 1, approvers: { groups: ['leads'] } },
    });
    const both = ['db/read', 'db/write'];

    it('chooses a policy per entitlement', () => {
      const v = evaluateRequest([read, write], ask({ entitlements: both }));
      expect(v.ok).toBe(true);
      if (!v.ok) return;
      expect(Object.fromEntries(Object.entries(v.chosen).map(([e, p]) => [e, p.name]))).toEqual({
        'db/read': 'read',
        'db/write': 'write',
      });
    });

    it('defaults to the shortest default duration of the chosen policies', () => {
      const v = evaluateRequest([read, write], ask({ entitlements: both }));
      expect(v.ok && v.durationMs).toBe(30 * MINUTE);
    });

    it('refuses when the shortest default is below another chosen policy minimum', () => {
      const longMin = policy({ name: 'long-min', entitlements: ['db/read'], minDuration: HOUR, defaultDuration: 2 * HOUR });
      const v = evaluateRequest([longMin, write], ask({ entitlements: both }));
      expect(v.ok).toBe(false);
      if (v.ok) return;
      expect(v.code).toBe('HG_TERMS_NOT_MET');
      expect(v.candidates['db/read']).toEqual([{ policy: 'long-min', reasons: ['duration 30m is below the minimum 1h'] }]);
    });

    it('applies one explicit duration to every entitlement', () => {
      const v = evaluateRequest([read, write], ask({ entitlements: both, durationMs: 45 * MINUTE }));
      expect(v.ok && v.durationMs).toBe(45 * MINUTE);
    });

    it('is refused whole when one entitlement has no candidate', () => {
      const v = evaluateRequest([read], ask({ entitlements: both }));
      expect(v.ok).toBe(false);
      if (v.ok) return;
      expect(v.code).toBe('HG_NOT_ELIGIBLE');
      expect(v.message).toBe('alice is not eligible for db/write');
      expect(v).not.toHaveProperty('chosen');
    });

    it('is refused whole when one entitlement has no candidate whose terms are met', () => {
      const strictWrite = { ...write, ticket: { required: true } };
      const v = evaluateRequest([read, strictWrite], ask({ entitlements: both }));
      expect(v.ok).toBe(false);
      if (v.ok) return;
      expect(v.code).toBe('HG_TERMS_NOT_MET');
      expect(v).not.toHaveProperty('chosen');
      expect(v.message).toContain('db/write');
      expect(v.message).not.toContain('db/read');
      expect(v.candidates['db/read']).toEqual([{ policy: 'read', reasons: [] }]);
      expect(v.candidates['db/write']).toEqual([{ policy: 'write', reasons: ['a ticket is required'] }]);
    });

    it('prefers HG_NOT_ELIGIBLE over HG_TERMS_NOT_MET when both apply', () => {
      const strictRead = { ...read, ticket: { required: true } };
      const v = evaluateRequest([strictRead], ask({ entitlements: both }));
      expect(!v.ok && v.code).toBe('HG_NOT_ELIGIBLE');
    });

    it('one policy may cover several entitlements', () => {
      const wide = policy({ name: 'wide', entitlements: both });
      const v = evaluateRequest([wide], ask({ entitlements: both }));
      expect(v.ok && Object.values(v.chosen).map((p) => p.name)).toEqual(['wide', 'wide']);
    });
  });

  it('checks time windows and source networks as part of the terms', () => {
    const office = policy({
      name: 'office',
      when: { timezone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], sourceNetworks: ['10.0.0.0/8'] },
    });
    const anywhere = policy({ name: 'anywhere', reason: 'required' });
    const inside = evaluateRequest([office, anywhere], ask({ sourceIp: '::ffff:10.0.0.5' }));
    expect(inside.ok && inside.chosen['db/read']?.name).toBe('office');
    const saturday = evaluateRequest([office, anywhere], ask({ now: Date.UTC(2026, 0, 10, 12), sourceIp: '10.0.0.5', reason: 'weekend fix' }));
    expect(saturday.ok && saturday.chosen['db/read']?.name).toBe('anywhere');
    const outside = evaluateRequest([office], ask({ sourceIp: '192.0.2.1' }));
    expect(!outside.ok && outside.code).toBe('HG_TERMS_NOT_MET');
  });
});

describe('termsOf', () => {
  it('freezes the terms a request is decided under', () => {
    const p = policy({
      name: 'p',
      approval: { required: 2, approvers: { users: ['bob', 'carol'] } },
      extension: { allowed: true, maxTotal: 4 * HOUR, requiresApproval: false },
    });
    expect(termsOf(p)).toEqual({
      name: 'p',
      approval: { required: 2, approvers: { groups: [], users: ['bob', 'carol'] } },
      extension: { allowed: true, maxTotal: 4 * HOUR, requiresApproval: false },
      breakGlass: false,
    });
    expect(termsOf(p)).not.toHaveProperty('review');
    expect(termsOf(p)).not.toHaveProperty('when');
  });

  it('keeps the review and time window when present', () => {
    const when: TimeWindow = { timezone: 'UTC', days: ['mon'] };
    const bg = breakGlassPolicy({ when });
    const t = termsOf(bg);
    expect(t.breakGlass).toBe(true);
    expect(t.review).toEqual({ approvers: { groups: ['sre-leads'], users: [] }, within: DAY });
    expect(t.when).toEqual(when);
  });
});
