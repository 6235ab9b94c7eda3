// My access end to end in real Chromium: an active grant shows the command that uses it with a
// Copy button, its credentials on demand (a fresh signed token, audited, copied to the clipboard,
// hidden again, gone from the page when the grant ends), and Extend moving its end.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/types.js';
import { expectAccessible, screenshot, startUi } from './support/ui-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-ui-access-'));
const keyFile = join(dir, 'token.pem');
writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });

const YAML = `
principals:
  - { id: alice, groups: [developers], password: "\${HASH_alice}" }
targets:
  api:
    type: token
    issuer: https://hourglass.example.com
    audience: https://api.internal
    signingKeyFile: ${keyFile}
    entitlements:
      deploy: { description: Deploy to production, claims: { scope: deploy } }
      peek: { claims: { scope: read } }
  notes:
    type: hourglass
    entitlements: { read: {} }
policies:
  - name: deploy
    subjects: { groups: [developers] }
    entitlements: [api/deploy, notes/read]
    maxDuration: 1h
    reason: optional
    approval: { required: 0 }
    extension: { allowed: true, maxTotal: 2h, requiresApproval: false }
  - name: peek
    subjects: { groups: [developers] }
    entitlements: [api/peek]
    maxDuration: 50s
    reason: optional
    approval: { required: 0 }
`;

const alice: Principal = { id: 'alice', groups: ['developers'], roles: [] };

describe('My access: using a grant', () => {
  const ui = startUi(YAML, ['alice']);

  it('shows the command, fetches the credentials on demand (audited), copies them, hides them; Extend moves the end', async () => {
    const { request } = await ui.hg.app.requests.submit(alice, { entitlements: ['api/deploy'], duration: '30m' });
    const { context, page } = await ui.signedIn('alice');
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ui.base });
    const card = page.getByRole('article', { name: /api\/deploy: Active/ });
    await card.waitFor();
    expect(await card.innerText()).toContain(`hourglass credentials ${request.id}`);
    await card.getByRole('button', { name: 'Copy the command' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`hourglass credentials ${request.id}`);

    // Nothing is fetched until asked for.
    expect((await ui.hg.stores.store.listAudit({ type: 'credentials.issued', limit: 10 })).events).toHaveLength(0);
    await card.getByRole('button', { name: 'Show credentials' }).click();
    const panel = card.getByRole('region', { name: 'Credentials' });
    await panel.waitFor();
    const token = (await panel.locator('code.secret').first().innerText()).trim();
    expect(token).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    expect((await ui.hg.stores.store.listAudit({ type: 'credentials.issued', limit: 10 })).events).toHaveLength(1);
    await expectAccessible(page);
    await screenshot(page, 'my-access-credentials');
    await panel.getByRole('button', { name: 'Copy token', exact: true }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    await card.getByRole('button', { name: 'Hide credentials' }).click();
    await expect.poll(() => card.getByRole('region', { name: 'Credentials' }).count()).toBe(0);
    expect(await page.content()).not.toContain(token);

    // Extend: the policy allows up to 2h in all, without approval.
    const before = (await ui.hg.stores.store.getRequest(request.id))!.expiresAt!;
    await card.getByRole('button', { name: 'Extend' }).click();
    const form = card.getByRole('form', { name: 'Extend' });
    expect(await form.innerText()).toContain('at most 2h');
    await expectAccessible(page);
    await form.getByLabel('Extend by').fill('15m');
    await form.getByRole('button', { name: 'Extend' }).click();
    await expect.poll(async () => (await ui.hg.stores.store.getRequest(request.id))!.expiresAt! - before).toBe(15 * 60_000);
    await expect.poll(() => card.getByRole('form', { name: 'Extend' }).count()).toBe(0);
    await context.close();
  }, 60_000);

  it('credentials on screen go when the grant ends, without a reload', async () => {
    await ui.hg.app.requests.submit(alice, { entitlements: ['api/peek'], duration: '8s' });
    const { context, page } = await ui.signedIn('alice');
    const card = page.getByRole('article', { name: /api\/peek: Active/ });
    await card.getByRole('button', { name: 'Show credentials' }).click();
    await card.getByRole('region', { name: 'Credentials' }).waitFor();
    const token = (await card.locator('code.secret').first().innerText()).trim();
    await expect.poll(() => page.getByRole('article', { name: /api\/peek: Ended: time ran out/ }).count(), { timeout: 20_000 }).toBe(1);
    expect(await page.content()).not.toContain(token);
    await context.close();
  }, 60_000);

  it('a grant on the built-in target has no command and no credentials to show', async () => {
    await ui.hg.app.requests.submit(alice, { entitlements: ['notes/read'], duration: '10m' });
    const { context, page } = await ui.signedIn('alice');
    const card = page.getByRole('article', { name: /notes\/read: Active/ });
    await card.waitFor();
    expect(await card.getByRole('button', { name: 'Show credentials' }).count()).toBe(0);
    expect(await card.innerText()).not.toContain('Use it:');
    await context.close();
  });
});
