/**
 * What the on-call schedule kinds share: one GET over `guardedPost` (no internal addresses unless
 * allowed, no redirects, one deadline, a body of at most 1 MiB) whose errors name the kind and
 * never carry the token or the feed's URL, and a cache so a burst of requests is one call.
 */
import { createHash } from 'node:crypto';
import type { HourglassConfig, OnCallSettings } from '../../config/types.js';
import type { OnCallSchedule } from '../../app/oncall/ports.js';
import { guardedPost, OutboundRefused } from '../outbound/signed-post.js';

type Kind = OnCallSchedule['kind'];
type Read = OnCallSchedule['onCallAt'];

/** No answer we read is near this (a year of a busy rota as .ics is a few hundred KiB). */
export const MAX_ANSWER_BYTES = 1024 * 1024;

export interface OnCallAnswer {
  status: number;
  body: Buffer;
}

/** The message of a network or guard error, with Node's code, and with every secret taken out. */
function describe(err: unknown, secrets: readonly string[]): string {
  const e = err as { code?: unknown; message?: unknown };
  let message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  if (typeof e?.code === 'string' && !message.includes(e.code)) message = `${e.code}: ${message}`;
  if (err instanceof OutboundRefused) message = `refused: ${message}`;
  for (const s of [...secrets].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) message = message.split(s).join('[redacted]');
  return message;
}

/** One GET; throws `KIND: ...` (without any of `secrets`) when there is no answer. */
export async function onCallGet(
  kind: Kind,
  url: string,
  headers: Record<string, string>,
  secrets: readonly string[],
  settings: OnCallSettings,
  config: HourglassConfig,
): Promise<OnCallAnswer> {
  try {
    const r = await guardedPost({
      url,
      method: 'GET',
      body: '',
      headers: { 'user-agent': 'Hourglass-OnCall/1', ...headers },
      timeoutMs: settings.timeoutMs,
      allowedHosts: config.server.allowedHosts,
      readBody: { maxBytes: MAX_ANSWER_BYTES },
    });
    return { status: r.status, body: r.body ?? Buffer.alloc(0) };
  } catch (err) {
    throw new Error(`${kind}: ${describe(err, secrets)}`);
  }
}

/** Throws `KIND: HTTP n` unless the status is 200. */
export function expectOk(kind: Kind, answer: OnCallAnswer): void {
  if (answer.status !== 200) throw new Error(`${kind}: HTTP ${answer.status}`);
}

/** The answer's JSON, or a `KIND: ...` error that quotes none of it. */
export function answerJson(kind: Kind, answer: OnCallAnswer): unknown {
  try {
    return JSON.parse(answer.body.toString('utf8')) as unknown;
  } catch {
    throw new Error(`${kind}: the answer is not JSON`);
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** The port's form: addresses only, lower-cased, deduplicated, sorted. */
export function addresses(list: Iterable<unknown>): string[] {
  const out = new Set<string>();
  for (const v of list) if (typeof v === 'string' && EMAIL.test(v.trim())) out.add(v.trim().toLowerCase());
  return [...out].sort();
}

/** A URL's secret-looking parts (the whole, path and query, each query value, long path segments). */
export function urlSecrets(url: string): string[] {
  const out = new Set([url]);
  try {
    const u = new URL(url);
    out.add(`${u.pathname}${u.search}`).add(u.search.slice(1));
    for (const v of u.searchParams.values()) out.add(v).add(encodeURIComponent(v));
    for (const seg of u.pathname.split('/')) if (seg.length >= 8) out.add(seg).add(decodeURIComponent(seg));
  } catch {
    // not a URL: the whole string is the secret
  }
  return [...out];
}

/** At most this many answers are kept (one per schedule and minute); the oldest go first. */
const MAX_ENTRIES = 1000;

/**
 * Answers per schedule (its kind, URL, id and token) and minute of `at`, kept `settings.cacheMs`.
 * Callers asking while a read is under way share it; a failed read is not kept.
 */
export function cachedRead(read: Read, now: () => number = Date.now): Read {
  const entries = new Map<string, { expires: number; answer: Promise<string[]> }>();
  return async (at, settings, config) => {
    if (!(settings.cacheMs > 0)) return read(at, settings, config);
    const t = now();
    for (const [k, e] of entries) if (e.expires <= t) entries.delete(k);
    const schedule = createHash('sha256')
      .update(JSON.stringify([settings.type, settings.url, settings.schedule ?? '', settings.token ?? '']))
      .digest('base64url');
    const key = `${schedule}:${Math.floor(at / 60_000)}`;
    let entry = entries.get(key);
    if (!entry) {
      const answer = read(at, settings, config);
      entry = { expires: t + settings.cacheMs, answer };
      entries.set(key, entry);
      while (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      answer.catch(() => {
        if (entries.get(key)?.answer === answer) entries.delete(key);
      });
    }
    return [...(await entry.answer)];
  };
}
