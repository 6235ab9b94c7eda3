// The pure parts of an approver's context (src/app/request-context.ts): the risk hint rules
// (break-glass, first time, outside usual hours, long duration) and what an entitlement's
// settings may show (never a secret of its target).
import { describe, expect, it } from 'vitest';
import { entitlementGrants, mayReadContext, outsideUsualHours, riskHints, targetSecretValues, usualHoursZone } from '../../src/app/request-context.js';
import type { TargetConfig } from '../../src/core/types.js';
import { breakGlassPolicy, DAY, HOUR, MINUTE, policy, principal, request, requestUnder, T0 } from '../support/builders.js';

const codes = (hints: { code: string }[]) => hints.map((h) => h.code);

describe('outside usual hours: Mon-Fri 07:00-19:00 in the zone', () => {
  it('judges the local time and day, edges included', () => {
    // T0 is Monday 10:00 UTC.
    expect(outsideUsualHours(T0, 'UTC')).toBe(false);
    expect(outsideUsualHours(T0 - 3 * HOUR, 'UTC')).toBe(false); // 07:00 sharp is inside
    expect(outsideUsualHours(T0 - 3 * HOUR - MINUTE, 'UTC')).toBe(true); // 06:59
    expect(outsideUsualHours(T0 + 9 * HOUR - MINUTE, 'UTC')).toBe(false); // 18:59
    expect(outsideUsualHours(T0 + 9 * HOUR, 'UTC')).toBe(true); // 19:00 is outside
    expect(outsideUsualHours(T0 - 2 * DAY, 'UTC')).toBe(true); // Saturday 10:00
    expect(outsideUsualHours(T0, 'America/New_York')).toBe(true); // 05:00 there
    expect(outsideUsualHours(T0, 'Asia/Tokyo')).toBe(true); // 19:00 there
    expect(outsideUsualHours(T0, 'Europe/Berlin')).toBe(false); // 11:00 there
  });

  it("takes the zone of the request's policy window, else UTC", () => {
    expect(usualHoursZone(request())).toBe('UTC');
    const p = policy({ when: { timezone: 'Europe/Berlin' } });
    expect(usualHoursZone(requestUnder([p]))).toBe('Europe/Berlin');
  });
});

describe('risk hints', () => {
  const p = policy({ name: 'dev', entitlements: ['db/read', 'db/admin'], maxDuration: 8 * HOUR });

  it('first time: per entitlement, with no earlier request of the same requester for it', () => {
    const req = requestUnder([p], { id: 'r9', entitlements: ['db/read', 'db/admin'], requestedAt: T0 + HOUR });
    const earlier = [
      request({ id: 'r1', entitlements: ['db/read'], requestedAt: T0, status: 'denied' }),
      request({ id: 'r2', requester: 'bob', entitlements: ['db/admin'], requestedAt: T0 }), // someone else's
      request({ id: 'r10', entitlements: ['db/admin'], requestedAt: T0 + 2 * HOUR }), // later than this one
    ];
    const hints = riskHints(req, [req, ...earlier], [p]);
    expect(hints).toEqual([{ code: 'first_time', entitlement: 'db/admin', message: 'First time alice asks for db/admin.' }]);
  });

  it('break-glass, outside usual hours and long durations', () => {
    const bg = breakGlassPolicy({ name: 'bg', maxDuration: HOUR });
    const req = requestUnder([bg], { requestedAt: T0 - 2 * DAY, durationMs: 45 * MINUTE });
    const hints = riskHints(req, [request({ id: 'r0', entitlements: req.entitlements, requestedAt: T0 - 3 * DAY })], [bg]);
    expect(codes(hints)).toEqual(['break_glass', 'outside_hours', 'long_duration']);
    expect(hints[1]!.message).toBe('Requested Sat 10:00 (UTC), outside usual hours (Mon-Fri 07:00-19:00).');
    expect(hints[2]!.message).toBe('Asks for 75% of the longest duration policy bg allows.');
  });

  it('a short request inside usual hours, asked before, has none; a policy gone from the file gives no duration hint', () => {
    const req = requestUnder([p], { id: 'r2', durationMs: 7 * HOUR });
    const before = request({ id: 'r1', entitlements: req.entitlements, requestedAt: T0 - DAY });
    expect(codes(riskHints(req, [before], [p]))).toEqual(['long_duration']);
    expect(riskHints(req, [before], [])).toEqual([]);
    expect(riskHints({ ...req, durationMs: HOUR }, [before], [p])).toEqual([]);
  });
});

describe("an entitlement's grants", () => {
  const target = (t: Partial<TargetConfig>): TargetConfig => ({ name: 't', type: 'x', entitlements: {}, ...t });

  it("shows the entitlement's settings without description, secret-named keys or a target's secret", () => {
    const t = target({
      url: 'postgres://admin:s3cr3t-pw@db:5432/app',
      secret: 'whsec-0123456789',
      ca: { key: 'PRIVATE-KEY-TEXT', keyFile: '/etc/ca' },
      entitlements: {
        read: { description: 'Read', roles: ['app_read'], password: 'nope', claims: { api_key: 'k', scope: 'read whsec-0123456789' }, note: 'pw s3cr3t-pw' },
      },
    });
    expect(targetSecretValues(t).sort()).toEqual(['PRIVATE-KEY-TEXT', 's3cr3t-pw', 'whsec-0123456789']);
    expect(entitlementGrants(t, 'read')).toEqual({ roles: ['app_read'], claims: { scope: 'read ***' }, note: 'pw ***' });
    expect(entitlementGrants(t, 'missing')).toEqual({});
  });
});

describe('who reads a context', () => {
  const req = requestUnder([policy({ approval: { required: 1, approvers: { groups: ['leads'] } } })]);
  it('approvers, admins and auditors; not the requester nor others', () => {
    expect(mayReadContext(principal('bob', ['leads']), req)).toBe(true);
    expect(mayReadContext(principal('x', [], ['admin']), req)).toBe(true);
    expect(mayReadContext(principal('y', [], ['auditor']), req)).toBe(true);
    expect(mayReadContext(principal('alice', ['leads']), req)).toBe(false);
    expect(mayReadContext(principal('mallory', ['developers']), req)).toBe(false);
  });
});
