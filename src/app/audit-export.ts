/**
 * Audit export and verification with progress, for logs too long to hold in memory: events are
 * read in keyset pages (by insertion position) and handed on one page at a time, so the caller
 * can write each page out and wait for the reader before the next one is fetched.
 */
import { HgError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import { parseHead, type AuditService, type VerifyReport } from './audit.js';
import type { AppDeps } from './context.js';
import type { AuditEvent, AuditFilter } from './ports.js';

export type ExportFilter = Omit<AuditFilter, 'after' | 'limit'>;
export type ExportedEvent = AuditEvent & { pos: number };

export const EXPORT_PAGE = 2000;

export interface AuditExport {
  /** Pages in insertion order (oldest first); the first is already read. Stops early if the consumer returns. */
  pages: AsyncGenerator<ExportedEvent[], void, undefined>;
}

/**
 * Checks the caller's role and reads the first page before returning: errors (403, 503) surface before a response starts.
 */
export async function openAuditExport(
  deps: AppDeps,
  audit: AuditService,
  actor: Principal,
  filter: ExportFilter,
  pageSize = EXPORT_PAGE,
): Promise<AuditExport> {
  audit.assertReader(actor);
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new HgError('HG_INVALID_INPUT', 'page size must be a positive integer');
  const first = (await deps.store.listAudit({ ...filter, limit: pageSize })).events;
  async function* pages(): AsyncGenerator<ExportedEvent[], void, undefined> {
    let page = first;
    for (;;) {
      if (page.length > 0) yield page;
      const last = page.at(-1);
      if (page.length < pageSize || !last) return;
      page = (await deps.store.listAudit({ ...filter, limit: pageSize, after: last.pos })).events;
    }
  }
  return { pages: pages() };
}

export interface VerifyProgressLine {
  progress: { count: number; lastSeq: number };
}

/**
 * Full verification that reports progress every `every` verified events (by page, so a little
 * past each multiple). `aborted()` is asked at each page; when true the walk stops with an error.
 * A caller without the role, or a malformed `expectHead`, throws at once (not in the promise),
 * so a streaming route can answer those as plain errors before its first byte.
 */
export function verifyWithProgress(
  audit: AuditService,
  actor: Principal,
  opts: { expectHead?: string; every: number; onProgress: (p: VerifyProgressLine['progress']) => void; aborted?: () => boolean },
): Promise<VerifyReport> {
  audit.assertReader(actor);
  if (opts.expectHead) parseHead(opts.expectHead);
  let next = opts.every;
  return audit.verify({
    ...(opts.expectHead ? { expectHead: opts.expectHead } : {}),
    onProgress: (p) => {
      if (opts.aborted?.()) throw new Error('verification abandoned: the client went away');
      if (p.firstBadSeq === undefined && p.count >= next) {
        opts.onProgress({ count: p.count, lastSeq: p.lastSeq });
        while (next <= p.count) next += opts.every;
      }
    },
  });
}
