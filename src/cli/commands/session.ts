/** `hourglass login` and `logout`: the stored login (src/cli/credentials.ts) that later commands use. */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { ApiError, HourglassClient, UnreachableError } from '../api-client.js';
import { credentialsPath, readCredentials, removeCredentials, writeCredentials } from '../credentials.js';
import { CredentialsError, UsageError } from '../errors.js';
import { action, checkToken, checkUrl, DEFAULT_URL, type Io, type Registrar } from './shared.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    text += chunk as string;
    if (text.length > 64 * 1024) throw new UsageError('stdin holds more than a token (over 64 KB)');
  }
  return text;
}

/** Asks on the terminal (prompt on stderr); `hidden` does not echo what is typed. */
async function ask(io: Io, question: string, hidden = false): Promise<string> {
  const rl = createInterface({ input: io.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    const rlw = rl as unknown as { _writeToOutput: (s: string) => void };
    let asked = false;
    rlw._writeToOutput = (s: string) => {
      if (!asked) {
        asked = true;
        process.stderr.write(s);
      }
    };
  }
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    if (hidden) process.stderr.write('\n');
    return answer.trim();
  } finally {
    rl.close();
  }
}

/** POSTs JSON to an open sign-in route; a refusal becomes the server's error (its code sets the exit status). */
async function postOpen<T>(url: string, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: T }> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'hourglass-cli/0.1.0' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new UnreachableError(
      url,
      (err as Error).name === 'TimeoutError' ? 'no answer in time' : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message),
    );
  }
  const parsed = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (res.status !== 200) throw new ApiError(res.status, parsed.error?.code ?? `HTTP_${res.status}`, parsed.error?.message ?? `HTTP ${res.status}`);
  return { status: res.status, body: parsed as T };
}

/**
 * `login --sso NAME`: the device authorization grant through Hourglass (which holds the client
 * secret). The person opens the provider's page anywhere, enters the code, and the CLI stores the
 * session's access and refresh tokens.
 */
async function ssoLogin(io: Io, url: string, provider: string, file: string) {
  const name = encodeURIComponent(provider);
  const start = (
    await postOpen<{ handle: string; userCode: string; verificationUri: string; verificationUriComplete?: string; expiresIn: number }>(
      url,
      `/v1/auth/oidc/${name}/device`,
      {},
      30_000,
    )
  ).body;
  io.err(
    `To sign in, open ${start.verificationUriComplete ?? start.verificationUri}\nand enter the code ${start.userCode} (valid ${Math.round(start.expiresIn / 60)} minutes).\n`,
  );
  const deadline = Date.now() + start.expiresIn * 1000;
  while (Date.now() < deadline) {
    const r = (
      await postOpen<{ status: string; accessToken?: string; refreshToken?: string; expiresAt?: string; principal?: string }>(
        url,
        `/v1/auth/oidc/${name}/device/token`,
        { handle: start.handle },
        60_000,
      )
    ).body;
    if (r.status !== 'signed_in') continue; // the server waited up to 20 s already
    writeCredentials(file, { url, token: r.accessToken!, refreshToken: r.refreshToken!, expiresAt: Date.parse(r.expiresAt!) });
    return r.principal!;
  }
  throw new CredentialsError('the code was not entered in time: run hourglass login --sso again');
}

/** How long `login --sso NAME --browser` waits for the browser to come back. */
const BROWSER_WAIT_MS = 5 * 60_000;

/** Opens a URL in the desktop's browser; failing quietly (the URL is printed anyway). */
function openBrowser(target: string): void {
  const [cmd, args] =
    process.platform === 'darwin' ? ['open', [target]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', target]] : ['xdg-open', [target]];
  try {
    spawn(cmd, args as string[], { stdio: 'ignore', detached: true })
      .on('error', () => {})
      .unref();
  } catch {
    // no browser here: the person opens the printed URL
  }
}

/**
 * `login --sso NAME --browser`: the loopback redirect of RFC 8252. The CLI listens on
 * 127.0.0.1 on a port of its own, the browser signs in at the provider through Hourglass, and
 * Hourglass sends the browser back to that listener with a one-time code. The code is worth
 * nothing without the verifier only this process holds (its SHA-256 went in the login URL).
 */
async function browserLogin(io: Io, url: string, provider: string, file: string) {
  const name = encodeURIComponent(provider);
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const path = `/hourglass/${randomBytes(12).toString('hex')}`;
  let deliver: (code: string) => void = () => {};
  const code = new Promise<string>((resolve) => (deliver = resolve));
  const listener = createServer((req, res) => {
    const here = new URL(req.url ?? '/', 'http://127.0.0.1');
    const got = here.searchParams.get('code');
    if (req.method !== 'GET' || here.pathname !== path || !got) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><title>Hourglass</title><p>Signed in. You can close this tab and return to the terminal.</p>\n');
    deliver(got);
  });
  await new Promise<void>((resolve, reject) => listener.once('error', reject).listen(0, '127.0.0.1', resolve));
  try {
    const { port } = listener.address() as { port: number };
    const redirect = `http://127.0.0.1:${port}${path}`;
    const login = `${url}/v1/auth/oidc/${name}/login?cli=${encodeURIComponent(redirect)}&cliChallenge=${challenge}`;
    io.err(`To sign in, open ${login}\n(waiting up to ${BROWSER_WAIT_MS / 60_000} minutes)\n`);
    if (process.stderr.isTTY) openBrowser(login);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CredentialsError('the browser did not come back in time: run hourglass login --sso again')), BROWSER_WAIT_MS);
    });
    const got = await Promise.race([code, timeout]).finally(() => clearTimeout(timer));
    const r = (
      await postOpen<{ accessToken: string; refreshToken: string; expiresAt: string; principal: string }>(
        url,
        `/v1/auth/oidc/${name}/cli/token`,
        { code: got, verifier },
        30_000,
      )
    ).body;
    writeCredentials(file, { url, token: r.accessToken, refreshToken: r.refreshToken, expiresAt: Date.parse(r.expiresAt) });
    return r.principal;
  } finally {
    listener.close();
    listener.closeAllConnections();
  }
}

export function registerSessionCommands({ program, ctx }: Registrar): void {
  program
    .command('login')
    .description('check a server URL and API token, and store them for later commands (mode 0600)')
    .option('--url <url>', `Hourglass server URL (default: $HOURGLASS_URL, else asked, else ${DEFAULT_URL})`)
    .option('--token <token>', 'API token (visible in ps: prefer --token-stdin or the prompt)')
    .option('--token-stdin', 'read the API token from stdin')
    .option('--sso <provider>', 'sign in with an identity provider of the server (device code): no token needed')
    .option('--browser', "with --sso: sign in in this machine's browser, which comes back to the CLI (loopback redirect), instead of a code")
    .option('--json', 'print the JSON answer instead of text')
    .addHelpText(
      'after',
      '\nThe token is checked with GET /v1/me before it is stored, in $XDG_CONFIG_HOME/hourglass/credentials.json\n' +
        '(default ~/.config/hourglass/credentials.json). Later commands use it when neither --url/--token nor\n' +
        'HOURGLASS_URL/HOURGLASS_TOKEN say otherwise, and only ever send it to the URL it was stored with.\n\n' +
        'Examples:\n  hourglass login --url https://hourglass.example.com            # asks for the token\n' +
        '  printf %s "$TOKEN" | hourglass login --url https://hourglass.example.com --token-stdin\n' +
        '  hourglass login --url https://hourglass.example.com --sso corp   # sign in at the IdP with a code\n' +
        "  hourglass login --url https://hourglass.example.com --sso corp --browser   # in this machine's browser\n\n" +
        'With --sso, the stored login holds a short-lived access token and a refresh token; later commands\n' +
        'refresh it as it runs out, until the session ends (identity.sessions.absoluteTimeout).\n',
    )
    .action(
      action(ctx, async (io, o) => {
        if (o.token !== undefined && o.tokenStdin) throw new UsageError('give the token with --token or --token-stdin, not both');
        const file = credentialsPath(io.env);
        let previous;
        try {
          previous = readCredentials(file);
        } catch {
          previous = undefined; // a broken file is replaced
        }
        const interactive = Boolean(io.stdin.isTTY) && !o.tokenStdin;
        let url = ((o.url as string | undefined) ?? io.env.HOURGLASS_URL ?? '').trim();
        if (!url && interactive) {
          const fallback = previous?.url ?? DEFAULT_URL;
          url = (await ask(io, `Hourglass URL [${fallback}]: `)) || fallback;
        }
        url = checkUrl(url || previous?.url || DEFAULT_URL);
        if (o.browser && o.sso === undefined) throw new UsageError('--browser goes with --sso NAME');
        if (o.sso !== undefined) {
          if (o.token !== undefined || o.tokenStdin) throw new UsageError('--sso signs in without a token: drop --token/--token-stdin');
          const principal = o.browser ? await browserLogin(io, url, String(o.sso), file) : await ssoLogin(io, url, String(o.sso), file);
          io.print(
            { url, credentials: file, principal: { id: principal } },
            () => `signed in to ${url} as ${principal}\ncredentials stored in ${file} (mode 0600)\n`,
          );
          return;
        }
        let token = o.token as string | undefined;
        if (token === undefined && o.tokenStdin) token = (await readAll(io.stdin)).trim();
        if (token === undefined && io.env.HOURGLASS_TOKEN) token = io.env.HOURGLASS_TOKEN;
        if (token === undefined && interactive) token = await ask(io, `API token for ${url}: `, true);
        if (!token) {
          throw new CredentialsError(
            o.tokenStdin ? 'stdin held no token' : 'no API token given: pipe it in with --token-stdin, or run hourglass login in a terminal to be asked',
          );
        }
        checkToken(token);
        const verifier = new HourglassClient({ url, token, userAgent: 'hourglass-cli/0.1.0' });
        const me = await verifier.me();
        writeCredentials(file, { url, token });
        io.print(
          { url, credentials: file, principal: me },
          () => `logged in to ${url} as ${me.id}${me.locked ? ' (LOCKED)' : ''}\ncredentials stored in ${file} (mode 0600)\n`,
        );
      }),
    );

  program
    .command('hash-password')
    .description('print the scrypt hash of a password, for principals[].password (local sign-in, for the demo only)')
    .addHelpText(
      'after',
      '\nReads the password from stdin (one line), or asks for it without echo in a terminal. Nothing is sent anywhere.\n' +
        'Example:\n  printf %s "$PASSWORD" | hourglass hash-password\n',
    )
    .action(
      action(ctx, async (io) => {
        const password = io.stdin.isTTY ? await ask(io, 'Password: ', true) : (await readAll(io.stdin)).replace(/\r?\n$/, '');
        const { hashPassword } = await import('../../app/identity/password.js');
        io.out(`${await hashPassword(password)}\n`);
      }),
    );

  program
    .command('logout')
    .description('forget the stored login (the token itself stays valid until removed from the configuration)')
    .option('--json', 'print the JSON answer instead of text')
    .action(
      action(ctx, async (io) => {
        const file = credentialsPath(io.env);
        const removed = removeCredentials(file);
        io.print({ removed, credentials: file }, () => (removed ? `logged out: removed ${file}\n` : `not logged in (no ${file})\n`));
      }),
    );
}
