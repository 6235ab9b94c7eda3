/**
 * Hash chain over audit events. Each chained event's hash covers its content and the previous
 * event's hash, so editing, deleting, reordering or inserting an event breaks every hash after it.
 * Truncating the tail is caught by comparing with a head pinned elsewhere (`--expect-head`).
 * The writer stamps each link no earlier than its predecessor, so time never goes backwards along
 * the chain: a link that does was not written by the server (a backdated forgery).
 */
import { hash as oneShotHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedEventContent {
  seq: number;
  id: string;
  at: number;
  type: string;
  actor: string;
  requestId: string | null;
  details: unknown;
  policyHash: string | null;
}

/**
 * Canonical JSON: object keys sorted, no whitespace, undefined members dropped (as JSON.stringify does).
 * Written as loops rather than entries/sort/map chains: verification runs it on every event.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // A hole is skipped as Array.prototype.map skips it; JSON never has holes.
      if (!(i in value)) continue;
      const item: unknown = value[i];
      out += item === undefined ? 'null' : canonicalJson(item);
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (const key of keys) {
    const member = obj[key];
    if (member === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}

export function sha256Hex(text: string): string {
  return oneShotHash('sha256', text, 'hex');
}

/** The hashed members of an event, in canonical (sorted) order. */
const EVENT_KEYS = ['actor', 'at', 'details', 'id', 'policyHash', 'prevHash', 'requestId', 'seq', 'type'] as const;
const EVENT_KEY_SET: ReadonlySet<string> = new Set(EVENT_KEYS);
const LINK_KEY_SET: ReadonlySet<string> = new Set([...EVENT_KEYS, 'hash']);

function onlyKeys(value: object, allowed: ReadonlySet<string>): boolean {
  for (const key in value) if (!allowed.has(key)) return false;
  return true;
}

/** `canonicalJson({...content, prevHash})` for content with only the event members, without the copy and sort. */
function eventJson(content: ChainedEventContent, prevHash: string): string {
  let out = '{';
  for (const key of EVENT_KEYS) {
    const member: unknown = key === 'prevHash' ? prevHash : content[key];
    if (member === undefined) continue;
    if (out.length > 1) out += ',';
    out += `"${key}":${canonicalJson(member)}`;
  }
  return `${out}}`;
}

export function eventHash(content: ChainedEventContent, prevHash: string): string {
  return sha256Hex(onlyKeys(content, EVENT_KEY_SET) ? eventJson(content, prevHash) : canonicalJson({ ...content, prevHash }));
}

/** The hash a link should have after `prevHash`: its members except `prevHash` and `hash`, as eventHash sees them. */
function linkHash(link: StoredChainLink, prevHash: string): string {
  if (onlyKeys(link, LINK_KEY_SET)) return sha256Hex(eventJson(link, prevHash));
  const { prevHash: _p, hash: _h, ...content } = link;
  return eventHash(content, prevHash);
}

export interface StoredChainLink extends ChainedEventContent {
  prevHash: string;
  hash: string;
}

/** A verified point to continue from; `lastAt` is the `at` of the link at `lastSeq` (absent: genesis). */
export interface ChainPoint {
  lastSeq: number;
  head: string;
  count: number;
  lastAt?: number;
}

export interface VerifyProgress {
  count: number;
  head: string;
  lastSeq: number;
  /** `at` of the last good link (-Infinity before the first). */
  lastAt: number;
  firstBadSeq?: number;
  problem?: string;
}

/**
 * Checks links in sequence order, continuing from a known good point. Returns the first bad
 * sequence number: a gap (deleted event), a prevHash that does not match (reordered or inserted),
 * a hash that does not match the content (edited), or a time earlier than the previous link's
 * (backdated). `timeOrderFrom`: links at or below this seq are not held to time order (they were
 * linked by a version that did not stamp it; see the 0006 migration).
 */
export function verifyLinks(links: Iterable<StoredChainLink>, from: ChainPoint, timeOrderFrom = 0): VerifyProgress {
  let { lastSeq, head, count } = from;
  let lastAt = from.lastAt ?? Number.NEGATIVE_INFINITY;
  for (const link of links) {
    if (link.seq !== lastSeq + 1) {
      return { count, head, lastSeq, lastAt, firstBadSeq: lastSeq + 1, problem: `sequence gap: expected ${lastSeq + 1}, found ${link.seq}` };
    }
    if (link.prevHash !== head) {
      return { count, head, lastSeq, lastAt, firstBadSeq: link.seq, problem: 'previous hash does not match' };
    }
    const hash = link.hash;
    if (linkHash(link, head) !== hash) {
      return { count, head, lastSeq, lastAt, firstBadSeq: link.seq, problem: 'event content does not match its hash' };
    }
    if (link.at < lastAt && link.seq > timeOrderFrom) {
      return {
        count,
        head,
        lastSeq,
        lastAt,
        firstBadSeq: link.seq,
        problem: `time goes backwards: at ${link.at} is earlier than ${lastAt} of seq ${lastSeq} (backdated)`,
      };
    }
    lastSeq = link.seq;
    head = hash;
    lastAt = link.at;
    count += 1;
  }
  return { count, head, lastSeq, lastAt };
}
