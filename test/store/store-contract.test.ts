/**
 * The store contract: every store dialect must pass this suite against its real server.
 * SQLite runs in a temp file; PostgreSQL is a throwaway server the harness starts. The suite
 * uses the stores through the `Store`/`StoreTx` ports the use cases see; the little it needs
 * beyond them (raw SQL, to read query plans and to forge rows the server never writes) comes
 * through a test-only handle, typed apart.
 */
import { sql, type RawBuilder } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/store/open-store.js';
import type { Store } from '../../src/app/ports.js';
import { canonicalJson, verifyRows } from '../../src/core/audit-chain.js';
import { storedRequest as req, writeTx } from '../support/store-writes.js';
import { freshStoreUrl, T0, type Dialect, type StoreHandle } from '../support/app-harness.js';

const event = (id: string, type = 'test.event', extra: Record<string, unknown> = {}) => ({
  id,
  at: T0,
  type,
  actor: 'alice',
  requestId: 'r1',
  details: { n: id, ...extra },
  policyHash: 'h',
});

/** Test-only: raw SQL on the database behind a store. Not part of any port: the server never needs it. */
interface RawSql {
  <R>(query: RawBuilder<R>): Promise<{ rows: R[] }>;
}

/** A store as the use cases see it (the port), and the test-only handle beside it. */
async function openContractStore(url: string): Promise<{ store: Store; raw: RawSql }> {
  const opened = await openStore(url, { cwd: '.' });
  // The one place the suite reaches past the port: the concrete store's Kysely instance.
  const db: Parameters<RawBuilder<unknown>['execute']>[0] = opened.store.db;
  return { store: opened.store, raw: async (query) => ({ rows: (await query.execute(db)).rows }) };
}

describe.each<Dialect>(['sqlite', 'postgres'])('store contract: %s', (dialect) => {
  let handle: StoreHandle;
  let store: Store;
  let raw: RawSql;

  beforeAll(async () => {
    handle = await freshStoreUrl(dialect);
    ({ store, raw } = await openContractStore(handle.url));
  });
  afterAll(async () => {
    await store?.close();
    await handle?.cleanup();
  });

  it('round-trips a request and keeps the grant index in step with its status', async () => {
    const r = req('req_a1');
    await writeTx(store)((tx) => tx.insertRequest(r));
    expect(await store.getRequest('req_a1')).toEqual(r);
    expect(await store.findGrant('alice', 'demo-db/read', T0)).toEqual({
      requestId: 'req_a1',
      principal: 'alice',
      entitlement: 'demo-db/read',
      expiresAt: T0 + 3_600_000,
    });
    // From expiresAt on, the grant is not found, whatever the status says.
    expect(await store.findGrant('alice', 'demo-db/read', T0 + 3_600_000)).toBeUndefined();

    const ended = { ...r, status: 'revoked' as const, access: 'removed' as const, version: 2 };
    expect(await writeTx(store)((tx) => tx.updateRequest(r, ended))).toBe(true);
    expect(await store.findGrant('alice', 'demo-db/read', T0)).toBeUndefined();
  });

  it('a check never sees a grant whose transaction has not committed (and is then rolled back)', async () => {
    let seen: unknown;
    await expect(
      writeTx(store)(async (tx) => {
        await tx.insertRequest(req('req_u1', { requester: 'uma' }));
        seen = await Promise.race([store.findGrant('uma', 'demo-db/read', T0), new Promise((r) => setTimeout(() => r('still waiting'), 50))]);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(seen === undefined || seen === 'still waiting').toBe(true);
    expect(await store.findGrant('uma', 'demo-db/read', T0)).toBeUndefined();
  });

  it('looks a grant up from the covering index alone, and on SQLite answers without a promise', async () => {
    await writeTx(store)((tx) => tx.insertRequest(req('req_c1', { requester: 'cora', expiresAt: T0 + 5_000 })));
    await writeTx(store)((tx) => tx.insertRequest(req('req_c2', { requester: 'cora', expiresAt: T0 + 9_000 })));
    const answer = store.findGrant('cora', 'demo-db/read', T0 + 1.5);
    if (dialect === 'sqlite') expect(answer).not.toBeInstanceOf(Promise);
    // The grant that lasts longest wins; a fractional clock is compared like the integer column.
    expect(await answer).toEqual({ requestId: 'req_c2', principal: 'cora', entitlement: 'demo-db/read', expiresAt: T0 + 9_000 });
    expect(await store.findGrant('cora', 'demo-db/read', T0 + 8_999.5)).toMatchObject({ requestId: 'req_c2' });
    expect(await store.findGrant('cora', 'demo-db/read', T0 + 9_000)).toBeUndefined();
    if (dialect === 'sqlite') {
      const plan = await raw(sql<{ detail: string }>`EXPLAIN QUERY PLAN SELECT request_id, expires_at FROM grants
        WHERE principal = ${'cora'} AND entitlement = ${'demo-db/read'} AND expires_at > ${T0} ORDER BY expires_at DESC LIMIT 1`);
      expect(plan.rows.map((r) => r.detail).join()).toContain('COVERING INDEX grants_lookup_covering');
    }
  });

  it('counts live grants by entitlement from an index, without sorting (the scrape-time gauges)', async () => {
    await writeTx(store)((tx) => tx.insertRequest(req('req_g1', { requester: 'gus', expiresAt: T0 + 5_000 })));
    if (dialect !== 'sqlite') {
      // PostgreSQL chooses by statistics; the index must exist for it to choose.
      const indexes = await raw(sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE tablename = 'grants'`);
      expect(indexes.rows.map((r) => r.indexname)).toContain('grants_by_entitlement');
      return;
    }
    const plan = await raw(sql<{ detail: string }>`EXPLAIN QUERY PLAN SELECT entitlement, count(*) FROM grants
      WHERE expires_at > ${T0} GROUP BY entitlement`);
    const detail = plan.rows.map((r) => r.detail).join();
    expect(detail).toContain('COVERING INDEX grants_by_entitlement');
    expect(detail).not.toContain('TEMP B-TREE');
  });

  it('compare-and-swap: a stale version loses and changes nothing', async () => {
    const r = req('req_a2', { status: 'pending', access: 'none', expiresAt: undefined, activatedAt: undefined });
    await writeTx(store)((tx) => tx.insertRequest(r));
    const a = { ...r, status: 'denied' as const, version: 2 };
    const b = { ...r, status: 'cancelled' as const, version: 2 };
    const results = await Promise.all([writeTx(store)((tx) => tx.updateRequest(r, a)), writeTx(store)((tx) => tx.updateRequest(r, b))]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const final = await store.getRequest('req_a2');
    expect(final?.version).toBe(2);
    expect(['denied', 'cancelled']).toContain(final?.status);
  });

  it('overlapping grants of one entitlement are independent rows', async () => {
    const a = req('req_b1', { requester: 'bob', expiresAt: T0 + 1000 });
    const b = req('req_b2', { requester: 'bob', expiresAt: T0 + 5000 });
    await writeTx(store)(async (tx) => {
      await tx.insertRequest(a);
      await tx.insertRequest(b);
    });
    expect((await store.findGrant('bob', 'demo-db/read', T0))?.requestId).toBe('req_b2');
    await writeTx(store)((tx) => tx.updateRequest(b, { ...b, status: 'revoked', version: 2 }));
    expect((await store.findGrant('bob', 'demo-db/read', T0))?.requestId).toBe('req_b1');
    const grants = await store.listGrants({ principal: 'bob', now: T0, limit: 10 });
    expect(grants.map((g) => g.requestId)).toEqual(['req_b1']);
  });

  it("finds the leased work of servers that stopped saying they are alive, never its own or a live server's", async () => {
    const leased = (id: string, owner: string) =>
      req(id, { status: 'revoked', access: 'removing', accessNextAt: T0 + 60_000, leaseUntil: T0 + 60_000, leaseOwner: owner });
    await writeTx(store)(async (tx) => {
      await tx.insertRequest(leased('req_lease_dead', 'srv_dead'));
      await tx.insertRequest(leased('req_lease_live', 'srv_live'));
      await tx.insertRequest(leased('req_lease_mine', 'srv_me'));
      await tx.insertRequest(leased('req_lease_unknown', 'srv_never_announced'));
    });
    const orphaned = async (now: number) => (await store.orphanedWork('srv_me', now, 10)).map((r) => r.id);
    await store.beat('srv_dead', T0, T0 + 3000);
    await store.beat('srv_live', T0, T0 + 3000);
    await store.beat('srv_me', T0, T0);
    expect(await orphaned(T0 + 2999)).toEqual([]);
    await store.beat('srv_live', T0, T0 + 6000); // renewed
    expect(await orphaned(T0 + 3000)).toEqual(['req_lease_dead']);
    expect(await orphaned(T0 + 60_000)).toEqual([]); // the lease ran out: ordinary due work now
    await store.leave('srv_dead');
    expect(await orphaned(T0 + 3000)).toEqual([]);
    await store.forgetServers(T0 + 5000); // drops srv_me (alive until T0) but not srv_live
    expect(await orphaned(T0 + 6000)).toEqual(['req_lease_live']);
  });

  it('finds due work oldest first, and nothing that is not due', async () => {
    await writeTx(store)(async (tx) => {
      await tx.insertRequest(req('req_d1', { requester: 'dave', expiresAt: T0 + 20_000 }));
      await tx.insertRequest(req('req_d2', { requester: 'dave', expiresAt: T0 + 10_000 }));
      await tx.insertRequest(req('req_d3', { requester: 'dave', status: 'revoked', access: 'removed' }));
    });
    const due = (await store.findDue(T0 + 30_000, 100)).filter((r) => r.requester === 'dave').map((r) => r.id);
    expect(due).toEqual(['req_d2', 'req_d1']);
    expect((await store.findDue(T0 + 15_000, 100)).filter((r) => r.requester === 'dave').map((r) => r.id)).toEqual(['req_d2']);
  });

  it('claims due rows no other transaction holds, without waiting, and findDue reads past them', async () => {
    await writeTx(store)(async (tx) => {
      for (const [id, at] of [
        ['req_claim1', 1000],
        ['req_claim2', 2000],
        ['req_claim3', 3000],
      ] as const)
        await tx.insertRequest(req(id, { requester: 'cleo', expiresAt: T0 + at }));
    });
    const ids = ['req_claim1', 'req_claim2', 'req_claim3'];
    const dueOfCleo = async () => (await store.findDue(T0 + 10_000, 100)).filter((r) => r.requester === 'cleo').map((r) => r.id);
    if (dialect === 'sqlite') {
      await store.transaction(async (tx) => expect(await tx.claimRequests(ids)).toEqual(new Set(ids)));
      return;
    }
    const other = (await openContractStore(handle.url)).store;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let claimed!: () => void;
    const hasClaimed = new Promise<void>((resolve) => (claimed = resolve));
    try {
      // Another server's batch holds the first two rows until it commits.
      const batch = other.transaction(async (tx) => {
        expect(await tx.claimRequests(['req_claim1', 'req_claim2'])).toEqual(new Set(['req_claim1', 'req_claim2']));
        claimed();
        await held;
      });
      await hasClaimed;
      expect(await dueOfCleo()).toEqual(['req_claim3']);
      await store.transaction(async (tx) => expect(await tx.claimRequests(ids)).toEqual(new Set(['req_claim3'])));
      release();
      await batch;
      expect(await dueOfCleo()).toEqual(ids);
    } finally {
      release();
      await other.close();
    }
  });

  it('lists requests newest first with filters and a cursor', async () => {
    await writeTx(store)(async (tx) => {
      for (const id of ['req_l1', 'req_l2', 'req_l3']) await tx.insertRequest(req(id, { requester: 'lena', status: 'pending' }));
    });
    const first = await store.listRequests({ requester: 'lena', limit: 2 });
    expect(first.map((r) => r.id)).toEqual(['req_l3', 'req_l2']);
    const next = await store.listRequests({ requester: 'lena', limit: 2, before: 'req_l2' });
    expect(next.map((r) => r.id)).toEqual(['req_l1']);
    expect(await store.listRequests({ requester: 'lena', status: ['active'], limit: 5 })).toEqual([]);
    expect((await store.transaction((tx) => tx.openRequestsOf('lena'))).length).toBe(3);
  });

  it('idempotency keys are unique per principal', async () => {
    await store.transaction((tx) => tx.putIdempotency('alice', 'k1', { fingerprint: 'f', requestId: 'req_x' }, T0));
    expect(await store.transaction((tx) => tx.getIdempotency('alice', 'k1'))).toEqual({ fingerprint: 'f', requestId: 'req_x' });
    expect(await store.transaction((tx) => tx.getIdempotency('bob', 'k1'))).toBeUndefined();
    await expect(store.transaction((tx) => tx.putIdempotency('alice', 'k1', { fingerprint: 'g', requestId: 'req_y' }, T0))).rejects.toThrow();
  });

  it('locks and state', async () => {
    await store.transaction((tx) => tx.setLock('principal', { subject: 'mallory', by: 'admin', at: T0, reason: 'incident' }));
    await store.transaction((tx) => tx.setLock('target', { subject: 'demo-db', by: 'admin', at: T0 }));
    expect(await store.getLock('principal', 'mallory')).toEqual({ subject: 'mallory', by: 'admin', at: T0, reason: 'incident' });
    expect((await store.listLocks('target')).map((l) => l.subject)).toEqual(['demo-db']);
    expect(await store.transaction((tx) => tx.clearLock('principal', 'mallory'))).toBe(true);
    expect(await store.transaction((tx) => tx.clearLock('principal', 'mallory'))).toBe(false);
    await store.setState('k', 'v1');
    await store.setState('k', 'v2');
    expect(await store.getState('k')).toBe('v2');
  });

  it('initState keeps the first value written, whoever asks at once (a key several servers create at start)', async () => {
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((v) => store.initState('shared.key', v)));
    expect(new Set(answers).size).toBe(1);
    expect(await store.initState('shared.key', 'z')).toBe(answers[0]);
    expect(await store.getState('shared.key')).toBe(answers[0]);
  });

  it('a rolled-back transaction leaves neither the request nor its audit event', async () => {
    await expect(
      writeTx(store)(async (tx) => {
        await tx.insertRequest(req('req_rb'));
        await tx.appendAudit([event('ev-rb')]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.getRequest('req_rb')).toBeUndefined();
    expect((await store.listAudit({ requestId: 'r1', limit: 1000 })).events.map((e) => e.id)).not.toContain('ev-rb');
  });

  it('links audit events in the transaction that writes them, and lists them with filters', async () => {
    const committed: string[][] = [];
    store.onAuditCommitted((types) => committed.push([...types]));
    const before = (await store.auditHead())?.seq ?? 0;
    await store.transaction((tx) => tx.appendAudit([event('ev-1'), event('ev-2', 'other.event')]));
    await store.transaction((tx) => tx.appendAudit([event('ev-3')]));
    await expect(
      store.transaction(async (tx) => {
        await tx.appendAudit([event('ev-rolled-back')]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    // Counted after commit, once each; a rolled-back transaction's events never.
    expect(committed).toEqual([['test.event', 'other.event'], ['test.event']]);
    expect(await store.unchainedAudit()).toEqual({ count: 0 });
    const links = await store.readChain(before + 1, 10);
    expect(links.map((l) => [l.seq, l.id])).toEqual([
      [before + 1, 'ev-1'],
      [before + 2, 'ev-2'],
      [before + 3, 'ev-3'],
    ]);
    expect(links[1]!.prevHash).toBe(links[0]!.hash);
    const rows = await store.readChainRows(before + 2, 10);
    expect(rows.map((r) => [r[0], r[4], r[2]])).toEqual(links.slice(1).map((l) => [l.seq, l.id, l.prevHash]));
    expect(verifyRows(rows, { lastSeq: before + 1, head: links[0]!.hash, count: 1 }).firstBadSeq).toBeUndefined();
    expect((await store.auditHead())?.seq).toBe(before + 3);
    expect(await store.countChained(before + 3)).toBe(before + 3);
    const filtered = await store.listAudit({ type: 'other.event', limit: 10 });
    expect(filtered.events.map((e) => e.id)).toEqual(['ev-2']);
    const prefixed = await store.listAudit({ type: 'test.*', limit: 10 });
    expect(prefixed.events.map((e) => e.id)).toEqual(['ev-1', 'ev-3']);
    const page = await store.listAudit({ limit: 1, after: filtered.events[0]!.pos });
    expect(page.events.map((e) => e.id)).toEqual(['ev-3']);
  });

  it('reads chain rows as stored, details as canonical text, exactly the links readChain gives', async () => {
    const details = { z: [3, { y: 1, b: 'é "q"' }], a: null, m: { k: 2, c: 1 } };
    await store.transaction((tx) =>
      tx.appendAudit([
        { ...event('ev-rows'), requestId: undefined, details },
        { ...event('ev-rows-none'), details: undefined },
      ]),
    );
    const head = (await store.auditHead())!;
    const [withDetails, without] = await store.readChainRows(head.seq - 1, 2);
    const [l1, l2] = await store.readChain(head.seq - 1, 2);
    const asRow = (l: typeof l1) => [
      l!.seq,
      l!.at,
      l!.prevHash,
      l!.hash,
      l!.id,
      l!.type,
      l!.actor,
      l!.requestId,
      l!.details === null ? null : canonicalJson(l!.details),
      l!.policyHash,
    ];
    expect([withDetails, without]).toEqual([asRow(l1), asRow(l2)]);
    expect(withDetails![8]).toBe('{"a":null,"m":{"c":1,"k":2},"z":[3,{"b":"é \\"q\\"","y":1}]}');
    expect([withDetails![7], without![8]]).toEqual([null, null]);
    const stored = await raw(sql<{ details: string }>`SELECT details FROM audit_events WHERE id = 'ev-rows'`);
    expect(stored.rows[0]!.details).toBe(withDetails![8]);
  });

  it('never moves time backwards along the chain: a late clock is stamped with the head time', async () => {
    await store.transaction((tx) => tx.appendAudit([{ ...event('ev-t1'), at: T0 + 5000 }]));
    await store.transaction((tx) => tx.appendAudit([{ ...event('ev-t2'), at: T0 + 1000 }]));
    const head = (await store.auditHead())!;
    const [t1, t2] = await store.readChain(head.seq - 1, 2);
    expect([t1!.id, t1!.at, t2!.id, t2!.at]).toEqual(['ev-t1', T0 + 5000, 'ev-t2', T0 + 5000]);
    expect(verifyRows(await store.readChainRows(t2!.seq, 1), { lastSeq: t1!.seq, head: t1!.hash, count: 0, lastAt: t1!.at }).firstBadSeq).toBeUndefined();
  });

  it('a row inserted without a seq is never linked, and is reported as foreign', async () => {
    await raw(sql`INSERT INTO audit_events (id, at, type, actor) VALUES ('forged-null', ${T0}, 'request.approved', 'mallory')`);
    await store.transaction((tx) => tx.appendAudit([event('ev-after-forgery')]));
    const rows = await raw(sql<{ id: string; seq: unknown }>`SELECT id, seq FROM audit_events WHERE id IN ('forged-null', 'ev-after-forgery')`);
    expect(Object.fromEntries(rows.rows.map((r) => [r.id, r.seq === null]))).toEqual({ 'forged-null': true, 'ev-after-forgery': false });
    const foreign = await store.unchainedAudit();
    expect(foreign).toMatchObject({ count: 1, first: { id: 'forged-null', pos: expect.any(Number) } });
    await raw(sql`DELETE FROM audit_events WHERE id = 'forged-null'`);
  });

  it('several writers at once (several servers on PostgreSQL) still make one gap-free chain', async () => {
    const others = dialect === 'postgres' ? [(await openContractStore(handle.url)).store, (await openContractStore(handle.url)).store] : [];
    try {
      const before = (await store.auditHead())?.seq ?? 0;
      const writers = [store, ...others].flatMap((s, k) =>
        Array.from({ length: 10 }, (_, i) => s.transaction((tx) => tx.appendAudit([event(`ev-c${k}-${i}a`), event(`ev-c${k}-${i}b`)]))),
      );
      await Promise.all(writers);
      const n = 20 * (1 + others.length);
      const links = await store.readChain(before + 1, 1000);
      expect(links.map((l) => l.seq)).toEqual(Array.from({ length: n }, (_, i) => before + 1 + i));
      for (let i = 1; i < links.length; i++) expect(links[i]!.prevHash).toBe(links[i - 1]!.hash);
      const rows = await store.readChainRows(before + 2, 1000);
      expect(verifyRows(rows, { lastSeq: before + 1, head: links[0]!.hash, count: 0, lastAt: links[0]!.at })).toMatchObject({ lastSeq: before + n });
      expect(await store.unchainedAudit()).toEqual({ count: 0 });
    } finally {
      await Promise.all(others.map((s) => s.close()));
    }
  });

  it('tells the next due time: the earliest transition or target work, whichever comes first', async () => {
    // Far earlier than any other row of this store, so these two decide.
    await writeTx(store)((tx) => tx.insertRequest(req('req_nd1', { requester: 'nora', expiresAt: T0 - 500_000_000 })));
    expect(await store.nextDueAt()).toBe(T0 - 500_000_000);
    await writeTx(store)((tx) =>
      tx.insertRequest(req('req_nd2', { requester: 'nora', status: 'revoked', access: 'removing', accessNextAt: T0 - 900_000_000 })),
    );
    expect(await store.nextDueAt()).toBe(T0 - 900_000_000);
  });

  it('stores times as exact integers', async () => {
    const big = Date.UTC(2099, 11, 31, 23, 59, 59, 999);
    await writeTx(store)((tx) => tx.insertRequest(req('req_t', { requester: 'tim', expiresAt: big })));
    expect((await store.findGrant('tim', 'demo-db/read', T0))?.expiresAt).toBe(big);
    const row = await raw(sql<{ due_at: number }>`SELECT due_at FROM requests WHERE id = 'req_t'`);
    expect(Number(row.rows[0]!.due_at)).toBe(big);
  });
});

describe('SQLite is for one server', () => {
  it('a second store on the same file is refused with a clear message', async () => {
    const handle = await freshStoreUrl('sqlite');
    const first = (await openContractStore(handle.url)).store;
    try {
      await expect(openStore(handle.url, { cwd: '.' })).rejects.toMatchObject({
        code: 'HG_STORE_IN_USE',
        message: expect.stringMatching(/another Hourglass server is using the SQLite store.*PostgreSQL/),
      });
    } finally {
      await first.close();
    }
    // Owner only: the file holds the audit log and sealed credentials.
    const { statSync } = await import('node:fs');
    expect(statSync(handle.url.slice('sqlite:'.length)).mode & 0o777).toBe(0o600);
    // Once the first closes, the file can be opened again (a restart after a clean stop or a crash).
    const again = (await openContractStore(handle.url)).store;
    await again.close();
    await handle.cleanup();
  });
});
