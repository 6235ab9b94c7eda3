/**
 * `hourglass credentials` and `hourglass connect`: what a grant's credentials look like as shell
 * variables, and the database client command built from them. Which client, and how it is
 * told where to go, is each target kind's `client` description (src/adapters/connectors/KIND/
 * client.ts); `clientCommands(kinds)` puts them to work. Everything here but `runClient` is
 * pure (no I/O), so the command lines can be checked in unit tests.
 *
 * The rule of `connect`: the password never goes on a command line (anyone can read another
 * process's argv with `ps`); it travels in the client's environment only (PGPASSWORD, MYSQL_PWD,
 * REDISCLI_AUTH), which only the same user and root can read.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClientDescription, ConnectionParts } from '../app/connectors.js';
import { HIDDEN } from '../core/redact.js';
import type { CredentialsJson } from './api-client.js';

export type TargetCredentials = CredentialsJson['targets'][string];

/** A kind `connect` can open (a target kind's name). */
export type ClientKind = string;

/** The kinds of this build with their client descriptions (connectorFactories fits). */
export type ClientKinds = readonly { readonly kind: string; readonly client?: ClientDescription }[];

export type { ConnectionParts };

/** Exit code of `connect` when the client program is missing (as a shell says "command not found"). */
export const CLIENT_NOT_FOUND = 127;
/** Exit code of `connect` when the client program exists but cannot be run. */
export const CLIENT_NOT_EXECUTABLE = 126;

/** What the placeholder in a shown command line stands for. */
export { HIDDEN };

/** The connection URL, parsed; undefined when missing or not a URL. */
function parsedUrl(c: TargetCredentials): URL | undefined {
  if (typeof c.url !== 'string') return undefined;
  try {
    return new URL(c.url);
  } catch {
    return undefined;
  }
}

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** A PEM CA certificate carried by the credentials (field `ca`), if any. */
export function caPemOf(c: TargetCredentials): string | undefined {
  return typeof c.ca === 'string' && c.ca.includes('-----BEGIN') ? c.ca : undefined;
}

// ---- shell output ----------------------------------------------------------------------------------

/** A word for a POSIX shell: as is when safe, else in single quotes. */
export function shellQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_./:@%+=,-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---- the client command ----------------------------------------------------------------------------

export interface ClientCommand {
  kind: ClientKind;
  /** The program to run: a name looked up on PATH, or a path. */
  program: string;
  /** Its arguments: never a secret. */
  args: string[];
  /** Variables set for the client (the secret ones included). */
  env: Record<string, string>;
  /** Variables removed from the inherited environment (they would change where the client goes). */
  unset: string[];
  /** Names in `env` that hold secrets: shown as *** only. */
  secretEnv: string[];
}

export interface BuildOptions {
  /** The program to run instead of the kind's default. */
  program?: string;
  /**
   * mariadb kind: which client's TLS options to use, `mariadb` (--ssl...) or `mysql`
   * (Oracle's, --ssl-mode=...). Default: from the program's name.
   */
  flavor?: 'mariadb' | 'mysql';
  /** A file holding the CA certificate the credentials carried (see caPemOf). */
  caFile?: string;
}

/** A usage problem with the credentials for `connect` (no URL, unknown kind). */
export class ConnectError extends Error {}

/**
 * The command as a shell line, secrets replaced by ***: what `connect --print` shows. With
 * `present` (the caller's environment), only the removed variables that are set there are shown.
 */
export function describeCommand(cmd: ClientCommand, present?: Record<string, string | undefined>): string {
  const vars = Object.entries(cmd.env).map(([k, v]) => `${k}=${cmd.secretEnv.includes(k) ? HIDDEN : shellQuote(v)}`);
  const removed = present ? cmd.unset.filter((u) => present[u] !== undefined) : cmd.unset;
  const unset = removed.length ? [`env ${removed.map((u) => `-u ${u}`).join(' ')}`] : [];
  return [...unset, ...vars, shellQuote(cmd.program), ...cmd.args.map(shellQuote)].join(' ');
}

/** `connect --print --json`: the command, secrets replaced by ***. */
export function commandJson(target: string, cmd: ClientCommand) {
  return {
    target,
    kind: cmd.kind,
    program: cmd.program,
    args: cmd.args,
    env: Object.fromEntries(Object.entries(cmd.env).map(([k, v]) => [k, cmd.secretEnv.includes(k) ? HIDDEN : v])),
    unset: cmd.unset,
  };
}

// ---- running it ----------------------------------------------------------------------------------

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `name` is found on PATH (or `name` itself when it holds a slash and is executable). */
export function findProgram(name: string, pathVar: string | undefined): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? name : undefined;
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const full = path.join(dir, name);
    if (isExecutableFile(full)) return full;
  }
  return undefined;
}

/** A temp directory (0700) holding `ca.pem`; removed by the returned function. */
export function writeCaFile(pem: string): { file: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hourglass-ca-'));
  const file = path.join(dir, 'ca.pem');
  writeFileSync(file, pem, { mode: 0o600 });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The environment the client gets: ours, minus `unset`, plus the command's variables. */
export function clientEnv(base: Record<string, string | undefined>, cmd: ClientCommand): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !cmd.unset.includes(k)) env[k] = v;
  return { ...env, ...cmd.env };
}

/**
 * Runs the client on this terminal (stdio inherited) and resolves with its exit code (128+N
 * when a signal N ended it), or with `startError` (and 127, or 126) when it could not be started.
 * Meanwhile Ctrl-C and Ctrl-\\ belong to the client (psql cancels the query; it is not the end of
 * `hourglass`), and SIGTERM/SIGHUP sent to `hourglass` are passed on.
 */
export function runClient(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number; startError?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    let settled = false;
    const child = spawn(file, args, { stdio: 'inherit', env });
    const ignore = () => {};
    const onTerm = () => child.kill('SIGTERM');
    const onHup = () => child.kill('SIGHUP');
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const done = (r: { code: number; startError?: NodeJS.ErrnoException }) => {
      if (settled) return;
      settled = true;
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      resolve(r);
    };
    child.once('error', (err: NodeJS.ErrnoException) => done({ code: err.code === 'ENOENT' ? CLIENT_NOT_FOUND : CLIENT_NOT_EXECUTABLE, startError: err }));
    child.once('exit', (code, signal) => {
      if (code !== null) done({ code });
      else done({ code: 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0) });
    });
  });
}

// ---- per kind ------------------------------------------------------------------------------------

export interface ClientCommands {
  /** The client kind of a target's credentials: an explicit `kind`/`type` field, else the URL's scheme. */
  kindOf(c: TargetCredentials): ClientKind | undefined;
  /** The client kind, or a ConnectError saying why it cannot be told. */
  requireKind(target: string, c: TargetCredentials): ClientKind;
  partsOf(c: TargetCredentials, kind?: ClientKind): ConnectionParts;
  /**
   * `credentials --format env`: `export NAME=value` lines for `eval "$(hourglass credentials ID
   * --format env)"`, named as the kind's client reads them; a comment line tells what the client
   * cannot read from its environment. Credentials of an unknown kind get HOURGLASS_CRED_<FIELD>.
   */
  envLines(c: TargetCredentials): string;
  /**
   * The client command for a target's credentials, followed by `extra` (the user's own arguments,
   * after `--`). The password goes into the environment only.
   */
  buildClientCommand(target: string, c: TargetCredentials, extra?: string[], opts?: BuildOptions): ClientCommand;
  /** The kind's client description (known kinds only). */
  client(kind: ClientKind): ClientDescription;
}

export function clientCommands(kinds: ClientKinds): ClientCommands {
  const described = kinds.flatMap((k) => (k.client ? [{ kind: k.kind, client: k.client }] : []));
  const byName = new Map<string, ClientKind>();
  for (const { kind, client } of described) {
    for (const name of [kind, ...client.schemes, ...(client.otherSchemes ?? [])]) if (!byName.has(name)) byName.set(name, kind);
  }
  const clients = new Map(described.map((d) => [d.kind, d.client]));
  const client = (kind: ClientKind) => clients.get(kind)!;
  const shownSchemes = described.flatMap((d) => d.client.schemes).map((s) => `${s}://`);

  const kindOf = (c: TargetCredentials): ClientKind | undefined => {
    for (const field of ['kind', 'type']) {
      const v = c[field];
      if (typeof v === 'string' && byName.has(v.toLowerCase())) return byName.get(v.toLowerCase());
    }
    const scheme = parsedUrl(c)?.protocol.replace(/:$/, '').toLowerCase();
    return scheme ? byName.get(scheme) : undefined;
  };

  const requireKind = (target: string, c: TargetCredentials): ClientKind => {
    const kind = kindOf(c);
    if (kind) return kind;
    throw new ConnectError(
      typeof c.url === 'string'
        ? `cannot tell which client opens the credentials of target ${target}: the URL scheme is not ${shownSchemes.slice(0, -1).join(', ')} or ${shownSchemes.at(-1)}`
        : `cannot tell which client opens the credentials of target ${target}: they carry no connection URL`,
    );
  };

  const partsOf = (c: TargetCredentials, kind: ClientKind | undefined = kindOf(c)): ConnectionParts => {
    const u = parsedUrl(c);
    const parts: ConnectionParts = {};
    const username = typeof c.username === 'string' ? c.username : u?.username ? decode(u.username) : undefined;
    const password = typeof c.password === 'string' ? c.password : u?.password ? decode(u.password) : undefined;
    const host = typeof c.host === 'string' ? c.host : u?.hostname ? u.hostname.replace(/^\[(.*)\]$/, '$1') : undefined;
    const port = typeof c.port === 'number' ? c.port : u?.port ? Number(u.port) : undefined;
    const fromPath = u ? decode(u.pathname.replace(/^\/+/, '')) : '';
    const database = typeof c.database === 'string' ? c.database : fromPath || undefined;
    if (username !== undefined && username !== '') parts.username = username;
    if (password !== undefined) parts.password = password;
    if (host) parts.host = host;
    if (port !== undefined && Number.isFinite(port)) parts.port = port;
    if (database !== undefined && database !== '') parts.database = database;
    const tls = kind && clients.has(kind) ? client(kind).tlsOf(c, u) : undefined;
    if (tls) parts.tls = tls;
    return parts;
  };

  const envLines = (c: TargetCredentials): string => {
    const kind = kindOf(c);
    const vars: [string, string | number | undefined][] = [];
    const notes: string[] = [];
    if (kind) {
      const described = client(kind).env(partsOf(c, kind));
      vars.push(...described.vars);
      if (described.then) notes.push(`# then: ${described.then.map(shellQuote).join(' ')}`);
    } else {
      for (const [k, v] of Object.entries(c)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
          vars.push([
            `HOURGLASS_CRED_${k
              .replace(/[^A-Za-z0-9]+/g, '_')
              .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
              .toUpperCase()}`,
            String(v),
          ]);
        }
      }
    }
    const lines = vars.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `export ${k}=${shellQuote(String(v))}`);
    return [...lines, ...notes].join('\n') + '\n';
  };

  const buildClientCommand = (target: string, c: TargetCredentials, extra: string[] = [], opts: BuildOptions = {}): ClientCommand => {
    const kind = requireKind(target, c);
    const program = opts.program ?? client(kind).programs[0]!;
    const inv = client(kind).command(partsOf(c, kind), {
      program,
      ...(opts.flavor ? { flavor: opts.flavor } : {}),
      ...(opts.caFile ? { caFile: opts.caFile } : {}),
    });
    return { kind, program, args: [...inv.args, ...extra], env: inv.env, unset: inv.unset, secretEnv: inv.secretEnv };
  };

  return { kindOf, requireKind, partsOf, envLines, buildClientCommand, client };
}
