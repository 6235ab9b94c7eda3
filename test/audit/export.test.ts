/** GET /v1/audit/export: JSON Lines and CSV that read back to the events, filters, and streaming with backpressure. */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CSV_COLUMNS, csvField } from '../../src/http/routes/audit-export.js';
import { auditEventResponse } from '../../src/http/responses.js';
import { createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { policiesYaml } from '../fixtures/policies.js';
import { ndjson, parseCsv, seedEvents } from './helpers.js';

type H = Awaited<ReturnType<typeof createHttpHarness>>;
let h: H;
let handle: StoreHandle;

beforeEach(async () => {
  handle = await freshStoreUrl('sqlite');
  h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: handle.url });
});
afterEach(async () => {
  await h.close();
  await handle.cleanup();
});

const exportRaw = (query: string, who = 'auditor') =>
  h.server.inject({ method: 'GET', url: `/v1/audit/export${query}`, headers: { authorization: `Bearer ${token(who)}` } });

/** Every event through the paged JSON API, for comparison. */
async function allEvents(query = ''): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const sep: string = query ? '&' : '?';
    const page: any = (await h.call('GET', `/v1/audit${query}${sep}limit=1000${cursor ? `&cursor=${cursor}` : ''}`, token('auditor'))).body;
    out.push(...page.events);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

function csvToEvents(text: string) {
  const [header, ...rows] = parseCsv(text);
  expect(header).toEqual([...CSV_COLUMNS]);
  return rows.map((r) => {
    const o = Object.fromEntries(header!.map((k, i) => [k, r[i]!]));
    return {
      id: o.id,
      seq: o.seq === '' ? null : Number(o.seq),
      at: o.at,
      type: o.type,
      actor: o.actor,
      requestId: o.requestId === '' ? null : o.requestId,
      details: o.details === '' ? null : JSON.parse(o.details!),
      policyHash: o.policyHash === '' ? null : o.policyHash,
      prevHash: o.prevHash === '' ? null : o.prevHash,
      hash: o.hash === '' ? null : o.hash,
    };
  });
}

describe('audit export', () => {
  beforeEach(async () => {
    // Real events through the API, plus seeded ones with awkward details (quotes, commas, newlines).
    for (let i = 0; i < 3; i++) await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h', reason: `r,"${i}"\n` });
    h.clock.advance(60_000);
    await seedEvents(h, 25, (i) => (i === 3 ? { details: undefined, requestId: undefined } : {}));
  });

  it('JSON Lines equal the events of GET /v1/audit, oldest first, with a file name', async () => {
    const res = await exportRaw('');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="hourglass-audit-\d{8}T\d{6}Z\.jsonl"$/);
    const lines = ndjson(res.body);
    for (const l of lines) auditEventResponse.parse(l);
    const events = await allEvents();
    expect(events).toHaveLength(31);
    expect(lines).toEqual(events);
    expect(lines.map((e) => e.seq)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
  });

  it('CSV has a header row, RFC 4180 quoting and details as JSON, and reads back to the events', async () => {
    const res = await exportRaw('?format=csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/filename="hourglass-audit-\d{8}T\d{6}Z\.csv"/);
    expect(res.body.startsWith('seq,id,at,type,actor,requestId,policyHash,prevHash,hash,details\r\n')).toBe(true);
    expect(res.body).toContain('"{""entitlements"":[""db/read""],""n"":5,""reason"":""a \\""quoted\\"", comma\\nand newline, ünïcode""');
    expect(csvToEvents(res.body)).toEqual(await allEvents());
  });

  it('applies the filters of GET /v1/audit', async () => {
    const events = await allEvents();
    const rid = events[0].requestId as string;
    const cases: [string, (e: any) => boolean][] = [
      [`?requestId=${rid}`, (e) => e.requestId === rid],
      ['?actor=bob', (e) => e.actor === 'bob'],
      ['?type=grant.*', (e) => e.type.startsWith('grant.')],
      ['?type=request.submitted&actor=alice', (e) => e.type === 'request.submitted' && e.actor === 'alice'],
      [`?since=${new Date(h.clock.now()).toISOString()}`, (e) => Date.parse(e.at) >= h.clock.now()],
      [`?until=${new Date(h.clock.now()).toISOString()}`, (e) => Date.parse(e.at) < h.clock.now()],
    ];
    for (const [q, keep] of cases) {
      const expected = events.filter(keep);
      expect(expected.length, q).toBeGreaterThan(0);
      expect(expected.length, q).toBeLessThan(events.length);
      expect(ndjson((await exportRaw(q)).body), q).toEqual(expected);
      expect(csvToEvents((await exportRaw(`${q}&format=csv`)).body), q).toEqual(expected);
    }
    expect(ndjson((await exportRaw('?actor=nobody')).body)).toEqual([]);
    expect(parseCsv((await exportRaw('?actor=nobody&format=csv')).body)).toEqual([[...CSV_COLUMNS]]);
  });

  it('is for auditors and admins; bad queries are 400 before anything is streamed', async () => {
    expect((await exportRaw('', 'alice')).statusCode).toBe(403);
    expect((await exportRaw('', 'admin')).statusCode).toBe(200);
    expect((await h.server.inject({ method: 'GET', url: '/v1/audit/export' })).statusCode).toBe(401);
    for (const q of ['?format=xml', '?since=yesterday', '?limit=5', '?a=b']) {
      const res = await exportRaw(q);
      expect(res.statusCode, q).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe('HG_INVALID_INPUT');
    }
  });
});

describe('CSV fields', () => {
  it('quote commas, quotes, CR and LF, and leave the rest alone', () => {
    expect(csvField(null)).toBe('');
    expect(csvField(12)).toBe('12');
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(parseCsv(`${['a,b', 'say "hi"', 'two\r\nlines', ''].map(csvField).join(',')}\r\n`)).toEqual([['a,b', 'say "hi"', 'two\r\nlines', '']]);
  });
});

describe('a large export', () => {
  it('streams 40k events page by page, fetching more only as the client reads', async () => {
    const N = 40_000;
    await seedEvents(h, N);
    const store = h.app.deps.store as unknown as { listAudit: (...a: unknown[]) => Promise<unknown> };
    const original = store.listAudit.bind(store);
    let pagesRead = 0;
    store.listAudit = (...a: unknown[]) => {
      pagesRead += 1;
      return original(...a);
    };
    const address = (await h.server.listen({ host: '127.0.0.1', port: 0 })) as string;
    const url = new URL('/v1/audit/export', address);

    const result = await new Promise<{ headers: http.IncomingHttpHeaders; chunks: number; text: string; pagesWhilePaused: number[] }>((resolve, reject) => {
      const req = http.get(url, { headers: { authorization: `Bearer ${token('auditor')}` } }, (res) => {
        const parts: Buffer[] = [];
        let chunks = 0;
        let paused = false;
        const pagesWhilePaused: number[] = [];
        res.on('data', (c: Buffer) => {
          parts.push(c);
          chunks += 1;
          if (!paused) {
            // Stop reading for a while: once the buffers between us are full, the server must stop too.
            paused = true;
            res.pause();
            setTimeout(() => pagesWhilePaused.push(pagesRead), 400);
            setTimeout(() => {
              pagesWhilePaused.push(pagesRead);
              res.resume();
            }, 1000);
          }
        });
        res.on('end', () => resolve({ headers: res.headers, chunks, text: Buffer.concat(parts).toString('utf8'), pagesWhilePaused }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });

    expect(result.headers['transfer-encoding']).toBe('chunked');
    expect(result.headers['content-length']).toBeUndefined();
    // While the client did not read, the server stopped reading pages (21 in all): socket and
    // stream buffers hold a few pages, never the whole export.
    const [early, late] = result.pagesWhilePaused;
    expect(late).toBe(early);
    expect(late).toBeLessThan(10);
    expect(pagesRead).toBeGreaterThanOrEqual(N / 2000);
    expect(result.chunks).toBeGreaterThan(10);
    const lines = result.text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(N);
    expect(JSON.parse(lines[0]!).seq).toBe(1);
    expect(JSON.parse(lines.at(-1)!).seq).toBe(N);
    expect(new Set(lines.map((l) => JSON.parse(l).id)).size).toBe(N);
  }, 120_000);
});
