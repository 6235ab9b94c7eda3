/** docs/events.md stays true: its verification snippet works, and it and docs/audit.md list exactly the event types the code emits. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { signatureHeader } from '../../src/adapters/outbound/signed-post.js';
import { AUDIT_EVENT_TYPES } from '../../src/core/events.js';

const doc = readFileSync(new URL('../../docs/events.md', import.meta.url), 'utf8');
const auditDoc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');

/** The text from `from` up to the next `to`. */
function section(text: string, from: string, to: string): string {
  const start = text.indexOf(from);
  expect(start, from).toBeGreaterThanOrEqual(0);
  const end = text.indexOf(to, start + from.length);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Every `a.b` in backticks in `text`. */
const typesIn = (text: string) => new Set([...text.matchAll(/`([a-z]+\.[a-z_]+)`/g)].map((m) => m[1]!));

/** The first column of every table row (where docs/events.md names the types it describes). */
const firstColumns = (text: string) => [...text.matchAll(/^\|([^|]+)\|/gm)].map((m) => m[1]!).join('\n');

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
    // The code can write only these (AuditDraft.type is AuditEventType): the list is the truth.
    expect(AUDIT_EVENT_TYPES.length).toBeGreaterThan(25);
    expect(new Set(AUDIT_EVENT_TYPES).size).toBe(AUDIT_EVENT_TYPES.length);
    const inEvents = typesIn(firstColumns(section(doc, '## Event types', '## What is delivered')));
    const inAudit = typesIn(section(auditDoc, 'Types (each is described', '\n## '));
    for (const listed of [inEvents, inAudit]) expect([...listed].sort()).toEqual([...AUDIT_EVENT_TYPES].sort());
    for (const t of ['alert.revocation_overdue', 'reminder.pending_timeout', 'reminder.grant_expiring', 'alert.principal_locked']) {
      expect(doc).toContain(`\`${t}\``);
    }
  });
});
