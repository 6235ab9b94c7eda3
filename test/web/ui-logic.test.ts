// The UI's pure logic (web/src/lib): countdowns, durations as policies write them, relative
// times in the viewer's zone, and what a request's JSON means on screen.
import { describe, expect, it } from 'vitest';
import type { RequestJson } from '../../web/src/api/types.js';
import { awaitingText, bucketOf, grantUse, nextChangeAt } from '../../web/src/lib/requests.js';
import type { EntitlementJson, PolicyTermsJson } from '../../web/src/api/types.js';
import { formatDuration, formatRemaining, localTime, parseDuration, relativeTime } from '../../web/src/lib/time.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

describe('time', () => {
  it('counts down in the two largest units, never below zero', () => {
    expect(formatRemaining(2 * 24 * H + 3 * H + 5 * MIN)).toBe('2d 3h');
    expect(formatRemaining(H + 5 * MIN + 9 * S)).toBe('1h 05m');
    expect(formatRemaining(4 * MIN + 9 * S + 999)).toBe('4m 09s');
    expect(formatRemaining(12 * S)).toBe('12s');
    expect(formatRemaining(-5 * S)).toBe('0s');
  });

  it('writes and reads durations as policies do; anything else is not one', () => {
    expect(formatDuration(90 * MIN)).toBe('1h30m');
    expect(formatDuration(2 * 24 * H)).toBe('2d');
    expect(formatDuration(90 * S)).toBe('1m30s');
    expect(parseDuration('1h30m')).toBe(90 * MIN);
    expect(parseDuration(' 2h ')).toBe(2 * H);
    expect(parseDuration('45s')).toBe(45 * S);
    expect(parseDuration('1d')).toBe(24 * H);
    for (const bad of ['', 'h', '1.5h', '-1h', '30', '1h 2x', 'PT1H']) expect(parseDuration(bad), bad).toBeUndefined();
  });

  it('relative times read naturally, and local times name their zone', () => {
    const now = Date.UTC(2026, 0, 5, 10, 0, 0);
    expect(relativeTime(now + 5 * MIN, now, 'en')).toBe('in 5 minutes');
    expect(relativeTime(now - 3 * H, now, 'en')).toBe('3 hours ago');
    expect(relativeTime(now, now, 'en')).toBe('now');
    expect(localTime(now, 'en-GB', 'Europe/Berlin')).toBe('5 Jan 2026, 11:00 CET');
    expect(localTime(now, 'en-US', 'America/New_York')).toBe('Jan 5, 2026, 05:00 AM EST');
  });
});

const request = (over: Partial<RequestJson>): RequestJson =>
  ({
    id: 'r1',
    status: 'pending',
    requester: 'alice',
    entitlements: ['db/admin'],
    awaiting: [],
    startAt: null,
    expiresAt: null,
    pendingUntil: null,
    ...over,
  }) as RequestJson;

describe('requests', () => {
  it('sorts requests into waiting, live and ended', () => {
    expect(bucketOf(request({ status: 'pending' }))).toBe('waiting');
    expect(bucketOf(request({ status: 'scheduled' }))).toBe('live');
    expect(bucketOf(request({ status: 'active' }))).toBe('live');
    for (const s of ['expired', 'denied', 'cancelled', 'revoked', 'failed'] as const) expect(bucketOf(request({ status: s }))).toBe('ended');
  });

  it('says who still has to approve, the manager by name', () => {
    const r = request({
      awaiting: [
        { policy: 'p', remaining: 2, approvers: { groups: ['sre'], users: ['carol'], manager: null }, mfaMaxAgeSeconds: null },
        { policy: 'q', remaining: 1, approvers: { groups: [], users: [], manager: 'mia' }, mfaMaxAgeSeconds: 300 },
      ],
    });
    expect(awaitingText(r)).toEqual(['2 more from group sre, carol (policy p)', '1 more from mia (manager) (policy q)']);
  });

  it('finds the next moment a request changes by itself: a start, an end, a pending timeout', () => {
    const now = Date.UTC(2026, 0, 5, 10);
    const at = (ms: number) => new Date(now + ms).toISOString();
    const rs = [
      request({ status: 'active', expiresAt: at(10 * MIN) }),
      request({ status: 'scheduled', startAt: at(5 * MIN) }),
      request({ status: 'pending', pendingUntil: at(2 * H) }),
      request({ status: 'expired', expiresAt: at(MIN) }),
      request({ status: 'active', expiresAt: at(-MIN) }),
    ];
    expect(nextChangeAt(rs, now)).toBe(now + 5 * MIN);
    expect(nextChangeAt([rs[3]!], now)).toBeUndefined();
  });
});

describe('using a grant', () => {
  const terms = (name: string, extension?: PolicyTermsJson['extension']) => ({ name, ...(extension ? { extension } : {}) }) as PolicyTermsJson;
  const ent = (entitlement: string, over: Partial<EntitlementJson>): EntitlementJson =>
    ({ entitlement, target: entitlement.split('/')[0]!, kind: 'x', credentials: null, policies: [], ...over }) as EntitlementJson;
  const list = [
    ent('db/rw', {
      credentials: 'kept',
      usage: 'hourglass connect {id}',
      policies: [terms('p', { allowed: true, maxTotal: 7_200_000, requiresApproval: false })],
    }),
    ent('db/ro', {
      credentials: 'kept',
      usage: 'hourglass connect {id}',
      policies: [terms('q', { allowed: true, maxTotal: 3_600_000, requiresApproval: true })],
    }),
    ent('notes/read', { policies: [terms('p')] }),
  ];

  it('gives one command per usage with the request id, says whether credentials can be fetched, and the strictest extension terms', () => {
    const r = request({ id: 'req_1', entitlements: ['db/rw', 'db/ro'], policies: { 'db/rw': 'p', 'db/ro': 'q' } });
    expect(grantUse(r, list)).toEqual({
      commands: ['hourglass connect req_1'],
      delivers: true,
      extension: { allowed: true, maxTotal: 3_600_000, requiresApproval: true },
    });
  });

  it("a grant on a target that hands nothing over has no command; without every policy's terms there is no extension", () => {
    expect(grantUse(request({ entitlements: ['notes/read'], policies: { 'notes/read': 'p' } }), list)).toEqual({ commands: [], delivers: false });
  });
});
