/** Shared by the audit tests: fast seeding of many events through the store, NDJSON/CSV parsing. */
import type { Harness } from '../support/app-harness.js';
import type { AuditEvent } from '../../src/app/ports.js';

/** Writes `n` events through the real store (1000 per transaction), linked as they are written. */
export async function seedEvents(h: Harness, n: number, shape: (i: number) => Partial<AuditEvent> = () => ({})): Promise<void> {
  for (let from = 0; from < n; from += 1000) {
    const batch: AuditEvent[] = [];
    for (let i = from; i < Math.min(n, from + 1000); i++) {
      batch.push({
        id: h.app.deps.ids.eventId(),
        at: h.clock.now(),
        type: i % 2 ? 'grant.activated' : 'request.submitted',
        actor: i % 3 ? 'alice' : 'bob',
        requestId: `req-${Math.floor(i / 2)}`,
        details: { n: i, reason: i % 5 ? 'plain' : 'a "quoted", comma\nand newline, ünïcode', entitlements: ['db/read'] },
        policyHash: h.config.policyHash,
        ...shape(i),
      });
    }
    await h.store.transaction((tx) => tx.appendAudit(batch));
  }
}

export function ndjson(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
}

/** A strict RFC 4180 reader (quoted fields, doubled quotes, CRLF rows), enough to read exports back. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') {
        quoted = false;
        i += 1;
        continue;
      }
      field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i += 1;
    } else if (c === ',') {
      row.push(field);
      field = '';
      i += 1;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else if (c === '\n' || c === '\r' || c === '"') {
      throw new Error(`bare ${JSON.stringify(c)} at ${i} in CSV`);
    } else {
      field += c;
      i += 1;
    }
  }
  if (field !== '' || row.length) throw new Error('CSV does not end with CRLF');
  return rows;
}
