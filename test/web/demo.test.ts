// The README's promise, end to end: `hourglass serve --config examples/demo.yaml` (the file as
// shipped, in a temp directory) prints the URL to open; in Chromium alice signs in with her demo
// password and asks for demo-db/admin, bob approves in his own browser, alice sees it active,
// counting down, and then ended when its minute is up, all without reloading.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser.js';
import { BIN, ROOT } from '../support/spawn-server.js';
import { expectAccessible, failOnPageErrors, signInWithPassword } from './support/ui-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-demo-ui-'));
let server: ChildProcess | undefined;
let browser: Browser | undefined;
let url = '';
let banner = '';

beforeAll(async () => {
  // The demo's relative paths (.hourglass/...) land in the temp directory, its working directory.
  copyFileSync(join(ROOT, 'examples/demo.yaml'), join(dir, 'demo.yaml'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, HOURGLASS_LISTEN: '127.0.0.1:0', HOURGLASS_LOG_LEVEL: 'warn' };
  server = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'demo.yaml')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (s: string) => (banner += s);
  server.stdout!.setEncoding('utf8').on('data', collect);
  server.stderr!.setEncoding('utf8').on('data', collect);
  const printed = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 30 s:\n${banner}`)), 30_000);
    const look = () => {
      const m = /Open (http:\/\/\S+)\/ in a browser/.exec(banner);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    server!.stdout!.on('data', look);
    server!.stderr!.on('data', look);
    server!.once('exit', (code) => reject(new Error(`hourglass serve exited (${code}):\n${banner}`)));
  });
  [browser, url] = await Promise.all([launchBrowser(), printed]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the demo in the browser (npm start, then open the printed URL)', () => {
  it('request, approve, active, expired with the demo users', async () => {
    expect(banner).toContain('sign in as alice / alice-demo-password');
    const session = async (user: string) => {
      const context = await browser!.newContext({ viewport: { width: 1100, height: 800 } });
      const page = await context.newPage();
      failOnPageErrors(page);
      await page.goto(`${url}/`);
      await signInWithPassword(page, user, `${user}-demo-password`);
      await page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
      return { context, page };
    };

    const alice = await session('alice');
    await alice.page.getByRole('link', { name: 'Request access' }).first().click();
    await alice.page.getByRole('checkbox', { name: /demo-db\/admin/ }).check();
    await alice.page.getByLabel(/^Duration/).fill('1m');
    await alice.page.getByLabel(/^Reason/).fill('add an index');
    await alice.page.getByLabel(/^Ticket/).fill('INC-42');
    const activate = alice.page.getByRole('button', { name: 'Activate' });
    await expect.poll(() => activate.isEnabled(), { timeout: 10_000 }).toBe(true);
    await activate.click();
    const card = alice.page.getByRole('article', { name: /demo-db\/admin/ });
    await expect.poll(() => card.getByText('Waiting for approval', { exact: true }).count()).toBe(1);

    const bob = await session('bob');
    await bob.page.getByRole('link', { name: 'Approvals' }).click();
    const decision = bob.page.getByRole('article', { name: /demo-db\/admin/ });
    await expect.poll(() => decision.innerText()).toContain('add an index');
    await expectAccessible(bob.page);
    await decision.getByRole('button', { name: 'Approve', exact: true }).click();

    await expect.poll(() => card.getByText('Active', { exact: true }).count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => card.getByRole('timer').innerText()).toMatch(/^\d+s left$/);
    await expect.poll(() => alice.page.getByRole('article', { name: /demo-db\/admin: Ended: time ran out/ }).count(), { timeout: 75_000 }).toBe(1);
    await alice.context.close();
    await bob.context.close();
  }, 120_000);
});
