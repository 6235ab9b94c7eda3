// No layout jumps: every page, loaded with data on it, keeps its Cumulative Layout Shift within
// the 0.1 that counts as good (web.dev's threshold), for a requester and for an admin.
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/types.js';
import { layoutShift, startUi } from './support/ui-harness.js';

const YAML = `
principals:
  - { id: alice, groups: [developers], password: "\${HASH_alice}" }
  - { id: root, roles: [admin, auditor], password: "\${HASH_root}" }
targets:
  demo-db: { type: hourglass, entitlements: { read: { description: Read }, admin: { description: Administer } } }
policies:
  - { name: read, subjects: { groups: [developers] }, entitlements: [demo-db/read], maxDuration: 8h, reason: optional, approval: { required: 0 } }
  - { name: admin, subjects: { groups: [developers] }, entitlements: [demo-db/admin], maxDuration: 8h, reason: optional, approval: { required: 1, approvers: { users: [root] } } }
`;
const PAGES = ['/', '/request', '/approvals', '/live', '/audit', '/dashboard', '/policies', '/profile'];
const alice: Principal = { id: 'alice', groups: ['developers'], roles: [] };

describe('layout shift', () => {
  const ui = startUi(YAML, ['alice', 'root']);

  it('no page jumps while it loads its data', async () => {
    await ui.hg.app.requests.submit(alice, { entitlements: ['demo-db/read'], duration: '1h', reason: 'look' });
    await ui.hg.app.requests.submit(alice, { entitlements: ['demo-db/admin'], duration: '1h', reason: 'fix' });
    const shifts: Record<string, number> = {};
    for (const user of ['alice', 'root']) {
      const { page, context } = await ui.signedIn(user);
      for (const path of PAGES) {
        await page.goto(`${ui.base}${path}`);
        await page.getByRole('heading', { level: 1 }).waitFor();
        await expect.poll(() => page.locator('[aria-busy="true"]').count(), { timeout: 10_000 }).toBe(0);
        await page.waitForTimeout(800);
        shifts[`${user} ${path}`] = await layoutShift(page);
      }
      await context.close();
    }
    expect(Object.entries(shifts).filter(([, v]) => v > 0.1)).toEqual([]);
  }, 120_000);
});
