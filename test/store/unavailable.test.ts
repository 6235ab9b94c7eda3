/**
 * reportUnavailable: driver errors that mean "the store cannot be reached" become
 * HG_STORE_UNAVAILABLE, from synchronous and asynchronous methods alike; anything else passes
 * through untouched; and each method's wrapper is made once (it sits on the /v1/check path).
 */
import { describe, expect, it } from 'vitest';
import { isHgError } from '../../src/core/errors.js';
import { reportUnavailable } from '../../src/adapters/store/unavailable.js';

class FakeDriverStore {
  calls = 0;
  sync(fail?: object) {
    this.calls++;
    if (fail) throw fail;
    return 'sync answer';
  }
  async later(fail?: object) {
    this.calls++;
    if (fail) throw fail;
    return 'async answer';
  }
}

const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const bug = new TypeError('not a store problem');

describe('reportUnavailable', () => {
  const store = reportUnavailable(new FakeDriverStore());

  it('answers synchronously when the method does, and keeps `this`', async () => {
    expect(store.sync()).toBe('sync answer');
    expect(await store.later()).toBe('async answer');
    expect(store.calls).toBe(2);
  });

  it('turns unavailability into HG_STORE_UNAVAILABLE, thrown or rejected, and lets other errors through', async () => {
    let thrown: unknown;
    try {
      store.sync(busy);
    } catch (err) {
      thrown = err;
    }
    expect(isHgError(thrown) && thrown.code).toBe('HG_STORE_UNAVAILABLE');
    await expect(store.later(refused)).rejects.toMatchObject({ code: 'HG_STORE_UNAVAILABLE' });
    expect(() => store.sync(bug)).toThrow(bug);
    await expect(store.later(bug)).rejects.toBe(bug);
  });

  it('makes each wrapper once, and gives a method replaced later its own (which may call the old one)', () => {
    expect(store.sync).toBe(store.sync);
    const replaced = reportUnavailable(new FakeDriverStore());
    const original = replaced.sync.bind(replaced);
    let counted = 0;
    replaced.sync = (...a: Parameters<FakeDriverStore['sync']>) => {
      counted += 1;
      return original(...a);
    };
    expect(replaced.sync()).toBe('sync answer');
    expect(counted).toBe(1);
    expect(replaced.calls).toBe(1);
  });
});
