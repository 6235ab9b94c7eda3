/** The hash-chained audit log: written with every change, verified, and tamper-evident. */
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventHash } from '../../src/core/audit-chain.js';
import { configFromYaml, createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { policiesYaml } from '../fixtures/policies.js';

type H = Awaited<ReturnType<typeof createHttpHarness>>;
let h: H;
let handle: StoreHandle;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: handle.url });
  // Six events: submitted + activated, three times.
  for (let i = 0; i < 3; i++) {
    await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h' });
  }
});
afterEach(async () => {
  await h.close();
  await handle.cleanup();
});

const verify = async (expectHead?: string) => (await h.call('GET', `/v1/audit/verify${expectHead ? `?expectHead=${expectHead}` : ''}`, token('auditor'))).body;
const exec = (q: ReturnType<typeof sql>) => q.execute(h.store.db);

describe('audit chain', () => {
  it('chains every event and verifies a clean log', async () => {
    const v = await verify();
    expect(v).toMatchObject({ ok: true, count: 6, unchained: 0 });
    const head = (await h.call('GET', '/v1/audit/head', token('auditor'))).body;
    expect(head.seq).toBe(6);
    expect(v.head).toBe(head.head);
    const events = (await h.call('GET', '/v1/audit', token('auditor'))).body.events;
    expect(events[0]).toMatchObject({ seq: 1, type: 'request.submitted', actor: 'alice', policyHash: h.config.policyHash, prevHash: '0'.repeat(64) });
    expect(events[1].prevHash).toBe(events[0].hash);
  });

  it('names the first bad sequence number for an edited event', async () => {
    await exec(sql`UPDATE audit_events SET details = '{"entitlements":["db/admin"]}' WHERE seq = 3`);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 3, problem: expect.stringMatching(/content/) });
  });

  it('detects a deleted event', async () => {
    await exec(sql`DELETE FROM audit_events WHERE seq = 4`);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 4 });
  });

  it('detects reordered events', async () => {
    await exec(sql`UPDATE audit_events SET seq = -1 WHERE seq = 2`);
    await exec(sql`UPDATE audit_events SET seq = 2 WHERE seq = 3`);
    await exec(sql`UPDATE audit_events SET seq = 3 WHERE seq = -1`);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 2 });
  });

  it('detects an inserted event even when its own hash is computed correctly', async () => {
    const prev = (await exec(sql`SELECT hash, at FROM audit_events WHERE seq = 2`)).rows[0] as { hash: string; at: number };
    await exec(sql`UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3`);
    await exec(sql`UPDATE audit_events SET seq = seq - 99 WHERE seq >= 103`);
    const at = Number(prev.at);
    const content = { seq: 3, id: 'forged', at, type: 'grant.revoked', actor: 'admin', requestId: null, details: null, policyHash: null };
    const hash = eventHash(content, prev.hash);
    await exec(
      sql`INSERT INTO audit_events (id, at, type, actor, seq, prev_hash, hash) VALUES ('forged', ${at}, 'grant.revoked', 'admin', 3, ${prev.hash}, ${hash})`,
    );
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 4 });
  });

  it('a pinned head catches a truncated tail', async () => {
    const head = (await h.call('GET', '/v1/audit/head', token('auditor'))).body.head;
    expect(await verify(head)).toMatchObject({ ok: true });
    await exec(sql`DELETE FROM audit_events WHERE seq >= 5`);
    expect(await verify()).toMatchObject({ ok: true, count: 4 });
    expect(await verify(head)).toMatchObject({ ok: false, firstBadSeq: 5, problem: expect.stringMatching(/truncated/) });
    const bad = await h.call('GET', '/v1/audit/verify?expectHead=nonsense', token('auditor'));
    expect(bad.status).toBe(400);
  });

  it('start-up verification is incremental, and a broken chain is loud but not fatal', async () => {
    const first = await h.app.audit.verifyIncrementally();
    expect(first).toMatchObject({ ok: true, count: 6 });
    await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h' });
    const second = await h.app.audit.verifyIncrementally();
    expect(second).toMatchObject({ ok: true, count: 8 });
    expect(h.app.audit.lastVerify?.incremental).toBe(true);

    await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h' });
    await exec(sql`UPDATE audit_events SET actor = 'mallory' WHERE seq = 9`);
    const broken = await h.app.audit.verifyIncrementally();
    expect(broken).toMatchObject({ ok: false, firstBadSeq: 9 });
    const ready = await h.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.audit).toMatchObject({ ok: false, firstBadSeq: 9 });
    const alerts = (await h.call('GET', '/v1/audit?type=alert.*', token('auditor'))).body.events;
    expect(alerts.map((e: { type: string }) => e.type)).toEqual(['alert.audit_chain_broken']);
    // The server keeps working: grants still end.
    const g = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h' });
    expect((await h.call('POST', `/v1/requests/${g.body.id}/release`, token('alice'))).body.status).toBe('revoked');
  });

  it('filters by request, actor, type and time, with pages', async () => {
    const all = (await h.call('GET', '/v1/audit?limit=4', token('auditor'))).body;
    expect(all.events).toHaveLength(4);
    const rest = (await h.call('GET', `/v1/audit?limit=4&cursor=${all.nextCursor}`, token('auditor'))).body;
    expect(rest.events).toHaveLength(2);
    expect(rest.nextCursor).toBeNull();
    const rid = all.events[0].requestId;
    expect((await h.call('GET', `/v1/audit?requestId=${rid}`, token('auditor'))).body.events).toHaveLength(2);
    expect((await h.call('GET', '/v1/audit?type=grant.activated', token('auditor'))).body.events).toHaveLength(3);
    const future = new Date(h.clock.now() + 1000).toISOString();
    expect((await h.call('GET', `/v1/audit?since=${future}`, token('auditor'))).body.events).toHaveLength(0);
    expect((await h.call('GET', `/v1/audit?until=${future}&actor=alice`, token('auditor'))).body.events).toHaveLength(6);
  });
});

describe('configuration reload', () => {
  it('applies to new decisions only; decisions record the policy hash they used', async () => {
    const oldHash = h.config.policyHash;
    const pending = (await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/admin'], duration: '1h', reason: 'x' })).body;
    // The new file needs a single approval from carol alone.
    h.source.set(
      configFromYaml(
        policiesYaml({ devAdminApprovers: 'nobody' }).replace('required: 2, approvers: { groups: [nobody] }', 'required: 1, approvers: { users: [carol] }'),
        handle.url,
      ),
    );
    await h.app.recordReload('admin', oldHash);
    expect(h.config.policyHash).not.toBe(oldHash);

    // The old request keeps its terms: two approvals from sre-leads.
    expect((await h.call('POST', `/v1/requests/${pending.id}/approve`, token('erin'))).body.status).toBe('pending');
    expect((await h.call('POST', `/v1/requests/${pending.id}/approve`, token('carol'))).body.status).toBe('active');
    // A new request is decided under the new terms.
    const fresh = (await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/admin'], duration: '1h', reason: 'y' })).body;
    expect(fresh.policyHash).toBe(h.config.policyHash);
    expect((await h.call('POST', `/v1/requests/${fresh.id}/approve`, token('erin'))).status).toBe(404);
    expect((await h.call('POST', `/v1/requests/${fresh.id}/approve`, token('carol'))).body.status).toBe('active');

    const events = (await h.call('GET', '/v1/audit?limit=1000', token('auditor'))).body.events as { requestId: string; policyHash: string; type: string }[];
    for (const e of events.filter((x) => x.requestId === pending.id)) expect(e.policyHash).toBe(oldHash);
    for (const e of events.filter((x) => x.requestId === fresh.id)) expect(e.policyHash).toBe(h.config.policyHash);
    expect(events.find((e) => e.type === 'config.reloaded')).toMatchObject({ policyHash: h.config.policyHash });
  });
});
