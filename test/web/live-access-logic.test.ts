// The Live access page's pure logic (web/src/lib/live-access.ts): which requests are live now and
// in which order, the filters and their count, the countdown, and the emergency controls in words.
import { describe, expect, it } from 'vitest';
import type { RequestJson } from '../../web/src/api/types.js';
import {
  approvedByText,
  countText,
  emergencyResultText,
  filterOptions,
  isFiltered,
  liveGrants,
  lockEffect,
  matchesFilter,
  NO_FILTER,
  timeText,
} from '../../web/src/lib/live-access.js';

const NOW = Date.parse('2026-01-05T10:00:00Z');
const MIN = 60_000;
const at = (ms: number) => new Date(NOW + ms).toISOString();

const request = (over: Partial<RequestJson>): RequestJson =>
  ({
    id: 'r1',
    status: 'active',
    requester: 'alice',
    entitlements: ['db/admin'],
    approvals: [],
    breakGlass: false,
    startAt: null,
    expiresAt: at(30 * MIN),
    ...over,
  }) as RequestJson;

describe('live grants', () => {
  const rows = [
    request({ id: 'later', expiresAt: at(90 * MIN) }),
    request({ id: 'scheduled', status: 'scheduled', startAt: at(60 * MIN), expiresAt: null }),
    request({ id: 'soon', requester: 'dave', entitlements: ['cache/flush', 'db/read'], expiresAt: at(5 * MIN) }),
    request({ id: 'past', expiresAt: at(-1) }),
    request({ id: 'ended', status: 'revoked' }),
    request({ id: 'waiting', status: 'pending', expiresAt: null }),
    request({ id: 'early', status: 'scheduled', startAt: at(10 * MIN), expiresAt: null }),
  ];

  it('keeps active grants not yet past their end, soonest end first, then scheduled ones by start', () => {
    expect(liveGrants(rows, NOW).map((r) => r.id)).toEqual(['soon', 'later', 'early', 'scheduled']);
    // An active grant drops out the moment its end passes, before the server's expiry runs.
    expect(liveGrants(rows, NOW + 5 * MIN).map((r) => r.id)).toEqual(['later', 'early', 'scheduled']);
  });

  it('offers the people, targets and entitlements loaded, and filters on them', () => {
    const live = liveGrants(rows, NOW);
    expect(filterOptions(live)).toEqual({ people: ['alice', 'dave'], targets: ['cache', 'db'], entitlements: ['cache/flush', 'db/admin', 'db/read'] });
    const ids = (f: Partial<typeof NO_FILTER>) => live.filter((r) => matchesFilter(r, { ...NO_FILTER, ...f })).map((r) => r.id);
    expect(ids({})).toEqual(['soon', 'later', 'early', 'scheduled']);
    expect(ids({ person: ' DAV ' })).toEqual(['soon']);
    expect(ids({ target: 'cache' })).toEqual(['soon']);
    expect(ids({ target: 'db' })).toEqual(['soon', 'later', 'early', 'scheduled']);
    expect(ids({ entitlement: 'db/admin' })).toEqual(['later', 'early', 'scheduled']);
    // A target is a whole name, not a prefix.
    expect(ids({ target: 'd' })).toEqual([]);
    expect(ids({ person: 'alice', entitlement: 'db/read' })).toEqual([]);
    expect(isFiltered(NO_FILTER)).toBe(false);
    expect(isFiltered({ ...NO_FILTER, person: '  ' })).toBe(false);
    expect(isFiltered({ ...NO_FILTER, target: 'db' })).toBe(true);
  });

  it('counts what is shown', () => {
    expect(countText(0, 0, false, false)).toBe('No grant is active or scheduled');
    expect(countText(1, 1, false, false)).toBe('1 grant active or scheduled');
    expect(countText(7, 7, false, true)).toBe('7 grants active or scheduled (more not loaded yet)');
    expect(countText(1, 7, true, false)).toBe('1 of 7 grants matches');
    expect(countText(2, 7, true, false)).toBe('2 of 7 grants match');
    expect(countText(0, 7, true, false)).toBe('No grant matches the filters');
  });

  it('counts down, and says when a scheduled grant starts', () => {
    expect(timeText(request({ expiresAt: at(4 * MIN + 9_000) }), NOW)).toBe('4m 09s left');
    expect(timeText(request({ expiresAt: at(0) }), NOW)).toBe('ending now…');
    expect(timeText(request({ status: 'scheduled', startAt: at(5 * MIN) }), NOW)).toBe('starts in 5 minutes');
  });

  it('says who let a grant begin', () => {
    expect(approvedByText(request({ approvals: [{ by: 'bob' }, { by: 'carol' }] as RequestJson['approvals'] }))).toBe('bob, carol');
    expect(approvedByText(request({ breakGlass: true }))).toBe('nobody: break-glass, reviewed afterwards');
    expect(approvedByText(request({}))).toBe('nobody: self-service');
  });
});

describe('emergency controls in words', () => {
  it('says exactly what a lock and a freeze do (docs/api.md)', () => {
    expect(lockEffect('principal', 'alice')).toBe(
      'Locking alice at once revokes every active or scheduled grant of alice, cancels their pending requests, and refuses new requests, approvals and extensions from them until someone unlocks them.',
    );
    expect(lockEffect('target', 'db')).toBe(
      'Freezing db at once revokes every grant on db, cancels the pending requests for it, and refuses new ones until someone unfreezes it.',
    );
  });

  it('tells what changed', () => {
    expect(emergencyResultText('lock', 'alice', { locked: true, changed: true, revoked: ['r1', 'r2'], cancelled: ['r3'] })).toBe(
      'alice is locked: 2 grants revoked, 1 pending request cancelled.',
    );
    expect(emergencyResultText('freeze', 'db', { frozen: true, changed: true, revoked: ['r1'], cancelled: [] })).toBe(
      'db is frozen: 1 grant revoked, 0 pending requests cancelled.',
    );
    expect(emergencyResultText('lock', 'alice', { locked: true, changed: false, revoked: [], cancelled: [] })).toBe('alice was already locked.');
    expect(emergencyResultText('unlock', 'alice', { changed: true, revoked: [], cancelled: [] })).toBe('alice is unlocked.');
    expect(emergencyResultText('unfreeze', 'db', { changed: false, revoked: [], cancelled: [] })).toBe('db was already unfrozen.');
  });
});
