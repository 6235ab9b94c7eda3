/**
 * Drift reconciliation's own logic (src/app/reconcile.ts) on in-memory targets: orphans are
 * removed and reported, privileges beyond a grant reported (and trimmed where configured),
 * missing access reported once and never re-added, grants being provisioned or removed left to
 * the access worker. What `list` returns on real servers is tested in test/connectors/.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryKind } from '../support/memory-connector.js';
import { admin, memorySystem, memoryYaml, type MemorySystem } from '../support/memory-system.js';

let s: MemorySystem | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** mem reports extra privileges; mem2 also takes them away. */
async function start() {
  s = await memorySystem({ yaml: memoryYaml({ mem2: '    reconcile: { removeExtraPrivileges: true }' }) });
  return s;
}

/** A live grant on the targets of `entitlements`. */
async function granted(s: MemorySystem, entitlements = ['mem/read']) {
  const req = await s.submit(entitlements);
  await s.system.access.runOnce();
  expect(await s.stored(req.id)).toMatchObject({ status: 'active', access: 'present' });
  return req;
}

describe('reconciliation on in-memory targets', () => {
  it('removes and reports accounts no live grant explains, and leaves alone what the access worker is still handling', async () => {
    const s = await start();
    const live = await granted(s);
    const ended = await granted(s);
    const removing = await granted(s);
    // An ended grant whose account came back (restored from a backup), and one planted by hand.
    await s.system.app.requests.revoke(ended.id, admin, 'done');
    await s.system.access.runOnce();
    expect(await s.stored(ended.id)).toMatchObject({ access: 'removed' });
    s.mem.accounts.set(`hg_${ended.id}`, { account: `hg_${ended.id}`, requestId: ended.id, password: 'x', holds: ['read'], expiresAt: Infinity });
    s.mem.accounts.set('hg_planted', { account: 'hg_planted', password: 'x', holds: ['read', 'admin'], expiresAt: Infinity });
    // Not Hourglass's: no prefix, never listed.
    s.mem.accounts.set('dba', { account: 'dba', password: 'x', holds: ['admin'], expiresAt: Infinity });
    // Being removed (the target is down for it): the access worker's, not an orphan.
    s.mem.failNext(1, { verbs: ['revoke'] });
    await s.system.app.requests.revoke(removing.id, admin, 'done');
    await s.system.access.runOnce();
    expect(await s.stored(removing.id)).toMatchObject({ access: 'removing' });

    const report = await s.system.reconciler.reconcileTarget('mem');
    expect({ ...report, orphansRemoved: [...report.orphansRemoved].sort() }).toEqual({
      target: 'mem',
      orphansRemoved: [`hg_${ended.id}`, 'hg_planted'].sort(),
      missing: [],
      extra: [],
    });
    expect(s.mem.holdsOf(live.id)).toEqual(['read']);
    expect(s.mem.holdsOf(removing.id)).toEqual(['read']);
    expect(s.mem.accounts.has('dba')).toBe(true);
    expect(s.mem.accounts.has('hg_planted')).toBe(false);

    const events = await s.events('drift.orphan_removed');
    expect(events.map((e) => [e.requestId, e.details])).toEqual(
      expect.arrayContaining([
        [ended.id, { target: 'mem', account: `hg_${ended.id}`, held: ['read'] }],
        [undefined, { target: 'mem', account: 'hg_planted', held: ['read', 'admin'] }],
      ]),
    );
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.actor === 'system')).toBe(true);
    // Nothing left to find: the next pass reports nothing.
    expect(await s.system.reconciler.reconcileTarget('mem')).toEqual({ target: 'mem', orphansRemoved: [], missing: [], extra: [] });
  });

  it('reports privileges beyond a grant once; takes them away where the target is configured to', async () => {
    const s = await start();
    const req = await granted(s, ['mem/read', 'mem2/read']);
    s.mem.accounts.get(`hg_${req.id}`)!.holds.push('admin');
    s.mem2.accounts.get(`hg_${req.id}`)!.holds.push('write');

    const kept = await s.system.reconciler.reconcileTarget('mem');
    expect(kept.extra).toEqual([{ requestId: req.id, account: `hg_${req.id}`, extra: ['admin'], trimmed: false }]);
    expect(s.mem.holdsOf(req.id)).toEqual(['read', 'admin']);
    expect(s.mem.callsOf('trimExtra')).toEqual([]);
    // A standing difference is reported once, not at every pass.
    expect((await s.system.reconciler.reconcileTarget('mem')).extra).toEqual([]);

    const trimmed = await s.system.reconciler.reconcileTarget('mem2');
    expect(trimmed.extra).toEqual([{ requestId: req.id, account: `hg_${req.id}`, extra: ['write'], trimmed: true }]);
    expect(s.mem2.holdsOf(req.id)).toEqual(['read']);
    expect((await s.system.reconciler.reconcileTarget('mem2')).extra).toEqual([]);

    const events = await s.events('drift.extra_privileges', req.id);
    expect(events.map((e) => e.details)).toEqual([
      { target: 'mem', account: `hg_${req.id}`, extra: ['admin'], removed: false },
      { target: 'mem2', account: `hg_${req.id}`, extra: ['write'], removed: true },
    ]);
    // Neither counts as missing access, and the grant itself is untouched.
    expect(await s.events('drift.access_missing', req.id)).toEqual([]);
    expect(await s.stored(req.id)).toMatchObject({ status: 'active', access: 'present' });
  });

  it('reports missing access once per finding and never re-adds it; a grant still provisioning is not missing', async () => {
    const s = await start();
    const gone = await granted(s);
    const cut = await granted(s, ['mem/write']);
    s.mem.accounts.delete(`hg_${gone.id}`);
    s.mem.accounts.get(`hg_${cut.id}`)!.holds = ['read'];
    // Provisioning (its grant not made yet, the target refused once): not reported.
    s.mem.failNext(1, { verbs: ['grant'] });
    const pending = await s.submit(['mem/read']);
    await s.system.access.runOnce();
    expect(await s.stored(pending.id)).toMatchObject({ access: 'provisioning' });

    const first = await s.system.reconciler.reconcileTarget('mem');
    expect(first.missing).toEqual(
      expect.arrayContaining([
        { requestId: gone.id, missing: ['read'] },
        { requestId: cut.id, missing: ['write'] },
      ]),
    );
    expect(first.missing).toHaveLength(2);
    expect(first.orphansRemoved).toEqual([]);
    for (let i = 0; i < 3; i++) expect((await s.system.reconciler.reconcileTarget('mem')).missing).toEqual([]);

    expect((await s.events('drift.access_missing', gone.id)).map((e) => e.details)).toEqual([{ target: 'mem', account: null, missing: ['read'] }]);
    expect((await s.events('drift.access_missing', cut.id)).map((e) => e.details)).toEqual([{ target: 'mem', account: `hg_${cut.id}`, missing: ['write'] }]);
    expect(await s.events('drift.access_missing', pending.id)).toEqual([]);
    // Never re-added: someone may have cut it on purpose.
    expect(s.mem.holdsOf(gone.id)).toBeUndefined();
    expect(s.mem.holdsOf(cut.id)).toEqual(['read']);
    expect(s.mem.callsOf('grant', gone.id)).toHaveLength(1);
  });

  it('a target that cannot be listed is reported as an error, with no drift recorded', async () => {
    const s = await start();
    await granted(s);
    s.mem.failNext(1, { verbs: ['list'] });
    const report = await s.system.reconciler.reconcileTarget('mem');
    expect(report).toEqual({ target: 'mem', orphansRemoved: [], missing: [], extra: [], error: 'target "mem": list: connection refused (injected)' });
    expect(await s.events('drift.*')).toEqual([]);
  });
  it('skips a kind without reconciliation (it cannot list what it created)', async () => {
    const bareKind = createMemoryKind({ kind: 'memory-bare', capabilities: { canList: false, enforcesExpiry: false } });
    const yaml = memoryYaml()
      .replace('  mem2:\n', '  bare:\n    type: memory-bare\n    entitlements:\n      read: { holds: [read] }\n  mem2:\n')
      .replace('entitlements: [mem/read, mem/write, mem2/read]', 'entitlements: [mem/read, mem/write, mem2/read, bare/read]');
    s = await memorySystem({ yaml, kinds: [bareKind] });
    const bare = bareKind.target('bare');
    const req = await granted(s, ['mem/read', 'bare/read']);
    expect(bare.holdsOf(req.id)).toEqual(['read']);
    expect(s.system.connectors.forTarget('bare')?.reconciliation).toBeUndefined();
    bare.accounts.set('hg_planted', { account: 'hg_planted', password: 'x', holds: ['read'], expiresAt: Infinity });

    // A due pass reconciles every target whose interval has come (5m by default), bare included, and bare is skipped.
    s.clock.advance(5 * 60_000);
    await s.system.reconciler.runOnce();
    expect(s.mem.callsOf('list')).toHaveLength(1);
    expect(bare.calls.map((c) => c.verb)).toEqual(['grant']);
    expect(await s.system.reconciler.reconcileTarget('bare')).toEqual({ target: 'bare', orphansRemoved: [], missing: [], extra: [] });
    expect(bare.accounts.has('hg_planted')).toBe(true);
    expect(await s.events('drift.*')).toEqual([]);
  });
});
