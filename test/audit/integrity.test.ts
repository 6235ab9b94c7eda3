/**
 * Audit chain integrity (issue 9, items 6 and 7): the start-up check does not trust its saved
 * point, a background full pass catches what it cannot see, and only the server's own writes are
 * ever linked (in the writing transaction), with time never going backwards along the chain.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/store/open-store.js';
import { eventHash, GENESIS_HASH, sha256Hex } from '../../src/core/audit-chain.js';
import { policiesYaml } from '../fixtures/policies.js';
import { createHarness, createHttpHarness, freshStoreUrl, T0, token, type Dialect, type StoreHandle } from '../support/app-harness.js';
import { seedEvents } from './helpers.js';
import { undoFrom0014 } from '../support/undo-migrations.js';

type H = Awaited<ReturnType<typeof createHttpHarness>>;
const open: { close(): Promise<void> }[] = [];
let handles: StoreHandle[] = [];

afterEach(async () => {
  for (const h of open.splice(0).reverse()) await h.close();
  for (const s of handles) await s.cleanup();
  handles = [];
});

async function harness(dialect: Dialect = 'sqlite', existing?: StoreHandle, now?: number): Promise<H> {
  const handle = existing ?? (await freshStoreUrl(dialect));
  if (!existing) handles.push(handle);
  const h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: handle.url, ...(now !== undefined ? { now } : {}) });
  open.push(h);
  return h;
}

const exec = (h: H, q: ReturnType<typeof sql>) => q.execute(h.store.db);
const submit = (h: H, who = 'alice') => h.call('POST', '/v1/requests', token(who), { entitlements: ['db/read'], duration: '1h' });
const verify = async (h: H, expectHead?: string) =>
  (await h.call('GET', `/v1/audit/verify${expectHead ? `?expectHead=${expectHead}` : ''}`, token('auditor'))).body;
const alerts = async (h: H) =>
  (await h.call('GET', '/v1/audit?type=alert.audit_chain_broken', token('auditor'))).body.events as {
    details: { check: string; firstBadSeq?: number; problem: string };
  }[];
const savedPoint = async (h: H) => JSON.parse((await h.store.getState('audit.verified'))!) as { lastSeq: number; head: string; count: number };

/** Four requests (eight events), verified at start-up: the saved point is seq 8. */
async function verifiedAtEight(h: H) {
  for (let i = 0; i < 4; i++) await submit(h);
  expect(await h.app.audit.verifyIncrementally()).toMatchObject({ ok: true, count: 8 });
  expect((await savedPoint(h)).lastSeq).toBe(8);
}

describe('start-up verification checks its saved point', () => {
  it('catches an event deleted below the point, keeps the point, alerts, and /readyz shows it', async () => {
    const h = await harness();
    await verifiedAtEight(h);
    const point = await h.store.getState('audit.verified');
    await exec(h, sql`DELETE FROM audit_events WHERE seq = 3`);
    const report = await h.app.audit.verifyIncrementally();
    expect(report).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/1 event\(s\) at or below the point verified earlier \(8\) are missing: deleted/),
    });
    expect(await h.store.getState('audit.verified')).toBe(point);
    const ready = await h.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.audit).toMatchObject({ ok: false, problem: report.problem });
    expect((await alerts(h)).map((a) => a.details.check)).toEqual(['start-up']);
    // The background full pass names the first bad seq.
    expect(await h.app.audit.startFullVerification()).toMatchObject({ ok: false, firstBadSeq: 3, problem: expect.stringMatching(/gap/) });
    expect((await h.call('GET', '/readyz')).body.audit).toMatchObject({ ok: false, firstBadSeq: 3, fullPass: 'failed' });
  });

  it('catches a chain truncated below the point', async () => {
    const h = await harness();
    await verifiedAtEight(h);
    await exec(h, sql`DELETE FROM audit_events WHERE seq >= 5`);
    expect(await h.app.audit.verifyIncrementally()).toMatchObject({
      ok: false,
      firstBadSeq: 5,
      problem: 'chain ends at 4, before the point verified earlier (8): truncated',
    });
    expect((await h.call('GET', '/readyz')).body.audit).toMatchObject({ ok: false, firstBadSeq: 5 });
  });

  it('catches a truncated chain that has grown past the point again', async () => {
    const h = await harness();
    await verifiedAtEight(h);
    await exec(h, sql`DELETE FROM audit_events WHERE seq >= 5`);
    for (let i = 0; i < 3; i++) await submit(h); // seq 5..10: a new, valid chain past 8
    expect(await verify(h)).toMatchObject({ ok: true, count: 10 });
    expect(await h.app.audit.verifyIncrementally()).toMatchObject({
      ok: false,
      firstBadSeq: 8,
      problem: expect.stringMatching(/different hash: history was rewritten/),
    });
  });

  it('catches an altered saved point, and a passing full pass does not clear it', async () => {
    const h = await harness();
    await verifiedAtEight(h);
    const saved = await savedPoint(h);
    await h.store.setState('audit.verified', JSON.stringify({ ...saved, head: 'f'.repeat(64) }));
    expect(await h.app.audit.verifyIncrementally()).toMatchObject({ ok: false, firstBadSeq: 8, problem: expect.stringMatching(/different hash/) });
    expect((await savedPoint(h)).head).toBe('f'.repeat(64));
    // The chain itself re-hashes fine (as a consistently rewritten one would): the start-up finding stands.
    expect(await h.app.audit.startFullVerification()).toMatchObject({ ok: true });
    expect((await h.call('GET', '/readyz')).body.audit).toMatchObject({ ok: false, firstBadSeq: 8, fullPass: 'passed' });
  });

  it('an unreadable saved point is reported, not trusted', async () => {
    const h = await harness();
    await verifiedAtEight(h);
    await h.store.setState('audit.verified', 'nonsense');
    expect(await h.app.audit.verifyIncrementally()).toMatchObject({ ok: false, problem: 'the saved verification point is unreadable' });
  });

  it('an intact chain continues from the point, and the full pass confirms it', async () => {
    const h = await harness();
    await verifiedAtEight(h);
    await submit(h);
    expect(await h.app.audit.verifyIncrementally()).toMatchObject({ ok: true, count: 10 });
    expect(h.app.audit.lastVerify).toMatchObject({ incremental: true });
    const full = h.app.audit.startFullVerification();
    expect((await h.call('GET', '/readyz')).body.audit).toMatchObject({ ok: true, fullPass: 'running' });
    expect(await full).toMatchObject({ ok: true, count: 10 });
    expect((await h.call('GET', '/readyz')).body.audit).toMatchObject({ ok: true, count: 10, fullPass: 'passed' });
    expect(await alerts(h)).toEqual([]);
  });
});

describe('the background full verification', () => {
  it('catches an edit below the saved point, which the start-up check cannot see', async () => {
    const h = await harness();
    await verifiedAtEight(h);
    await exec(h, sql`UPDATE audit_events SET actor = 'mallory' WHERE seq = 2`);
    expect(await h.app.audit.verifyIncrementally()).toMatchObject({ ok: true });
    const full = await h.app.audit.startFullVerification();
    expect(full).toMatchObject({ ok: false, firstBadSeq: 2, problem: 'event content does not match its hash' });
    expect(h.app.audit.lastVerify).toMatchObject({ ok: false, firstBadSeq: 2, incremental: false, fullPass: 'failed' });
    const ready = await h.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.audit).toMatchObject({ ok: false, firstBadSeq: 2, fullPass: 'failed' });
    expect(await alerts(h)).toMatchObject([{ details: { check: 'full', firstBadSeq: 2 } }]);
  });

  it('stops at the next page when asked, so a quick stop never waits for a long walk', async () => {
    const h = await harness();
    await seedEvents(h, 30_000);
    const full = h.app.audit.startFullVerification();
    await h.app.audit.stopFullVerification();
    expect(await full).toBeUndefined();
    expect(h.app.audit.lastVerify).toBeUndefined();
  });
});

describe.each<Dialect>(['sqlite', 'postgres'])('only the server links events: %s', (dialect) => {
  it('a forged row inserted with seq NULL is never linked, and verify reports it', async () => {
    const h = await harness(dialect);
    await submit(h);
    const head = (await h.call('GET', '/v1/audit/head', token('auditor'))).body.head as string;
    await exec(
      h,
      sql`INSERT INTO audit_events (id, at, type, actor, request_id) VALUES ('forged-approval', ${T0 - 3_600_000}, 'request.approved', 'carol', 'req-x')`,
    );
    await submit(h);
    await h.app.due.runDue();
    const row = (await exec(h, sql`SELECT seq, pos FROM audit_events WHERE id = 'forged-approval'`)).rows[0] as { seq: unknown; pos: unknown };
    expect(row.seq).toBeNull();
    const pos = Number(row.pos);
    const report = await verify(h, head);
    expect(report).toMatchObject({
      ok: false,
      count: 4,
      unchained: 1,
      firstUnchained: { pos, id: 'forged-approval' },
      problem: expect.stringMatching(new RegExp(`^1 event\\(s\\) outside the chain \\(first at pos ${pos}, id forged-approval\\)`)),
    });
    expect(report.firstBadSeq).toBeUndefined();
    expect((await h.call('GET', '/v1/audit/head', token('auditor'))).body.seq).toBe(4);
    // At start-up too.
    expect(await h.app.audit.verifyIncrementally()).toMatchObject({ ok: false, unchained: 1 });
    expect((await h.call('GET', '/readyz')).body.audit).toMatchObject({ ok: false, problem: report.problem });
  });

  it('a forged row linked at the tail with a backdated time is flagged', async () => {
    const h = await harness(dialect);
    await submit(h);
    const tip = (await exec(h, sql`SELECT seq, hash, at FROM audit_events WHERE seq = 2`)).rows[0] as { hash: string; at: unknown };
    const at = Number(tip.at) - 86_400_000;
    const content = { seq: 3, id: 'forged-tail', at, type: 'request.approved', actor: 'carol', requestId: 'req-x', details: null, policyHash: null };
    const hash = eventHash(content, tip.hash);
    await exec(
      h,
      sql`INSERT INTO audit_events (id, at, type, actor, request_id, seq, prev_hash, hash) VALUES ('forged-tail', ${at}, 'request.approved', 'carol', 'req-x', 3, ${tip.hash}, ${hash})`,
    );
    expect(await verify(h, `3:${hash}`)).toMatchObject({ ok: false, count: 2, firstBadSeq: 3, problem: expect.stringMatching(/^time goes backwards/) });
  });
});

describe.each<Dialect>(['sqlite', 'postgres'])('verification reads the text each hash covers from the database: %s', (dialect) => {
  // PostgreSQL text cannot hold NUL, so only the details (stored as JSON text) carry one.
  const TRICKY = ['plain', 'q"uo\\te', 'ctl \u0001\u001f\b\f\n\r\t end', 'ünïcödé ✓ 😀', 'sep \u2028\u2029', 'del \u007f', '</script>'];

  it('over every character JSON escapes, across page boundaries, with rows whose details earlier builds stored', async () => {
    const h = await harness(dialect);
    // 5000 rows a page: the chain spans three pages.
    await seedEvents(h, 11_000, (i) => ({
      actor: TRICKY[i % TRICKY.length]!,
      details: { z: TRICKY[(i + 1) % TRICKY.length], a: i, m: { y: 1, b: [2], nul: '\u0000' } },
    }));
    const head = (await h.call('GET', '/v1/audit/head', token('auditor'))).body.head as string;
    const rows = await h.store.readChainEventJson(1, 11_000);
    expect(rows.filter((r) => sha256Hex(r[4]) !== r[3]).map((r) => r[0])).toEqual([]);
    expect(await verify(h, head)).toMatchObject({ ok: true, count: 11_000 });
    // Details as earlier builds stored them (keys as written, or spaced), at a page end, across
    // the next page start, and alone mid-page: equal JSON, so the chain still verifies.
    const legacy = [4_999, 5_000, 5_001, 5_002, 7_777, 11_000];
    for (const seq of legacy) {
      const { details } = (await exec(h, sql`SELECT details FROM audit_events WHERE seq = ${seq}`)).rows[0] as { details: string };
      const parsed = JSON.parse(details) as Record<string, unknown>;
      const written = seq % 2 ? JSON.stringify(Object.fromEntries(Object.entries(parsed).reverse())) : JSON.stringify(parsed, null, 2);
      expect(written).not.toBe(details);
      await exec(h, sql`UPDATE audit_events SET details = ${written} WHERE seq = ${seq}`);
    }
    expect(await verify(h, head)).toMatchObject({ ok: true, count: 11_000 });
    // An edit next to them is still found, at its seq.
    await exec(h, sql`UPDATE audit_events SET details = ${'{"a":1}'} WHERE seq = 5003`);
    expect(await verify(h, head)).toMatchObject({ ok: false, count: 5_002, firstBadSeq: 5_003, problem: 'event content does not match its hash' });
  });
});

describe('several servers over one PostgreSQL store', () => {
  it('two app instances appending at once make one gap-free chain, time never going backwards', async () => {
    const a = await harness('postgres');
    // The second server's clock is 5 s behind the first's.
    const b = await harness('postgres', handles[0], T0 - 5000);
    const work = [];
    for (let i = 0; i < 15; i++) {
      work.push(submit(a, 'alice'), submit(b, 'bob'));
      work.push(a.app.recordStart({ i }), b.app.recordStart({ i }));
    }
    const results = await Promise.all(work);
    for (const r of results.slice(0, 2)) expect((r as { status: number }).status).toBe(201);
    // Linked as written: no chainer has run.
    const links = await a.store.readChain(1, 1000);
    expect(links.map((l) => l.seq)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    for (let i = 1; i < links.length; i++) {
      expect(links[i]!.prevHash).toBe(links[i - 1]!.hash);
      expect(links[i]!.at).toBeGreaterThanOrEqual(links[i - 1]!.at);
    }
    expect(await verify(a)).toMatchObject({ ok: true, count: 90, unchained: 0 });
    expect(await verify(b)).toMatchObject({ ok: true, count: 90, unchained: 0 });
  });
});

describe('upgrading from the version that linked after commit', () => {
  it.each<Dialect>(['sqlite', 'postgres'])('%s: links the rows it had not linked yet, once, and holds only later links to time order', async (dialect) => {
    const handle = await freshStoreUrl(dialect);
    handles.push(handle);
    const old = await createHarness({ yaml: policiesYaml(), storeUrl: handle.url });
    // As the previous version left it: a linked chain whose time steps back (two servers'
    // commits linked in commit order), unlinked rows, and no 0006 migration.
    let prev = GENESIS_HASH;
    for (let seq = 1; seq <= 3; seq++) {
      const content = {
        seq,
        id: `legacy-${seq}`,
        at: T0 - seq * 1000,
        type: 'request.submitted',
        actor: 'alice',
        requestId: null,
        details: { seq },
        policyHash: null,
      };
      const hash = eventHash(content, prev);
      await sql`INSERT INTO audit_events (id, at, type, actor, details, seq, prev_hash, hash) VALUES (${content.id}, ${content.at}, 'request.submitted', 'alice', ${JSON.stringify(content.details)}, ${seq}, ${prev}, ${hash})`.execute(
        old.store.db,
      );
      prev = hash;
    }
    // Later migrations undone too: that version had none of them.
    await undoFrom0014(old.store.db);
    await sql`DELETE FROM hg_migrations WHERE name >= '0006'`.execute(old.store.db);
    for (const table of [
      'issued_credentials',
      'revocation_versions',
      'agent_reports',
      'signing_keys',
      'principals',
      'sessions',
      'api_tokens',
      'identity_links',
      'single_use',
      'scim_groups',
      'scim_members',
      'mfa_factors',
      'mfa_recovery_codes',
      'mfa_challenges',
      'mfa_failures',
      'used_refresh_tokens',
      'notifications',
      'notification_attempts',
      'one_time_links',
    ])
      await sql`DROP TABLE ${sql.table(table)}`.execute(old.store.db);
    await sql`DELETE FROM hg_state WHERE key = 'audit.time_order_from'`.execute(old.store.db);
    for (const id of ['old-pending-1', 'old-pending-2']) {
      await sql`INSERT INTO audit_events (id, at, type, actor, details) VALUES (${id}, ${T0 - 10_000}, 'request.submitted', 'alice', '{"n":1}')`.execute(
        old.store.db,
      );
    }
    await old.close();

    const store = (await openStore(handle.url, { cwd: '.' })).store;
    open.push(store);
    const links = await store.readChain(1, 100);
    expect(links.map((l) => [l.seq, l.id])).toEqual([
      [1, 'legacy-1'],
      [2, 'legacy-2'],
      [3, 'legacy-3'],
      [4, 'old-pending-1'],
      [5, 'old-pending-2'],
    ]);
    expect(JSON.parse((await store.getState('audit.time_order_from'))!)).toEqual({ seq: 5, linkedAtUpgrade: 2 });
    await store.close();
    open.pop();

    const h = await harness(dialect, handle);
    await submit(h);
    expect(await verify(h)).toMatchObject({ ok: true, count: 7, unchained: 0 });
    // Nothing written after the upgrade is linked later.
    await exec(h, sql`INSERT INTO audit_events (id, at, type, actor) VALUES ('late', ${T0}, 'request.approved', 'carol')`);
    await submit(h);
    expect(await verify(h)).toMatchObject({ ok: false, count: 9, unchained: 1, firstUnchained: { id: 'late' } });
  });
});
