/**
 * A real browser for tests: Debian's Chromium driven by playwright-core, headless.
 *
 * `launchBrowser()` uses a plain `chromium.launch()`: Playwright gives the browser a new temporary
 * profile (user-data-dir under os.tmpdir()) and deletes it when `browser.close()` returns (or when
 * the process exits). Each `browser.newContext()` is a fresh cookie jar, so a test that wants a
 * user with no IdP session opens a new context rather than a new browser.
 *
 * The helpers drive the pages of test/support/oidc-provider.ts by their element ids.
 * Never skips: a missing Chromium is a loud error.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags every headless Chromium here needs (DESIGN.md: no sandbox as root, no background networking on a closed network). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Steps a sign-in may take (login, consent, ...) before the helper gives up. */
const MAX_STEPS = 5;

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Browser tests cannot run without it: run \`bash scripts/install-test-deps.sh\` ` +
        '(installs the Debian "chromium" package).',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

export interface ProviderCredentials {
  username: string;
  password: string;
}

/**
 * On a page showing the provider's login form (or already past it, with an IdP session), signs in
 * and allows the consent. Returns once the browser has left the provider's sign-in pages (usually
 * at the client's redirect URI, or the device flow's success page). A refused password throws,
 * with the page's message; the page still shows the login form.
 */
export async function signInAtProvider(page: Page, creds: ProviderCredentials): Promise<void> {
  let triedPassword = false;
  for (let step = 0; step < MAX_STEPS; step++) {
    if (await present(page, '#hg-login-error')) {
      throw new Error(`sign-in refused at the provider: ${await page.locator('#hg-login-error').innerText()}`);
    }
    if (await present(page, 'form#hg-login')) {
      if (triedPassword) throw new Error('the provider asked for the password again');
      triedPassword = true;
      await page.locator('#hg-username').fill(creds.username);
      await page.locator('#hg-password').fill(creds.password);
      await submit(page, '#hg-login-submit');
    } else if (await present(page, 'form#hg-consent')) {
      await submit(page, '#hg-consent-allow');
    } else {
      if (await present(page, '#hg-error')) throw new Error(`the provider shows an error: ${await page.locator('#hg-error').innerText()}`);
      return;
    }
  }
  throw new Error(`sign-in did not finish after ${MAX_STEPS} steps (at ${page.url()})`);
}

/**
 * The user's side of the device flow: opens the verification URI, enters the user code, confirms,
 * signs in and consents; resolves on the provider's success page, throws with its message otherwise.
 */
export async function enterDeviceCode(page: Page, verificationUri: string, userCode: string, account: ProviderCredentials): Promise<void> {
  await page.goto(verificationUri);
  await page.locator('input[name="user_code"]').fill(userCode);
  await submit(page, '#hg-device-continue');
  if (await present(page, '#hg-device-error')) throw new Error(`the provider refused the user code: ${await page.locator('#hg-device-error').innerText()}`);
  await submit(page, '#hg-device-confirm');
  await signInAtProvider(page, account);
  if (!(await present(page, '#hg-device-success'))) {
    throw new Error(`the device sign-in did not succeed (at ${page.url()}): ${(await page.locator('body').innerText()).slice(0, 300)}`);
  }
}

export interface VirtualAuthenticator {
  authenticatorId: string;
  /** The CDP session that owns the authenticator: keep it (detaching removes the authenticator); use it for WebAuthn.getCredentials etc. */
  cdp: CDPSession;
}

/**
 * Adds a CTAP2 platform authenticator with a resident key and user verification that always
 * succeeds, for WebAuthn tests. Note that WebAuthn refuses IP-address origins: serve the
 * relying party at http://localhost:PORT (a secure context), not 127.0.0.1.
 */
export async function addVirtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { authenticatorId, cdp };
}

const present = async (page: Page, selector: string) => (await page.locator(selector).count()) > 0;

/** Clicks a submit button and waits for the document it leads to (redirects followed) to load. */
async function submit(page: Page, selector: string): Promise<void> {
  const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() });
  await page.locator(selector).click();
  await navigated;
  await page.waitForLoadState('domcontentloaded');
}
