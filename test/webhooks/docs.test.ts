/** docs/events.md stays true: its verification snippet works, and it names every event type the code emits. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/adapters/outbound/signed-post.js';

const doc = readFileSync(new URL('../../docs/events.md', import.meta.url), 'utf8');

describe('docs/events.md', () => {
  it('the standalone verification snippet accepts good signatures and refuses bad or stale ones', async () => {
    const block = /<!-- verify-snippet -->\s*```js\n([\s\S]*?)```\s*<!-- \/verify-snippet -->/.exec(doc);
    expect(block).not.toBeNull();
    const dir = mkdtempSync(join(tmpdir(), 'hg-snippet-'));
    try {
      const file = join(dir, 'verify.mjs');
      writeFileSync(file, block![1]!);
      const { verifyHourglass } = (await import(pathToFileURL(file).href)) as {
        verifyHourglass: (secret: string, header: unknown, raw: string | Buffer, nowMs?: number, tol?: number) => boolean;
      };
      const secret = 'a-receiver-secret-0123456789';
      const body = '{"id":"x","event":{"id":"e","type":"grant.revoked"}}';
      const t = 1_767_607_200;
      const header = signatureHeader(secret, t, body);
      expect(verifyHourglass(secret, header, Buffer.from(body), t * 1000)).toBe(true);
      expect(verifyHourglass(secret, header, body, t * 1000 + 299_000)).toBe(true);
      expect(verifyHourglass(secret, header, body, t * 1000 + 301_000)).toBe(false);
      expect(verifyHourglass(secret, header, body.replace('revoked', 'expired'), t * 1000)).toBe(false);
      expect(verifyHourglass('another-secret-0123456789', header, body, t * 1000)).toBe(false);
      expect(verifyHourglass(secret, undefined, body, t * 1000)).toBe(false);
      expect(verifyHourglass(secret, `t=${t},v1=abc`, body, t * 1000)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents every event type the code emits', () => {
    const files = [
      ...readdirSync(new URL('../../src/core/', import.meta.url)).map((f) => new URL(`../../src/core/${f}`, import.meta.url)),
      ...readdirSync(new URL('../../src/app/', import.meta.url)).map((f) => new URL(`../../src/app/${f}`, import.meta.url)),
    ];
    const types = new Set<string>();
    const pattern = /'((?:request|grant|breakglass|decision|principal|target|config|server|alert|reminder|webhook)\.[a-z_]+)'/g;
    for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(pattern)) types.add(m[1]!);
    expect(types.size).toBeGreaterThan(25);
    const missing = [...types].filter((t) => !doc.includes(`\`${t}\``));
    expect(missing).toEqual([]);
    for (const t of ['alert.revocation_overdue', 'reminder.pending_timeout', 'reminder.grant_expiring', 'alert.principal_locked']) {
      expect(doc).toContain(`\`${t}\``);
    }
  });
});
