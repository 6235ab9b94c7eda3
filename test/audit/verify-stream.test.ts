/** GET /v1/audit/verify/stream: NDJSON progress, then the result GET /v1/audit/verify gives. */
import http from 'node:http';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyStreamLine } from '../../src/http/routes/audit-export.js';
import { createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { policiesYaml } from '../fixtures/policies.js';
import { ndjson, seedEvents } from './helpers.js';

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

const stream = async (query = '', who = 'auditor') => {
  const res = await h.server.inject({ method: 'GET', url: `/v1/audit/verify/stream${query}`, headers: { authorization: `Bearer ${token(who)}` } });
  return { status: res.statusCode, headers: res.headers, text: res.body };
};

describe('verification with progress', () => {
  it('streams progress lines every N events, then the same result as /v1/audit/verify', async () => {
    await seedEvents(h, 12_345);
    const res = await stream('?every=5000');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const lines = ndjson(res.text);
    for (const l of lines) verifyStreamLine.parse(l);
    expect(lines.slice(0, -1)).toEqual([{ progress: { count: 5000, lastSeq: 5000 } }, { progress: { count: 10_000, lastSeq: 10_000 } }]);
    const plain = (await h.call('GET', '/v1/audit/verify', token('auditor'))).body;
    expect(plain).toMatchObject({ ok: true, count: 12_345 });
    expect(lines.at(-1)).toEqual({ result: plain });
  });

  it('reports a broken chain in the result line, and honours expectHead', async () => {
    await seedEvents(h, 3000);
    const head = (await h.call('GET', '/v1/audit/head', token('auditor'))).body.head as string;
    expect(ndjson((await stream(`?expectHead=${head}`)).text).at(-1)).toMatchObject({ result: { ok: true, count: 3000, head } });
    await sql`UPDATE audit_events SET actor = 'mallory' WHERE seq = 2500`.execute(h.store.db);
    const lines = ndjson((await stream('?every=1000')).text);
    expect(lines.at(-1)).toEqual({ result: expect.objectContaining({ ok: false, firstBadSeq: 2500, count: 2499 }) });
    expect(lines.filter((l) => l.progress)).toEqual([]); // the first page (5000 links) already holds the bad one

    await sql`DELETE FROM audit_events WHERE seq > 2000`.execute(h.store.db);
    const truncated = ndjson((await stream(`?expectHead=${head}`)).text).at(-1);
    expect(truncated.result).toMatchObject({ ok: false, firstBadSeq: 2001, problem: expect.stringMatching(/truncated/) });
  });

  it('answers an empty log, refuses non-auditors and bad input with plain JSON errors', async () => {
    expect(ndjson((await stream()).text)).toEqual([{ result: { ok: true, count: 0, head: null, unchained: 0 } }]);
    const forbidden = await stream('', 'alice');
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.text).error.code).toBe('HG_FORBIDDEN');
    for (const q of ['?expectHead=nonsense', '?every=10', '?progress=maybe']) {
      const bad = await stream(q);
      expect(bad.status, q).toBe(400);
      expect(JSON.parse(bad.text).error.code).toBe('HG_INVALID_INPUT');
    }
  });

  it('sends progress as it goes, over a real connection', async () => {
    await seedEvents(h, 30_000);
    const address = (await h.server.listen({ host: '127.0.0.1', port: 0 })) as string;
    const chunks = await new Promise<string[]>((resolve, reject) => {
      http
        .get(new URL('/v1/audit/verify/stream?every=5000', address), { headers: { authorization: `Bearer ${token('auditor')}` } }, (res) => {
          const got: string[] = [];
          res.setEncoding('utf8');
          res.on('data', (c: string) => got.push(c));
          res.on('end', () => resolve(got));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(chunks.length).toBeGreaterThan(1);
    const lines = ndjson(chunks.join(''));
    expect(lines.filter((l) => l.progress).map((l) => l.progress.count)).toEqual([5000, 10_000, 15_000, 20_000, 25_000, 30_000]);
    expect(lines.at(-1).result).toMatchObject({ ok: true, count: 30_000 });
  }, 60_000);
});
