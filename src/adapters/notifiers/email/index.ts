/**
 * The `email` notification channel: one mail per recipient through the relay in
 * `notifications.email`, over a pooled nodemailer SMTP transport. `starttls` refuses a relay that
 * does not offer STARTTLS (never falls back to clear text); `tls` speaks TLS from the first byte;
 * `none` is for a relay on this machine (the config loader allows it only on loopback).
 * The Message-ID is derived from the delivery id, so a retried attempt is recognisable.
 */
import { performance } from 'node:perf_hooks';
import { createTransport, type NodemailerError, type SMTPPoolOptions, type Transporter } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { canonicalJson } from '../../../core/audit-chain.js';
import type { EmailSettings, HourglassConfig } from '../../../config/types.js';
import type { MessageChannel, SendInput, SendResult } from '../../../app/notifications/ports.js';

/** local@domain: no white space or control characters, no characters that would end an address in a header. */
const LOCAL_PART = /^[^\s\p{Cc}@<>()[\]\\,;:"]{1,64}$/u;
const DOMAIN = /^(?=.{1,253}$)[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?)*$/u;

/** A plausible address that cannot break out of a header (CR/LF, a second address, a display name). */
export function plausibleAddress(email: string): boolean {
  if (email.length > 320 || /[\p{Cc}\s]/u.test(email)) return false;
  const at = email.lastIndexOf('@');
  if (at <= 0) return false;
  const local = email.slice(0, at);
  return LOCAL_PART.test(local) && !local.startsWith('.') && !local.endsWith('.') && !local.includes('..') && DOMAIN.test(email.slice(at + 1));
}

/** Header text on one line: control characters (CR, LF, TAB, NUL...) become spaces. */
const oneLine = (text: string) => text.replace(/\p{Cc}+/gu, ' ').trim();

/** `<deliveryId@host>`, host from the From address when it has a usable domain. */
function messageId(deliveryId: string, from: string): string {
  const mailbox = addressparser(from, { flatten: true }).find((a) => a.address);
  const domain = mailbox?.address?.slice(mailbox.address.lastIndexOf('@') + 1).toLowerCase() ?? '';
  const host = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/.test(domain) ? domain : 'hourglass';
  return `<${deliveryId.replace(/[^A-Za-z0-9._-]/g, '_')}@${host}>`;
}

function transportOptions(s: EmailSettings): SMTPPoolOptions & { pool: true } {
  const security =
    s.security === 'tls'
      ? { secure: true }
      : s.security === 'starttls'
        ? { secure: false, requireTLS: true } // no STARTTLS offered: fail, never send in clear
        : { secure: false, ignoreTLS: true };
  return {
    pool: true,
    host: s.host,
    port: s.port,
    ...security,
    ...(s.ca !== undefined ? { tls: { ca: s.ca } } : {}),
    ...(s.user !== undefined && s.password !== undefined ? { auth: { user: s.user, pass: s.password } } : {}),
    connectionTimeout: s.timeoutMs,
    greetingTimeout: s.timeoutMs,
    socketTimeout: s.timeoutMs,
    // The outbox retries with backoff; one attempt only retries once on a pooled connection that went stale.
    maxRequeues: 1,
    // Messages are rendered text: nothing may make nodemailer read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  };
}

/**
 * What went wrong, without secrets: the SMTP reply code and text when the server answered
 * (`SMTP 535: 5.7.8 Authentication credentials invalid`), else the error code and message
 * (`ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:587`). Nodemailer errors may carry the command
 * sent; only a plain command name is kept. Anything equal to the password (or its AUTH encodings) is cut out.
 */
export function describeSmtpError(err: unknown, settings: Pick<EmailSettings, 'user' | 'password'>): string {
  const e = (err ?? {}) as NodemailerError & { originalCode?: string };
  const command = typeof e.command === 'string' && /^[A-Z]+(?: [A-Z]+)?$/.test(e.command) && !['API', 'CONN'].includes(e.command) ? ` (${e.command})` : '';
  let text: string;
  if (typeof e.response === 'string' && e.response.trim()) {
    const m = /^(\d{3})[ -]?([\s\S]*)$/.exec(e.response.trim());
    text = m ? `SMTP ${m[1]}: ${m[2]!.trim()}${command}` : `SMTP: ${e.response.trim()}${command}`;
  } else {
    const code = typeof e.originalCode === 'string' ? e.originalCode : typeof e.code === 'string' ? e.code : '';
    const message = typeof e.message === 'string' && e.message ? e.message : String(err);
    text = code && !message.includes(code) ? `${code}: ${message}${command}` : `${message}${command}`;
  }
  return scrub(oneLine(text).slice(0, 500), settings);
}

function scrub(text: string, { user, password }: Pick<EmailSettings, 'user' | 'password'>): string {
  if (!password) return text;
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const forms = [password, b64(password), b64(`\u0000${user ?? ''}\u0000${password}`), b64(`${user ?? ''}\u0000${user ?? ''}\u0000${password}`)];
  // Longest first: a base64 password can be the tail of the AUTH PLAIN string.
  return forms.sort((a, b) => b.length - a.length).reduce((t, f) => t.split(f).join('***'), text);
}

interface Pooled {
  key: string;
  settings: EmailSettings;
  transport: Transporter;
  inFlight: number;
  retired: boolean;
}

export function emailChannel(): MessageChannel {
  let current: Pooled | undefined;

  const release = (p: Pooled) => {
    if (p.retired && p.inFlight === 0) p.transport.close();
  };

  /** The pool for these settings: the same object is reused; changed values (a reload) replace it. */
  const poolFor = (settings: EmailSettings): Pooled => {
    if (current?.settings === settings) return current;
    const key = canonicalJson(settings);
    if (current?.key === key) {
      current.settings = settings;
      return current;
    }
    if (current) {
      current.retired = true;
      release(current);
    }
    current = { key, settings, transport: createTransport(transportOptions(settings)), inFlight: 0, retired: false };
    return current;
  };

  return {
    kind: 'email',
    destinations: (config: HourglassConfig) => (config.notifications?.email ? ['email'] : []),
    personal: (destination: string) => destination === 'email',
    updatesInPlace: false,
    secrets: (config: HourglassConfig) => {
      const password = config.notifications?.email?.password;
      return password ? [password] : [];
    },

    async send(input: SendInput, config: HourglassConfig): Promise<SendResult> {
      const started = performance.now();
      const took = () => Math.round(performance.now() - started);
      const settings = config.notifications?.email;
      if (!settings) return { kind: 'failed', message: 'notifications.email is not configured', durationMs: took() };
      const email = input.recipient?.email;
      if (!email) return { kind: 'skipped', reason: `no e-mail address for ${input.recipient?.principal ?? 'this recipient'}`, durationMs: took() };
      if (!plausibleAddress(email)) {
        return { kind: 'skipped', reason: `the e-mail address of ${input.recipient?.principal} is not usable`, durationMs: took() };
      }

      const { message } = input;
      const name = input.recipient?.displayName ? oneLine(input.recipient.displayName) : '';
      let pooled: Pooled | undefined;
      try {
        pooled = poolFor(settings);
        pooled.inFlight++;
        const info = await pooled.transport.sendMail({
          from: settings.from,
          to: name ? { name, address: email } : email,
          subject: oneLine(message.subject),
          text: message.text,
          html: message.html,
          messageId: messageId(input.deliveryId, settings.from),
          headers: {
            'X-Hourglass-Notification': oneLine(input.notificationId),
            'X-Hourglass-Topic': oneLine(message.topic),
          },
        });
        const ref = typeof info?.messageId === 'string' ? info.messageId : undefined;
        return { kind: 'sent', ...(ref ? { ref } : {}), durationMs: took() };
      } catch (err) {
        return { kind: 'failed', message: describeSmtpError(err, settings), durationMs: took() };
      } finally {
        if (pooled) {
          pooled.inFlight--;
          release(pooled);
        }
      }
    },

    /** Shutting down: idle connections close now, one delivering a message finishes it first. */
    async close() {
      if (current) {
        current.retired = true;
        current.transport.close();
        current = undefined;
      }
    },
  };
}
