/**
 * `approvers: { manager: true }`: the requester's manager approves. The manager is resolved at
 * submission and frozen into the request's terms, so a later change of manager never changes who
 * decides an open request. A requester without a manager (or who is their own, or whose manager
 * the directory does not know) is refused where only the manager could approve. Through the HTTP
 * API for the file's principals, through the use cases for the store's, on both store dialects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredPrincipal } from '../../src/app/ports.js';
import type { Principal } from '../../src/core/types.js';
import { tokenHash } from '../fixtures/policies.js';
import { configFromYaml, createHttpHarness, freshStoreUrl, T0, token, type Dialect, type StoreHandle } from '../support/app-harness.js';

const who = (id: string, extra = '') => `  - { id: ${id}${extra}, apiTokens: [{ sha256: ${tokenHash(id)} }] }`;

const yaml = (aliceManager = 'mia') => `
principals:
${who('alice', `, groups: [developers], manager: ${aliceManager}`)}
${who('sam', ', groups: [developers]')}
${who('mia')}
${who('nora')}
${who('lead', ', groups: [sre-leads]')}
${who('admin', ', roles: [admin]')}
${who('auditor', ', roles: [auditor]')}
${who('app', ', roles: [checker]')}
targets:
  db: { type: hourglass, entitlements: { admin: {}, write: {}, root: {} } }
policies:
  - name: manager-only
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    maxDuration: 2h
    reason: optional
    approval: { required: 1, approvers: { manager: true } }
    extension: { allowed: true, maxTotal: 4h, requiresApproval: true }
  - name: manager-or-leads
    subjects: { groups: [developers] }
    entitlements: [db/write]
    maxDuration: 2h
    reason: optional
    approval: { required: 1, approvers: { groups: [sre-leads], manager: true } }
  - name: glass
    subjects: { groups: [developers] }
    entitlements: [db/root]
    maxDuration: 1h
    reason: optional
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { manager: true }, within: 24h }
`;

const stored = (id: string, patch: Partial<StoredPrincipal> = {}): StoredPrincipal => ({
  id,
  source: 'scim',
  groups: [],
  active: true,
  createdAt: T0,
  updatedAt: T0,
  ...patch,
});

describe.each<Dialect>(['sqlite', 'postgres'])('approvers: { manager: true } on %s', (dialect) => {
  let handle: StoreHandle;
  let h: Awaited<ReturnType<typeof createHttpHarness>>;

  const submit = (id: string, body: Record<string, unknown>) => h.call('POST', '/v1/requests', token(id), body);
  const act = (id: string, request: string, action: string, body: Record<string, unknown> = {}) =>
    h.call('POST', `/v1/requests/${request}/${action}`, token(id), body);
  const refusals = async () => (await h.call('GET', '/v1/audit?type=request.refused&limit=1000', token('auditor'))).body.events as { actor: string }[];
  /** A principal as the authenticator would give it: from the directory (file, then store). */
  const actor = async (id: string) => (await h.app.deps.directory!.find(id)) as Principal;

  beforeAll(async () => {
    handle = await freshStoreUrl(dialect);
    h = await createHttpHarness({ yaml: yaml(), storeUrl: handle.url, now: T0 });
  });
  afterAll(async () => {
    await h?.close();
    await handle?.cleanup();
  });

  it('the manager approves and the grant is active; the frozen manager survives the store', async () => {
    const res = await submit('alice', { entitlements: ['db/admin'], duration: '1h' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: 'pending',
      awaiting: [{ policy: 'manager-only', remaining: 1, approvers: { groups: [], users: [], manager: 'mia' } }],
    });
    const kept = await h.store.getRequest(res.body.id);
    expect(kept!.terms[0]!.approval.approvers).toEqual({ groups: [], users: [], manager: 'mia' });
    // The audit record names who the manager was at submission.
    const [submitted] = (await h.store.listAudit({ type: 'request.submitted', requestId: res.body.id, limit: 1 })).events;
    expect(submitted!.details).toMatchObject({ manager: 'mia' });

    // The manager sees it among what they may approve.
    const approvable = await h.call('GET', '/v1/requests?approvable=true', token('mia'));
    expect(approvable.body.requests.map((r: { id: string }) => r.id)).toContain(res.body.id);
    const approved = await act('mia', res.body.id, 'approve', { comment: 'ok' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'active', approvals: [{ by: 'mia', for: ['manager-only'] }] });
    expect((await h.call('GET', `/v1/check?principal=alice&entitlement=db/admin`, token('app'))).body.allowed).toBe(true);

    // The frozen manager also decides an extension, and may end the grant.
    const ext = await act('alice', res.body.id, 'extend', { duration: '30m' });
    expect(ext.body.pendingExtension).not.toBeNull();
    expect(ext.body.awaiting).toEqual([{ policy: 'manager-only', remaining: 1, approvers: { groups: [], users: [], manager: 'mia' }, mfaMaxAgeSeconds: null }]);
    expect((await act('nora', res.body.id, 'approve')).status).toBe(404);
    expect((await act('mia', res.body.id, 'approve')).body.extensions).toHaveLength(1);
    expect((await act('mia', res.body.id, 'revoke', { reason: 'done' })).body.status).toBe('revoked');
  });

  it('someone in no group cannot see, approve or deny it; the requester cannot approve their own', async () => {
    const { body } = await submit('alice', { entitlements: ['db/admin'], duration: '1h' });
    expect((await h.call('GET', `/v1/requests/${body.id}`, token('nora'))).status).toBe(404);
    expect((await act('nora', body.id, 'approve')).body.error.code).toBe('HG_NOT_FOUND');
    expect((await act('nora', body.id, 'deny')).body.error.code).toBe('HG_NOT_FOUND');
    expect((await act('lead', body.id, 'approve')).body.error.code).toBe('HG_NOT_FOUND');
    expect((await act('alice', body.id, 'approve')).body.error.code).toBe('HG_SELF_APPROVAL');
    expect((await h.call('GET', `/v1/requests/${body.id}`, token('mia'))).body.status).toBe('pending');
    expect((await act('mia', body.id, 'deny', { comment: 'no' })).body.status).toBe('denied');
  });

  it('a requester without a manager is refused at submission, with the reason, and the refusal is audited', async () => {
    const before = (await refusals()).length;
    const res = await submit('sam', { entitlements: ['db/admin'], duration: '1h' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('HG_TERMS_NOT_MET');
    expect(res.body.error.details.candidates['db/admin'][0].reasons).toEqual([
      "only the requester's manager may approve, and sam has no manager known to Hourglass",
    ]);
    const after = await refusals();
    expect(after).toHaveLength(before + 1);
    expect(after.some((e) => e.actor === 'sam')).toBe(true);

    // Where groups are named beside the manager, the request waits for them.
    const write = await submit('sam', { entitlements: ['db/write'], duration: '1h' });
    expect(write.status).toBe(201);
    expect(write.body.awaiting[0].approvers).toEqual({ groups: ['sre-leads'], users: [], manager: null });
    expect((await act('mia', write.body.id, 'approve')).status).toBe(404);
    expect((await act('lead', write.body.id, 'approve')).body.status).toBe('active');

    // Break-glass reviewed by the manager alone: the same rule.
    expect((await submit('sam', { entitlements: ['db/root'], duration: '30m', breakGlass: true })).body.error.code).toBe('HG_TERMS_NOT_MET');
  });

  it('a break-glass grant is reviewed by the frozen manager', async () => {
    const glass = await submit('alice', { entitlements: ['db/root'], duration: '30m', breakGlass: true });
    expect(glass.body).toMatchObject({ status: 'active', breakGlass: true });
    const [submitted] = (await h.store.listAudit({ type: 'request.submitted', requestId: glass.body.id, limit: 1 })).events;
    expect(submitted!.details).toMatchObject({ manager: 'mia', breakGlass: true });
    expect((await act('nora', glass.body.id, 'review', { comment: 'fine' })).status).toBe(404);
    expect((await act('mia', glass.body.id, 'review', { comment: 'fine' })).body.review).toMatchObject({ by: 'mia' });
  });

  it('a manager changed after submission: the frozen one still decides, the new one cannot', async () => {
    const open = (await submit('alice', { entitlements: ['db/admin'], duration: '1h' })).body;
    const oldHash = h.config.policyHash;
    h.source.set(configFromYaml(yaml('nora'), handle.url));
    await h.app.recordReload('admin', oldHash);
    expect(h.config.policyHash).not.toBe(oldHash);

    expect((await act('nora', open.id, 'approve')).status).toBe(404);
    expect((await h.call('GET', `/v1/requests/${open.id}`, token('nora'))).status).toBe(404);
    expect((await act('mia', open.id, 'approve')).body.status).toBe('active');

    // A new request is frozen with the new manager.
    const fresh = (await submit('alice', { entitlements: ['db/admin'], duration: '1h' })).body;
    expect(fresh.awaiting[0].approvers.manager).toBe('nora');
    expect((await act('mia', fresh.id, 'approve')).status).toBe(404);
    expect((await act('nora', fresh.id, 'approve')).body.status).toBe('active');
    h.source.set(configFromYaml(yaml(), handle.url));
  });

  it('store principals: the manager from the identity source approves; an unknown, inactive or own manager refuses', async () => {
    await h.stores.principals.put(stored('sp-boss'));
    await h.stores.principals.put(stored('sp-dev', { groups: ['developers'], manager: 'sp-boss' }));
    const { request } = await h.app.requests.submit(await actor('sp-dev'), { entitlements: ['db/admin'], duration: '1h' });
    expect(request.terms[0]!.approval.approvers.manager).toBe('sp-boss');
    await expect(h.app.requests.approve(request.id, await actor('nora'))).rejects.toMatchObject({ code: 'HG_NOT_FOUND' });
    expect((await h.app.requests.approve(request.id, await actor('sp-boss'))).status).toBe('active');

    // The identity source changes the manager: the open request keeps the old one.
    const second = (await h.app.requests.submit(await actor('sp-dev'), { entitlements: ['db/admin'], duration: '1h' })).request;
    await h.stores.principals.put(stored('sp-dev', { groups: ['developers'], manager: 'mia', updatedAt: T0 + 1 }));
    expect((await actor('sp-dev')).manager).toBe('mia');
    await expect(h.app.requests.approve(second.id, await actor('mia'))).rejects.toMatchObject({ code: 'HG_NOT_FOUND' });
    expect((await h.app.requests.approve(second.id, await actor('sp-boss'))).status).toBe('active');

    const refused = async (p: StoredPrincipal) => {
      await h.stores.principals.put(p);
      return h.app.requests.submit(await actor(p.id), { entitlements: ['db/admin'], duration: '1h' }).catch((e) => e);
    };
    expect(await refused(stored('sp-self', { groups: ['developers'], manager: 'sp-self' }))).toMatchObject({ code: 'HG_TERMS_NOT_MET' });
    expect(await refused(stored('sp-ghost', { groups: ['developers'], manager: 'nobody-here' }))).toMatchObject({ code: 'HG_TERMS_NOT_MET' });
    await h.stores.principals.put(stored('sp-gone', { active: false }));
    expect(await refused(stored('sp-orphan', { groups: ['developers'], manager: 'sp-gone' }))).toMatchObject({ code: 'HG_TERMS_NOT_MET' });
  });

  it('explain names the manager, counts them among the eligible approvers, and refuses without one', async () => {
    const alice = await h.call('GET', '/v1/policies/explain?entitlement=db/admin&duration=1h', token('alice'));
    expect(alice.body).toMatchObject({
      allowed: true,
      manager: 'mia',
      approvals: [{ policy: 'manager-only', required: 1, approvers: { groups: [], users: [], manager: true }, eligibleApprovers: ['mia'] }],
      warnings: [],
    });
    const write = await h.call('GET', '/v1/policies/explain?entitlement=db/write&duration=1h', token('alice'));
    expect(write.body.approvals[0]).toMatchObject({ approvers: { groups: ['sre-leads'], manager: true }, eligibleApprovers: ['mia', 'lead'] });
    const sam = await h.call('GET', '/v1/policies/explain?entitlement=db/admin&duration=1h', token('sam'));
    expect(sam.body).toMatchObject({ allowed: false, code: 'HG_TERMS_NOT_MET', manager: null });
    expect(sam.body.candidates['db/admin'][0].reasons[0]).toMatch(/has no manager known to Hourglass/);
    // A store principal's manager, as the server's directory knows them.
    const sp = await h.app.explain(await actor('admin'), { principal: 'sp-dev', entitlements: ['db/admin'] });
    expect(sp).toMatchObject({ allowed: true, manager: 'mia', approvals: [{ eligibleApprovers: ['mia'] }] });
  });
});
