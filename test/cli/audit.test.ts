// End-to-end tests of `hourglass audit export` and `audit verify` (streamed, with progress, and
// against signed checkpoints): the real binary against a real server; the fallback for servers
// without the streaming route against a minimal stand-in.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runCli, spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { cliAs, isolateCredentials, json } from './run.js';

isolateCredentials();
let server: SpawnedServer;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hourglass-audit-cli-'));

beforeAll(async () => {
  server = await spawnServer();
  // Some history to export and verify.
  const env = { HOURGLASS_URL: server.url, HOURGLASS_TOKEN: 'alice-demo-token' };
  await Promise.all([runCli(['request', 'demo-db/read', '--reason', 'a,"quoted" reason'], env), runCli(['request', 'ops-console/view'], env)]);
});

afterAll(async () => {
  await server?.stop();
});

const as = cliAs(() => server);

/** A checkpoints file as the server ships it, signed with a fresh key. */
function checkpointFile(name: string, head: string, opts: { tamperHash?: boolean; tamperSignature?: boolean } = {}) {
  const [seqText, hash] = head.split(':') as [string, string];
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const keyId = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
  const at = new Date().toISOString();
  const seq = Number(seqText);
  let signature = sign(null, Buffer.from(JSON.stringify({ at, hash, keyId, seq })), privateKey).toString('base64');
  if (opts.tamperSignature) signature = sign(null, Buffer.from('something else'), privateKey).toString('base64');
  const line = { seq, hash: opts.tamperHash ? 'f'.repeat(64) : hash, at, keyId, signature, publicKey: pem };
  const file = path.join(tmp, `${name}.jsonl`);
  writeFileSync(file, `${JSON.stringify(line)}\n`);
  writeFileSync(`${file}.pub`, pem);
  return { file, pub: `${file}.pub`, keyId };
}

describe('hourglass audit export', () => {
  it('streams JSON Lines to stdout, one event per line, the same events as audit list', async () => {
    const [r, list] = await Promise.all([as('auditor', 'audit', 'export'), as('auditor', 'audit', 'list', '--limit', '1000', '--json')]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; seq: number });
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.map((e) => e.id)).toEqual(json(list).events.map((e: { id: string }) => e.id));
  });

  it('writes CSV to a file with -o, and --json prints a summary', async () => {
    const file = path.join(tmp, 'audit.csv');
    const r = await as('auditor', 'audit', 'export', '--format', 'csv', '-o', file, '--type', 'request.*', '--json');
    expect(r.code, r.stderr).toBe(0);
    const csv = readFileSync(file, 'utf8');
    const rows = csv.trimEnd().split('\r\n');
    expect(rows[0]).toBe('seq,id,at,type,actor,requestId,policyHash,prevHash,hash,details');
    expect(rows.slice(1).every((row) => /^\d+,[^,]+,[^,]+,request\./.test(row))).toBe(true);
    expect(csv).toContain('a,\\""quoted\\"" reason'); // RFC 4180 quoting of the JSON details column
    expect(json(r)).toEqual({ file, format: 'csv', bytes: Buffer.byteLength(csv), lines: rows.length });
    expect(existsSync(`${file}.partial`)).toBe(false);
  });

  it('refuses callers without the auditor role, and bad formats, writing no file', async () => {
    const file = path.join(tmp, 'nope.jsonl');
    const [forbidden, badFormat] = await Promise.all([as('alice', 'audit', 'export', '-o', file), as('auditor', 'audit', 'export', '--format', 'xml')]);
    expect(forbidden.code).toBe(3);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.partial`)).toBe(false);
    expect(badFormat.code).toBe(2);
  });
});

describe('hourglass audit verify', () => {
  it('verifies through the streaming route, with --progress and --json', async () => {
    const [plain, progress, asJson, bad] = await Promise.all([
      as('auditor', 'audit', 'verify'),
      as('auditor', 'audit', 'verify', '--progress'),
      as('auditor', 'audit', 'verify', '--json'),
      as('auditor', 'audit', 'verify', '--expect-head', `1:${'0'.repeat(64)}`, '--json'),
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^audit chain ok: \d+ event\(s\), head \d+:[0-9a-f]{64}/);
    expect(plain.stderr).toBe(''); // not a terminal: no progress unless asked
    expect(progress.code).toBe(0);
    expect(json(asJson)).toMatchObject({ ok: true, unchained: expect.any(Number) });
    expect(bad.code).toBe(10);
    expect(json(bad)).toMatchObject({ ok: false, firstBadSeq: 1 });
  });

  it('--checkpoints: matching checkpoints pass; a rewritten hash, a bad signature or another key fail with exit 10', async () => {
    const head = (await as('auditor', 'audit', 'head')).stdout.trim();
    const good = checkpointFile('good', head);
    const rewritten = checkpointFile('rewritten', head, { tamperHash: true });
    const forged = checkpointFile('forged', head, { tamperSignature: true });
    const [ok, pinned, wrongKey, rewrittenRun, forgedRun] = await Promise.all([
      as('auditor', 'audit', 'verify', '--checkpoints', good.file),
      as('auditor', 'audit', 'verify', '--checkpoints', good.file, '--public-key', good.pub, '--json'),
      as('auditor', 'audit', 'verify', '--checkpoints', good.file, '--public-key', rewritten.pub),
      as('auditor', 'audit', 'verify', '--checkpoints', rewritten.file, '--json'),
      as('auditor', 'audit', 'verify', '--checkpoints', forged.file, '--json'),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('checkpoints: 1 checked against the chain, all match');
    expect(ok.stdout).toContain(`signatures: 1 valid, checked here (key ${good.keyId})`);
    expect(ok.stderr).toContain('--public-key');

    expect(pinned.code).toBe(0);
    expect(json(pinned)).toMatchObject({ ok: true, checked: 1, failures: [], signatures: { checked: 1, valid: 1, pinned: good.keyId, failures: [] } });

    expect(wrongKey.code).toBe(10);
    expect(wrongKey.stdout).toContain('not by the key given with --public-key');

    expect(rewrittenRun.code).toBe(10);
    const r = json(rewrittenRun);
    expect(r.ok).toBe(false);
    expect(r.failures.map((f: { problem: string }) => f.problem).join('\n')).toMatch(/different hash/);

    expect(forgedRun.code).toBe(10);
    expect(json(forgedRun).signatures.failures).toHaveLength(1);
  });

  it('an unusable checkpoints file is a usage error naming its lines', async () => {
    const file = path.join(tmp, 'broken.jsonl');
    writeFileSync(file, '{"seq": 1}\nnot json\n');
    const r = await as('auditor', 'audit', 'verify', '--checkpoints', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:1: missing hash, at, keyId, signature`);
    expect(r.stderr).toContain(`${file}:2: not JSON`);
    expect(r.stdout).toBe('');
  });
});

describe('hourglass audit verify against a server without the streaming route', () => {
  let stub: http.Server;
  let url = '';
  const seen: string[] = [];

  beforeAll(async () => {
    stub = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/v1/audit/verify?') || req.url === '/v1/audit/verify') {
        res.end(JSON.stringify({ ok: true, count: 7, head: `7:${'a'.repeat(64)}`, unchained: 0 }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 'HG_NOT_FOUND', message: `no route GET ${req.url?.split('?')[0]}` } }));
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => stub.close(resolve));
  });

  it('falls back to GET /v1/audit/verify when /v1/audit/verify/stream is 404', async () => {
    const r = await runCli(['audit', 'verify', '--json'], { HOURGLASS_URL: url, HOURGLASS_TOKEN: 'anything-1234' });
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toEqual({ ok: true, count: 7, head: `7:${'a'.repeat(64)}`, unchained: 0 });
    expect(seen.filter((u) => u.startsWith('/v1/audit/verify')).map((u) => u.split('?')[0])).toEqual(['/v1/audit/verify/stream', '/v1/audit/verify']);

    const exported = await runCli(['audit', 'export'], { HOURGLASS_URL: url, HOURGLASS_TOKEN: 'anything-1234' });
    expect(exported.code).toBe(4);
    expect(exported.stderr).toContain('this server does not offer that API');
  });
});
