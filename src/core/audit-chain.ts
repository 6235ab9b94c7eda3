/**
 * Hash chain over audit events. Each chained event's hash covers its content and the previous
 * event's hash, so editing, deleting, reordering or inserting an event breaks every hash after it.
 * Truncating the tail is caught by comparing with a head pinned elsewhere (`--expect-head`).
 */
import { createHash } from 'node:crypto';

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

/** Canonical JSON: object keys sorted, no whitespace, undefined members dropped (as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function eventHash(content: ChainedEventContent, prevHash: string): string {
  return sha256Hex(canonicalJson({ ...content, prevHash }));
}

export interface StoredChainLink extends ChainedEventContent {
  prevHash: string;
  hash: string;
}

export interface VerifyProgress {
  count: number;
  head: string;
  lastSeq: number;
  firstBadSeq?: number;
  problem?: string;
}

/**
 * Checks links in sequence order, continuing from a known good point. Returns the first bad
 * sequence number: a gap (deleted event), a prevHash that does not match (reordered or inserted),
 * or a hash that does not match the content (edited).
 */
export function verifyLinks(
  links: Iterable<StoredChainLink>,
  from: { lastSeq: number; head: string; count: number },
): VerifyProgress {
  let { lastSeq, head, count } = from;
  for (const link of links) {
    if (link.seq !== lastSeq + 1) {
      return { count, head, lastSeq, firstBadSeq: lastSeq + 1, problem: `sequence gap: expected ${lastSeq + 1}, found ${link.seq}` };
    }
    if (link.prevHash !== head) {
      return { count, head, lastSeq, firstBadSeq: link.seq, problem: 'previous hash does not match' };
    }
    const { prevHash: _p, hash, ...content } = link;
    if (eventHash(content, head) !== hash) {
      return { count, head, lastSeq, firstBadSeq: link.seq, problem: 'event content does not match its hash' };
    }
    lastSeq = link.seq;
    head = hash;
    count += 1;
  }
  return { count, head, lastSeq };
}
