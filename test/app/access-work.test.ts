/**
 * The access worker's own logic (src/app/access-work.ts) on in-memory targets: provisioning and
 * removal driven by the persisted `access` state, retries with backoff, the overdue alert,
 * removal on every target even when one fails, and one call at a time per request. The real
 * kinds' behaviour on their servers is tested in test/connectors/ and test/targets/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { accessBackoffMs } from '../../src/core/lifecycle.js';
import { MINUTE, SECOND } from '../support/builders.js';
import { admin, alice, memorySystem, memoryYaml, type MemorySystem } from '../support/memory-system.js';

let s: MemorySystem | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function start(yaml?: string) {
  s = await memorySystem({ ...(yaml ? { yaml } : {}), jitter: 0.5 });
  return s;
}

const extensible = () =>
  memoryYaml().replace(
    '    approval: { required: 0 }',
    '    approval: { required: 0 }\n    extension: { allowed: true, maxTotal: 8h, requiresApproval: false }',
  );

describe('access work on in-memory targets', () => {
  it('provisions after commit, keeps the credentials sealed, and removes the access when the grant ends', async () => {
    const s = await start();
    const req = await s.submit(['mem/read', 'mem2/read']);
    expect(req).toMatchObject({ status: 'scheduled', access: 'provisioning' });
    // Nothing touches a target before the worker runs.
    expect(s.mem.calls).toEqual([]);

    await s.system.access.runOnce();
    expect(await s.stored(req.id)).toMatchObject({ status: 'active', access: 'present' });
    expect(s.mem.holdsOf(req.id)).toEqual(['read']);
    expect(s.mem2.holdsOf(req.id)).toEqual(['read']);
    const sealed = await s.system.stores.store.getCredentials(req.id);
    expect(sealed.map((c) => c.target).sort()).toEqual(['mem', 'mem2']);
    for (const c of sealed) expect(c.ciphertext).not.toContain(s.mem.accounts.get(`hg_${req.id}`)!.password);
    expect(await s.events('grant.activated', req.id)).toHaveLength(1);

    // Another pass has nothing to do.
    await s.system.access.runOnce();
    expect(s.mem.callsOf('grant', req.id)).toHaveLength(1);

    // Expiry turns the status final at once; the access follows when the worker has removed it.
    s.clock.advance(60 * MINUTE);
    await s.system.app.due.runDue();
    expect(await s.stored(req.id)).toMatchObject({ status: 'expired', access: 'removing' });
    expect(s.mem.holdsOf(req.id)).toEqual(['read']);
    await s.system.access.runOnce();
    expect(await s.stored(req.id)).toMatchObject({ status: 'expired', access: 'removed' });
    expect(s.mem.holdsOf(req.id)).toBeUndefined();
    expect(s.mem2.holdsOf(req.id)).toBeUndefined();
    expect(await s.system.stores.store.getCredentials(req.id)).toEqual([]);
    expect(await s.events('grant.access_removed', req.id)).toHaveLength(1);
  });

  it('tells a target that enforces expiry the new end after an extension', async () => {
    const s = await start(extensible());
    const req = await s.submit(['mem/read']);
    await s.system.access.runOnce();
    const before = s.mem.accounts.get(`hg_${req.id}`)!.expiresAt;
    await s.system.app.requests.extend(req.id, alice, '1h');
    await s.system.access.runOnce();
    expect(s.mem.callsOf('extend', req.id)).toHaveLength(1);
    expect(s.mem.accounts.get(`hg_${req.id}`)!.expiresAt).toBe(before + 60 * MINUTE);
    expect(await s.events('grant.extended_on_target', req.id)).toHaveLength(1);
  });

  it('retries a failed grant with backoff, and fails the request at its provisioning deadline', async () => {
    const s = await start(memoryYaml({ mem: '    provisioningTimeout: 10s' }));
    s.mem.failNext(1, { verbs: ['grant'] });
    const req = await s.submit(['mem/read']);
    await s.system.access.runOnce();
    const first = await s.stored(req.id);
    expect(first).toMatchObject({ status: 'scheduled', access: 'provisioning', accessAttempts: 1 });
    expect(first.accessError).toBe('target "mem": grant: connection refused (injected)');
    expect(first.accessNextAt).toBe(s.clock.now() + accessBackoffMs(1, false, 0.5));

    // Not due before the backoff has passed.
    s.clock.advance(accessBackoffMs(1, false, 0.5) - 1);
    await s.system.access.runOnce();
    expect(s.mem.callsOf('grant', req.id)).toHaveLength(1);
    s.clock.advance(1);
    await s.system.access.runOnce();
    expect(await s.stored(req.id)).toMatchObject({ status: 'active', access: 'present' });
    expect(s.mem.callsOf('grant', req.id)).toHaveLength(2);

    // A target that keeps refusing: the request fails once its provisioning deadline has passed.
    s.mem.failNext(1000, { verbs: ['grant'] });
    const doomed = await s.submit(['mem/read']);
    for (let i = 0; i < 10 && (await s.stored(doomed.id)).status === 'scheduled'; i++) {
      await s.system.access.runOnce();
      s.clock.advance(5 * SECOND);
    }
    expect(await s.stored(doomed.id)).toMatchObject({ status: 'failed' });
    expect((await s.stored(doomed.id)).error).toMatch(/provisioning failed: target "mem": grant: connection refused/);
    expect(await s.events('request.failed', doomed.id)).toHaveLength(1);
    expect(s.mem.holdsOf(doomed.id)).toBeUndefined();
  });

  it('retries removal for ever with growing backoff, raises the overdue alert once, and finishes when the target is back', async () => {
    const s = await start(memoryYaml({ mem: '    revocationAlertAfter: 1m' }));
    const req = await s.submit(['mem/read']);
    await s.system.access.runOnce();
    s.mem.failNext(1000, { verbs: ['revoke'] });
    await s.system.app.requests.revoke(req.id, admin, 'incident');
    const since = s.clock.now();
    expect(await s.stored(req.id)).toMatchObject({ status: 'revoked', access: 'removing', removingSince: since });

    const waits: number[] = [];
    for (let attempt = 1; attempt <= 8; attempt++) {
      await s.system.access.runOnce();
      const r = await s.stored(req.id);
      expect(r).toMatchObject({
        status: 'revoked',
        access: 'removing',
        accessAttempts: attempt,
        accessError: 'target "mem": revoke: connection refused (injected)',
      });
      waits.push(r.accessNextAt! - s.clock.now());
      s.clock.set(r.accessNextAt!);
    }
    // 1s, 2s, 4s, ... doubling up to the 30s cap of removal, each scaled by the jitter (0.5 → 0.75).
    expect(waits).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => accessBackoffMs(n, true, 0.5)));
    expect(waits.at(-1)).toBe(22_500);
    expect(s.mem.callsOf('revoke', req.id)).toHaveLength(8);

    // The alert is raised once removal has been failing for revocationAlertAfter, and only once.
    const alerts = await s.events('alert.revocation_overdue', req.id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.at - since).toBeGreaterThanOrEqual(MINUTE);
    expect(alerts[0]!.details).toMatchObject({ since, error: 'target "mem": revoke: connection refused (injected)' });
    expect((await s.stored(req.id)).removalAlerted).toBe(true);
    expect(s.mem.holdsOf(req.id)).toEqual(['read']);

    // The target comes back: the next attempt removes the access.
    s.mem.recover();
    await s.system.access.runOnce();
    expect(await s.stored(req.id)).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(s.mem.holdsOf(req.id)).toBeUndefined();
    expect(await s.events('alert.revocation_overdue', req.id)).toHaveLength(1);
  });

  it('removes the access on every target even when one fails, and records the removal only when all confirmed', async () => {
    const s = await start();
    const req = await s.submit(['mem/read', 'mem2/read']);
    await s.system.access.runOnce();
    s.mem.failNext(1, { verbs: ['revoke'] });
    await s.system.app.requests.revoke(req.id, admin, 'done');
    await s.system.access.runOnce();
    // mem2 was revoked although mem failed; the request stays `removing`, naming the failed target.
    expect(s.mem2.holdsOf(req.id)).toBeUndefined();
    expect(s.mem.holdsOf(req.id)).toEqual(['read']);
    const r = await s.stored(req.id);
    expect(r).toMatchObject({ access: 'removing', accessAttempts: 1 });
    expect(r.accessError).toBe('target "mem": revoke: connection refused (injected)');
    expect(await s.events('grant.access_removed', req.id)).toEqual([]);

    // The retry revokes on both again (revoke of what is gone succeeds) and records the removal.
    s.clock.set(r.accessNextAt!);
    await s.system.access.runOnce();
    expect(await s.stored(req.id)).toMatchObject({ access: 'removed' });
    expect(s.mem.holdsOf(req.id)).toBeUndefined();
    expect(s.mem2.callsOf('revoke', req.id)).toHaveLength(2);
    expect(await s.events('grant.access_removed', req.id)).toHaveLength(1);
  });

  it('starts no second call for a request while its call is in flight', async () => {
    const s = await start();
    const req = await s.submit(['mem/read']);
    const held = s.mem.hold(['grant']);
    const first = s.system.access.runOnce();
    await held.arrived;
    // A second pass meanwhile (the next scheduler tick) leaves the request alone.
    await s.system.access.runOnce();
    expect(s.mem.callsOf('grant', req.id)).toHaveLength(1);
    expect(s.system.access.callsInFlight('mem')).toBe(1);
    held.release();
    await first;
    expect(await s.stored(req.id)).toMatchObject({ status: 'active', access: 'present' });
    expect(s.mem.callsOf('grant', req.id)).toHaveLength(1);
    expect(s.system.access.callsInFlight('mem')).toBe(0);
  });
  it('persists the handle a grant returned and hands it to extend and revoke, also after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hg-handles-'));
    try {
      s = await memorySystem({ yaml: extensible(), jitter: 0.5, store: `sqlite:${join(dir, 'hg.db')}` });
      const req = await s.submit(['mem/read']);
      await s.system.access.runOnce();
      const handle = s.mem.callsOf('grant', req.id)[0]!.handle!;
      expect(handle).toMatch(/^mem-\d+$/);
      expect(await s.stored(req.id)).toMatchObject({ status: 'active', access: 'present', handles: { mem: handle } });

      // A new server over the same store reads the handle back for the extension ...
      s = await s.restart();
      await s.system.app.requests.extend(req.id, alice, '1h');
      await s.system.access.runOnce();
      expect(s.mem.callsOf('extend', req.id).map((c) => c.handle)).toEqual([handle]);

      // ... and for the removal.
      s = await s.restart();
      await s.system.app.requests.revoke(req.id, admin, 'done');
      await s.system.access.runOnce();
      expect(s.mem.callsOf('revoke', req.id).map((c) => c.handle)).toEqual([handle]);
      expect(await s.stored(req.id)).toMatchObject({ access: 'removed' });
      expect(s.mem.holdsOf(req.id)).toBeUndefined();
    } finally {
      await s?.close();
      s = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the latest handle of each target when a grant is repeated after a failure, and revokes with it', async () => {
    const s = await start();
    s.mem2.failNext(1, { verbs: ['grant'] });
    const req = await s.submit(['mem/read', 'mem2/read']);
    await s.system.access.runOnce();
    // mem granted, mem2 failed: mem's handle is kept, so a removal now would get it.
    const first = s.mem.callsOf('grant', req.id)[0]!.handle!;
    expect(await s.stored(req.id)).toMatchObject({ access: 'provisioning', handles: { mem: first } });

    s.clock.set((await s.stored(req.id)).accessNextAt!);
    await s.system.access.runOnce();
    // The handles the grants that succeeded returned (mem2's first call failed).
    const [again, other] = [s.mem.callsOf('grant', req.id).at(-1)!.handle!, s.mem2.callsOf('grant', req.id).at(-1)!.handle!];
    expect(again).not.toBe(first);
    expect(await s.stored(req.id)).toMatchObject({ access: 'present', handles: { mem: again, mem2: other } });

    await s.system.app.requests.revoke(req.id, admin, 'done');
    await s.system.access.runOnce();
    expect(s.mem.callsOf('revoke', req.id).map((c) => c.handle)).toEqual([again]);
    expect(s.mem2.callsOf('revoke', req.id).map((c) => c.handle)).toEqual([other]);
    expect(await s.stored(req.id)).toMatchObject({ access: 'removed' });
  });
});
