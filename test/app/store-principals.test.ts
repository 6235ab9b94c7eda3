/**
 * Principals kept in the store (from identity sources: SCIM, OIDC and SAML sign-ins write them)
 * work like the configuration's: they approve by their groups, can be locked, are listed by
 * explain, and keep their grants across a restart whose file does not name them. An inactive one
 * is unknown (its access ends at the next start), a file principal of the same id wins, and a
 * store principal never holds a role. On both store dialects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredPrincipal } from '../../src/app/ports.js';
import type { Principal } from '../../src/core/types.js';
import { tokenHash } from '../fixtures/policies.js';
import { createHarness, freshStoreUrl, T0, type Dialect, type StoreHandle } from '../support/app-harness.js';

const yaml = `
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
  - { id: root-in-file, groups: [developers], roles: [admin], apiTokens: [{ sha256: ${tokenHash('root-in-file')} }] }
targets:
  db: { type: hourglass, entitlements: { admin: {} } }
policies:
  - name: needs-lead
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    maxDuration: 4h
    reason: optional
    approval: { required: 1, approvers: { groups: [sre-leads] } }
`;

const stored = (id: string, patch: Partial<StoredPrincipal> = {}): StoredPrincipal => ({
  id,
  source: 'scim',
  externalId: `ext-${id}`,
  groups: ['sre-leads'],
  active: true,
  createdAt: T0,
  updatedAt: T0,
  ...patch,
});

/** What an authenticated store principal looks like to the use cases: its groups, no roles. */
const asActor = (p: StoredPrincipal): Principal => ({ id: p.id, groups: p.groups, roles: [] });

describe.each<Dialect>(['sqlite', 'postgres'])('principals in the store: %s', (dialect) => {
  let handle: StoreHandle;
  let h: Awaited<ReturnType<typeof createHarness>>;
  const alice: Principal = { id: 'alice', groups: ['developers'], roles: [] };

  beforeAll(async () => {
    handle = await freshStoreUrl(dialect);
    h = await createHarness({ yaml, storeUrl: handle.url, now: T0 });
  });
  afterAll(async () => {
    await h?.close();
    await handle?.cleanup();
  });

  it('approve by their groups, are listed by explain, and can be locked', async () => {
    const ivan = stored('ivan');
    await h.stores.principals.put(ivan);
    const { request } = await h.app.requests.submit(alice, { entitlements: ['db/admin'], duration: '1h' });
    const explained = await h.app.explain(alice, { entitlements: ['db/admin'] });
    expect(explained.approvals[0]!.eligibleApprovers).toEqual(['ivan']);
    const approved = await h.app.requests.approve(request.id, asActor(ivan));
    expect(approved.status).toBe('active');
    const lock = await h.app.emergency.lockPrincipal({ id: 'admin', groups: [], roles: ['admin'] }, 'ivan', 'left the company');
    expect(lock.locked).toBe(true);
    expect((await h.app.emergency.lockPrincipal({ id: 'admin', groups: [], roles: ['admin'] }, 'nobody-anywhere').catch((e) => e)).code).toBe('HG_NOT_FOUND');
  });

  it('keep their grants across a start whose file does not name them; an inactive one does not', async () => {
    const kim = stored('kim', { groups: ['developers'] });
    await h.stores.principals.put(kim);
    const { request } = await h.app.requests.submit(asActor(kim), { entitlements: ['db/admin'], duration: '1h' });
    await h.stores.principals.put(stored('lead', { groups: ['sre-leads'] }));
    await h.app.requests.approve(request.id, asActor(stored('lead')));
    expect((await h.app.recordStart({})).revoked).not.toContain(request.id);
    expect((await h.store.getRequest(request.id))!.status).toBe('active');

    await h.stores.principals.put({ ...kim, active: false, updatedAt: T0 + 1 });
    const ended = await h.app.recordStart({});
    expect(ended.revoked).toContain(request.id);
    expect((await h.store.getRequest(request.id))!.status).toBe('revoked');
  });

  it('never shadow a principal of the file, and hold no roles', async () => {
    await h.stores.principals.put(stored('root-in-file', { groups: ['sre-leads'] }));
    const found = await h.app.deps.directory!.find('root-in-file');
    expect(found).toMatchObject({ id: 'root-in-file', groups: ['developers'], roles: ['admin'] });
    await h.stores.principals.put(stored('mallory', { groups: ['sre-leads', 'admins'] }));
    expect(await h.app.deps.directory!.find('mallory')).toMatchObject({ roles: [] });
    const everyone = [...(await h.app.deps.directory!.all())].map((p) => p.id);
    expect(everyone.filter((id) => id === 'root-in-file')).toHaveLength(1);
  });

  it('keep createdAt across updates, and update the rest', async () => {
    await h.stores.principals.put(stored('zoe', { createdAt: T0, updatedAt: T0 }));
    await h.stores.principals.put(stored('zoe', { createdAt: T0 + 500, updatedAt: T0 + 500, groups: ['ops'], manager: 'ivan', email: 'zoe@example.com' }));
    expect(await h.stores.principals.get('zoe')).toMatchObject({
      createdAt: T0,
      updatedAt: T0 + 500,
      groups: ['ops'],
      manager: 'ivan',
      email: 'zoe@example.com',
    });
  });
});
