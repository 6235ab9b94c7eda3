import { describe, expect, it } from 'vitest';
import { GrantIndex, liveGrantsOf } from '../../src/core/grant-index.js';
import { storedRequest } from '../support/store-writes.js';

describe('GrantIndex', () => {
  it('answers the longest live grant of a pair, counts grants, and forgets a request entirely', () => {
    const i = new GrantIndex();
    i.add('ann', 'db/read', { requestId: 'r1', expiresAt: 100 });
    i.add('ann', 'db/read', { requestId: 'r2', expiresAt: 300 });
    i.add('ann', 'db/read', { requestId: 'r3', expiresAt: 200 });
    i.add('ann', 'db/write', { requestId: 'r2', expiresAt: 300 });
    expect(i.size).toBe(4);
    expect(i.lookup('ann', 'db/read', 0)?.requestId).toBe('r2');
    expect(i.lookup('ann', 'db/read', 300)).toBeUndefined();
    expect(i.lookup('ann', 'db/read', 299)?.requestId).toBe('r2');
    i.remove('r2', 'ann', ['db/read', 'db/write']);
    expect(i.size).toBe(2);
    expect(i.lookup('ann', 'db/read', 0)?.requestId).toBe('r3');
    expect(i.lookup('ann', 'db/write', 0)).toBeUndefined();
    expect(i.lookup('ann', 'db/read', 200)).toBeUndefined(); // r1 ended at 100, r3 at 200
    i.remove('r3', 'ann', ['db/read']);
    i.remove('r1', 'ann', ['db/read']);
    expect(i.size).toBe(0);
    i.remove('r1', 'ann', ['db/read']); // nothing left: a no-op
    expect(i.size).toBe(0);
  });

  it('replace sets what one request grants now; adding a grant again replaces it; pairs never collide', () => {
    const i = new GrantIndex();
    i.replace(
      'r1',
      'bob',
      ['a', 'b'],
      [
        { entitlement: 'a', expiresAt: 10 },
        { entitlement: 'b', expiresAt: 10 },
      ],
    );
    i.replace(
      'r1',
      'bob',
      ['a', 'b'],
      [
        { entitlement: 'a', expiresAt: 20 },
        { entitlement: 'b', expiresAt: 20 },
      ],
    );
    expect(i.size).toBe(2);
    expect(i.lookup('bob', 'a', 15)?.expiresAt).toBe(20);
    i.add('bob', 'a', { requestId: 'r1', expiresAt: 30 });
    expect(i.size).toBe(2);
    i.replace('r1', 'bob', ['a', 'b'], []);
    expect(i.size).toBe(0);
    i.add('bo', 'b/a', { requestId: 'r9', expiresAt: 50 });
    expect(i.lookup('bob', 'a', 0)).toBeUndefined();
    expect(i.lookup('bo', 'b/a', 0)?.requestId).toBe('r9');
  });

  it('liveGrantsOf: one grant per entitlement while active, none otherwise', () => {
    const r = storedRequest('r', { entitlements: ['x', 'y'], expiresAt: 99 });
    expect(liveGrantsOf(r)).toEqual([
      { entitlement: 'x', expiresAt: 99 },
      { entitlement: 'y', expiresAt: 99 },
    ]);
    expect(liveGrantsOf({ ...r, status: 'expired' })).toEqual([]);
    expect(liveGrantsOf({ ...r, status: 'pending', expiresAt: undefined })).toEqual([]);
  });
});
