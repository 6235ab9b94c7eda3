/**
 * Live updates for the web UI (GET /v1/live, server-sent events): which requests changed, told to
 * the people they concern, so pages update without reloading. The feed follows the audit chain
 * (every change is an audit event in the same transaction): after each local commit at once, and
 * by polling, so changes made by other servers on the same store arrive too.
 *
 * A subscriber hears of a request it may see: its own (`mine`), or one whose approvers or
 * reviewers it is among (`approvals`), as GET /v1/requests/{id} lets it read. A message names only the request and the event type; the page reads the rest
 * through the API, whose authorization stays the only gate.
 */
import { HgError } from '../core/errors.js';
import { approvesOrReviews } from '../core/lifecycle.js';
import type { AccessRequest, Principal } from '../core/types.js';
import type { AppDeps } from './context.js';

export interface LiveMessage {
  topic: 'mine' | 'approvals';
  requestId: string;
  type: string;
  /** ISO time of the event. */
  at: string;
}

export interface LiveFeedLimits {
  /** Open streams per server. */
  maxSubscribers: number;
  /** Open streams per principal (browser tabs). */
  maxPerPrincipal: number;
}

interface Subscriber {
  principal: Principal;
  send: (m: LiveMessage) => void;
}

/** Links read per pass; a burst larger than this is read over the next passes. */
const PAGE = 500;

export class LiveFeed {
  private readonly subscribers = new Set<Subscriber>();
  /** The last chain link read; undefined until the first subscriber (the feed reads nothing for nobody). */
  private lastSeq: number | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly deps: AppDeps,
    private readonly limits: LiveFeedLimits,
  ) {
    deps.store.onAuditCommitted(() => {
      if (this.subscribers.size > 0) void this.tick();
    });
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Adds a stream; returns its unsubscribe. Refused with HG_RATE_LIMITED above the limits. */
  async subscribe(principal: Principal, send: (m: LiveMessage) => void): Promise<() => void> {
    const mine = [...this.subscribers].filter((s) => s.principal.id === principal.id).length;
    if (this.subscribers.size >= this.limits.maxSubscribers || mine >= this.limits.maxPerPrincipal) {
      throw new HgError('HG_RATE_LIMITED', 'too many live update streams are open; close a tab or retry later');
    }
    if (this.subscribers.size === 0) this.lastSeq = (await this.deps.store.auditHead())?.seq ?? 0;
    const sub: Subscriber = { principal, send };
    this.subscribers.add(sub);
    return () => this.subscribers.delete(sub);
  }

  /** Reads the links committed since the last pass and tells each subscriber what concerns them. One pass at a time. */
  tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && this.subscribers.size > 0);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async pass(): Promise<void> {
    if (this.subscribers.size === 0 || this.lastSeq === undefined) return;
    const links = await this.deps.store.readChain(this.lastSeq + 1, PAGE);
    if (links.length === 0) return;
    this.lastSeq = links[links.length - 1]!.seq;
    if (links.length === PAGE) this.again = true;
    const requests = new Map<string, AccessRequest | undefined>();
    for (const id of new Set(links.flatMap((l) => (l.requestId ? [l.requestId] : [])))) requests.set(id, await this.deps.store.getRequest(id));
    for (const link of links) {
      const req = link.requestId ? requests.get(link.requestId) : undefined;
      if (!req) continue;
      const at = new Date(link.at).toISOString();
      for (const sub of this.subscribers) {
        if (sub.principal.id === req.requester) sub.send({ topic: 'mine', requestId: req.id, type: link.type, at });
        else if (approvesOrReviews(req, sub.principal)) sub.send({ topic: 'approvals', requestId: req.id, type: link.type, at });
      }
    }
  }
}
