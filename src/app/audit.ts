/** Audit log: chaining after commit, full and incremental verification, queries. */
import { GENESIS_HASH, verifyLinks, type VerifyProgress } from '../core/audit-chain.js';
import { HgError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import { SYSTEM_ACTOR, stamp, type AppDeps } from './context.js';
import { hasRole } from './directory.js';
import type { AuditFilter } from './ports.js';

/** Links per read while verifying: about 30 ms of work, so other requests wait no longer than that. */
const PAGE = 5000;
const CHAIN_BATCH = 250;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const VERIFIED_KEY = 'audit.verified';

export interface VerifyReport {
  ok: boolean;
  count: number;
  /** `SEQ:HASH` of the last good link; pin it elsewhere to catch truncation later. */
  head: string | null;
  firstBadSeq?: number;
  problem?: string;
  /** Events written but not linked yet (the chainer links them within a second). */
  unchained: number;
}

export function formatHead(seq: number, hash: string): string {
  return `${seq}:${hash}`;
}

export function parseHead(text: string): { seq: number; hash: string } {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!m) throw new HgError('HG_INVALID_INPUT', 'a chain head looks like SEQ:HASH (64 hex digits), as /v1/audit/head prints it');
  return { seq: Number(m[1]), hash: m[2]! };
}

export class AuditService {
  /** Result of the last start-up or periodic verification, for /readyz. */
  lastVerify: (VerifyReport & { at: number; incremental: boolean }) | undefined;

  constructor(private readonly deps: AppDeps) {}

  assertReader(actor: Principal) {
    if (!hasRole(actor, 'admin', 'auditor')) throw new HgError('HG_FORBIDDEN', 'the auditor or admin role is needed to read the audit log');
  }

  /** Links everything written so far; returns how many events were linked. */
  async chainPending(): Promise<number> {
    let total = 0;
    for (;;) {
      const types = await this.deps.store.chainAudit(CHAIN_BATCH);
      // Linked means committed: the one place every event is seen exactly once.
      for (const t of types) this.deps.metrics?.eventRecorded(t);
      total += types.length;
      if (types.length < CHAIN_BATCH) return total;
      await new Promise((resolve) => setImmediate(resolve)); // let requests in between batches
    }
  }

  /**
   * Walks the chain from `from` (genesis by default). `expectHead` (from an earlier
   * /v1/audit/head, kept outside the database) catches a truncated tail.
   */
  async verify(opts: { expectHead?: string; from?: { lastSeq: number; head: string; count: number }; onProgress?: (p: VerifyProgress) => void } = {}): Promise<VerifyReport> {
    const expected = opts.expectHead ? parseHead(opts.expectHead) : undefined;
    let progress: VerifyProgress = { ...(opts.from ?? { lastSeq: 0, head: GENESIS_HASH, count: 0 }) };
    for (;;) {
      const links = await this.deps.store.readChain(progress.lastSeq + 1, PAGE);
      const before = progress.lastSeq;
      progress = verifyLinks(links, progress);
      opts.onProgress?.(progress);
      if (progress.firstBadSeq !== undefined || links.length < PAGE || progress.lastSeq === before) break;
      // SQLite reads are synchronous: let other requests (and streamed progress) through between pages.
      await yieldToEventLoop();
    }
    const unchained = await this.deps.store.countUnchained();
    const head = progress.lastSeq > 0 ? formatHead(progress.lastSeq, progress.head) : null;
    if (progress.firstBadSeq !== undefined) {
      return { ok: false, count: progress.count, head, firstBadSeq: progress.firstBadSeq, problem: progress.problem!, unchained };
    }
    if (expected) {
      if (progress.lastSeq < expected.seq) {
        return { ok: false, count: progress.count, head, firstBadSeq: progress.lastSeq + 1, problem: `chain ends at ${progress.lastSeq}, before the expected head ${expected.seq}: truncated`, unchained };
      }
      const [link] = await this.deps.store.readChain(expected.seq, 1);
      if (!link || link.hash !== expected.hash) {
        return { ok: false, count: progress.count, head, firstBadSeq: expected.seq, problem: 'the event at the expected head has a different hash', unchained };
      }
    }
    return { ok: true, count: progress.count, head, unchained };
  }

  /**
   * Start-up check: continues from the last verified point, so it costs what was added since.
   * A broken chain is reported loudly (returned, kept for /readyz, and an alert event) but never
   * stops the server: revocations must still happen.
   */
  async verifyIncrementally(): Promise<VerifyReport> {
    await this.chainPending();
    const saved = await this.deps.store.getState(VERIFIED_KEY);
    const from = saved ? (JSON.parse(saved) as { lastSeq: number; head: string; count: number }) : undefined;
    const report = await this.verify(from ? { from } : {});
    const now = this.deps.clock.now();
    this.lastVerify = { ...report, at: now, incremental: from !== undefined };
    if (report.ok) {
      if (report.head) {
        const { seq, hash } = parseHead(report.head);
        await this.deps.store.setState(VERIFIED_KEY, JSON.stringify({ lastSeq: seq, head: hash, count: report.count }));
      }
    } else {
      const config = this.deps.config.current();
      await this.deps.store.transaction((tx) =>
        tx.appendAudit(
          stamp(this.deps, [{ type: 'alert.audit_chain_broken', actor: SYSTEM_ACTOR, details: { firstBadSeq: report.firstBadSeq, problem: report.problem } }], now, config.policyHash),
        ),
      );
    }
    return report;
  }

  async head(actor: Principal) {
    this.assertReader(actor);
    await this.chainPending();
    const head = await this.deps.store.auditHead();
    return head ? { seq: head.seq, hash: head.hash, head: formatHead(head.seq, head.hash) } : { seq: 0, hash: GENESIS_HASH, head: null };
  }

  async list(actor: Principal, filter: AuditFilter) {
    this.assertReader(actor);
    const page = await this.deps.store.listAudit(filter);
    const last = page.events.at(-1);
    return {
      events: page.events,
      ...(page.events.length === filter.limit && last ? { nextCursor: String(last.pos) } : {}),
    };
  }
}
