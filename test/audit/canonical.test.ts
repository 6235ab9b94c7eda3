/**
 * The hashing fast paths (canonicalJson loops, eventHash without a copy, verifyRows hashing
 * the stored details text as it is)
 * must give exactly what the straightforward definitions give, or old chains stop verifying.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  eventHash,
  GENESIS_HASH,
  storedDetails,
  verifyRows,
  type ChainedEventContent,
  type StoredChainRow,
} from '../../src/core/audit-chain.js';

/** The definition, as first written. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : reference(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
}
const referenceHash = (content: object, prevHash: string) =>
  createHash('sha256')
    .update(reference({ ...content, prevHash }))
    .digest('hex');

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const KEYS = ['a', 'b', 'Z', 'é', '10', '2', '', 'key with space', '"q"', 'emoji😀', 'aa', 'a\u0000'];
const STRINGS = ['', 'plain', 'with "quotes"', 'line\nbreak', 'tab\t', 'ünïcode', '\u2028', '😀', '\ud800', '</script>'];

function randomValue(rnd: () => number, depth = 0): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.35) {
    const p = rnd();
    if (p < 0.2) return STRINGS[Math.floor(rnd() * STRINGS.length)];
    if (p < 0.4) return Math.floor(rnd() * 1e6) - 5e5;
    if (p < 0.5) return rnd() * 1e-3;
    if (p < 0.6) return [Number.NaN, Infinity, -0, 1e21, 2 ** 53][Math.floor(rnd() * 5)];
    if (p < 0.7) return rnd() < 0.5;
    if (p < 0.8) return null;
    return undefined;
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 5) }, () => randomValue(rnd, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rnd() * 6); i > 0; i--) o[KEYS[Math.floor(rnd() * KEYS.length)]!] = randomValue(rnd, depth + 1);
  return o;
}

describe('canonical JSON and hashes, fast paths against the definition', () => {
  it('canonicalJson equals the reference on 5000 random values', () => {
    const rnd = prng(42);
    for (let i = 0; i < 5000; i++) {
      const v = randomValue(rnd);
      expect(canonicalJson(v)).toBe(reference(v));
    }
    const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
    expect(canonicalJson(sparse)).toBe(reference(sparse));
    expect(canonicalJson(new Date(0))).toBe(reference(new Date(0)));
  });

  it('eventHash equals the reference, with missing, undefined and extra members', () => {
    const rnd = prng(7);
    for (let i = 0; i < 2000; i++) {
      const content: Record<string, unknown> = {
        seq: i + 1,
        id: `evt-${i}`,
        at: 1_767_607_200_000 + i,
        type: 'request.submitted',
        actor: STRINGS[i % STRINGS.length],
        requestId: i % 3 ? `req-${i}` : null,
        details: randomValue(rnd),
        policyHash: i % 4 ? 'ph' : null,
      };
      if (i % 7 === 0) content.requestId = undefined;
      if (i % 11 === 0) delete content.details;
      if (i % 13 === 0) content.extra = { z: 1, a: [2] };
      if (i % 17 === 0) content.prevHash = 'ignored: the argument wins';
      const prev = i % 2 ? GENESIS_HASH : 'f'.repeat(64);
      expect(eventHash(content as unknown as ChainedEventContent, prev)).toBe(referenceHash(content, prev));
    }
  });

  it('verifyRows accepts a stored row exactly when the reference hash of its content matches', () => {
    const rnd = prng(11);
    const start = { lastSeq: 0, head: GENESIS_HASH, count: 0 };
    for (let i = 0; i < 2000; i++) {
      const text = storedDetails(randomValue(rnd));
      // What the writer links: the details as they read back from the stored text.
      const content = {
        seq: 1,
        id: STRINGS[i % STRINGS.length]!,
        at: 1_767_607_200_000 + i,
        type: STRINGS[(i + 3) % STRINGS.length]!,
        actor: STRINGS[(i + 5) % STRINGS.length]!,
        requestId: i % 3 ? `req-${STRINGS[i % STRINGS.length]}` : null,
        details: text === null ? null : (JSON.parse(text) as unknown),
        policyHash: i % 4 ? 'ph' : null,
      };
      const hash = referenceHash(content, GENESIS_HASH);
      const row = (details: string | null, h = hash): StoredChainRow => [
        1,
        content.at,
        GENESIS_HASH,
        h,
        content.id,
        content.type,
        content.actor,
        content.requestId,
        details,
        content.policyHash,
      ];
      expect(verifyRows([row(text)], start).firstBadSeq, text ?? 'null').toBeUndefined();
      if (text !== null) expect(verifyRows([row(JSON.stringify(JSON.parse(text), null, 1))], start).firstBadSeq).toBeUndefined();
      expect(verifyRows([row(text, referenceHash({ ...content, actor: `${content.actor}x` }, GENESIS_HASH))], start).firstBadSeq).toBe(1);
    }
  });
});
