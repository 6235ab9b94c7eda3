import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  GENESIS_HASH,
  canonicalJson,
  eventHash,
  sha256Hex,
  storedDetails,
  verifyEventJson,
  verifyRows,
  type EventJsonRow,
  type ChainPoint,
  type ChainedEventContent,
  type StoredChainLink,
  type StoredChainRow,
} from '../../src/core/audit-chain.js';
import { T0 } from '../support/builders.js';

const START = { lastSeq: 0, head: GENESIS_HASH, count: 0 };

function content(seq: number, overrides: Partial<ChainedEventContent> = {}): ChainedEventContent {
  return {
    seq,
    id: `evt-${seq}`,
    at: T0 + seq * 1000,
    type: seq % 2 ? 'request.submitted' : 'request.approved',
    actor: seq % 3 ? 'alice' : 'bob',
    requestId: seq % 4 ? `req-${Math.ceil(seq / 2)}` : null,
    details: { n: seq, tags: ['a', { b: seq }], nested: { z: 1, a: [1, [2, 3]] } },
    policyHash: seq % 5 ? 'ph-1' : null,
    ...overrides,
  };
}

/** Links `contents` onto `prevHash`, as the store does. */
function link(contents: ChainedEventContent[], prevHash = GENESIS_HASH): StoredChainLink[] {
  const out: StoredChainLink[] = [];
  let prev = prevHash;
  for (const c of contents) {
    const hash = eventHash(c, prev);
    out.push({ ...c, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

function chain(n: number): StoredChainLink[] {
  return link(Array.from({ length: n }, (_, i) => content(i + 1)));
}

/** The row a store holds for a link, details stored as the writer stores them (or as `details` says). */
function rowOf(l: StoredChainLink, details: string | null = storedDetails(l.details)): StoredChainRow {
  return [l.seq, l.at, l.prevHash, l.hash, l.id, l.type, l.actor, l.requestId, details, l.policyHash];
}

/** verifyRows over links, as the store would hand them back. */
function verify(links: Iterable<StoredChainLink>, from: ChainPoint, timeOrderFrom?: number) {
  return verifyRows(
    [...links].map((l) => rowOf(l)),
    from,
    timeOrderFrom,
  );
}

function at(links: StoredChainLink[], seq: number): StoredChainLink {
  const l = links.find((x) => x.seq === seq);
  if (!l) throw new Error(`no link ${seq}`);
  return l;
}

describe('canonicalJson', () => {
  it('is independent of key order, at every depth', () => {
    const a = { b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } };
    const b = { a: { c: 'x', d: [1, { x: 1, y: 2 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[1,{"x":1,"y":2}]},"b":1}');
  });

  it('keeps array order, including nested arrays', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson([[2, 1], [], [[{ b: 1, a: 2 }]]])).toBe('[[2,1],[],[[{"a":2,"b":1}]]]');
    expect(canonicalJson([1, [2, 3]])).not.toBe(canonicalJson([[1, 2], 3]));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });

  it('has no whitespace', () => {
    expect(canonicalJson({ a: [1, { b: 'c d' }] })).toBe('{"a":[1,{"b":"c d"}]}');
  });

  it('drops undefined members and writes undefined array items as null, as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson({ a: undefined })).toBe('{}');
  });

  it('writes primitives as JSON', () => {
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson(0)).toBe('0');
    expect(canonicalJson(-1.5)).toBe('-1.5');
    expect(canonicalJson(T0)).toBe(String(T0));
    expect(canonicalJson('a"b\\c\n')).toBe('"a\\"b\\\\c\\n"');
    expect(canonicalJson('ünïcödé ✓')).toBe('"ünïcödé ✓"');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
  });

  it('escapes keys and sorts them by code unit', () => {
    expect(canonicalJson({ 'b"': 1, a: 2, B: 3, é: 4, '': 5 })).toBe('{"":5,"B":3,"a":2,"b\\"":1,"é":4}');
    expect(canonicalJson({ 10: 'x', 9: 'y', a: 'z' })).toBe('{"10":"x","9":"y","a":"z"}');
  });

  it('gives the same text after a JSON round trip (what a store hands back)', () => {
    const values: unknown[] = [
      { type: 'x', details: { b: [1, undefined, { d: undefined, c: null }], a: 'é' }, skip: undefined },
      [{ z: [[]], y: {} }, 'str', 12.25, false],
      content(7),
    ];
    for (const v of values) expect(canonicalJson(JSON.parse(JSON.stringify(v)))).toBe(canonicalJson(v));
  });

  it('tells different values apart', () => {
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson({ a: null })).not.toBe(canonicalJson({}));
    expect(canonicalJson({ a: { b: 1 } })).not.toBe(canonicalJson({ 'a.b': 1 }));
  });
});

describe('eventHash', () => {
  it('is the SHA-256 of the canonical content with prevHash', () => {
    const c = content(1);
    const expected = createHash('sha256')
      .update(canonicalJson({ ...c, prevHash: GENESIS_HASH }))
      .digest('hex');
    expect(eventHash(c, GENESIS_HASH)).toBe(expected);
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(GENESIS_HASH).toMatch(/^0{64}$/);
  });

  it('does not depend on key order', () => {
    const c = content(2);
    const reversed = Object.fromEntries(Object.entries(c).reverse()) as unknown as ChainedEventContent;
    expect(eventHash(reversed, GENESIS_HASH)).toBe(eventHash(c, GENESIS_HASH));
  });

  it('covers every field and the previous hash', () => {
    const c = content(3);
    const base = eventHash(c, GENESIS_HASH);
    const edits: Partial<ChainedEventContent>[] = [
      { seq: 4 },
      { id: 'evt-x' },
      { at: c.at + 1 },
      { type: 'request.denied' },
      { actor: 'mallory' },
      { requestId: null },
      { requestId: 'req-other' },
      { details: { n: 3 } },
      { details: null },
      { policyHash: 'ph-2' },
      { policyHash: null },
    ];
    for (const edit of edits) expect(eventHash({ ...c, ...edit }, GENESIS_HASH), JSON.stringify(edit)).not.toBe(base);
    expect(eventHash(c, 'f'.repeat(64))).not.toBe(base);
  });
});

describe('verifyRows', () => {
  it('accepts an intact chain and reports its head', () => {
    const links = chain(10);
    expect(verify(links, START)).toEqual({ count: 10, head: at(links, 10).hash, lastSeq: 10, lastAt: at(links, 10).at });
  });

  it('accepts nothing to check', () => {
    expect(verify([], START)).toEqual({ ...START, lastAt: Number.NEGATIVE_INFINITY });
  });

  it('accepts any iterable, e.g. a generator', () => {
    const links = chain(4);
    function* gen() {
      yield* links;
    }
    expect(verify(gen(), START)).toMatchObject({ count: 4, lastSeq: 4 });
  });

  it('verifies links that went through JSON (as read back from a store)', () => {
    const links = JSON.parse(JSON.stringify(chain(6))) as StoredChainLink[];
    expect(verify(links, START).firstBadSeq).toBeUndefined();
  });

  describe('over the stored details text', () => {
    const OK = { count: 1, lastSeq: 1 };
    const one = () => link([content(1, { details: { z: 1, a: [2, { y: 'é', b: null }] } })])[0]!;

    it('hashes the canonical text the writer stores as it is', () => {
      const l = one();
      expect(storedDetails(l.details)).toBe(canonicalJson(l.details));
      expect(verifyRows([rowOf(l)], START)).toMatchObject(OK);
    });

    it('accepts text stored before details were stored canonical (key order, whitespace)', () => {
      const l = one();
      expect(verifyRows([rowOf(l, JSON.stringify(l.details))], START)).toMatchObject(OK);
      expect(verifyRows([rowOf(l, JSON.stringify(l.details, null, 2))], START)).toMatchObject(OK);
    });

    it('refuses edited, truncated or unparseable text, and text where there were no details', () => {
      const l = one();
      const bad = (details: string | null) => verifyRows([rowOf(l, details)], START).problem;
      const canonical = storedDetails(l.details)!;
      for (const text of [canonical.replace('"z":1', '"z":2'), canonical.slice(0, -1), `${canonical} x`, 'null', '', null]) {
        expect(bad(text), String(text)).toBe('event content does not match its hash');
      }
      const none = link([content(1, { details: null })])[0]!;
      expect(verifyRows([rowOf(none)], START)).toMatchObject(OK);
      expect(verifyRows([rowOf(none, '{}')], START).firstBadSeq).toBe(1);
    });

    it('encodes every other column, so content cannot move between columns', () => {
      const tricky = content(1, {
        id: 'evt-"1"',
        actor: 'a\\","at":1,"details":{}',
        type: 'x\u2028y',
        requestId: '},"id":"',
        details: { id: 'evt-1', s: '","id":"' },
      });
      const [l] = link([tricky]);
      expect(verifyRows([rowOf(l!)], START)).toMatchObject(OK);
      // The details text swallowing the id that follows it, and the id given up, is another event.
      const moved: StoredChainRow = [
        1,
        l!.at,
        l!.prevHash,
        l!.hash,
        '',
        l!.type,
        l!.actor,
        l!.requestId,
        `${storedDetails(l!.details)!.slice(0, -1)},"id":${JSON.stringify(l!.id)}}`,
        l!.policyHash,
      ];
      expect(verifyRows([moved], START).firstBadSeq).toBe(1);
    });
  });

  describe('detects an edited event', () => {
    it.each([
      ['details', { details: { n: 999 } }],
      ['type', { type: 'request.denied' }],
      ['actor', { actor: 'mallory' }],
      ['time', { at: T0 }],
      ['request', { requestId: 'req-other' }],
      ['policy hash', { policyHash: 'ph-forged' }],
      ['id', { id: 'evt-forged' }],
    ] as const)('%s', (_field, edit) => {
      const links = chain(10);
      const i = links.findIndex((l) => l.seq === 4);
      links[i] = { ...links[i]!, ...edit };
      expect(verify(links, START)).toEqual({
        count: 3,
        head: at(links, 3).hash,
        lastSeq: 3,
        lastAt: at(links, 3).at,
        firstBadSeq: 4,
        problem: 'event content does not match its hash',
      });
    });

    it('in the first and in the last event', () => {
      const first = chain(5);
      first[0] = { ...first[0]!, actor: 'mallory' };
      expect(verify(first, START)).toMatchObject({ firstBadSeq: 1, count: 0, head: GENESIS_HASH, lastSeq: 0 });
      const last = chain(5);
      last[4] = { ...last[4]!, details: {} };
      expect(verify(last, START)).toMatchObject({ firstBadSeq: 5, count: 4, lastSeq: 4 });
    });

    it('whose hash was recomputed: the next event no longer links to it', () => {
      const links = chain(10);
      const forged = { ...content(4), actor: 'mallory' };
      links[3] = { ...forged, prevHash: at(links, 3).hash, hash: eventHash(forged, at(links, 3).hash) };
      expect(verify(links, START)).toEqual({
        count: 4,
        head: links[3]!.hash,
        lastSeq: 4,
        lastAt: links[3]!.at,
        firstBadSeq: 5,
        problem: 'previous hash does not match',
      });
    });

    it('an edited prevHash', () => {
      const links = chain(10);
      links[6] = { ...links[6]!, prevHash: GENESIS_HASH };
      expect(verify(links, START)).toMatchObject({ firstBadSeq: 7, lastSeq: 6, problem: 'previous hash does not match' });
    });
  });

  describe('detects a deleted event', () => {
    it('in the middle, as a gap at its sequence number', () => {
      const links = chain(10).filter((l) => l.seq !== 4);
      expect(verify(links, START)).toEqual({
        count: 3,
        head: at(links, 3).hash,
        lastSeq: 3,
        lastAt: at(links, 3).at,
        firstBadSeq: 4,
        problem: 'sequence gap: expected 4, found 5',
      });
    });

    it('at the start', () => {
      expect(verify(chain(5).slice(1), START)).toMatchObject({ firstBadSeq: 1, count: 0, problem: 'sequence gap: expected 1, found 2' });
    });

    it('several in a row', () => {
      const links = chain(10).filter((l) => l.seq < 3 || l.seq > 6);
      expect(verify(links, START)).toMatchObject({ firstBadSeq: 3, lastSeq: 2, problem: 'sequence gap: expected 3, found 7' });
    });

    it('even when the later events are renumbered to hide the gap', () => {
      const links = chain(10)
        .filter((l) => l.seq !== 4)
        .map((l) => (l.seq > 4 ? { ...l, seq: l.seq - 1 } : l));
      expect(verify(links, START)).toMatchObject({ firstBadSeq: 4, lastSeq: 3, problem: 'previous hash does not match' });
    });

    it('but not at the tail: truncation needs a head pinned elsewhere', () => {
      const full = chain(10);
      const truncated = verify(full.slice(0, 8), START);
      expect(truncated.firstBadSeq).toBeUndefined();
      expect(truncated.head).not.toBe(verify(full, START).head);
    });
  });

  describe('detects reordered events', () => {
    it('swapped with their sequence numbers', () => {
      const links = chain(10);
      [links[3], links[4]] = [links[4]!, links[3]!];
      expect(verify(links, START)).toMatchObject({ firstBadSeq: 4, lastSeq: 3, problem: 'sequence gap: expected 4, found 5' });
    });

    it('swapped and renumbered into order', () => {
      const links = chain(10);
      const four = links[3]!;
      const five = links[4]!;
      links[3] = { ...five, seq: 4 };
      links[4] = { ...four, seq: 5 };
      expect(verify(links, START)).toMatchObject({ firstBadSeq: 4, lastSeq: 3, problem: 'previous hash does not match' });
    });

    it('contents swapped, links kept', () => {
      const links = chain(10);
      const four = links[3]!;
      const five = links[4]!;
      links[3] = { ...four, details: five.details, type: five.type };
      links[4] = { ...five, details: four.details, type: four.type };
      expect(verify(links, START)).toMatchObject({ firstBadSeq: 4, problem: 'event content does not match its hash' });
    });
  });

  describe('detects an inserted event', () => {
    it('with a made-up hash, at its own sequence number', () => {
      const links = chain(10);
      const fake: StoredChainLink = { ...content(4, { actor: 'mallory' }), prevHash: at(links, 3).hash, hash: 'f'.repeat(64) };
      const tampered = [...links.slice(0, 3), fake, ...links.slice(3).map((l) => ({ ...l, seq: l.seq + 1 }))];
      expect(verify(tampered, START)).toMatchObject({ firstBadSeq: 4, lastSeq: 3, problem: 'event content does not match its hash' });
    });

    it('correctly hashed onto its predecessor: the event after it no longer links', () => {
      const links = chain(10);
      const extra = content(4, { id: 'evt-extra', actor: 'mallory' });
      const fake: StoredChainLink = { ...extra, prevHash: at(links, 3).hash, hash: eventHash(extra, at(links, 3).hash) };
      const tampered = [...links.slice(0, 3), fake, ...links.slice(3).map((l) => ({ ...l, seq: l.seq + 1 }))];
      expect(verify(tampered, START)).toEqual({
        count: 4,
        head: fake.hash,
        lastSeq: 4,
        lastAt: fake.at,
        firstBadSeq: 5,
        problem: 'previous hash does not match',
      });
    });

    it('with a duplicate sequence number', () => {
      const links = chain(10);
      const extra = content(4, { id: 'evt-extra' });
      const fake: StoredChainLink = { ...extra, prevHash: at(links, 3).hash, hash: eventHash(extra, at(links, 3).hash) };
      const tampered = [...links.slice(0, 3), fake, ...links.slice(3)];
      expect(verify(tampered, START)).toMatchObject({ firstBadSeq: 5, lastSeq: 4, problem: 'sequence gap: expected 5, found 4' });
    });
  });

  describe('detects time going backwards', () => {
    it('in a correctly hashed link (a backdated forgery at the tail)', () => {
      const contents = Array.from({ length: 6 }, (_, i) => content(i + 1));
      contents[5] = content(6, { at: contents[4]!.at - 1, type: 'request.approved', actor: 'mallory' });
      const links = link(contents);
      expect(verify(links, START)).toEqual({
        count: 5,
        head: at(links, 5).hash,
        lastSeq: 5,
        lastAt: at(links, 5).at,
        firstBadSeq: 6,
        problem: `time goes backwards: at ${at(links, 5).at - 1} is earlier than ${at(links, 5).at} of seq 5 (backdated)`,
      });
    });

    it('but accepts equal times, and skips links at or below timeOrderFrom (linked by the previous version)', () => {
      const contents = Array.from({ length: 6 }, (_, i) => content(i + 1));
      contents[2] = content(3, { at: contents[1]!.at });
      contents[3] = content(4, { at: T0 });
      const links = link(contents);
      expect(verify(links, START)).toMatchObject({ firstBadSeq: 4, problem: expect.stringMatching(/^time goes backwards/) });
      expect(verify(links, START, 4).firstBadSeq).toBeUndefined();
      expect(verify(links, START, 3).firstBadSeq).toBe(4);
    });
  });

  describe('continuing from a checkpoint', () => {
    it('gives the same result as verifying from the start', () => {
      const links = chain(12);
      const whole = verify(links, START);
      const checkpoint = verify(links.slice(0, 5), START);
      expect(checkpoint).toEqual({ count: 5, head: at(links, 5).hash, lastSeq: 5, lastAt: at(links, 5).at });
      expect(verify(links.slice(5), checkpoint)).toEqual(whole);
    });

    it('page by page', () => {
      const links = chain(20);
      let progress = { ...START };
      for (let i = 0; i < links.length; i += 3) progress = verify(links.slice(i, i + 3), progress);
      expect(progress).toEqual(verify(links, START));
    });

    it('reports the first bad sequence number past the checkpoint', () => {
      const links = chain(12);
      links[8] = { ...links[8]!, actor: 'mallory' };
      const checkpoint = { count: 6, head: at(links, 6).hash, lastSeq: 6 };
      expect(verify(links.slice(6), checkpoint)).toMatchObject({ firstBadSeq: 9, count: 8, lastSeq: 8, head: at(links, 8).hash });
    });

    it('refuses links that do not follow on from the checkpoint head', () => {
      const links = chain(12);
      const wrongHead = { count: 6, head: at(links, 5).hash, lastSeq: 6 };
      expect(verify(links.slice(6), wrongHead)).toMatchObject({ firstBadSeq: 7, problem: 'previous hash does not match' });
    });

    it('refuses links that do not start right after the checkpoint', () => {
      const links = chain(12);
      const checkpoint = { count: 6, head: at(links, 6).hash, lastSeq: 6 };
      expect(verify(links.slice(7), checkpoint)).toMatchObject({ firstBadSeq: 7, problem: 'sequence gap: expected 7, found 8' });
      expect(verify(links.slice(5), checkpoint)).toMatchObject({ firstBadSeq: 7, problem: 'sequence gap: expected 7, found 6' });
    });

    it('holds the first link after the checkpoint to the checkpoint time', () => {
      const links = chain(12);
      const checkpoint = { count: 6, head: at(links, 6).hash, lastSeq: 6, lastAt: at(links, 7).at + 1 };
      expect(verify(links.slice(6), checkpoint)).toMatchObject({ firstBadSeq: 7, problem: expect.stringMatching(/^time goes backwards/) });
    });

    it('keeps counting from the checkpoint count', () => {
      const links = link([content(101), content(102)], 'a'.repeat(64));
      expect(verify(links, { count: 100, head: 'a'.repeat(64), lastSeq: 100 })).toEqual({
        count: 102,
        head: links[1]!.hash,
        lastSeq: 102,
        lastAt: links[1]!.at,
      });
    });
  });
});

describe('verifyEventJson', () => {
  /** The row with the text its hash covers, as the database builds it. */
  const built = (l: StoredChainLink, text?: string): EventJsonRow => {
    const { hash: _h, ...content } = l;
    return [l.seq, l.at, l.prevHash, l.hash, text ?? canonicalJson(content)];
  };

  it('accepts the text each hash covers, as verifyRows does', () => {
    const links = chain(8);
    expect(
      verifyEventJson(
        links.map((l) => built(l)),
        START,
      ),
    ).toEqual(verify(links, START));
  });

  it('stops before a row whose text does not hash to its hash, for it to be checked from its columns', () => {
    const links = chain(8);
    const rows = links.map((l) => built(l));
    rows[4] = built(links[4]!, canonicalJson({ ...links[4]!, hash: undefined, actor: 'mallory' }));
    expect(verifyEventJson(rows, START)).toEqual({ count: 4, head: at(links, 4).hash, lastSeq: 4, lastAt: at(links, 4).at, recheckFromColumns: true });
  });

  it('still fails gaps, broken links and backdated rows itself', () => {
    const links = chain(8);
    const rows = links.map((l) => built(l));
    expect(
      verifyEventJson(
        rows.filter((r) => r[0] !== 3),
        START,
      ),
    ).toMatchObject({ firstBadSeq: 3, problem: 'sequence gap: expected 3, found 4' });
    const relinked = [...rows];
    relinked[5] = [6, rows[5]![1], GENESIS_HASH, rows[5]![3], rows[5]![4]];
    expect(verifyEventJson(relinked, START)).toMatchObject({ firstBadSeq: 6, problem: 'previous hash does not match' });
    const contents = Array.from({ length: 4 }, (_, i) => content(i + 1));
    contents[3] = content(4, { at: contents[2]!.at - 1 });
    expect(
      verifyEventJson(
        link(contents).map((l) => built(l)),
        START,
      ),
    ).toMatchObject({ firstBadSeq: 4, problem: expect.stringMatching(/^time goes backwards/) });
  });
});
