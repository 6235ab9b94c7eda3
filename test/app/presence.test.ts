/**
 * A server's presence on a real store: announced at start, renewed every second, gone at a
 * clean stop; the rows of servers long gone are dropped at the next start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_MS, Presence, TAKEOVER_AFTER_MS } from '../../src/app/presence.js';
import { openStore, type OpenedStore } from '../../src/adapters/store/open-store.js';
import { freshStoreUrl, T0, type StoreHandle } from '../support/app-harness.js';
import { ManualClock } from '../support/manual-clock.js';

describe('server presence', () => {
  let handle: StoreHandle;
  let opened: OpenedStore;
  const rows = async () => (await opened.store.db.selectFrom('servers').selectAll().orderBy('id').execute()).map((r) => [r.id, Number(r.alive_until)]);

  beforeAll(async () => {
    handle = await freshStoreUrl('sqlite');
    opened = await openStore(handle.url, { cwd: '.' });
  });
  afterAll(async () => {
    await opened?.close();
    await handle?.cleanup();
  });

  it('announces itself, renews every second, drops a day-old server at start, and leaves at a clean stop', async () => {
    const clock = new ManualClock(T0);
    await opened.store.beat('srv_long_gone', T0 - 3 * 86_400_000, T0 - 2 * 86_400_000);
    await opened.store.beat('srv_recent', T0 - 60_000, T0 - 30_000);
    const presence = new Presence(opened.store, clock, 'srv_me');
    await presence.start();
    expect(await rows()).toEqual([
      ['srv_me', T0 + TAKEOVER_AFTER_MS],
      ['srv_recent', T0 - 30_000],
    ]);
    clock.advance(5000);
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS + 200));
    expect((await rows())[0]).toEqual(['srv_me', T0 + 5000 + TAKEOVER_AFTER_MS]);
    await presence.stop();
    expect(await rows()).toEqual([['srv_recent', T0 - 30_000]]);
  });

  it('a renewal that keeps failing is reported once, not every second', async () => {
    const errors: unknown[] = [];
    let down = false;
    const store = {
      beat: (id: string, s: number, until: number) => (down ? Promise.reject(new Error('ECONNREFUSED')) : opened.store.beat(id, s, until)),
      leave: (id: string) => opened.store.leave(id),
      forgetServers: (before: number) => opened.store.forgetServers(before),
    };
    const presence = new Presence(store, new ManualClock(T0), 'srv_flaky', (err) => errors.push(err));
    await presence.start();
    down = true;
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS + 300));
    expect(errors).toHaveLength(1);
    await presence.stop();
  });
});
