/**
 * Audit log: verification (full, at start-up from the saved point, and once in the background
 * after start-up) and queries. Events are linked as they are written (StoreTx.appendAudit).
 */
import { GENESIS_HASH, verifyEventJson, verifyRows, type ChainPoint, type VerifyProgress } from '../core/audit-chain.js';
import { HgError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import { SYSTEM_ACTOR, stamp, type AppDeps } from './context.js';
import { hasRole } from './directory.js';
import { AUDIT_TIME_ORDER_KEY, type AuditFilter } from './ports.js';

/** Links per read while verifying: about 30 ms of work, so other requests wait no longer than that. */
const PAGE = 5000;
/** After a page needed rows checked from their columns, pages are read that way until this many have been, then the fast path is tried again. */
const RECHECK_RUN = 8;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const VERIFIED_KEY = 'audit.verified';
const GENESIS: ChainPoint = { lastSeq: 0, head: GENESIS_HASH, count: 0 };

export interface VerifyReport {
  ok: boolean;
  count: number;
  /** `SEQ:HASH` of the last good link; pin it elsewhere to catch truncation later. */
  head: string | null;
  firstBadSeq?: number;
  problem?: string;
  /** Rows without a seq. The server links every event as it writes it, so these are foreign: not ok. */
  unchained: number;
  /** The first of those rows, by insertion position. */
  firstUnchained?: { pos: number; id: string };
}

/** The background full verification after start-up: running, or how it ended. */
export type FullPass = 'running' | 'passed' | 'failed';

export interface LastVerify extends VerifyReport {
  at: number;
  /** The start-up check continued from a saved point (rather than from genesis). */
  incremental: boolean;
  fullPass?: FullPass;
}

interface SavedPoint {
  lastSeq: number;
  head: string;
  count: number;
}

export function formatHead(seq: number, hash: string): string {
  return `${seq}:${hash}`;
}

export function parseHead(text: string): { seq: number; hash: string } {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!m) throw new HgError('HG_INVALID_INPUT', 'a chain head looks like SEQ:HASH (64 hex digits), as /v1/audit/head prints it');
  return { seq: Number(m[1]), hash: m[2]! };
}

function parseSaved(text: string): SavedPoint | undefined {
  try {
    const v = JSON.parse(text) as Partial<SavedPoint>;
    if (Number.isSafeInteger(v.lastSeq) && v.lastSeq! > 0 && typeof v.head === 'string' && Number.isSafeInteger(v.count)) return v as SavedPoint;
  } catch {
    // falls through: an unreadable point is reported like a wrong one
  }
  return undefined;
}

const CANCELLED = new Error('verification cancelled');

export class AuditService {
  /** Result of the start-up verification, then of the background full pass, for /readyz and metrics. */
  lastVerify: LastVerify | undefined;
  private background: { cancelled: boolean; done: Promise<VerifyReport | undefined> } | undefined;

  constructor(private readonly deps: AppDeps) {}

  assertReader(actor: Principal) {
    if (!hasRole(actor, 'admin', 'auditor')) throw new HgError('HG_FORBIDDEN', 'the auditor or admin role is needed to read the audit log');
  }

  /** verify() for a caller, who needs the auditor or admin role. */
  async verifyFor(actor: Principal, opts: { expectHead?: string } = {}): Promise<VerifyReport> {
    this.assertReader(actor);
    return this.verify(opts);
  }

  /**
   * Walks the chain from `from` (genesis by default). `expectHead` (from an earlier
   * /v1/audit/head, kept outside the database) catches a truncated tail. Rows outside the chain
   * fail it too: the server never writes one.
   */
  async verify(opts: { expectHead?: string; from?: ChainPoint; onProgress?: (p: VerifyProgress) => void } = {}): Promise<VerifyReport> {
    const expected = opts.expectHead ? parseHead(opts.expectHead) : undefined;
    const timeOrderFrom = await this.timeOrderFrom();
    const from = opts.from ?? GENESIS;
    let progress: VerifyProgress = { lastSeq: from.lastSeq, head: from.head, count: from.count, lastAt: from.lastAt ?? Number.NEGATIVE_INFINITY };
    // Pages since one needed its rows checked from their columns (0: none did).
    let sinceRecheck = 0;
    for (;;) {
      const before = progress.lastSeq;
      let read: number;
      if (sinceRecheck > 0 && sinceRecheck < RECHECK_RUN) {
        // Rows stored by earlier builds come in runs (everything before an upgrade): read them
        // from their columns straight away, trying the database's text again every few pages.
        const rows = await this.deps.store.readChainRows(before + 1, PAGE);
        progress = verifyRows(rows, progress, timeOrderFrom);
        read = rows.length;
        sinceRecheck += 1;
      } else {
        const page = await this.deps.store.readChainEventJson(before + 1, PAGE);
        const fast = verifyEventJson(page, progress, timeOrderFrom);
        read = page.length;
        sinceRecheck = fast.recheckFromColumns ? 1 : 0;
        // Rows whose text the database built differently (details stored by earlier builds, a
        // character its JSON quoting writes otherwise) are judged from their columns, to the page end.
        progress = fast.recheckFromColumns
          ? verifyRows(await this.deps.store.readChainRows(fast.lastSeq + 1, read - (fast.lastSeq - before)), fast, timeOrderFrom)
          : fast;
      }
      opts.onProgress?.(progress);
      if (progress.firstBadSeq !== undefined || read < PAGE || progress.lastSeq === before) break;
      // SQLite reads are synchronous: let other requests (and streamed progress) through between pages.
      await yieldToEventLoop();
    }
    const foreign = await this.deps.store.unchainedAudit();
    const head = progress.lastSeq > 0 ? formatHead(progress.lastSeq, progress.head) : null;
    const base = { count: progress.count, head, unchained: foreign.count, ...(foreign.first ? { firstUnchained: foreign.first } : {}) };
    if (progress.firstBadSeq !== undefined) {
      return { ok: false, ...base, firstBadSeq: progress.firstBadSeq, problem: progress.problem! };
    }
    if (expected) {
      if (progress.lastSeq < expected.seq) {
        return {
          ok: false,
          ...base,
          firstBadSeq: progress.lastSeq + 1,
          problem: `chain ends at ${progress.lastSeq}, before the expected head ${expected.seq}: truncated`,
        };
      }
      const [link] = await this.deps.store.readChain(expected.seq, 1);
      if (!link || link.hash !== expected.hash) {
        return { ok: false, ...base, firstBadSeq: expected.seq, problem: 'the event at the expected head has a different hash' };
      }
    }
    if (foreign.first) {
      const { pos, id } = foreign.first;
      return {
        ok: false,
        ...base,
        problem: `${foreign.count} event(s) outside the chain (first at pos ${pos}, id ${id}): the server links every event it writes, so these were written by something else`,
      };
    }
    return { ok: true, ...base };
  }

  /**
   * Start-up check: continues from the last verified point, so it costs what was added since.
   * The point itself is checked first: the link at its seq must exist with the saved hash (else
   * the chain was truncated, or rewritten below it), and exactly that many links must lie at or
   * below it (else some were deleted). Edits below it need re-hashing: the background full pass
   * (startFullVerification) catches those. A broken chain is reported loudly (returned, kept for
   * /readyz, an alert event) and the saved point is kept, but the server is never stopped:
   * revocations must still happen.
   */
  async verifyIncrementally(): Promise<VerifyReport> {
    const text = await this.deps.store.getState(VERIFIED_KEY);
    let report: VerifyReport | undefined;
    let from: ChainPoint | undefined;
    if (text !== undefined) {
      const saved = parseSaved(text);
      const checked = saved ? await this.checkSavedPoint(saved) : await this.startFailure(undefined, 'the saved verification point is unreadable');
      if ('ok' in checked) report = checked;
      else from = checked;
    }
    report ??= await this.verify(from ? { from } : {});
    this.lastVerify = { ...report, at: this.deps.clock.now(), incremental: from !== undefined };
    if (report.ok) {
      if (report.head) {
        const { seq, hash } = parseHead(report.head);
        await this.deps.store.setState(VERIFIED_KEY, JSON.stringify({ lastSeq: seq, head: hash, count: report.count }));
      }
    } else {
      await this.alertBroken(report, 'start-up');
    }
    return report;
  }

  /** The saved point as a point to continue from, or the report of why it cannot be trusted. */
  private async checkSavedPoint(saved: SavedPoint): Promise<ChainPoint | VerifyReport> {
    const seq = saved.lastSeq;
    const tip = (await this.deps.store.auditHead())?.seq ?? 0;
    if (tip < seq) return this.startFailure(tip + 1, `chain ends at ${tip}, before the point verified earlier (${seq}): truncated`);
    const [link] = await this.deps.store.readChain(seq, 1);
    if (!link || link.seq !== seq) return this.startFailure(seq, `the event at the point verified earlier (${seq}) is missing: deleted`);
    if (link.hash !== saved.head) {
      return this.startFailure(seq, `the event at the point verified earlier (${seq}) has a different hash: history was rewritten`);
    }
    const present = await this.deps.store.countChained(seq);
    if (present !== seq) {
      return this.startFailure(
        undefined,
        `${seq - present} event(s) at or below the point verified earlier (${seq}) are missing: deleted (the full verification names the first)`,
      );
    }
    return { lastSeq: seq, head: saved.head, count: saved.count, lastAt: link.at };
  }

  private async startFailure(firstBadSeq: number | undefined, problem: string): Promise<VerifyReport> {
    const foreign = await this.deps.store.unchainedAudit();
    return {
      ok: false,
      count: 0,
      head: null,
      ...(firstBadSeq !== undefined ? { firstBadSeq } : {}),
      problem,
      unchained: foreign.count,
      ...(foreign.first ? { firstUnchained: foreign.first } : {}),
    };
  }

  /**
   * One full verification from genesis, in the background (yielding between pages as verify
   * does): it re-hashes everything, so it also catches edits below the saved point. Its result
   * replaces `lastVerify` unless the start-up check failed and this passed: a chain rewritten
   * with recomputed hashes passes a full walk, and only the saved point caught it. Resolves to
   * the report, or undefined when stopped first.
   */
  startFullVerification(): Promise<VerifyReport | undefined> {
    if (this.background) return this.background.done;
    const run = { cancelled: false, done: Promise.resolve<VerifyReport | undefined>(undefined) };
    if (this.lastVerify) this.lastVerify.fullPass = 'running';
    run.done = this.verify({
      onProgress: () => {
        if (run.cancelled) throw CANCELLED;
      },
    })
      .then(async (report) => {
        if (run.cancelled) return undefined;
        await this.recordFullPass(report);
        return report;
      })
      .catch((err: unknown) => {
        if (this.lastVerify?.fullPass === 'running') delete this.lastVerify.fullPass;
        if (err === CANCELLED) return undefined;
        throw err;
      })
      .finally(() => {
        if (this.background === run) this.background = undefined;
      });
    this.background = run;
    return run.done;
  }

  /** Stops the background full verification (at its next page) and waits for it. */
  async stopFullVerification(): Promise<void> {
    const run = this.background;
    if (!run) return;
    run.cancelled = true;
    await run.done.catch(() => undefined);
  }

  private async recordFullPass(report: VerifyReport) {
    const prev = this.lastVerify;
    if (report.ok && prev && !prev.ok) {
      prev.fullPass = 'passed';
      return;
    }
    this.lastVerify = { ...report, at: this.deps.clock.now(), incremental: false, fullPass: report.ok ? 'passed' : 'failed' };
    // The same finding as at start-up is not alerted twice.
    if (!report.ok && (!prev || prev.ok || prev.firstBadSeq !== report.firstBadSeq || prev.problem !== report.problem)) {
      await this.alertBroken(report, 'full');
    }
  }

  private async alertBroken(report: VerifyReport, check: 'start-up' | 'full') {
    const now = this.deps.clock.now();
    const config = this.deps.config.current();
    const details = {
      check,
      firstBadSeq: report.firstBadSeq,
      problem: report.problem,
      ...(report.firstUnchained ? { firstUnchained: report.firstUnchained } : {}),
    };
    await this.deps.store.transaction((tx) =>
      tx.appendAudit(stamp(this.deps, [{ type: 'alert.audit_chain_broken', actor: SYSTEM_ACTOR, details }], now, config.policyHash)),
    );
  }

  /** Links at or below this seq were made by the previous version, which did not keep time order. */
  private async timeOrderFrom(): Promise<number> {
    const text = await this.deps.store.getState(AUDIT_TIME_ORDER_KEY);
    if (text === undefined) return 0;
    try {
      const seq = (JSON.parse(text) as { seq?: unknown }).seq;
      return typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : 0;
    } catch {
      return 0;
    }
  }

  async head(actor: Principal) {
    this.assertReader(actor);
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
