/** The request lifecycle through the real HTTP API (inject) over a real SQLite store. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpHarness, freshStoreUrl, T0, token, type StoreHandle } from '../support/app-harness.js';
import { policiesYaml } from '../fixtures/policies.js';

type H = Awaited<ReturnType<typeof createHttpHarness>>;
let h: H;
let handle: StoreHandle;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: handle.url });
});
afterEach(async () => {
  await h.close();
  await handle.cleanup();
});

const submit = (who: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => h.call('POST', '/v1/requests', token(who), body, headers);
const act = (who: string, id: string, action: string, body: Record<string, unknown> = {}) => h.call('POST', `/v1/requests/${id}/${action}`, token(who), body);
const check = (principal: string, entitlement: string) =>
  h.call('GET', `/v1/check?principal=${principal}&entitlement=${encodeURIComponent(entitlement)}`, token('app'));
const auditTypes = async (requestId: string) =>
  (await h.call('GET', `/v1/audit?requestId=${requestId}`, token('auditor'))).body.events.map((e: { type: string }) => e.type);

describe('submission and policy selection', () => {
  it('a self-service request on the built-in target is 201 and active at once', async () => {
    const res = await submit('alice', { entitlements: ['db/read', 'cache/read'], duration: '30m' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'active', access: 'present', requester: 'alice', policy: 'dev-read', version: 2 });
    expect(res.body.expiresAt).toBe(new Date(T0 + 30 * 60_000).toISOString());
    for (const key of ['id', 'reason', 'ticket', 'requestedAt', 'startAt', 'activatedAt', 'endedAt', 'approvals', 'breakGlass']) {
      expect(res.body).toHaveProperty(key);
    }
    expect((await check('alice', 'db/read')).body).toMatchObject({ allowed: true, requestId: res.body.id });
    expect(await auditTypes(res.body.id)).toEqual(['request.submitted', 'grant.activated']);
  });

  it('uses the first candidate in file order whose terms the request meets, and records it', async () => {
    const inOffice = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'deploy' });
    expect(inOffice.body).toMatchObject({ status: 'active', policy: 'dev-write-office' });
    h.clock.set(Date.UTC(2026, 0, 10, 10, 0)); // Saturday
    const weekend = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'hotfix', ticket: 'INC-7' });
    expect(weekend.body).toMatchObject({ status: 'pending', policy: 'dev-write-anytime', approvalsRequired: { 'dev-write-anytime': 2 } });
  });

  it("refuses with every candidate's reasons and never trims the request", async () => {
    h.clock.set(Date.UTC(2026, 0, 10, 10, 0)); // Saturday: office policy is out
    const res = await submit('alice', { entitlements: ['db/write'], duration: '3h', reason: 'x', ticket: 'JIRA-1' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('HG_TERMS_NOT_MET');
    const candidates = res.body.error.details.candidates['db/write'];
    expect(candidates.map((c: { policy: string }) => c.policy)).toEqual(['dev-write-office', 'dev-write-anytime']);
    expect(candidates[0].reasons.join(' ')).toMatch(/sat is not an allowed day/);
    expect(candidates[1].reasons.join(' ')).toMatch(/exceeds the maximum 2h/);
    expect(candidates[1].reasons.join(' ')).toMatch(/does not match/);
    const refused = (await h.call('GET', '/v1/audit?type=request.refused', token('auditor'))).body.events;
    expect(refused).toHaveLength(1);
    expect(refused[0].policyHash).toBe(h.config.policyHash);
  });

  it('is 403 HG_NOT_ELIGIBLE when no policy covers the requester', async () => {
    const res = await submit('carol', { entitlements: ['db/read'], duration: '1h' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('HG_NOT_ELIGIBLE');
  });

  it('break-glass policies apply only when asked for', async () => {
    const plain = await submit('dave', { entitlements: ['db/admin'], duration: '30m', reason: 'db down' });
    expect(plain.body.error.code).toBe('HG_NOT_ELIGIBLE');
    const glass = await submit('dave', { entitlements: ['db/admin'], duration: '30m', reason: 'db down', breakGlass: true });
    expect(glass.status).toBe(201);
    expect(glass.body).toMatchObject({ status: 'active', breakGlass: true, policy: 'break-glass' });
    expect(glass.body.reviewDueAt).toBe(new Date(T0 + 2 * 3_600_000).toISOString());
    expect(await auditTypes(glass.body.id)).toContain('alert.break_glass_used');
  });

  it('a request for several entitlements is granted whole or not at all', async () => {
    const res = await submit('alice', { entitlements: ['db/read', 'db/admin'], duration: '9h', reason: 'x' });
    expect(res.status).toBe(422);
    expect((await check('alice', 'db/read')).body.allowed).toBe(false);
  });

  it('rejects malformed input with 400 and a field path, never 500', async () => {
    const bad: unknown[] = [
      {},
      { entitlements: [] },
      { entitlements: 'db/read' },
      { entitlements: ['db/read'], duration: 'forever' },
      { entitlements: ['db/read'], duration: '1h', startAt: 'tomorrow' },
      { entitlements: ['db/read'], duration: '1h', extra: true },
      { entitlements: ['nope/x'], duration: '1h' },
      { entitlements: ['db/read'], duration: '1h', startAt: new Date(T0 - 3_600_000).toISOString() },
    ];
    for (const body of bad) {
      const res = await submit('alice', body as Record<string, unknown>);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('HG_INVALID_INPUT');
    }
    const raw = await h.server.inject({
      method: 'POST',
      url: '/v1/requests',
      headers: { authorization: `Bearer ${token('alice')}`, 'content-type': 'application/json' },
      payload: '{"entitlements": [',
    });
    expect(raw.statusCode).toBe(400);
    expect(JSON.parse(raw.body).error.code).toBe('HG_INVALID_INPUT');
    const big = await submit('alice', { entitlements: ['db/read'], reason: 'x'.repeat(100_000) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('HG_PAYLOAD_TOO_LARGE');
  });

  it('an Idempotency-Key makes a retried POST return the first result', async () => {
    const body = { entitlements: ['db/read'], duration: '1h' };
    const first = await submit('alice', body, { 'idempotency-key': 'k-1' });
    const again = await submit('alice', body, { 'idempotency-key': 'k-1' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    const other = await submit('alice', { ...body, duration: '2h' }, { 'idempotency-key': 'k-1' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('HG_IDEMPOTENCY_MISMATCH');
    const list = await h.call('GET', '/v1/requests?mine=true', token('alice'));
    expect(list.body.requests).toHaveLength(1);
  });
});

describe('approval', () => {
  const pendingAdmin = async () => {
    const res = await submit('alice', { entitlements: ['db/admin'], duration: '1h', reason: 'migrate' });
    expect(res.body.status).toBe('pending');
    return res.body.id as string;
  };

  it('needs N distinct eligible approvers; one approver counts once; never the requester', async () => {
    const id = await pendingAdmin();
    expect((await act('alice', id, 'approve')).body.error.code).toBe('HG_SELF_APPROVAL');
    // A stranger cannot even see it; an admin sees it but is not an approver.
    expect((await act('mallory', id, 'approve')).body.error.code).toBe('HG_NOT_FOUND');
    expect((await act('admin', id, 'approve')).body.error.code).toBe('HG_NOT_APPROVER');
    const one = await act('carol', id, 'approve', { comment: 'ok' });
    expect(one.body).toMatchObject({ status: 'pending', approvals: [{ by: 'carol', comment: 'ok' }] });
    const twice = await act('carol', id, 'approve');
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('HG_ALREADY_APPROVED');
    expect((await check('alice', 'db/admin')).body.allowed).toBe(false);
    const two = await act('erin', id, 'approve');
    expect(two.body).toMatchObject({ status: 'active', access: 'present' });
    expect((await check('alice', 'db/admin')).body.allowed).toBe(true);
    expect(await auditTypes(id)).toEqual([
      'request.submitted',
      'decision.refused',
      'decision.refused',
      'request.approved',
      'request.approved',
      'grant.activated',
    ]);
  });

  it('an approver who is both requester and approver cannot approve their own request', async () => {
    const res = await submit('bob', { entitlements: ['db/admin'], duration: '1h', reason: 'x' });
    expect((await act('bob', res.body.id, 'approve')).body.error.code).toBe('HG_SELF_APPROVAL');
  });

  it('recomputes approver eligibility when they approve', async () => {
    const id = await pendingAdmin();
    // carol leaves sre-leads: the configuration changes after submission.
    const { configFromYaml } = await import('../support/app-harness.js');
    const yaml = policiesYaml().replace(/- \{ id: carol, groups: \[sre-leads\]/, '- { id: carol, groups: [finance]');
    h.source.set(configFromYaml(yaml, handle.url));
    const res = await act('carol', id, 'approve');
    expect(res.status).toBe(404);
    expect((await h.call('GET', `/v1/requests/${id}`, token('alice'))).body.approvals).toEqual([]);
  });

  it('a deny by an eligible approver ends the request', async () => {
    const id = await pendingAdmin();
    const res = await act('carol', id, 'deny', { comment: 'no ticket' });
    expect(res.body).toMatchObject({ status: 'denied', decision: { by: 'carol', comment: 'no ticket' } });
    expect((await act('erin', id, 'approve')).status).toBe(409);
  });

  it('lists what the caller may approve', async () => {
    const id = await pendingAdmin();
    const carol = await h.call('GET', '/v1/requests?approvable=true', token('carol'));
    expect(carol.body.requests.map((r: { id: string }) => r.id)).toEqual([id]);
    const alice = await h.call('GET', '/v1/requests?approvable=true', token('alice'));
    expect(alice.body.requests).toEqual([]);
    await act('carol', id, 'approve');
    expect((await h.call('GET', '/v1/requests?approvable=true', token('carol'))).body.requests).toEqual([]);
    // Visibility: a stranger sees nothing of it.
    expect((await h.call('GET', `/v1/requests/${id}`, token('dave'))).status).toBe(404);
  });

  it('a scheduled request starts at startAt', async () => {
    const startAt = new Date(T0 + 3_600_000).toISOString();
    const res = await submit('alice', { entitlements: ['db/read'], duration: '1h', startAt });
    expect(res.body).toMatchObject({ status: 'scheduled', access: 'none', startAt });
    h.clock.advance(3_600_000);
    await h.app.due.runDue();
    const now = await h.call('GET', `/v1/requests/${res.body.id}`, token('alice'));
    expect(now.body).toMatchObject({ status: 'active', access: 'present', expiresAt: new Date(T0 + 7_200_000).toISOString() });
  });
});

describe('ending grants', () => {
  it('expires on time; check denies from expiresAt on even before the transition runs', async () => {
    const res = await submit('alice', { entitlements: ['db/read'], duration: '10m' });
    h.clock.advance(10 * 60_000 - 1);
    expect((await check('alice', 'db/read')).body.allowed).toBe(true);
    h.clock.advance(1);
    expect((await check('alice', 'db/read')).body.allowed).toBe(false);
    expect((await h.call('GET', `/v1/requests/${res.body.id}`, token('alice'))).body.status).toBe('active');
    const run = await h.app.due.runDue();
    expect(run.transitions).toBe(1);
    expect((await h.call('GET', `/v1/requests/${res.body.id}`, token('alice'))).body).toMatchObject({ status: 'expired', access: 'removed' });
  });

  it('a pending request expires after its pending timeout', async () => {
    h.clock.set(Date.UTC(2026, 0, 10, 10, 0));
    const res = await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'x', ticket: 'INC-1' });
    h.clock.advance(3_600_000);
    await h.app.due.runDue();
    const after = await h.call('GET', `/v1/requests/${res.body.id}`, token('alice'));
    expect(after.body).toMatchObject({ status: 'expired', endReason: 'pending timeout' });
  });

  it('overlapping grants of the same entitlement are independent', async () => {
    const a = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    const b = await submit('alice', { entitlements: ['db/read'], duration: '2h' });
    await act('alice', b.body.id, 'release');
    expect((await check('alice', 'db/read')).body).toMatchObject({ allowed: true, requestId: a.body.id });
    await act('admin', a.body.id, 'revoke', { reason: 'done' });
    expect((await check('alice', 'db/read')).body.allowed).toBe(false);
  });

  it('only admins and approvers revoke; only the requester releases or cancels', async () => {
    const g = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    expect((await act('mallory', g.body.id, 'revoke')).status).toBe(404);
    expect((await act('admin', g.body.id, 'release')).status).toBe(403);
    const p = await submit('alice', { entitlements: ['db/admin'], duration: '1h', reason: 'x' });
    expect((await act('carol', p.body.id, 'cancel')).status).toBe(403);
    expect((await act('alice', p.body.id, 'cancel')).body.status).toBe('cancelled');
    const revoked = await act('admin', g.body.id, 'revoke', { reason: 'incident' });
    expect(revoked.body).toMatchObject({ status: 'revoked', endedBy: 'admin', endReason: 'incident' });
  });

  it('extends within maxTotal without approval; with approval when the policy says so', async () => {
    const id = (await submit('alice', { entitlements: ['db/admin'], duration: '4h', reason: 'x' })).body.id;
    await act('carol', id, 'approve');
    await act('erin', id, 'approve');
    const ok = await act('alice', id, 'extend', { duration: '2h', reason: 'more' });
    expect(ok.body.expiresAt).toBe(new Date(T0 + 6 * 3_600_000).toISOString());
    const over = await act('alice', id, 'extend', { duration: '1m' });
    expect(over.status).toBe(422);

    h.clock.set(Date.UTC(2026, 0, 10, 10, 0));
    const w = (await submit('alice', { entitlements: ['db/write'], duration: '1h', reason: 'x', ticket: 'INC-2' })).body.id;
    await act('carol', w, 'approve');
    await act('erin', w, 'approve');
    const asked = await act('alice', w, 'extend', { duration: '1h' });
    expect(asked.body.pendingExtension).toMatchObject({ durationSeconds: 3600 });
    expect(asked.body.expiresAt).toBe(new Date(Date.UTC(2026, 0, 10, 11, 0)).toISOString());
    await act('carol', w, 'approve');
    const done = await act('erin', w, 'approve');
    expect(done.body).toMatchObject({ pendingExtension: null, expiresAt: new Date(Date.UTC(2026, 0, 10, 12, 0)).toISOString() });
  });

  it('break-glass needs a review by a reviewer; an overdue review raises an alert once', async () => {
    const id = (await submit('dave', { entitlements: ['db/admin'], duration: '30m', reason: 'outage', breakGlass: true })).body.id;
    expect((await act('dave', id, 'review', { comment: 'fine' })).body.error.code).toBe('HG_SELF_APPROVAL');
    expect((await act('alice', id, 'review', { comment: 'fine' })).status).toBe(404);
    h.clock.advance(2 * 3_600_000);
    await h.app.due.runDue();
    await h.app.due.runDue();
    expect((await auditTypes(id)).filter((t: string) => t === 'alert.review_overdue')).toHaveLength(1);
    const reviewed = await act('carol', id, 'review', { comment: 'justified: outage INC-9' });
    expect(reviewed.body.review).toMatchObject({ by: 'carol', comment: 'justified: outage INC-9' });
    expect((await act('erin', id, 'review', { comment: 'again' })).status).toBe(409);
  });
});

describe('concurrent decisions', () => {
  it('approve, deny, cancel and revoke racing on one request end in exactly one legal outcome; losers get 409', async () => {
    for (let round = 0; round < 5; round++) {
      const id = (await submit('alice', { entitlements: ['db/admin'], duration: '1h', reason: `race ${round}` })).body.id;
      await act('carol', id, 'approve');
      const results = await Promise.all([act('erin', id, 'approve'), act('bob', id, 'deny'), act('alice', id, 'cancel'), act('admin', id, 'revoke')]);
      const final = (await h.call('GET', `/v1/requests/${id}`, token('admin'))).body;
      const winners = results.filter((r) => r.status === 200);
      // Exactly one decision on the pending request wins; revoke may follow an approval.
      for (const r of results) expect([200, 409]).toContain(r.status);
      expect(winners.length).toBeGreaterThanOrEqual(1);
      expect(['active', 'denied', 'cancelled', 'revoked']).toContain(final.status);
      const decisive = (await auditTypes(id)).filter((t: string) => ['grant.activated', 'request.denied', 'request.cancelled'].includes(t));
      expect(decisive).toHaveLength(1);
    }
  });
});

describe('emergency controls', () => {
  it('locking a principal revokes their grants, cancels pending requests and blocks new ones', async () => {
    const g = (await submit('alice', { entitlements: ['db/read'], duration: '1h' })).body.id;
    const p = (await submit('alice', { entitlements: ['db/admin'], duration: '1h', reason: 'x' })).body.id;
    expect((await h.call('POST', '/v1/principals/alice/lock', token('carol'), {})).status).toBe(403);
    const res = await h.call('POST', '/v1/principals/alice/lock', token('admin'), { reason: 'stolen laptop' });
    expect(res.body).toMatchObject({ locked: true, revoked: [g], cancelled: [p] });
    expect((await check('alice', 'db/read')).body.allowed).toBe(false);
    const refused = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('HG_PRINCIPAL_LOCKED');
    expect((await h.call('GET', '/v1/me', token('alice'))).body.locked).toBe(true);
    await h.call('POST', '/v1/principals/alice/unlock', token('admin'));
    expect((await submit('alice', { entitlements: ['db/read'], duration: '1h' })).status).toBe(201);
    const types = (await h.call('GET', '/v1/audit?actor=admin', token('auditor'))).body.events.map((e: { type: string }) => e.type);
    expect(types).toEqual(['principal.locked', 'alert.principal_locked', 'grant.revoked', 'request.cancelled', 'principal.unlocked']);
  });

  it('freezing a target revokes every grant on it and refuses new ones', async () => {
    const a = (await submit('alice', { entitlements: ['db/read'], duration: '1h' })).body.id;
    const c = (await submit('alice', { entitlements: ['cache/read'], duration: '1h' })).body.id;
    const res = await h.call('POST', '/v1/targets/db/freeze', token('admin'), { reason: 'breach' });
    expect(res.body).toMatchObject({ frozen: true, revoked: [a] });
    expect((await check('alice', 'db/read')).body.allowed).toBe(false);
    expect((await check('alice', 'cache/read')).body).toMatchObject({ allowed: true, requestId: c });
    expect((await submit('mallory', { entitlements: ['db/read'], duration: '1h' })).body.error.code).toBe('HG_TARGET_FROZEN');
    expect((await h.call('POST', '/v1/targets/nope/freeze', token('admin'))).status).toBe(404);
    await h.call('POST', '/v1/targets/db/unfreeze', token('admin'));
    expect((await submit('mallory', { entitlements: ['db/read'], duration: '1h' })).status).toBe(201);
  });
});

describe('authentication and roles', () => {
  it('answers 401 with a fixed message for a missing or wrong token', async () => {
    for (const auth of [undefined, 'Bearer nope', 'Basic abc', `Bearer ${token('alice')}x`]) {
      const res = await h.server.inject({ method: 'GET', url: '/v1/me', headers: auth ? { authorization: auth } : {} });
      expect(res.statusCode).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ error: { code: 'HG_UNAUTHENTICATED', message: 'authentication required' } });
    }
  });

  it("authenticates before reading a body: a stranger's malformed or oversized body still gets 401", async () => {
    for (const payload of ['{not json', 'x'.repeat(2_000_000)]) {
      const res = await h.server.inject({
        method: 'POST',
        url: '/v1/requests',
        headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    // Unknown /v1 paths tell a stranger nothing; a known caller learns they do not exist.
    expect((await h.server.inject({ method: 'GET', url: '/v1/nowhere' })).statusCode).toBe(401);
    expect((await h.call('GET', '/v1/nowhere', token('alice'))).status).toBe(404);
  });

  it('hands every request of a principal the same frozen principal object', async () => {
    const { tokenAuthenticator } = await import('../../src/app/directory.js');
    const tokens = tokenAuthenticator(h.source);
    const authenticateToken = (t: string) => tokens.authenticate({ scheme: 'bearer', token: t, sourceIp: '127.0.0.1' });
    const p = authenticateToken(token('alice'))!;
    expect(authenticateToken(token('alice'))).toBe(p);
    expect(Object.isFrozen(p) && Object.isFrozen(p.groups) && Object.isFrozen(p.roles)).toBe(true);
    expect(() => p.roles.push('admin')).toThrow(TypeError);
    expect(authenticateToken(`${token('alice')} `)).toBeUndefined();
  });

  it('check is for checkers and admins; the audit log for auditors and admins', async () => {
    expect((await h.call('GET', '/v1/check?principal=alice&entitlement=db/read', token('alice'))).status).toBe(403);
    expect((await h.call('GET', '/v1/audit', token('alice'))).status).toBe(403);
    expect((await h.call('GET', '/v1/audit', token('admin'))).status).toBe(200);
    expect((await h.call('GET', '/v1/check?principal=alice', token('app'))).status).toBe(400);
  });

  it('answers a batch check pair by pair, in order, like the single check; for checkers and admins only', async () => {
    const r = await submit('alice', { entitlements: ['db/read'], duration: '1h' });
    const checks = [
      { principal: 'alice', entitlement: 'db/read' },
      { principal: 'alice', entitlement: 'db/write' },
      { principal: 'bob', entitlement: 'db/read' },
    ];
    const batch = await h.call('POST', '/v1/check', token('app'), { checks });
    expect(batch.status).toBe(200);
    expect(batch.body.results).toEqual([
      { principal: 'alice', entitlement: 'db/read', allowed: true, requestId: r.body.id, expiresAt: r.body.expiresAt },
      { principal: 'alice', entitlement: 'db/write', allowed: false },
      { principal: 'bob', entitlement: 'db/read', allowed: false },
    ]);
    for (const [i, c] of checks.entries()) {
      const one = await h.call('GET', `/v1/check?principal=${c.principal}&entitlement=${c.entitlement}`, token('app'));
      expect(one.body.allowed).toBe(batch.body.results[i].allowed);
    }
    expect((await h.call('POST', '/v1/check', token('alice'), { checks })).status).toBe(403);
    expect((await h.call('POST', '/v1/check', token('app'), { checks: [] })).status).toBe(400);
    expect((await h.call('POST', '/v1/check', token('app'), { checks: Array.from({ length: 1001 }, () => checks[0]) })).status).toBe(400);
  });

  it('shows the caller and what they may request', async () => {
    expect((await h.call('GET', '/v1/me', token('bob'))).body).toEqual({ id: 'bob', groups: ['developers', 'sre-leads'], roles: [], locked: false });
    const ents = (await h.call('GET', '/v1/entitlements', token('dave'))).body.entitlements;
    expect(ents).toEqual([
      expect.objectContaining({ entitlement: 'db/admin', policies: [expect.objectContaining({ name: 'break-glass', breakGlass: true })] }),
    ]);
  });

  it('rate limits per token with 429 HG_RATE_LIMITED', async () => {
    const { configFromYaml } = await import('../support/app-harness.js');
    const config = configFromYaml(policiesYaml(), handle.url);
    h.source.set({ ...config, server: { ...config.server, rateLimitPerMinute: 3 } });
    const { buildServer } = await import('../../src/http/build-server.js');
    const limited = await buildServer({ app: h.app, config: h.source });
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const res = await limited.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${token('alice')}` } });
      codes.push(res.statusCode);
      if (res.statusCode === 429) expect(JSON.parse(res.body).error.code).toBe('HG_RATE_LIMITED');
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    await limited.close();
  });

  it('gives the checker role its own /v1/check budget: none by default, rateLimit.checkPerMinute when set', async () => {
    const { configFromYaml } = await import('../support/app-harness.js');
    const { buildServer } = await import('../../src/http/build-server.js');
    const config = configFromYaml(policiesYaml(), handle.url);
    const run = async (server: { rateLimitPerMinute: number; checkRateLimitPerMinute: number }, who: string, url: string, n: number) => {
      h.source.set({ ...config, server: { ...config.server, ...server } });
      const limited = await buildServer({ app: h.app, config: h.source });
      const codes: number[] = [];
      for (let i = 0; i < n; i++) codes.push((await limited.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token(who)}` } })).statusCode);
      await limited.close();
      return codes;
    };
    const check = '/v1/check?principal=alice&entitlement=db/read';
    // The people's limit of 3 does not throttle a gateway's checks...
    expect(new Set(await run({ rateLimitPerMinute: 3, checkRateLimitPerMinute: 0 }, 'app', check, 20))).toEqual(new Set([200]));
    // ...but still applies to the checker's other calls, and to an admin's checks.
    expect(await run({ rateLimitPerMinute: 3, checkRateLimitPerMinute: 0 }, 'app', '/v1/me', 5)).toEqual([200, 200, 200, 429, 429]);
    expect(await run({ rateLimitPerMinute: 3, checkRateLimitPerMinute: 0 }, 'admin', check, 5)).toEqual([200, 200, 200, 429, 429]);
    // Its own limit, when set, even with the people's limit off.
    expect(await run({ rateLimitPerMinute: 0, checkRateLimitPerMinute: 4 }, 'app', check, 6)).toEqual([200, 200, 200, 200, 429, 429]);
  });
});

describe('response details', () => {
  it('tells who still has to approve, and records a release reason', async () => {
    const id = (await submit('alice', { entitlements: ['db/admin'], duration: '1h', reason: 'x' })).body.id;
    await act('carol', id, 'approve');
    const r = (await h.call('GET', `/v1/requests/${id}`, token('alice'))).body;
    expect(r.awaiting).toEqual([{ policy: 'dev-admin', remaining: 1, approvers: { groups: ['sre-leads'], users: [], manager: null }, mfaMaxAgeSeconds: null }]);
    expect(r.approvals[0]).toMatchObject({ by: 'carol', for: ['dev-admin'] });
    await act('erin', id, 'approve');
    const released = await act('alice', id, 'release', { reason: 'index built' });
    expect(released.body).toMatchObject({ status: 'revoked', awaiting: [], endReason: 'released by requester: index built' });
  });

  it('pages through grants without skipping entitlements of one request', async () => {
    for (let i = 0; i < 3; i++) await submit('alice', { entitlements: ['db/read', 'cache/read'], duration: '1h' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { grants: { requestId: string; entitlement: string }[]; nextCursor: string | null } } = await h.call(
        'GET',
        `/v1/grants?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        token('alice'),
      );
      seen.push(...page.body.grants.map((g) => `${g.requestId} ${g.entitlement}`));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
  });
});

describe('reminders', () => {
  const events = async (type: string) => (await h.call('GET', `/v1/audit?type=${type}`, token('auditor'))).body.events;

  it('reminds before a grant expires and before a pending request times out, once each, and survives extension', async () => {
    const g = (await submit('alice', { entitlements: ['db/admin'], duration: '1h', reason: 'x' })).body;
    expect(g.status).toBe('pending');
    h.clock.advance(23 * 3_600_000 - 1); // 24h pending timeout, reminded 1h before
    await h.app.due.runDue();
    expect(await events('reminder.pending_timeout')).toHaveLength(0);
    h.clock.advance(1);
    await h.app.due.runDue();
    await h.app.due.runDue();
    expect(await events('reminder.pending_timeout')).toEqual([expect.objectContaining({ requestId: g.id, actor: 'system' })]);

    const a = (await submit('alice', { entitlements: ['db/read'], duration: '1h' })).body;
    h.clock.advance(45 * 60_000); // 15 minutes before the end
    await h.app.due.runDue();
    expect((await events('reminder.grant_expiring')).map((e: { requestId: string }) => e.requestId)).toEqual([a.id]);
    // An extension moves the next reminder with the new end.
    const b = (await submit('alice', { entitlements: ['db/admin'], duration: '1h', reason: 'y' })).body;
    await act('carol', b.id, 'approve');
    await act('erin', b.id, 'approve');
    await act('alice', b.id, 'extend', { duration: '1h' });
    h.clock.advance(60 * 60_000);
    await h.app.due.runDue();
    expect((await events('reminder.grant_expiring')).map((e: { requestId: string }) => e.requestId)).toEqual([a.id]);
    h.clock.advance(45 * 60_000);
    await h.app.due.runDue();
    expect((await events('reminder.grant_expiring')).map((e: { requestId: string }) => e.requestId)).toEqual([a.id, b.id]);
  });

  it('locking a principal raises an alert', async () => {
    await h.call('POST', '/v1/principals/alice/lock', token('admin'), { reason: 'phished' });
    expect(await events('alert.principal_locked')).toEqual([expect.objectContaining({ actor: 'admin', details: { principal: 'alice', reason: 'phished' } })]);
  });
});
