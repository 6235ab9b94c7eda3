/**
 * A real SAML 2.0 IdP for tests: Debian's SimpleSAMLphp (1.19) under `php -S`, configured from
 * the templates in test/fixtures/saml/ (they read hourglass-idp.json, written here) in its own
 * temp directory, with a fresh RSA key and self-signed certificate from openssl, users from
 * exampleauth:UserPass, and one remote SP (the one under test) whose NameID is the `email`
 * attribute in the emailAddress format. Assertions are signed (like Entra's default); the
 * Response only when asked.
 *
 * `samlBrowserLogin` then plays the browser with plain fetch and a cookie jar.
 * Never skips: a missing php or simplesamlphp is a loud error.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cleanEnv, freePort, keepLogTail, SETPRIV, shutDown, sleep, track, watchExit } from './server-process.js';

const execFileP = promisify(execFile);

const PHP = '/usr/bin/php';
export const SIMPLESAMLPHP_WWW = '/usr/share/simplesamlphp/www';
const TEMPLATES = fileURLToPath(new URL('../fixtures/saml/', import.meta.url));
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export interface SamlIdpUser {
  username: string;
  password: string;
  /** Attribute name -> values; give `email` (it becomes the NameID). */
  attributes: Record<string, string[]>;
}

export interface StartSamlIdpOptions {
  spEntityId: string;
  acsUrl: string;
  users: SamlIdpUser[];
  /** The IdP's entity id (default https://idp.hourglass.test/saml); two IdPs with one id model a key rollover. */
  entityId?: string;
  /** Sign the assertion (default true). */
  signAssertion?: boolean;
  /** Sign the Response too (default false). */
  signResponse?: boolean;
}

export interface SamlIdp {
  /** http://127.0.0.1:PORT */
  url: string;
  entityId: string;
  /** HTTP-Redirect SingleSignOnService. */
  ssoUrl: string;
  certificatePem: string;
  metadataXml: string;
  /** Temp directory (config, key, logs); removed by stop(). */
  dir: string;
  /** The server's and SimpleSAMLphp's logs, for a failing test's message. */
  logs(): Promise<string>;
  /** SIGTERM (SIGKILL after 5 s), then removes the temp directory. Idempotent. */
  stop(): Promise<void>;
}

/** php and simplesamlphp, or a loud error telling how to install them. */
export function checkSimpleSamlPhp(): void {
  const missing = [PHP, path.join(SIMPLESAMLPHP_WWW, 'saml2/idp/SSOService.php')].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `SimpleSAMLphp test IdP cannot run: missing ${missing.join(', ')}. Install the Debian packages ` +
        '"simplesamlphp" and "php-cli php-xml php-mbstring" (see scripts/install-test-deps.sh).',
    );
  }
}

async function makeKeyPair(dir: string): Promise<void> {
  const args = [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-keyout',
    'idp.key',
    '-out',
    'idp.crt',
    '-days',
    '2',
    '-subj',
    '/CN=hourglass-test-idp',
  ];
  try {
    await execFileP('openssl', args, { cwd: dir });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl not found: the SAML test IdP needs it for its signing key. Install the Debian "openssl" package.');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

export async function startSamlIdp(opts: StartSamlIdpOptions): Promise<SamlIdp> {
  checkSimpleSamlPhp();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-saml-idp-'));
  let child: ChildProcess | undefined;
  const logFile = path.join(dir, 'php-server.log');
  const logs = async () => {
    const read = (f: string) => readFile(path.join(dir, f), 'utf8').catch(() => '');
    return `--- php -S ---\n${(await read('php-server.log')).slice(-6000)}\n--- simplesamlphp.log ---\n${(await read('simplesamlphp.log')).slice(-6000)}`;
  };
  try {
    await cp(TEMPLATES, dir, { recursive: true });
    await Promise.all(['data', 'tmp', 'sessions'].map((d) => mkdir(path.join(dir, d))));
    await makeKeyPair(dir);
    const entityId = opts.entityId ?? 'https://idp.hourglass.test/saml';
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const settings = {
      baseUrl: url,
      dir,
      entityId,
      spEntityId: opts.spEntityId,
      acsUrl: opts.acsUrl,
      signAssertion: opts.signAssertion ?? true,
      signResponse: opts.signResponse ?? false,
      secretSalt: randomBytes(18).toString('base64url'),
      adminPassword: randomBytes(18).toString('base64url'),
      users: opts.users,
    };
    await writeFile(path.join(dir, 'hourglass-idp.json'), JSON.stringify(settings), { mode: 0o600 });

    const env = { ...cleanEnv(/^SIMPLESAMLPHP|^PHP/), SIMPLESAMLPHP_CONFIG_DIR: dir };
    const args = ['-S', `127.0.0.1:${port}`, '-t', SIMPLESAMLPHP_WWW];
    // setpriv: a parent-death signal, so a SIGKILLed test process leaves no server behind.
    child = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig=SIGKILL', '--', PHP, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(PHP, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child, dir, 'SIGKILL');
    const log = createWriteStream(logFile);
    keepLogTail(child, 60, (chunk) => log.write(chunk));
    const ended = watchExit(child);

    const metadataUrl = `${url}/saml2/idp/metadata.php`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    let metadataXml = '';
    for (;;) {
      if (ended.spawnError) throw new Error(`could not spawn ${PHP}: ${ended.spawnError.message}`);
      if (ended.exited) throw new Error(`php -S exited during startup (code ${ended.exited.code}, signal ${ended.exited.signal}).\n${await logs()}`);
      const res = await fetch(metadataUrl).catch(() => undefined);
      if (res?.ok) {
        metadataXml = await res.text();
        if (!metadataXml.includes(`entityID="${entityId}"`))
          throw new Error(`SimpleSAMLphp serves unexpected metadata at ${metadataUrl}:\n${metadataXml.slice(0, 800)}\n${await logs()}`);
        break;
      }
      if (res && res.status !== 404)
        throw new Error(`SimpleSAMLphp answered ${res.status} at ${metadataUrl}:\n${(await res.text()).slice(0, 1500)}\n${await logs()}`);
      if (Date.now() > deadline) throw new Error(`SimpleSAMLphp did not answer at ${metadataUrl} within ${START_TIMEOUT_MS / 1000} s.\n${await logs()}`);
      await sleep(50);
    }
    const certificatePem = await readFile(path.join(dir, 'idp.crt'), 'utf8');
    const running = child;
    let stopped: Promise<void> | undefined;
    return {
      url,
      entityId,
      ssoUrl: `${url}/saml2/idp/SSOService.php`,
      certificatePem,
      metadataXml,
      dir,
      logs,
      stop() {
        stopped ??= shutDown(running, dir, 'SIGTERM', STOP_TIMEOUT_MS).finally(() => log.end());
        return stopped;
      },
    };
  } catch (err) {
    await shutDown(child, dir, 'SIGKILL', STOP_TIMEOUT_MS);
    throw err;
  }
}

// ---------------------------------------------------------------------------
// The browser's part, with fetch and a cookie jar.

export interface SamlPost {
  /** Where the IdP's auto-submit form posts (the ACS). */
  action: string;
  SAMLResponse: string;
  RelayState?: string;
}

/** Cookies for one IdP origin: enough for SimpleSAMLphp's session and state cookies. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || value === 'deleted' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

const MAX_HOPS = 10;

/** fetch with the jar, following redirects by hand (fetch would drop the cookies set on the way). */
async function browse(jar: CookieJar, url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<{ url: string; html: string }> {
  let current = url;
  let method = init.method ?? 'GET';
  let body: URLSearchParams | undefined = init.body;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const res = await fetch(current, { method, redirect: 'manual', headers: { cookie: jar.header() }, ...(body ? { body } : {}) });
    jar.store(res);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.arrayBuffer();
      current = new URL(location, current).toString();
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await res.text();
    if (!res.ok)
      throw new Error(
        `the IdP answered ${res.status} at ${current}: ${html
          .replace(/<[^>]+>/g, ' ')
          .replace(/\s+/g, ' ')
          .slice(0, 400)}`,
      );
    return { url: current, html };
  }
  throw new Error(`more than ${MAX_HOPS} redirects from ${url}`);
}

const decodeEntities = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_m, e: string) => {
    const k = e.toLowerCase();
    if (k.startsWith('#x')) return String.fromCodePoint(parseInt(k.slice(2), 16));
    if (k.startsWith('#')) return String.fromCodePoint(parseInt(k.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[k] ?? '';
  });

/** The value of `<input name="...">` in a page, or undefined. */
function inputValue(html: string, name: string): string | undefined {
  for (const tag of html.match(/<input\b[^>]*>/gi) ?? []) {
    if (new RegExp(`\\bname=["']${name}["']`, 'i').test(tag)) {
      const v = /\bvalue=(?:"([^"]*)"|'([^']*)')/i.exec(tag);
      return decodeEntities(v?.[1] ?? v?.[2] ?? '');
    }
  }
  return undefined;
}

/**
 * Signs in at the IdP as a browser would: follows the SP's loginRedirect URL, posts the
 * username/password form, and returns what the IdP's auto-submit form would POST to the ACS.
 * A refused password throws. Pass a jar to keep the IdP session between calls (SSO).
 */
export async function samlBrowserLogin(redirectUrl: string, creds: { username: string; password: string }, jar = new CookieJar()): Promise<SamlPost> {
  let page = await browse(jar, redirectUrl);
  const authState = inputValue(page.html, 'AuthState');
  if (authState !== undefined && inputValue(page.html, 'password') !== undefined) {
    const body = new URLSearchParams({ AuthState: authState, username: creds.username, password: creds.password });
    page = await browse(jar, page.url, { method: 'POST', body });
    if (inputValue(page.html, 'password') !== undefined) throw new Error('sign-in refused at the IdP (the login form came back)');
  }
  const SAMLResponse = inputValue(page.html, 'SAMLResponse');
  const action = /<form\b[^>]*\baction=["']([^"']+)["']/i.exec(page.html)?.[1];
  if (!SAMLResponse || !action) throw new Error(`the IdP did not answer with a SAMLResponse form (at ${page.url}): ${page.html.slice(0, 600)}`);
  const RelayState = inputValue(page.html, 'RelayState');
  return { action: decodeEntities(action), SAMLResponse, ...(RelayState !== undefined ? { RelayState } : {}) };
}
