/**
 * What the ticket system kinds share: the key rule, one-line summaries, and one request helper
 * over `guardedPost` (no internal addresses unless allowed, no redirects, one deadline, bounded
 * body) whose errors name the kind and never carry the token or the Authorization header.
 */
import type { HourglassConfig, TicketSystemSettings } from '../../config/types.js';
import type { TicketSystem } from '../../app/tickets/ports.js';
import { guardedPost, OutboundRefused } from '../outbound/signed-post.js';

type Kind = TicketSystem['kind'];

/** Keys go into URL paths and ServiceNow encoded queries: no `/`, `^`, `=`, spaces or dot-only segments. */
const TICKET_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** No ticket answer we read is anywhere near this; a larger one is refused, not parsed. */
export const MAX_RESPONSE_BYTES = 256 * 1024;

export const SUMMARY_MAX = 200;
export const STATE_MAX = 100;

/** Throws before any request for a key that is not one (the requester typed it). */
export function checkKey(kind: Kind, key: string): void {
  if (!TICKET_KEY.test(key)) throw new Error(`${kind}: not a ticket key (1-64 letters, digits, _ . -, starting with a letter or digit)`);
}

/** Whitespace runs (newlines too) and control characters become one space; cut to `max` code points. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/[\s\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  const points = [...flat];
  return points.length <= max ? flat : `${points.slice(0, max - 1).join('')}…`;
}

export const basicAuth = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`, 'utf8').toString('base64')}`;

export interface TicketCall {
  method: 'GET' | 'POST' | 'PATCH';
  url: string;
  /** JSON text; '' with GET. */
  body?: string;
  authorization: string;
  /** Read the answer's body (up to MAX_RESPONSE_BYTES); otherwise only the status counts. */
  readBody?: boolean;
}

export interface TicketAnswer {
  status: number;
  body?: Buffer;
}

/** The message of a network or guard error, with Node's code, and with every secret taken out. */
function describe(err: unknown, secrets: readonly string[]): string {
  const e = err as { code?: unknown; message?: unknown };
  let message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  if (typeof e?.code === 'string' && !message.includes(e.code)) message = `${e.code}: ${message}`;
  if (err instanceof OutboundRefused) message = `refused: ${message}`;
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length)) message = message.split(s).join('[redacted]');
  return message;
}

/** One request to a ticket system; throws `KIND: ...` (never with the token) when there is no answer. */
export async function ticketRequest(kind: Kind, call: TicketCall, settings: TicketSystemSettings, config: HourglassConfig): Promise<TicketAnswer> {
  const credential = call.authorization.replace(/^(Basic|Bearer) /, '');
  const secrets = [settings.token, encodeURIComponent(settings.token), call.authorization, credential];
  try {
    const r = await guardedPost({
      url: call.url,
      method: call.method,
      body: call.body ?? '',
      headers: { 'user-agent': 'Hourglass-Tickets/1', accept: 'application/json', authorization: call.authorization },
      timeoutMs: settings.timeoutMs,
      allowedHosts: config.server.allowedHosts,
      ...(call.readBody ? { readBody: { maxBytes: MAX_RESPONSE_BYTES } } : {}),
    });
    return { status: r.status, ...(r.body ? { body: r.body } : {}) };
  } catch (err) {
    throw new Error(`${kind}: ${describe(err, secrets)}`);
  }
}

/** The answer's JSON, or a `KIND: ...` error that quotes none of it. */
export function answerJson(kind: Kind, answer: TicketAnswer): unknown {
  try {
    return JSON.parse((answer.body ?? Buffer.alloc(0)).toString('utf8')) as unknown;
  } catch {
    throw new Error(`${kind}: the answer is not JSON (HTTP ${answer.status})`);
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws `KIND: HTTP n` unless the status is 2xx. */
export function expectSuccess(kind: Kind, answer: TicketAnswer): void {
  if (answer.status < 200 || answer.status > 299) throw new Error(`${kind}: HTTP ${answer.status}`);
}
