/**
 * End-to-end tests of the web UI: a real Hourglass server (the composition root, listening on a
 * free loopback port, real clock, SQLite in a temp dir) serving the built UI from dist/web, and
 * Debian's Chromium. People sign in with local passwords, as in the demo.
 *
 * - `startUi(yaml)` starts the server with that configuration (principals get `password` hashes
 *   from `PASSWORDS`), in beforeAll; call it at the top of a describe.
 * - `ui.signedIn(user)` opens a fresh browser context signed in as that user, on My access.
 * - `expectAccessible(page)` runs axe-core (WCAG 2.1 A and AA) and fails on any violation.
 * - `screenshot(page, name)` saves a PNG under .test-results/screenshots (CI artifacts), and under
 *   docs/ui/ for docs/ui.md when HOURGLASS_DOC_SCREENSHOTS=1 (`npm run ui:screenshots`).
 *
 * The UI must be built (`npm run build`, which `npm test` runs first): a missing build fails loudly.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { hashPassword } from '../../../src/app/identity/password.js';
import { createHourglass, type HourglassSystem } from '../../../src/compose.js';
import { webUiDir } from '../../../src/http/web-ui.js';
import { launchBrowser } from '../../support/browser.js';
import { parseConfig } from '../../support/config.js';
import { freePort } from '../../support/server-process.js';

/** Every test user's password is `<id>-password`. */
export const passwordOf = (id: string) => `${id}-password`;

export const SCREENSHOTS = new URL('../../../.test-results/screenshots/', import.meta.url).pathname;

export interface UiHarness {
  readonly base: string;
  readonly hg: HourglassSystem;
  readonly browser: Browser;
  /** A new browser context (its own cookies) signed in as `user` through the sign-in page, showing My access. */
  signedIn(user: string, opts?: { viewport?: { width: number; height: number } }): Promise<{ context: BrowserContext; page: Page }>;
  /** A new context and page at the UI, signed out. */
  fresh(opts?: { viewport?: { width: number; height: number } }): Promise<{ context: BrowserContext; page: Page }>;
}

/**
 * Starts Hourglass and Chromium for the enclosing describe. `yaml` is a whole configuration
 * without `server`; each of `users` becomes a principal with the password `<id>-password`
 * (written in the YAML as `password: ${HASH_<id>}`). `opts.host: 'localhost'` makes the browser
 * and `server.publicUrl` use http://localhost:PORT, which WebAuthn needs (it refuses IP origins).
 */
export function startUi(yaml: string, users: string[], opts: { host?: 'localhost' } = {}): UiHarness {
  let base = '';
  let hg: HourglassSystem | undefined;
  let browser: Browser | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'hg-ui-'));
  beforeAll(async () => {
    if (!webUiDir()) throw new Error('the web UI is not built (dist/web): run `npm run build` first');
    const port = await freePort();
    base = `http://${opts.host ?? '127.0.0.1'}:${port}`;
    const env: Record<string, string> = {};
    for (const u of users) env[`HASH_${u.replace(/[^A-Za-z0-9]/g, '_')}`] = await hashPassword(passwordOf(u));
    const config = parseConfig(`server: { listen: "127.0.0.1:${port}", publicUrl: "${base}", store: "sqlite:${dir}/hg.db" }\n${yaml}`, env, 'ui-test.yaml');
    [hg, browser] = await Promise.all([createHourglass(config, env, { metrics: false, cwd: dir }), launchBrowser()]);
    await hg.start();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await hg?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fresh = async (opts: { viewport?: { width: number; height: number } } = {}) => {
    const context = await browser!.newContext({ viewport: opts.viewport ?? { width: 1100, height: 800 }, timezoneId: 'Europe/Berlin', locale: 'en-GB' });
    const page = await context.newPage();
    failOnPageErrors(page);
    await page.goto(`${base}/`);
    return { context, page };
  };

  return {
    get base() {
      return base;
    },
    get hg() {
      return hg!;
    },
    get browser() {
      return browser!;
    },
    fresh,
    async signedIn(user, opts) {
      const { context, page } = await fresh(opts);
      await signInWithPassword(page, user, passwordOf(user));
      await page.getByRole('heading', { level: 1, name: 'My access' }).waitFor();
      return { context, page };
    },
  };
}

/** A script error or a CSP violation on a page is a failed test, not a console line nobody reads. */
export function failOnPageErrors(page: Page): void {
  // Chromium's own CSP reports do not reach the console event: the page reports them itself.
  void page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) => console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`)),
  );
  // Layout shifts not caused by the person's input, summed (Cumulative Layout Shift), for layoutShift().
  void page.addInitScript(() => {
    const w = window as unknown as { __hgShift: number };
    w.__hgShift = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as unknown as { value: number; hadRecentInput: boolean }[]) if (!e.hadRecentInput) w.__hgShift += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
  });
  page.on('pageerror', (err) => {
    throw new Error(`page error on ${page.url()}: ${err.message}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) throw new Error(`CSP violation on ${page.url()}: ${msg.text()}`);
  });
}

export async function signInWithPassword(page: Page, user: string, password: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name: 'Sign in to Hourglass' }).waitFor();
  await page.getByLabel('User', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** axe-core's WCAG 2.1 A and AA rules on the page as it is now: no violation passes. */
export async function expectAccessible(page: Page): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`);
  expect(found, `axe-core violations on ${page.url()}`).toEqual([]);
}

/** Where docs/ui.md's pictures live: `npm run ui:screenshots` (HOURGLASS_DOC_SCREENSHOTS=1) writes them there too. */
export const DOC_SCREENSHOTS = new URL('../../../docs/ui/', import.meta.url).pathname;

export async function screenshot(page: Page, name: string): Promise<void> {
  for (const dir of [SCREENSHOTS, ...(process.env.HOURGLASS_DOC_SCREENSHOTS === '1' ? [DOC_SCREENSHOTS] : [])]) {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: `${dir}${name}.png`, fullPage: true });
  }
}

/** The API with the page's session cookie and CSRF token, as the UI itself calls it. */
export async function callApi(page: Page, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return page.evaluate(
    async ([method, path, body]) => {
      const s = await (await fetch('/v1/auth/session')).json();
      const res = await fetch(path as string, {
        method: method as string,
        headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken },
        ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
      });
      return { status: res.status, body: await res.json() };
    },
    [method, path, body] as const,
  );
}

const OATHTOOL = '/usr/bin/oathtool';
const run = promisify(execFile);

async function oathtool(args: string[]): Promise<string> {
  if (!existsSync(OATHTOOL)) throw new Error(`${OATHTOOL} is missing: install the Debian package oathtool (scripts/install-test-deps.sh)`);
  return (await run(OATHTOOL, args)).stdout.trim();
}

/** The TOTP code of the current time step (Debian's oathtool). */
export const totpNow = (secret: string) => oathtool(['--totp', '-b', secret]);
/** The code of the next time step: later than any step accepted so far, and within the server's window. */
export const totpNext = (secret: string) => oathtool(['--totp', '-b', '--now', `@${Math.floor(Date.now() / 1000) + 30}`, secret]);

/** Enrols a TOTP factor for the page's signed-in user through the API; returns its secret. */
export async function enrolTotp(page: Page): Promise<string> {
  const begun = await callApi(page, 'POST', '/v1/mfa/totp', {});
  expect(begun.status, JSON.stringify(begun.body)).toBe(201);
  const secret = begun.body.secret as string;
  const confirmed = await callApi(page, 'POST', `/v1/mfa/totp/${begun.body.factorId}/confirm`, { code: await totpNow(secret) });
  expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
  return secret;
}

/** The page's Cumulative Layout Shift since it loaded (shifts after the person's input excluded); "good" is at most 0.1. */
export async function layoutShift(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __hgShift: number }).__hgShift);
}

/** Presses Tab (or Shift+Tab) until `target` has the focus, as a keyboard user would; fails after 40 presses. */
export async function tabTo(page: Page, target: Locator, key: 'Tab' | 'Shift+Tab' = 'Tab'): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press(key);
  }
  throw new Error(`could not reach ${target} with ${key}`);
}
