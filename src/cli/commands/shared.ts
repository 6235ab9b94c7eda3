/**
 * The plumbing every client command shares: the context it runs in, the connection (URL and
 * token from the options, the environment or the stored login), output that never shows a token,
 * and `action`, which turns a failure into its message and exit code. The environment is read
 * only through `ctx.env`.
 */
import { Option, type Command } from 'commander';
import { redact } from '../../core/redact.js';
import { HourglassClient, REFRESH_AHEAD_MS } from '../api-client.js';
import { credentialsPath, readCredentials, sameServer, withCredentialsLock, writeCredentials } from '../credentials.js';
import { CredentialsError, UsageError } from '../errors.js';
import { describeError, exitCodeFor, type TokenSource } from './failure.js';

/** The offline machinery (YAML, zod, the policy engine), loaded only by the commands that need it. */
export const offlineModule = () => import('../offline.js');

export interface CliContext {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
  setExitCode: (code: number) => void;
  /** Raw streams, for output that is streamed (audit export) and input read from stdin; default process.stdout/stdin. */
  stdout?: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Whether stderr is a terminal (progress display); default process.stderr.isTTY. */
  stderrIsTTY?: boolean;
}

export const DEFAULT_URL = 'http://127.0.0.1:8420';

export interface GlobalOpts {
  url?: string;
  token?: string;
  json?: boolean;
}

interface Connection {
  url: string;
  token: string;
  tokenSource: TokenSource;
  /** The stored login is a signed-in session: refresh its access token as it runs out. */
  session?: { refreshToken: string; expiresAt: number; file: string };
}

/**
 * Swaps the stored session's refresh token for a new pair and stores it (mode 0600) before the
 * new access token is used: a refresh token works once, so losing the new one means signing in
 * again. Commands refresh one at a time under the credentials lock; one that waited finds the
 * pair another refreshed in the file and uses it (presenting the old token again would end the session).
 */
export function sessionRefresher(url: string, session: { refreshToken: string; expiresAt: number; file: string }, onSecret: (s: string) => void) {
  return {
    expiresAt: session.expiresAt,
    refresh: () =>
      withCredentialsLock(session.file, async () => {
        const stored = readCredentials(session.file);
        if (stored?.refreshToken && stored.refreshToken !== session.refreshToken && sameServer(stored.url, url)) {
          onSecret(stored.token);
          onSecret(stored.refreshToken);
          session.refreshToken = stored.refreshToken;
          if (stored.expiresAt !== undefined && Date.now() < stored.expiresAt - REFRESH_AHEAD_MS) return { token: stored.token, expiresAt: stored.expiresAt };
        }
        const res = await fetch(`${url}/v1/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'hourglass-cli/0.1.0' },
          body: JSON.stringify({ refreshToken: session.refreshToken }),
          signal: AbortSignal.timeout(30_000),
          redirect: 'error',
        });
        if (res.status !== 200) throw new CredentialsError('the stored sign-in has ended: run `hourglass login --sso PROVIDER` again');
        const next = (await res.json()) as { accessToken: string; refreshToken: string; expiresAt: string };
        onSecret(next.accessToken);
        onSecret(next.refreshToken);
        const expiresAt = Date.parse(next.expiresAt);
        writeCredentials(session.file, { url, token: next.accessToken, refreshToken: next.refreshToken, expiresAt });
        session.refreshToken = next.refreshToken;
        return { token: next.accessToken, expiresAt };
      }),
  };
}

export interface Io {
  /** The API client; resolving it (URL, token, stored login) happens on first use, so offline commands never need a token. */
  readonly client: HourglassClient;
  json: boolean;
  env: CliContext['env'];
  out: (s: string) => void;
  err: (s: string) => void;
  /** Prints an answer: its JSON with --json, else the human text. */
  print: (body: unknown, human: () => string) => void;
  /** Scrubs this value from everything printed from now on. */
  addSecret: (s: string | undefined) => void;
  stdout: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderrIsTTY: boolean;
}

export const CONNECTION_GROUP = 'Connection and output:';

/** --url, --token, --json: on every client command, listed apart in its help. */
export function addGlobals(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', `Hourglass server URL (default: $HOURGLASS_URL, the stored login, else ${DEFAULT_URL})`).helpGroup(CONNECTION_GROUP))
    .addOption(new Option('--token <token>', 'API token (default: $HOURGLASS_TOKEN, else the stored login; never printed)').helpGroup(CONNECTION_GROUP))
    .addOption(new Option('--json', 'print the JSON answer instead of text').helpGroup(CONNECTION_GROUP));
}

/** --json alone: for commands that need no server. */
/** `--otp` / `--recovery-code`: a second factor for a policy that requires step-up MFA (docs/cli.md). */
export function addStepUp(cmd: Command): Command {
  return cmd
    .option('--otp <code>', 'a code of your authenticator app, for a policy that requires step-up MFA (used once)')
    .option('--recovery-code <code>', 'a recovery code instead of --otp (each works once)');
}

export function addJson(cmd: Command): Command {
  return cmd.addOption(new Option('--json', 'print the JSON answer instead of text').helpGroup('Output:'));
}

export function checkUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULT_URL}, got "${raw}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULT_URL}, got "${raw}"`);
  }
  if (parsed.username || parsed.password) throw new UsageError('--url must not carry credentials; use --token or HOURGLASS_TOKEN');
  return raw.replace(/\/+$/, '');
}

export function checkToken(token: string): string {
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new CredentialsError('the API token contains spaces or characters that cannot be sent in a header');
  }
  return token;
}

/**
 * URL and token: the options first, then HOURGLASS_URL / HOURGLASS_TOKEN, then the stored login
 * of `hourglass login`. A stored token is only ever sent to the URL it was stored with.
 */
function resolveConnection(opts: GlobalOpts, ctx: CliContext, warn: (s: string) => void, onSecret: (s: string | undefined) => void): Connection {
  const env = ctx.env;
  const flagUrl = (opts.url ?? env.HOURGLASS_URL ?? '').trim();
  const direct = opts.token ?? env.HOURGLASS_TOKEN ?? '';
  const file = credentialsPath(env);
  const stored = !flagUrl || !direct ? readCredentials(file, warn) : undefined;
  if (stored) {
    onSecret(stored.token);
    onSecret(stored.refreshToken);
  }
  const url = checkUrl(flagUrl || stored?.url || DEFAULT_URL);
  if (direct) return { url, token: checkToken(direct), tokenSource: opts.token !== undefined ? 'flag' : 'env' };
  if (stored && sameServer(stored.url, url)) {
    const session =
      stored.refreshToken && stored.expiresAt !== undefined ? { session: { refreshToken: stored.refreshToken, expiresAt: stored.expiresAt, file } } : {};
    return { url, token: checkToken(stored.token), tokenSource: 'credentials', ...session };
  }
  if (stored) throw new CredentialsError(`no API token for ${url} (the stored login is for ${stored.url}, and its token is sent nowhere else)`);
  throw new CredentialsError('no API token given');
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** `--otp CODE` / `--recovery-code CODE` of the commands a policy may guard with step-up MFA. */
function stepUpOf(o: Record<string, unknown>): { stepUp?: { totp?: string; recoveryCode?: string } } {
  if (typeof o.otp === 'string') return { stepUp: { totp: o.otp } };
  if (typeof o.recoveryCode === 'string') return { stepUp: { recoveryCode: o.recoveryCode } };
  return {};
}

export type Handler = (io: Io, opts: Record<string, any>, ...args: any[]) => Promise<number | void>;

/**
 * Wraps a command's work: builds the client on first use (URL, token, stored login), prints any
 * failure as `hourglass: message (CODE)` plus a hint, and sets the exit code. Output never shows
 * the token: every token in sight is scrubbed from what is printed.
 */
export function action(ctx: CliContext, handler: Handler, opts: { idArg?: boolean } = {}) {
  return async (...all: unknown[]) => {
    const cmd = all[all.length - 1] as Command;
    const options = cmd.opts() as GlobalOpts & Record<string, unknown>;
    const args = all.slice(0, -2);
    const secrets = new Set<string>();
    const addSecret = (s: string | undefined) => {
      if (s && s.length >= 4) secrets.add(s);
    };
    addSecret(options.token);
    addSecret(options.otp as string | undefined);
    addSecret(options.recoveryCode as string | undefined);
    addSecret(ctx.env.HOURGLASS_TOKEN);
    const scrub = (s: string) => redact(s, secrets);
    const out = (s: string) => ctx.out(scrub(s));
    const err = (s: string) => ctx.err(scrub(s));
    let connection: Connection | undefined;
    let client: HourglassClient | undefined;
    const json = options.json === true;
    const io: Io = {
      get client() {
        if (!client) {
          connection = resolveConnection(options, ctx, err, addSecret);
          client = new HourglassClient({
            url: connection.url,
            token: connection.token,
            userAgent: 'hourglass-cli/0.1.0',
            ...(connection.session ? { session: sessionRefresher(connection.url, connection.session, addSecret) } : {}),
            ...stepUpOf(options),
          });
        }
        return client;
      },
      json,
      env: ctx.env,
      out,
      err,
      print: (body, human) => out(json ? `${JSON.stringify(body, null, 2)}\n` : human()),
      addSecret,
      stdout: ctx.stdout ?? process.stdout,
      stdin: ctx.stdin ?? process.stdin,
      stderrIsTTY: ctx.stderrIsTTY ?? Boolean(process.stderr.isTTY),
    };
    try {
      const code = await handler(io, options, ...args);
      if (code) ctx.setExitCode(code);
    } catch (e) {
      const id = opts.idArg && typeof args[0] === 'string' ? args[0] : undefined;
      const url = connection?.url ?? (typeof options.url === 'string' ? options.url : (ctx.env.HOURGLASS_URL ?? DEFAULT_URL));
      err(describeError(e, { command: commandPath(cmd), url, ...(id ? { id } : {}), ...(connection ? { tokenSource: connection.tokenSource } : {}) }));
      ctx.setExitCode(exitCodeFor(e));
    }
  };
}

/**
 * What a command group registers its commands with. Client commands get --url/--token/--json,
 * offline ones --json, once every group is registered, so that the group follows each command's
 * own options in its help.
 */
export interface Registrar {
  program: Command;
  ctx: CliContext;
  /** A command that talks to the server. */
  client(name: string, description: string, parent?: Command): Command;
  /** A command that needs no server. */
  local(name: string, description: string, parent?: Command): Command;
  /** Marks a command built by hand as a client command. */
  asClient(cmd: Command): Command;
}

export function createRegistrar(program: Command, ctx: CliContext): Registrar & { finish(): void } {
  const clients: Command[] = [];
  const offline: Command[] = [];
  const asClient = (cmd: Command) => {
    clients.push(cmd);
    return cmd;
  };
  return {
    program,
    ctx,
    client: (name, description, parent = program) => asClient(parent.command(name).description(description)),
    local: (name, description, parent = program) => {
      const cmd = parent.command(name).description(description);
      offline.push(cmd);
      return cmd;
    },
    asClient,
    finish() {
      for (const cmd of clients) addGlobals(cmd);
      for (const cmd of offline) addJson(cmd);
    },
  };
}
