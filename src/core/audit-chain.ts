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
 * The start every stored chain row has, whatever else it carries: what the walk checks the links
 * with. [seq, at, prevHash, hash, ...].
 */
type RowHead = readonly [seq: number, at: number, prevHash: string, hash: string, ...rest: unknown[]];

/** A chain row as the store holds it, details as the stored JSON text, unparsed. */
export type StoredChainRow = readonly [
  seq: number,
  at: number,
  prevHash: string,
  hash: string,
  id: string,
  type: string,
  actor: string,
  requestId: string | null,
  details: string | null,
  policyHash: string | null,
];

/**
 * A chain row with the text its hash covers, as the database builds it from the stored columns
 * (Store.readChainEventJson): hashing it is all that is left to do per row. The database quotes
 * every column with its own JSON string function and puts the details text in as it is: when
 * that quoting differs from JSON.stringify for some character, or the details were not stored
 * canonical, the hash does not match and the row is checked again from its columns.
 */
export type EventJsonRow = readonly [seq: number, at: number, prevHash: string, hash: string, eventJson: string];

/**
 * The details text the writer stores: the canonical JSON of the details as JSON sees them (so
 * what a reader parses back hashes the same), and null for none. Stored canonical, a row's hash
 * can be checked over the stored text itself, without parsing and re-serialising.
 */
export function storedDetails(details: unknown): string | null {
  if (details === undefined || details === null) return null;
  const text = JSON.stringify(details);
  return text === undefined ? null : canonicalJson(JSON.parse(text));
}

const J = JSON.stringify;

/** eventJson for a stored row, with its details text put in as it is. */
function rowJson(row: StoredChainRow, details: string): string {
  return `{"actor":${J(row[6])},"at":${J(row[1])},"details":${details},"id":${J(row[4])},"policyHash":${J(row[9])},"prevHash":${J(row[2])},"requestId":${J(row[7])},"seq":${J(row[0])},"type":${J(row[5])}}`;
}

/**
 * Does the row hash to its `hash`? First over the stored details text as it is (what the writer
 * stores is canonical, so this is the common case), then, for rows written before details were
 * stored canonical, over the canonical form of the parsed text. (The walk has already checked
 * that the row's prevHash is the head it follows.)
 *
 * Why a match over stored text is as strict as the definition: every member but details is one
 * complete JSON token (a JSON string escapes every quote inside it), and the members after the
 * details begin with `,"id":`, which the writer's canonical string holds outside a string at one
 * place only. So a text that hashes the same as the writer's (short of a SHA-256 collision) is
 * the writer's string, with the same details text and the same value in every column. The same
 * holds for the text the database builds (EventJsonRow).
 */
function rowHashMatches(row: StoredChainRow): boolean {
  const details = row[8];
  if (sha256Hex(rowJson(row, details ?? 'null')) === row[3]) return true;
  if (details === null) return false;
  let canonical: string;
  try {
    canonical = canonicalJson(JSON.parse(details));
  } catch {
    return false;
  }
  return canonical !== details && sha256Hex(rowJson(row, canonical)) === row[3];
}

/** What verifyEventJson adds: the walk stopped before a row whose built text did not match. */
export interface EventJsonProgress extends VerifyProgress {
  /** Check the rows from `lastSeq + 1` on from their columns (Store.readChainRows, verifyRows). */
  recheckFromColumns?: true;
}

/**
 * Checks stored rows (Store.readChainRows) in sequence order, continuing from a known good
 * point. Returns the first bad sequence number: a gap (deleted event), a prevHash that does not
 * match (reordered or inserted), a hash that does not match the content (edited), or a time
 * earlier than the previous link's (backdated). `timeOrderFrom`: links at or below this seq are
 * not held to time order (they were linked by a version that did not stamp it; see the 0006
 * migration).
 */
export function verifyRows(rows: Iterable<StoredChainRow>, from: ChainPoint, timeOrderFrom = 0): VerifyProgress {
  return walk(rows, rowHashMatches, from, timeOrderFrom);
}

/**
 * verifyRows over rows whose hashed text the database built. A row whose text does not hash to
 * its hash is not judged here: the walk stops before it with `recheckFromColumns`.
 */
export function verifyEventJson(rows: Iterable<EventJsonRow>, from: ChainPoint, timeOrderFrom = 0): EventJsonProgress {
  return walk(rows, (row) => sha256Hex(row[4]) === row[3], from, timeOrderFrom, true);
}

function walk<R extends RowHead>(rows: Iterable<R>, matches: (row: R) => boolean, from: ChainPoint, timeOrderFrom: number, recheck = false): EventJsonProgress {
  let { lastSeq, head, count } = from;
  let lastAt = from.lastAt ?? Number.NEGATIVE_INFINITY;
  for (const row of rows) {
    const seq = row[0];
    if (seq !== lastSeq + 1) {
      return { count, head, lastSeq, lastAt, firstBadSeq: lastSeq + 1, problem: `sequence gap: expected ${lastSeq + 1}, found ${seq}` };
    }
    if (row[2] !== head) {
      return { count, head, lastSeq, lastAt, firstBadSeq: seq, problem: 'previous hash does not match' };
    }
    if (!matches(row)) {
      if (recheck) return { count, head, lastSeq, lastAt, recheckFromColumns: true };
      return { count, head, lastSeq, lastAt, firstBadSeq: seq, problem: 'event content does not match its hash' };
    }
    const at = row[1];
    if (at < lastAt && seq > timeOrderFrom) {
      return {
        count,
        head,
        lastSeq,
        lastAt,
        firstBadSeq: seq,
        problem: `time goes backwards: at ${at} is earlier than ${lastAt} of seq ${lastSeq} (backdated)`,
      };
    }
    lastSeq = seq;
    head = row[3];
    lastAt = at;
    count += 1;
  }
  return { count, head, lastSeq, lastAt };
}
