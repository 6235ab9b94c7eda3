/**
 * Signed checkpoints: signed every N events and on an interval, shipped to a file and a real HTTP
 * receiver, verified against the chain. The key property: a rewrite of the whole database that
 * recomputes every hash passes plain verification but fails against checkpoints kept outside.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadCheckpointKey } from '../../src/adapters/checkpoint-key.js';
import { signatureHeader } from '../../src/adapters/outbound/signed-post.js';
import { createCheckpointWorker } from '../../src/adapters/store/checkpoint-store.js';
import { checkpointKeyId, checkpointMessage, parseCheckpointLines, verifyCheckpointSignature, type CheckpointLine } from '../../src/app/checkpoints.js';
import type { KyselyStore } from '../../src/adapters/store/kysely-store.js';
import { eventHash, GENESIS_HASH } from '../../src/core/audit-chain.js';
import { createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { policiesYaml } from '../fixtures/policies.js';
import { seedEvents } from './helpers.js';

const SECRET = 'checkpoint-secret-0123456789';

/** A real HTTP receiver that checks the HMAC signature and can be told to fail. */
async function startReceiver() {
  const received: { line: CheckpointLine; signed: boolean; event: string | undefined }[] = [];
  let failWith = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (failWith) {
        res.statusCode = failWith;
        return res.end();
      }
      const ts = Number(req.headers['hourglass-timestamp']);
      received.push({
        line: JSON.parse(body) as CheckpointLine,
        signed: req.headers['hourglass-signature'] === signatureHeader(SECRET, ts, body),
        event: req.headers['hourglass-event'] as string | undefined,
      });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/checkpoints`,
    received,
    fail(status: number) {
      failWith = status;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function checkpointYaml(dir: string, opts: { every?: number; interval?: string | 0; webhook?: string; file?: boolean; keyLines?: string } = {}) {
  const lines = [
    'audit:',
    '  checkpoints:',
    `    every: ${opts.every ?? 10}`,
    `    interval: ${opts.interval ?? 0}`,
    opts.keyLines ?? `    keyFile: ${join(dir, 'keys', 'signing.pem')}\n    generateKey: true`,
    ...(opts.file === false ? [] : [`    file: ${join(dir, 'out', 'checkpoints.jsonl')}`]),
    ...(opts.webhook ? [`    webhook: { url: "${opts.webhook}", secret: ${SECRET} }`] : []),
  ];
  return policiesYaml().replace('  store: "sqlite::memory:"', '  store: "sqlite::memory:"\n  allowedHosts: ["127.0.0.1"]') + lines.join('\n') + '\n';
}

const fileLines = (dir: string) => {
  const path = join(dir, 'out', 'checkpoints.jsonl');
  return existsSync(path) ? parseCheckpointLines(readFileSync(path, 'utf8')) : [];
};

/** What someone who can write the whole database does: edit an event and recompute every hash after it. */
async function rewriteConsistently(store: KyselyStore, seq: number) {
  await sql`UPDATE audit_events SET actor = 'mallory' WHERE seq = ${seq}`.execute(store.db);
  let prev = seq === 1 ? GENESIS_HASH : (await store.readChain(seq - 1, 1))[0]!.hash;
  for (const l of await store.readChain(seq, 1_000_000)) {
    const hash = eventHash(
      { seq: l.seq, id: l.id, at: l.at, type: l.type, actor: l.actor, requestId: l.requestId, details: l.details, policyHash: l.policyHash },
      prev,
    );
    await sql`UPDATE audit_events SET prev_hash = ${prev}, hash = ${hash} WHERE seq = ${l.seq}`.execute(store.db);
    prev = hash;
  }
}

type H = Awaited<ReturnType<typeof createHttpHarness>>;

describe('signed checkpoints (SQLite)', () => {
  let h: H;
  let handle: StoreHandle;
  let dir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  const open = async (yaml: string) => {
    h = await createHttpHarness({ yaml, storeUrl: handle.url });
    return createCheckpointWorker(h.app.deps, h.stores.checkpoints, { cwd: dir });
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hg-cp-'));
    handle = await freshStoreUrl('sqlite');
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await h?.close();
    await handle.cleanup();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs the head every N events and ships each checkpoint to the file and the webhook', async () => {
    const worker = await open(checkpointYaml(dir, { every: 10, webhook: receiver.url }));
    await worker.runOnce();
    expect(fileLines(dir)).toEqual([]); // nothing chained yet: nothing to sign

    await seedEvents(h, 25);
    await worker.runOnce();
    await seedEvents(h, 5);
    await worker.runOnce(); // 5 new: not yet
    await seedEvents(h, 5);
    await worker.runOnce();
    await worker.runOnce(); // nothing new

    const lines = fileLines(dir);
    expect(lines.map((l) => l.seq)).toEqual([25, 35]);
    expect(receiver.received.map((r) => r.line)).toEqual(lines);
    expect(receiver.received.every((r) => r.signed && r.event === 'audit.checkpoint')).toBe(true);

    const key = (await h.call('GET', '/v1/audit/public-key', token('auditor'))).body;
    expect(key).toMatchObject({ keyId: expect.stringMatching(/^[0-9a-f]{16}$/), algorithm: 'Ed25519' });
    expect(checkpointKeyId(key.publicKey)).toBe(key.keyId);
    for (const line of lines) {
      expect(line).toMatchObject({ keyId: key.keyId, publicKey: key.publicKey, at: new Date(h.clock.now()).toISOString() });
      expect(verifyCheckpointSignature(line, key.publicKey)).toEqual({ ok: true, keyId: key.keyId });
      const [link] = await h.store.readChain(line.seq, 1);
      expect(line.hash).toBe(link!.hash);
    }

    const listed = (await h.call('GET', '/v1/audit/checkpoints?limit=1', token('auditor'))).body;
    expect(listed.checkpoints).toHaveLength(1);
    expect(listed.checkpoints[0]).toMatchObject({ seq: 25, hash: lines[0]!.hash, signature: lines[0]!.signature, publicKey: key.publicKey });
    expect(Object.keys(listed.checkpoints[0].shipped).sort()).toEqual(['file', 'webhook']);
    const rest = (await h.call('GET', `/v1/audit/checkpoints?limit=1&cursor=${listed.nextCursor}`, token('admin'))).body;
    expect(rest.checkpoints.map((c: { seq: number }) => c.seq)).toEqual([35]);
    expect((await h.call('GET', `/v1/audit/checkpoints?limit=5&cursor=35`, token('admin'))).body).toEqual({ checkpoints: [], nextCursor: null });
    expect((await h.call('GET', '/v1/audit/checkpoints', token('alice'))).status).toBe(403);
    expect((await h.call('GET', '/v1/audit/public-key', token('alice'))).status).toBe(403);
    // The newest, without paging: what the web UI's chain status shows.
    const latest = (await h.call('GET', '/v1/audit/checkpoints/latest', token('auditor'))).body;
    expect(latest).toEqual({ configured: true, keyId: key.keyId, checkpoint: rest.checkpoints[0] });
    expect((await h.call('GET', '/v1/audit/checkpoints/latest', token('alice'))).status).toBe(403);
  });

  it('signs on the interval while events arrive, and not when none do', async () => {
    const worker = await open(checkpointYaml(dir, { every: 1000, interval: '1m' }));
    await seedEvents(h, 3);
    await worker.runOnce(); // the interval starts now
    h.clock.advance(59_000);
    await worker.runOnce();
    expect(fileLines(dir)).toEqual([]);
    h.clock.advance(1000);
    await worker.runOnce();
    expect(fileLines(dir).map((l) => l.seq)).toEqual([3]);

    h.clock.advance(10 * 60_000); // quiet: no new events, no checkpoint
    await worker.runOnce();
    expect(fileLines(dir)).toHaveLength(1);

    await seedEvents(h, 2); // the last checkpoint is older than the interval: signed on this pass
    await worker.runOnce();
    await seedEvents(h, 2);
    h.clock.advance(30_000);
    await worker.runOnce(); // within the interval of the last one
    h.clock.advance(30_000);
    await worker.runOnce();
    expect(fileLines(dir).map((l) => [l.seq, l.at])).toEqual([
      [3, new Date(h.clock.now() - 11 * 60_000).toISOString()],
      [5, new Date(h.clock.now() - 60_000).toISOString()],
      [7, new Date(h.clock.now()).toISOString()],
    ]);
  });

  it('flush signs a final checkpoint only when events arrived since the last one', async () => {
    const worker = await open(checkpointYaml(dir, { every: 1000 }));
    expect(await worker.flush()).toBeUndefined();
    await seedEvents(h, 4);
    await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'], duration: '1h' }); // unchained yet
    const last = await worker.flush();
    expect(last).toMatchObject({ seq: 6 });
    expect(await worker.flush()).toBeUndefined();
    expect(fileLines(dir).map((l) => l.seq)).toEqual([6]);
  });

  it('a consistent rewrite of the database passes plain verification but fails against the checkpoints', async () => {
    const worker = await open(checkpointYaml(dir, { every: 10 }));
    for (let i = 0; i < 4; i++) {
      await seedEvents(h, 10);
      await worker.runOnce();
    }
    const shipped = fileLines(dir);
    expect(shipped.map((l) => l.seq)).toEqual([10, 20, 30, 40]);

    const honest = (await h.call('POST', '/v1/audit/verify/checkpoints', token('auditor'), { checkpoints: shipped })).body;
    expect(honest).toMatchObject({ ok: true, checked: 4, failures: [], chain: { ok: true, count: 40 } });
    expect(honest.keys).toEqual([{ keyId: shipped[0]!.keyId, checkpoints: 4, serverKey: true }]);

    await rewriteConsistently(h.store, 15);
    // The attacker can rewrite the copies inside the database too; the ones shipped out stay.
    await sql`DELETE FROM audit_checkpoints`.execute(h.store.db);
    const plain = (await h.call('GET', '/v1/audit/verify', token('auditor'))).body;
    expect(plain).toMatchObject({ ok: true, count: 40 });

    const caught = (await h.call('POST', '/v1/audit/verify/checkpoints', token('auditor'), { checkpoints: shipped })).body;
    expect(caught.ok).toBe(false);
    expect(caught.failures).toEqual([20, 30, 40].map((seq) => ({ seq, problem: expect.stringMatching(/different hash at this seq: history was rewritten/) })));
    expect(caught.chain).toMatchObject({ ok: false, firstBadSeq: 40, problem: expect.stringMatching(/expected head has a different hash/) });
    // Signatures are still good: it is the chain that changed, not the checkpoints.
    for (const l of shipped) expect(verifyCheckpointSignature(l, l.publicKey!).ok).toBe(true);

    // Truncation after the newest checkpoint's seq is caught too.
    await sql`DELETE FROM audit_events WHERE seq > 35`.execute(h.store.db);
    const cut = (await h.call('POST', '/v1/audit/verify/checkpoints', token('auditor'), { checkpoints: shipped.slice(0, 1).concat(shipped.slice(3)) })).body;
    expect(cut.failures).toContainEqual({ seq: 40, problem: expect.stringMatching(/no event at this seq/) });
    expect(cut.chain).toMatchObject({ ok: false, problem: expect.stringMatching(/truncated/) });
  });

  it('a tampered checkpoint, or one signed with another key, fails', async () => {
    const worker = await open(checkpointYaml(dir, { every: 5 }));
    await seedEvents(h, 5);
    await worker.runOnce();
    const [good] = fileLines(dir);
    const verify = async (body: object) => (await h.call('POST', '/v1/audit/verify/checkpoints', token('auditor'), body)).body;

    const flipped = good!.signature.startsWith('A') ? `B${good!.signature.slice(1)}` : `A${good!.signature.slice(1)}`;
    const tampered = [
      { ...good!, signature: flipped },
      { ...good!, at: new Date(0).toISOString() },
      { ...good!, seq: 4 },
    ];
    for (const cp of tampered) {
      const r = await verify({ checkpoints: [cp], verifyChain: false });
      expect(r.ok, JSON.stringify(cp)).toBe(false);
      expect(r.failures[0]).toEqual({ seq: cp.seq, problem: 'the signature does not match the checkpoint' });
      expect(verifyCheckpointSignature(cp, good!.publicKey!).ok).toBe(false);
    }

    // Someone else's key: the signature is valid for that key, which is not the server's.
    const other = generateKeyPairSync('ed25519');
    const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const forged = { seq: 5, hash: good!.hash, at: good!.at, keyId: checkpointKeyId(other.publicKey) };
    const forgedLine = { ...forged, signature: sign(null, Buffer.from(checkpointMessage(forged)), other.privateKey).toString('base64'), publicKey: otherPem };
    const r1 = await verify({ checkpoints: [forgedLine] });
    expect(r1.ok).toBe(true);
    expect(r1.keys).toEqual([{ keyId: forged.keyId, checkpoints: 1, serverKey: false }]);
    const r2 = await verify({ checkpoints: [forgedLine], trustedKeyIds: [good!.keyId] });
    expect(r2.ok).toBe(false);
    expect(r2.failures).toEqual([{ seq: 5, problem: expect.stringMatching(/not in trustedKeyIds/) }]);
    // A public key that is not the one named by keyId.
    const r3 = await verify({ checkpoints: [{ ...good!, publicKey: otherPem }] });
    expect(r3.failures).toEqual([{ seq: 5, problem: expect.stringMatching(/^signed by key [0-9a-f]{16}, but this public key is/) }]);
    // Without publicKey the server's key is used when the key id matches.
    const { publicKey: _p, ...bare } = good!;
    expect((await verify({ checkpoints: [bare] })).ok).toBe(true);
    expect((await verify({ checkpoints: [{ ...bare, keyId: forged.keyId }] })).failures).toEqual([
      { seq: 5, problem: expect.stringMatching(/no public key for key id/) },
    ]);
    // Bad input is a 400.
    for (const body of [{}, { checkpoints: [] }, { checkpoints: [{ ...good!, hash: 'xyz' }] }, { checkpoints: [good], extra: 1 }]) {
      expect((await h.call('POST', '/v1/audit/verify/checkpoints', token('auditor'), body)).status).toBe(400);
    }
    expect((await h.call('POST', '/v1/audit/verify/checkpoints', token('alice'), { checkpoints: [good] })).status).toBe(403);
  });

  it('retries a failed webhook on later passes, in order, while the file carries on', async () => {
    const worker = await open(checkpointYaml(dir, { every: 5, webhook: receiver.url }));
    receiver.fail(503);
    await seedEvents(h, 5);
    await worker.runOnce();
    await seedEvents(h, 5);
    await worker.runOnce(); // still failing: signed, stored and in the file; the webhook waits
    expect(fileLines(dir).map((l) => l.seq)).toEqual([5, 10]);
    expect(receiver.received).toEqual([]);
    expect(worker.lastError).toBe('webhook: the checkpoint webhook answered 503');
    let listed = (await h.call('GET', '/v1/audit/checkpoints', token('auditor'))).body.checkpoints;
    expect(listed.map((c: { seq: number; shipped: object }) => [c.seq, Object.keys(c.shipped)])).toEqual([
      [5, ['file']],
      [10, ['file']],
    ]);

    receiver.fail(0);
    h.clock.advance(500);
    await worker.runOnce(); // backing off (1 s after the first failure, 2 s after the second)
    expect(receiver.received).toEqual([]);
    h.clock.advance(5000);
    await worker.runOnce();
    expect(receiver.received.map((r) => r.line.seq)).toEqual([5, 10]);
    expect(fileLines(dir).map((l) => l.seq)).toEqual([5, 10]);
    listed = (await h.call('GET', '/v1/audit/checkpoints', token('auditor'))).body.checkpoints;
    expect(listed.map((c: { shipped: object }) => Object.keys(c.shipped).sort())).toEqual([
      ['file', 'webhook'],
      ['file', 'webhook'],
    ]);
    expect(worker.lastError).toBeUndefined();
  });

  it('refuses a webhook on an internal address that is not in allowedHosts', async () => {
    const yaml = checkpointYaml(dir, { every: 1, webhook: receiver.url }).replace('  allowedHosts: ["127.0.0.1"]\n', '');
    const worker = await open(yaml);
    await seedEvents(h, 1);
    await worker.runOnce();
    expect(receiver.received).toEqual([]);
    expect(worker.lastError).toMatch(/internal address/);
    expect(fileLines(dir).map((l) => l.seq)).toEqual([1]);
  });

  it('generates a key file with mode 0600 and reuses it after a restart', async () => {
    const keyPath = join(dir, 'keys', 'signing.pem');
    const worker = await open(checkpointYaml(dir, { every: 1 }));
    expect(existsSync(keyPath)).toBe(false); // created when first needed
    await seedEvents(h, 1);
    await worker.runOnce();
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const pem = readFileSync(keyPath, 'utf8');
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const keyId = (await h.call('GET', '/v1/audit/public-key', token('auditor'))).body.keyId;
    expect(fileLines(dir)[0]!.keyId).toBe(keyId);
    await h.close();

    // Restart: same store, same configuration, a new process's worth of objects.
    const again = await open(checkpointYaml(dir, { every: 1 }));
    await seedEvents(h, 1);
    await again.runOnce();
    expect(readFileSync(keyPath, 'utf8')).toBe(pem);
    expect(fileLines(dir).map((l) => [l.seq, l.keyId])).toEqual([
      [1, keyId],
      [2, keyId],
    ]);
    const r = (await h.call('POST', '/v1/audit/verify/checkpoints', token('auditor'), { checkpoints: fileLines(dir) })).body;
    expect(r).toMatchObject({ ok: true, checked: 2 });
  });

  it('takes an inline key, and refuses missing or non-Ed25519 keys with a clear message', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const inline = loadCheckpointKey({ everyEvents: 1, intervalMs: 0, generateKey: false, signingKeyPem: pem }, { cwd: dir });
    expect(inline).toMatchObject({ source: 'signingKey', keyId: checkpointKeyId(publicKey) });
    expect(() => loadCheckpointKey({ everyEvents: 1, intervalMs: 0, generateKey: false, keyFile: join(dir, 'none.pem') }, { cwd: dir })).toThrow(
      /does not exist: make one with `openssl genpkey -algorithm ed25519/,
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => loadCheckpointKey({ everyEvents: 1, intervalMs: 0, generateKey: false, signingKeyPem: rsa }, { cwd: dir })).toThrow(
      /rsa key; audit checkpoints need Ed25519/,
    );
    const loose = join(dir, 'loose.pem');
    writeFileSync(loose, pem, { mode: 0o644 });
    expect(loadCheckpointKey({ everyEvents: 1, intervalMs: 0, generateKey: false, keyFile: loose }, { cwd: dir }).warnings).toEqual([
      expect.stringMatching(/can be read by others \(mode 644\)/),
    ]);
  });

  it('answers 404 for the public key when checkpoints are not configured, and the worker idles', async () => {
    h = await createHttpHarness({ yaml: policiesYaml(), storeUrl: handle.url });
    const worker = createCheckpointWorker(h.app.deps, h.stores.checkpoints, { cwd: dir });
    await seedEvents(h, 3);
    await worker.runOnce();
    expect(await worker.flush()).toBeUndefined();
    const res = await h.call('GET', '/v1/audit/public-key', token('auditor'));
    expect(res.status).toBe(404);
    expect((await h.call('GET', '/v1/audit/checkpoints', token('auditor'))).body).toEqual({ checkpoints: [], nextCursor: null });
    expect((await h.call('GET', '/v1/audit/checkpoints/latest', token('auditor'))).body).toEqual({ configured: false, keyId: null, checkpoint: null });
  });
});

describe('checkpoint lines and signatures, offline', () => {
  it('parses a checkpoint file and names a bad line', () => {
    const line = { seq: 3, hash: 'a'.repeat(64), at: '2026-01-05T10:00:00.000Z', keyId: '0123456789abcdef', signature: 'AAAA', publicKey: 'PEM', extra: 1 };
    expect(parseCheckpointLines(`${JSON.stringify(line)}\n\n${JSON.stringify({ ...line, seq: 4, publicKey: undefined })}\n`)).toEqual([
      { seq: 3, hash: 'a'.repeat(64), at: line.at, keyId: line.keyId, signature: 'AAAA', publicKey: 'PEM' },
      { seq: 4, hash: 'a'.repeat(64), at: line.at, keyId: line.keyId, signature: 'AAAA' },
    ]);
    expect(() => parseCheckpointLines('{"seq":1}\nnot json')).toThrow(/line 1 needs seq/);
    expect(() => parseCheckpointLines(`${JSON.stringify(line)}\nnot json`)).toThrow(/line 2 is not JSON/);
  });

  it('reports bad keys and signatures without throwing', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const body = { seq: 1, hash: 'b'.repeat(64), at: '2026-01-05T10:00:00.000Z', keyId: checkpointKeyId(publicKey) };
    expect(checkpointMessage(body)).toBe(`{"at":"2026-01-05T10:00:00.000Z","hash":"${'b'.repeat(64)}","keyId":"${body.keyId}","seq":1}`);
    const cp = { ...body, signature: sign(null, Buffer.from(checkpointMessage(body)), privateKey).toString('base64') };
    expect(verifyCheckpointSignature(cp, pem)).toEqual({ ok: true, keyId: body.keyId });
    expect(verifyCheckpointSignature(cp, 'not a key')).toEqual({ ok: false, problem: 'the public key is not a PEM public key' });
    const rsaPem = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyCheckpointSignature(cp, rsaPem)).toMatchObject({ ok: false, problem: expect.stringMatching(/rsa, not Ed25519/) });
    expect(verifyCheckpointSignature({ ...cp, signature: '!!' }, pem)).toMatchObject({ ok: false, problem: 'the signature is not base64' });
    expect(verifyCheckpointSignature({ ...cp, signature: 'AAAA' }, pem)).toMatchObject({ ok: false, problem: 'the signature does not match the checkpoint' });
  });
});

describe('signed checkpoints (PostgreSQL)', () => {
  let handle: StoreHandle;
  let dir: string;
  beforeAll(async () => {
    handle = await freshStoreUrl('postgres');
    dir = mkdtempSync(join(tmpdir(), 'hg-cp-pg-'));
  });
  afterAll(async () => {
    await handle?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs, stores and ships; two servers signing at once store one checkpoint per head', async () => {
    const receiver = await startReceiver();
    const h = await createHttpHarness({ yaml: checkpointYaml(dir, { every: 10, webhook: receiver.url }), storeUrl: handle.url });
    try {
      const a = createCheckpointWorker(h.app.deps, h.stores.checkpoints, { cwd: dir });
      const b = createCheckpointWorker(h.app.deps, h.stores.checkpoints, { cwd: dir });
      await seedEvents(h, 12);
      await Promise.all([a.runOnce(), b.runOnce()]);
      await seedEvents(h, 10);
      await Promise.all([a.runOnce(), b.runOnce()]);
      const stored = (await h.call('GET', '/v1/audit/checkpoints', token('auditor'))).body.checkpoints;
      expect(stored.map((c: { seq: number }) => c.seq)).toEqual([12, 22]);
      // Two servers may both ship a checkpoint (at least once): the same stored line, never two versions.
      const once = (ls: CheckpointLine[]) => [...new Map(ls.map((l) => [l.seq, JSON.stringify(l)])).values()].map((t) => JSON.parse(t) as CheckpointLine);
      const all = [...fileLines(dir), ...receiver.received.map((r) => r.line)];
      expect(new Set(all.map((l) => JSON.stringify(l))).size).toBe(2);
      const lines = once(fileLines(dir));
      expect(lines.map((l) => l.seq)).toEqual([12, 22]);
      expect(
        once(receiver.received.map((r) => r.line))
          .map((l) => l.seq)
          .sort((x, y) => x - y),
      ).toEqual([12, 22]);
      for (const l of lines) expect(verifyCheckpointSignature(l, l.publicKey!).ok).toBe(true);
      const ok = (await h.call('POST', '/v1/audit/verify/checkpoints', token('auditor'), { checkpoints: lines })).body;
      expect(ok).toMatchObject({ ok: true, checked: 2, chain: { ok: true, count: 22 } });

      await rewriteConsistently(h.store, 3);
      expect((await h.call('GET', '/v1/audit/verify', token('auditor'))).body).toMatchObject({ ok: true, count: 22 });
      const caught = (await h.call('POST', '/v1/audit/verify/checkpoints', token('auditor'), { checkpoints: lines })).body;
      expect(caught.ok).toBe(false);
      expect(caught.failures.map((f: { seq: number }) => f.seq)).toEqual([12, 22]);
    } finally {
      await h.close();
      await receiver.close();
    }
  }, 60_000);
});
