/**
 * A real SMTP server for tests, in this process (`smtp-server`) on a free loopback port: STARTTLS
 * with a fresh self-signed certificate for localhost / 127.0.0.1 (made with openssl, like
 * redis-server.ts), or TLS from the first byte with `secure`; AUTH PLAIN/LOGIN checked against
 * `users` (then required before MAIL FROM). Every accepted message is parsed with mailparser and
 * kept, with the SMTP envelope it came with. Never skips: a missing openssl is a loud error.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

const execFileP = promisify(execFile);

export type ReceivedMail = ParsedMail & { envelope: { from: string; to: string[] } };

export interface SmtpServer {
  port: number;
  /** PEM of the server's self-signed certificate: give it to the client as its CA. */
  ca: string;
  /** Messages accepted so far, in order. */
  messages: ReceivedMail[];
  /** Resolves once `n` messages arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /** AUTH attempts refused (wrong user or password). */
  readonly authFailures: number;
  close(): Promise<void>;
}

export interface StartSmtpOptions {
  /** user -> password; when given, AUTH is required. Without it AUTH is disabled. */
  users?: Record<string, string>;
  /** TLS from the start (like port 465) instead of STARTTLS. */
  secure?: boolean;
  /** Offer STARTTLS (default true; ignored with `secure`). False: a relay that only speaks in clear. */
  offerStartTls?: boolean;
}

/** A self-signed EC certificate for localhost and 127.0.0.1, valid two days. */
async function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-smtp-'));
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ];
  try {
    await execFileP('openssl', args, { cwd: dir });
    const [key, cert] = await Promise.all([readFile(path.join(dir, 'server.key'), 'utf8'), readFile(path.join(dir, 'server.crt'), 'utf8')]);
    return { key, cert };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl not found: the SMTP test server needs it for its certificate. Install the Debian "openssl" package.');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function startSmtpServer(opts: StartSmtpOptions = {}): Promise<SmtpServer> {
  const { key, cert } = await selfSignedCertificate();
  const users = opts.users;
  const secure = opts.secure ?? false;
  const offerStartTls = !secure && (opts.offerStartTls ?? true);
  const messages: ReceivedMail[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let authFailures = 0;

  const disabledCommands = [...(users ? [] : ['AUTH']), ...(offerStartTls ? [] : ['STARTTLS'])];
  const options: SMTPServerOptions = {
    secure,
    key,
    cert,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !users,
    // AUTH in clear only on a server that has no TLS to offer (a relay for `security: none`).
    allowInsecureAuth: !secure && !offerStartTls,
    disabledCommands,
    disableReverseLookup: true,
    logger: false,
    // close() waits this long for clients (a pooled connection) to leave before cutting them off.
    closeTimeout: 1_000,
    onAuth(auth, _session, callback) {
      const expected = auth.username !== undefined ? users?.[auth.username] : undefined;
      if (expected !== undefined && auth.password === expected) return callback(null, { user: auth.username });
      authFailures++;
      const err = Object.assign(new Error('authentication failed'), { responseCode: 535 });
      return callback(err);
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const envelope = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
          };
          messages.push(Object.assign(mail, { envelope }));
          for (const w of waiters.filter((w) => messages.length >= w.n)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  };
  const server = new SMTPServer(options);
  server.on('error', () => {}); // a client that drops the connection must not crash the test run

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    ca: cert,
    messages,
    get authFailures() {
      return authFailures;
    },
    waitFor(n, timeoutMs = 5_000) {
      if (messages.length >= n) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const w = { n, resolve: () => (clearTimeout(timer), resolve(messages)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`SMTP test server: ${messages.length} of ${n} messages after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
