/**
 * The in-memory index /v1/check answers from, kept current from the store.
 *
 * The audit chain is the change feed: every change to a live grant commits with an event naming
 * its request (the store refuses a transaction that breaks this), and seqs become visible in
 * order (one writer links at a time), so "every event after seq N" is exactly what changed since
 * the index last read N. Catching up reads those events, re-reads their requests, and replaces
 * what each grants. It runs every `pollIntervalMs` and at once on a hint (PostgreSQL NOTIFY from
 * any server, or a reconnect). A commit on this server is taken in before the write returns: as
 * it was written when it is next in line (`take`), else by catching up.
 *
 * Correctness never rests on a hint. The index is *confirmed* at the start time of the last
 * catch-up that reached the head; a check more than `staleAfterMs` after that is refused rather
 * than answered from a view that may have missed a revocation. Staleness is measured on the
 * monotonic clock; grant ends on the application clock, as everywhere else.
 */
import { GrantIndex, liveGrantsOf, type IndexedGrant } from '../core/grant-index.js';
import type { CommittedChange, Store } from './ports.js';

/** Events read per catch-up step, and request ids per re-read. */
const EVENTS_PER_STEP = 5000;
const REQUESTS_PER_READ = 500;
/** Grants per page while loading. */
const LOAD_PAGE = 10_000;

export type IndexFeed = Pick<Store, 'auditHead' | 'listGrants' | 'changesSince' | 'getRequests'>;

export interface CheckIndexOptions {
  pollIntervalMs: () => number;
  staleAfterMs: () => number;
  /** Milliseconds on a clock that never jumps (performance.now in the server): staleness is real time, whatever the Clock says. */
  monotonic: () => number;
  /** Grants per page while loading (default 10,000). */
  pageSize?: number;
  /** The store could not be read (once per outage, not per poll). */
  onError?: (err: unknown) => void;
  /** It could be read again. */
  onRecovered?: () => void;
}

export type IndexAnswer = { stale: false; grant: IndexedGrant | undefined } | { stale: true; ageMs: number };

export interface CheckIndexStatus {
  ok: boolean;
  grants: number;
  /** The last seq the index has applied. */
  seq: number;
  /** Since the index was last confirmed current, ms (undefined before it was ever loaded). */
  ageMs: number | undefined;
  staleAfterMs: number;
  lastError: string | undefined;
}

export class CheckIndex {
  private readonly index = new GrantIndex();
  private cursor = 0;
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private loaded = false;
  private running: Promise<void> | undefined;
  /** Set when a catch-up is asked for while one runs: it runs once more, as the running one may have started before the change. */
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastError: string | undefined;

  constructor(
    private readonly feed: IndexFeed,
    private readonly now: () => number,
    private readonly opts: CheckIndexOptions,
  ) {}

  private mono(): number {
    return this.opts.monotonic();
  }

  /** Loads every live grant (in pages), then keeps up until `stop`. */
  async start(): Promise<void> {
    const started = this.mono();
    // The head first: whatever changes after it is read again by the first catch-up.
    this.cursor = (await this.feed.auditHead())?.seq ?? 0;
    this.index.clear();
    let after: { requestId: string; entitlement: string } | undefined;
    for (;;) {
      const limit = this.opts.pageSize ?? LOAD_PAGE;
      const page = await this.feed.listGrants({ now: this.now(), limit, ...(after ? { after } : {}) });
      for (const g of page) this.index.add(g.principal, g.entitlement, { requestId: g.requestId, expiresAt: g.expiresAt });
      if (page.length < limit) break;
      const last = page[page.length - 1]!;
      after = { requestId: last.requestId, entitlement: last.entitlement };
    }
    this.loaded = true;
    this.confirmedAt = started;
    await this.catchUp();
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Something changed (a notification, a reconnect): catch up now rather than at the next poll. */
  hint(): void {
    if (this.loaded && !this.stopped) void this.catchUp().catch(() => {});
  }

  /**
   * Reads what changed since the cursor until the head, once; a call while one runs makes it run
   * again and resolves with that run. Rejects when the store cannot be read (the index stays as
   * it was, and goes stale on its own).
   */
  catchUp(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = (async () => {
      try {
        do {
          this.again = false;
          await this.step();
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    this.running = run;
    return run;
  }

  /** Resolves once the index reflects every change up to `seq` (a commit of this server's). */
  async reach(seq: number): Promise<void> {
    while (this.loaded && !this.stopped && this.cursor < seq) await this.catchUp();
  }

  /**
   * Resolves once the index reflects a commit of this server's. When the index stands at the
   * event just before the commit's first and no catch-up is reading, the commit is taken in as
   * it was written, with no read (on SQLite, one writer, nearly every commit); otherwise (another
   * server's commit came between, or a catch-up is under way and could apply an older read over
   * it) the index catches up from the store as for any change.
   */
  async take(commit: CommittedChange): Promise<void> {
    if (this.loaded && !this.stopped && this.running === undefined && this.cursor === commit.afterSeq) {
      for (const r of commit.regranted) this.index.replace(r.requestId, r.principal, r.entitlements, r.grants);
      this.cursor = commit.seq;
      return;
    }
    await this.reach(commit.seq);
  }

  /** The answer for a check at `now`, or that the index cannot be trusted now. */
  lookup(principal: string, entitlement: string, now: number): IndexAnswer {
    const ageMs = this.mono() - this.confirmedAt;
    if (!(ageMs <= this.opts.staleAfterMs())) return { stale: true, ageMs };
    return { stale: false, grant: this.index.lookup(principal, entitlement, now) };
  }

  status(): CheckIndexStatus {
    const staleAfterMs = this.opts.staleAfterMs();
    const ageMs = this.loaded ? this.mono() - this.confirmedAt : undefined;
    return { ok: ageMs !== undefined && ageMs <= staleAfterMs, grants: this.index.size, seq: this.cursor, ageMs, staleAfterMs, lastError: this.lastError };
  }

  private async step(): Promise<void> {
    for (;;) {
      const started = this.mono();
      let changes;
      try {
        changes = await this.feed.changesSince(this.cursor, EVENTS_PER_STEP);
        const ids = [...new Set(changes.map((c) => c.requestId).filter((id): id is string => id !== null))];
        for (let i = 0; i < ids.length; i += REQUESTS_PER_READ) {
          for (const req of await this.feed.getRequests(ids.slice(i, i + REQUESTS_PER_READ))) {
            this.index.replace(req.id, req.requester, req.entitlements, liveGrantsOf(req));
          }
        }
      } catch (err) {
        if (this.lastError === undefined) this.opts.onError?.(err);
        this.lastError = err instanceof Error ? err.message : String(err);
        throw err;
      }
      if (this.lastError !== undefined) this.opts.onRecovered?.();
      this.lastError = undefined;
      if (changes.length) this.cursor = changes[changes.length - 1]!.seq;
      if (changes.length < EVENTS_PER_STEP) {
        // Everything committed before `started` is in: that is how current the index now is.
        this.confirmedAt = started;
        return;
      }
    }
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.catchUp()
        .catch(() => {})
        .finally(() => this.arm());
    }, this.opts.pollIntervalMs());
    this.timer.unref();
  }
}
