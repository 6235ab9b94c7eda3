/**
 * The in-memory check index against real stores: what it loads, how it follows changes made by
 * any writer (another server on the same PostgreSQL included), that it is exact at expiresAt
 * whatever it was told, and that it refuses to answer once it cannot confirm it is current.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckIndex } from '../../src/app/check-index.js';
import { listenForChanges } from '../../src/adapters/store/change-hints.js';
import { openStore, type OpenedStore } from '../../src/adapters/store/open-store.js';
import { freshStoreUrl, T0, type Dialect, type StoreHandle } from '../support/app-harness.js';
import { storedRequest, writeTx } from '../support/store-writes.js';

const HOUR = 3_600_000;

describe.each<Dialect>(['sqlite', 'postgres'])('check index on %s', (dialect) => {
  let handle: StoreHandle;
  let opened: OpenedStore;
  let now = T0;
  let mono = 0;
  const indexes: CheckIndex[] = [];

  /** An index on the store with a clock and a monotonic clock the test moves; it polls only when told. */
  const makeIndex = async (opts: { pageSize?: number; staleAfterMs?: number } = {}) => {
    const index = new CheckIndex(opened.store, () => now, {
      pollIntervalMs: () => 3_600_000,
      staleAfterMs: () => opts.staleAfterMs ?? 2000,
      monotonic: () => mono,
      ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
    });
    indexes.push(index);
    await index.start();
    return index;
  };
  const allowed = (index: CheckIndex, principal: string, entitlement = 'demo-db/read') => {
    const a = index.lookup(principal, entitlement, now);
    if (a.stale) throw new Error('stale');
    return a.grant?.requestId;
  };

  beforeAll(async () => {
    handle = await freshStoreUrl(dialect);
    opened = await openStore(handle.url, { cwd: '.' });
  });
  afterAll(async () => {
    for (const i of indexes) i.stop();
    await opened?.close();
    await handle?.cleanup();
  });

  it('loads every live grant, page by page, and nothing that is not live', async () => {
    const write = writeTx(opened.store);
    await write(async (tx) => {
      for (let i = 0; i < 25; i++)
        await tx.insertRequest(
          storedRequest(`req_load_${String(i).padStart(2, '0')}`, { requester: `p${i}`, entitlements: ['demo-db/read', 'demo-db/write'] }),
        );
      await tx.insertRequest(storedRequest('req_load_pending', { requester: 'pend', status: 'pending', expiresAt: undefined }));
      await tx.insertRequest(storedRequest('req_load_over', { requester: 'over', expiresAt: T0 - 1 }));
    });
    const index = await makeIndex({ pageSize: 7 });
    expect(index.status()).toMatchObject({ ok: true, grants: 50 });
    expect(allowed(index, 'p0')).toBe('req_load_00');
    expect(allowed(index, 'p24', 'demo-db/write')).toBe('req_load_24');
    expect(allowed(index, 'pend')).toBeUndefined();
    expect(allowed(index, 'over')).toBeUndefined();
    expect(allowed(index, 'p0', 'demo-db/admin')).toBeUndefined();
  });

  it('is exact at expiresAt without hearing of the expiry: allowed a millisecond before, denied at it', async () => {
    await writeTx(opened.store)((tx) => tx.insertRequest(storedRequest('req_exact', { requester: 'exa', expiresAt: T0 + 5000 })));
    const index = await makeIndex();
    now = T0 + 4999;
    expect(allowed(index, 'exa')).toBe('req_exact');
    now = T0 + 5000;
    expect(allowed(index, 'exa')).toBeUndefined();
    now = T0;
  });

  it('follows every change by the audit seq: a grant, a revocation, an extension, and the longest of overlapping grants', async () => {
    const index = await makeIndex();
    const write = writeTx(opened.store);
    const a = storedRequest('req_follow_a', { requester: 'fol', expiresAt: T0 + HOUR });
    const b = storedRequest('req_follow_b', { requester: 'fol', expiresAt: T0 + 2 * HOUR });
    await write(async (tx) => {
      await tx.insertRequest(a);
      await tx.insertRequest(b);
    });
    expect(allowed(index, 'fol')).toBeUndefined(); // not caught up yet: it polls only when told here
    await index.catchUp();
    expect(index.lookup('fol', 'demo-db/read', now)).toMatchObject({ stale: false, grant: { requestId: 'req_follow_b', expiresAt: T0 + 2 * HOUR } });
    await write((tx) => tx.updateRequest(b, { ...b, status: 'revoked', access: 'removing', version: 2 }));
    await index.catchUp();
    expect(allowed(index, 'fol')).toBe('req_follow_a');
    await write((tx) => tx.updateRequest(a, { ...a, expiresAt: T0 + 3 * HOUR, version: 2 }));
    await index.catchUp();
    expect(index.lookup('fol', 'demo-db/read', now)).toMatchObject({ stale: false, grant: { requestId: 'req_follow_a', expiresAt: T0 + 3 * HOUR } });
    const head = (await opened.store.auditHead())!.seq;
    expect(index.status().seq).toBe(head);
  });

  it('reach(seq) returns once a commit of this server is in, and a commit hook makes every write wait for it', async () => {
    const index = await makeIndex();
    opened.store.afterCommit(
      (commit) => index.reach(commit.seq),
      (err) => {
        throw err;
      },
    );
    const r = storedRequest('req_reach', { requester: 'rea' });
    await writeTx(opened.store)((tx) => tx.insertRequest(r));
    expect(allowed(index, 'rea')).toBe('req_reach');
    await writeTx(opened.store)((tx) => tx.updateRequest(r, { ...r, status: 'revoked', access: 'removing', version: 2 }));
    expect(allowed(index, 'rea')).toBeUndefined();
  });

  it('takes a commit of this server in as written when it is next in line, and reads from the store when it is not', async () => {
    const reads = { changes: 0, requests: 0 };
    const store = opened.store;
    const counted = {
      auditHead: () => store.auditHead(),
      listGrants: (q: Parameters<typeof store.listGrants>[0]) => store.listGrants(q),
      changesSince: (seq: number, limit: number) => (reads.changes++, store.changesSince(seq, limit)),
      getRequests: (ids: readonly string[]) => (reads.requests++, store.getRequests(ids)),
    };
    const index = new CheckIndex(counted, () => now, { pollIntervalMs: () => 3_600_000, staleAfterMs: () => 2000, monotonic: () => mono });
    indexes.push(index);
    await index.start();
    const write = writeTx(store);
    const w1 = storedRequest('req_take_1', { requester: 'tak' });
    await write((tx) => tx.insertRequest(w1)); // before the hook: this index has not seen it
    expect(allowed(index, 'tak')).toBeUndefined();
    store.afterCommit(
      (commit) => index.take(commit),
      (err) => {
        throw err;
      },
    );
    // The next commit linked onto w1's event, which the index never read: it catches up from the store, both in.
    reads.changes = reads.requests = 0;
    await write((tx) => tx.insertRequest(storedRequest('req_take_2', { requester: 'tak', entitlements: ['demo-db/write'] })));
    expect(allowed(index, 'tak')).toBe('req_take_1');
    expect(allowed(index, 'tak', 'demo-db/write')).toBe('req_take_2');
    expect(reads.changes).toBeGreaterThan(0);
    // Now next in line: a revocation is taken in as written, with no read, before the write returns.
    reads.changes = reads.requests = 0;
    await write((tx) => tx.updateRequest(w1, { ...w1, status: 'revoked', access: 'removing', version: 2 }));
    expect(allowed(index, 'tak')).toBeUndefined();
    expect(allowed(index, 'tak', 'demo-db/write')).toBe('req_take_2');
    expect(reads).toEqual({ changes: 0, requests: 0 });
    expect(index.status().seq).toBe((await store.auditHead())!.seq);
    // What it took in is what the store holds: a fresh index loaded from the store agrees.
    const fresh = await makeIndex();
    expect(allowed(fresh, 'tak')).toBeUndefined();
    expect(allowed(fresh, 'tak', 'demo-db/write')).toBe('req_take_2');
  });

  it('refuses to answer once it has not been confirmed current for staleAfter, and answers again after a catch-up', async () => {
    const index = await makeIndex({ staleAfterMs: 2000 });
    await writeTx(opened.store)((tx) => tx.insertRequest(storedRequest('req_stale', { requester: 'sta' })));
    await index.catchUp();
    mono += 2000;
    expect(index.lookup('sta', 'demo-db/read', now).stale).toBe(false);
    mono += 1;
    expect(index.lookup('sta', 'demo-db/read', now)).toEqual({ stale: true, ageMs: 2001 });
    expect(index.status()).toMatchObject({ ok: false });
    await index.catchUp();
    expect(allowed(index, 'sta')).toBe('req_stale');
    expect(index.status()).toMatchObject({ ok: true, ageMs: 0 });
  });

  it('a transaction that changes live grants without an event naming the request is refused and rolled back', async () => {
    const r = storedRequest('req_unnamed', { requester: 'unn' });
    await expect(opened.store.transaction((tx) => tx.insertRequest(r))).rejects.toThrow(/req_unnamed changed without an audit event naming the request/);
    expect(await opened.store.getRequest('req_unnamed')).toBeUndefined();
    // A request that grants nothing needs no event: the index has nothing to learn.
    await opened.store.transaction((tx) => tx.insertRequest(storedRequest('req_quiet', { status: 'pending', expiresAt: undefined })));
    expect(await opened.store.getRequest('req_quiet')).toBeDefined();
  });

  if (dialect === 'postgres') {
    it("hears another server's commit through LISTEN/NOTIFY, with no poll", async () => {
      const index = await makeIndex();
      const hints = listenForChanges(handle.url, () => index.hint());
      await hints.ready;
      const other = await openStore(handle.url, { cwd: '.' }); // a second server on the same database
      try {
        await writeTx(other.store)((tx) => tx.insertRequest(storedRequest('req_notify', { requester: 'not' })));
        await expect.poll(() => allowed(index, 'not'), { timeout: 5000, interval: 10 }).toBe('req_notify');
      } finally {
        await hints.close();
        await other.close();
      }
    });

    it('fails a catch-up when the store cannot be read, keeps its view until stale, and reports the outage once', async () => {
      const errors: unknown[] = [];
      let down = false;
      const feed = {
        auditHead: () => opened.store.auditHead(),
        listGrants: (f: Parameters<typeof opened.store.listGrants>[0]) => opened.store.listGrants(f),
        getRequests: (ids: readonly string[]) => opened.store.getRequests(ids),
        changesSince: (seq: number, limit: number) =>
          down
            ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))
            : opened.store.changesSince(seq, limit),
      };
      let recovered = 0;
      const index = new CheckIndex(feed, () => now, {
        pollIntervalMs: () => 3_600_000,
        staleAfterMs: () => 2000,
        monotonic: () => mono,
        onError: (err) => errors.push(err),
        onRecovered: () => recovered++,
      });
      indexes.push(index);
      await writeTx(opened.store)((tx) => tx.insertRequest(storedRequest('req_down', { requester: 'dow' })));
      await index.start();
      down = true;
      await expect(index.catchUp()).rejects.toThrow('ECONNREFUSED');
      await expect(index.catchUp()).rejects.toThrow('ECONNREFUSED');
      expect(errors).toHaveLength(1);
      expect(allowed(index, 'dow')).toBe('req_down'); // within the bound
      mono += 2001;
      expect(index.lookup('dow', 'demo-db/read', now).stale).toBe(true);
      expect(index.status()).toMatchObject({ ok: false, lastError: 'connect ECONNREFUSED 127.0.0.1:5432' });
      down = false;
      await index.catchUp();
      expect(recovered).toBe(1);
      expect(index.status()).toMatchObject({ ok: true, lastError: undefined });
    });
  }
});
