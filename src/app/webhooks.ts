/**
 * Event webhooks: a durable outbox fed from the audit chain, delivered at least once.
 *
 * - Fan-out follows the audit chain by `seq` (gap-free, assigned in commit order by the writing transaction)
 *   from a persisted cursor, and writes one outbox row per (matching endpoint, event) in the same
 *   transaction as the cursor advance. The cursor moves by compare-and-swap, and (endpoint, event)
 *   is unique, so several servers may run it at once and a crash at any point loses nothing.
 * - Delivery claims due rows with a lease (attempts + 1, `next_attempt_at` pushed past the send
 *   deadline) in one statement, POSTs them signed, records every attempt in the delivery log, and
 *   retries anything but a 2xx with exponential backoff and full jitter, forever.
 * - A redelivery is itself an audit event (`webhook.redelivery_requested`); fan-out re-queues the
 *   named event when it reaches it, so the request and its effect cannot part.
 *
 * docs/events.md describes this for receivers.
 */
import type { HourglassConfig } from '../config/types.js';
import type { StoredChainLink } from '../core/audit-chain.js';
import { HgError } from '../core/errors.js';
import { redact, REDACTED } from '../core/redact.js';
import type { Principal } from '../core/types.js';
import { stamp, type AppDeps } from './context.js';
import { hasRole } from './directory.js';
import { channelEndpoints, type ChannelEndpoint, type DeliveryResult, type NotificationChannel, type ResolvedEndpoint } from './notify.js';
import type { BackgroundWorker } from './ports.js';

export const REDELIVERY_EVENT = 'webhook.redelivery_requested';

// ---- ports ---------------------------------------------------------------------------------------

export type OutboxStatus = 'pending' | 'delivered';
/** How one attempt ended: a 2xx, anything else (status or network error), or refused before sending. */
export type AttemptOutcome = 'delivered' | 'failed' | 'refused';

export interface OutboxRow {
  id: string;
  endpoint: string;
  eventId: string;
  eventSeq: number;
  eventType: string;
  /** JSON of the body without `sentAt` (added at each attempt). */
  payload: string;
  status: OutboxStatus;
  /** Attempts started, including one in flight (the claim counts it). */
  attempts: number;
  nextAttemptAt: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

export type NewOutboxRow = Pick<OutboxRow, 'id' | 'endpoint' | 'eventId' | 'eventSeq' | 'eventType' | 'payload' | 'createdAt'>;

export interface AttemptRecord {
  outboxId: string;
  endpoint: string;
  attempt: number;
  at: number;
  statusCode: number | null;
  durationMs: number;
  /** Scrubbed of the endpoint's secret; refusals start with `refused: `. */
  error: string | null;
}

export interface DeliveryLogEntry extends AttemptRecord {
  pos: number;
  eventId: string;
  eventType: string;
}

export interface DeliveryFilter {
  endpoint?: string;
  outcome?: AttemptOutcome;
  eventId?: string;
  /** Log position strictly below this (pages go newest first). */
  before?: number;
  limit: number;
}

export interface EndpointStats {
  /** Not delivered, not tried yet (or first attempt in flight). */
  pending: number;
  /** Not delivered, at least one attempt failed or was refused. */
  failing: number;
  delivered: number;
  /** Creation time of the oldest undelivered row. */
  oldestUndeliveredAt: number | null;
}

/** What webhooks need from storage (adapters/store/webhook-store.ts implements it over Kysely). */
export interface WebhookStore {
  /** The last audit `seq` fanned out; undefined before the first fan-out. */
  getCursor(): Promise<number | undefined>;
  /**
   * In one transaction: moves the cursor from `expected` to `next` (returns false, writing
   * nothing, when another server moved it first), inserts `rows` (skipping (endpoint, event)
   * pairs already present), and upserts `requeue` (an existing row goes back to pending, due now).
   */
  fanOut(expected: number | undefined, next: number, rows: NewOutboxRow[], requeue: NewOutboxRow[], now: number): Promise<boolean>;
  /** A chained audit event by id. */
  findChainedEvent(id: string): Promise<StoredChainLink | undefined>;
  /**
   * Claims up to `limit` pending rows of these endpoints due at `now` (oldest due first): each
   * gets attempts + 1 and `next_attempt_at = leaseUntil`, atomically, so no other worker takes it
   * until the lease runs out. Returns the claimed rows (attempts already incremented).
   */
  claimDue(now: number, endpoints: readonly string[], limit: number, leaseUntil: number, owner?: string): Promise<OutboxRow[]>;
  /** Makes due now the rows claimed by servers that stopped saying they are alive (presence.ts); how many. */
  releaseClaimsOfDead(now: number): Promise<number>;
  /**
   * Logs the attempt and updates the row in one transaction: delivered (whoever claimed it), or
   * due again at `nextAttemptAt` if the row is still this claim's (same attempts count).
   */
  finishAttempt(row: OutboxRow, attempt: AttemptRecord, result: { delivered: true } | { delivered: false; nextAttemptAt: number }): Promise<void>;
  stats(): Promise<Map<string, EndpointStats>>;
  /** The newest attempt of each of these endpoints that has one. */
  lastAttempts(endpoints: readonly string[]): Promise<Map<string, AttemptRecord>>;
  listDeliveries(filter: DeliveryFilter): Promise<DeliveryLogEntry[]>;
}

export interface OutboundRequest {
  url: string;
  body: string;
  secret: string;
  /** Seconds since the epoch, signed with the body. */
  timestamp: number;
  headers: Record<string, string>;
  timeoutMs: number;
  allowedHosts: readonly string[];
}

/** `refused`: not sent (internal address not in allowedHosts, bad URL); `error`: network error or timeout. */
export type SendResult = DeliveryResult;

/** Sends one signed POST (adapters/notifiers/webhook/ wraps signedPost); the webhook channel calls it. Never throws. */
export interface WebhookSender {
  send(req: OutboundRequest): Promise<SendResult>;
}

// ---- pure helpers -----------------------------------------------------------------------------------

/** `*`, an exact type, or a prefix ending in `.*` (`grant.*` matches `grant.activated`). */
export function eventMatches(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

export interface BackoffSettings {
  /** Ceiling of the first retry delay; it doubles per failed attempt. */
  baseMs: number;
  /** Largest ceiling (the delay is drawn below it). */
  capMs: number;
  /** No retry sooner than this, whatever the draw. */
  minMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 10_000, capMs: 3_600_000, minMs: 1_000 };

/** Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))), at least `minMs`. */
export function retryDelay(attempt: number, random: () => number, b: BackoffSettings = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(b.capMs, b.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.max(b.minMs, Math.floor(random() * ceiling));
}

export function outcomeOf(statusCode: number | null, error: string | null): AttemptOutcome {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) return 'delivered';
  if (statusCode === null && error?.startsWith(REFUSED_PREFIX)) return 'refused';
  return 'failed';
}

export const REFUSED_PREFIX = 'refused: ';
const MAX_ERROR = 500;

/** Removes every secret (and the URL's query, which often carries tokens) from a message. */
export function scrubSecrets(message: string, secrets: readonly string[]): string {
  const out = redact(message, secrets, REDACTED);
  return out.length > MAX_ERROR ? `${out.slice(0, MAX_ERROR)}...` : out;
}

/** The URL as shown to auditors: query values redacted (they often carry tokens). */
export function displayUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    for (const key of [...new Set(url.searchParams.keys())]) url.searchParams.set(key, 'redacted');
    return url.toString();
  } catch {
    return '(invalid URL)';
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The event as receivers see it (`event` in the body). */
export function eventJson(link: StoredChainLink) {
  return {
    id: link.id,
    seq: link.seq,
    type: link.type,
    at: iso(link.at),
    actor: link.actor,
    requestId: link.requestId ?? null,
    details: link.details ?? null,
    policyHash: link.policyHash ?? null,
    hash: link.hash,
  };
}

// ---- the use cases ----------------------------------------------------------------------------------

export interface WebhookOptions {
  /** Audit events read per fan-out page. */
  fanOutBatch?: number;
  /** Fan-out pages per pass at most (the rest waits for the next pass). */
  fanOutPages?: number;
  /** Deliveries in flight at once. */
  concurrency?: number;
  /** Deliveries per round at most. */
  maxPerRound?: number;
  backoff?: Partial<BackoffSettings>;
  /** Added to the longest endpoint timeout to form the claim lease. */
  leaseMarginMs?: number;
  /** In [0, 1), for the backoff's jitter; the composition supplies it (tests pin it). */
  random?: () => number;
  /** This server's presence id (presence.ts), named in its claims so that others retry them at once if it dies. */
  owner?: string;
}

export interface RoundResult {
  attempted: number;
  delivered: number;
}

export class WebhookService {
  private readonly o: Required<Omit<WebhookOptions, 'backoff' | 'owner'>> & { backoff: BackoffSettings; owner?: string };

  constructor(
    private readonly deps: AppDeps,
    readonly store: WebhookStore,
    /** The Notifier adapters (app/notify.ts); each row goes to the channel of its endpoint. */
    private readonly channels: readonly NotificationChannel[],
    opts: WebhookOptions & { random: () => number },
  ) {
    this.o = {
      fanOutBatch: opts.fanOutBatch ?? 500,
      fanOutPages: opts.fanOutPages ?? 20,
      concurrency: opts.concurrency ?? 8,
      maxPerRound: opts.maxPerRound ?? 200,
      leaseMarginMs: opts.leaseMarginMs ?? 30_000,
      random: opts.random,
      backoff: { ...DEFAULT_BACKOFF, ...opts.backoff },
      ...(opts.owner ? { owner: opts.owner } : {}),
    };
  }

  /**
   * Turns newly chained audit events into outbox rows; returns how many it queued (a pair
   * already in the outbox is skipped by the store, not subtracted here). With no
   * endpoint configured the cursor just follows the head, so an endpoint added later starts from
   * the events after it was added (older ones can be sent with a redelivery).
   */
  async fanOut(): Promise<number> {
    const config = this.deps.config.current();
    const endpoints = this.endpoints(config);
    let written = 0;
    for (let page = 0; page < this.o.fanOutPages; page++) {
      const cursor = await this.store.getCursor();
      const from = cursor ?? 0;
      const now = this.deps.clock.now();
      if (endpoints.size === 0) {
        const head = await this.deps.store.auditHead();
        if ((head?.seq ?? 0) !== from) await this.store.fanOut(cursor, head?.seq ?? 0, [], [], now);
        return written;
      }
      const links = await this.deps.store.readChain(from + 1, this.o.fanOutBatch);
      if (links.length === 0) {
        // The chain ends before the cursor (its tail was deleted, or an older backup restored):
        // follow it back, or the events linked next (an alert.audit_chain_broken among them)
        // would reuse sequence numbers already passed and never be sent.
        const head = await this.deps.store.auditHead();
        if (cursor !== undefined && (head?.seq ?? 0) < cursor) await this.store.fanOut(cursor, head?.seq ?? 0, [], [], now);
        return written;
      }
      const rows: NewOutboxRow[] = [];
      const requeue: NewOutboxRow[] = [];
      for (const link of links) {
        for (const { endpoint: ep } of endpoints.values()) if (eventMatches(ep.events, link.type)) rows.push(this.newRow(ep, link, now));
        if (link.type === REDELIVERY_EVENT) {
          const d = (link.details ?? {}) as { webhook?: unknown; eventId?: unknown };
          const ep = typeof d.webhook === 'string' ? endpoints.get(d.webhook)?.endpoint : undefined;
          const target = ep && typeof d.eventId === 'string' ? await this.store.findChainedEvent(d.eventId) : undefined;
          if (ep && target) requeue.push(this.newRow(ep, target, now));
        }
      }
      const last = links[links.length - 1]!.seq;
      // Lost the race: another server fanned these out; it will carry on from there.
      if (!(await this.store.fanOut(cursor, last, rows, requeue, now))) return written;
      written += rows.length + requeue.length;
      if (links.length < this.o.fanOutBatch) return written;
    }
    return written;
  }

  private endpoints(config: HourglassConfig): Map<string, ResolvedEndpoint> {
    return channelEndpoints(this.channels, config);
  }

  private newRow(ep: ChannelEndpoint, link: StoredChainLink, now: number): NewOutboxRow {
    const id = this.deps.ids.eventId();
    return {
      id,
      endpoint: ep.name,
      eventId: link.id,
      eventSeq: link.seq,
      eventType: link.type,
      payload: JSON.stringify({ id, event: eventJson(link), webhook: ep.name }),
      createdAt: now,
    };
  }

  /** One delivery round: claims due rows in batches and sends them, `concurrency` at a time. */
  async deliverDue(): Promise<RoundResult> {
    const result: RoundResult = { attempted: 0, delivered: 0 };
    // An endpoint that failed in this round gets no more of its backlog until the next round.
    const failed = new Set<string>();
    await this.store.releaseClaimsOfDead(this.deps.clock.now());
    while (result.attempted < this.o.maxPerRound) {
      const config = this.deps.config.current();
      const endpoints = this.endpoints(config);
      const names = [...endpoints.keys()].filter((n) => !failed.has(n));
      if (names.length === 0) break;
      const now = this.deps.clock.now();
      const longest = Math.max(...[...endpoints.values()].map((e) => e.endpoint.timeoutMs));
      const limit = Math.min(this.o.concurrency, this.o.maxPerRound - result.attempted);
      const rows = await this.store.claimDue(now, names, limit, now + longest + this.o.leaseMarginMs, this.o.owner);
      if (rows.length === 0) break;
      const outcomes = await Promise.all(rows.map((row) => this.attempt(row, endpoints.get(row.endpoint), config)));
      result.attempted += rows.length;
      rows.forEach((row, i) => {
        if (outcomes[i] === 'delivered') result.delivered += 1;
        else failed.add(row.endpoint);
      });
      if (rows.length < limit) break;
    }
    return result;
  }

  private async attempt(row: OutboxRow, target: ResolvedEndpoint | undefined, config: HourglassConfig): Promise<AttemptOutcome> {
    const at = this.deps.clock.now();
    let sent: DeliveryResult;
    if (!target) {
      sent = { kind: 'error', message: `webhook ${row.endpoint} is no longer configured`, durationMs: 0 };
    } else {
      const body = JSON.stringify({ ...(JSON.parse(row.payload) as object), sentAt: iso(at) });
      const delivery = { eventId: row.eventId, eventType: row.eventType, deliveryId: attemptId(row.id, row.attempts), body, at };
      sent = await target.channel.deliver(delivery, target.endpoint, config);
    }
    const secrets = target ? target.channel.secrets(target.endpoint) : [];
    const record: AttemptRecord = {
      outboxId: row.id,
      endpoint: row.endpoint,
      attempt: row.attempts,
      at,
      statusCode: sent.kind === 'response' ? sent.status : null,
      durationMs: Math.max(0, Math.round(sent.durationMs)),
      error:
        sent.kind === 'response'
          ? sent.status >= 200 && sent.status < 300
            ? null
            : `HTTP ${sent.status}`
          : scrubSecrets(`${sent.kind === 'refused' ? REFUSED_PREFIX : ''}${sent.message}`, secrets),
    };
    const outcome = outcomeOf(record.statusCode, record.error);
    const finishedAt = this.deps.clock.now();
    await this.store.finishAttempt(
      row,
      record,
      outcome === 'delivered' ? { delivered: true } : { delivered: false, nextAttemptAt: finishedAt + retryDelay(row.attempts, this.o.random, this.o.backoff) },
    );
    this.deps.metrics?.webhookDelivery(row.endpoint, outcome);
    return outcome;
  }

  // ---- queries and the redelivery request (HTTP) ----

  private assertReader(actor: Principal) {
    if (!hasRole(actor, 'admin', 'auditor')) throw new HgError('HG_FORBIDDEN', 'the auditor or admin role is needed to read webhook deliveries');
  }

  async overview(actor: Principal) {
    this.assertReader(actor);
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    const [stats, last, cursor, head] = await Promise.all([
      this.store.stats(),
      this.store.lastAttempts(config.webhooks.map((e) => e.name)),
      this.store.getCursor(),
      this.deps.store.auditHead(),
    ]);
    return {
      webhooks: config.webhooks.map((ep) => {
        const s = stats.get(ep.name);
        const l = last.get(ep.name);
        return {
          name: ep.name,
          url: displayUrl(ep.url),
          events: ep.events,
          timeoutMs: ep.timeoutMs,
          pending: s?.pending ?? 0,
          failing: s?.failing ?? 0,
          delivered: s?.delivered ?? 0,
          oldestPendingAgeSeconds: s?.oldestUndeliveredAt != null ? Math.max(0, Math.floor((now - s.oldestUndeliveredAt) / 1000)) : null,
          lastAttempt: l ? attemptJson(l) : null,
        };
      }),
      fanOut: { cursor: cursor ?? 0, head: head?.seq ?? 0 },
    };
  }

  async deliveries(actor: Principal, filter: DeliveryFilter) {
    this.assertReader(actor);
    const entries = await this.store.listDeliveries(filter);
    const last = entries.at(-1);
    return {
      deliveries: entries.map((e) => ({ ...attemptJson(e), eventId: e.eventId, eventType: e.eventType })),
      nextCursor: entries.length === filter.limit && last ? String(last.pos) : null,
    };
  }

  /**
   * Asks for one event to be sent to one endpoint again (admin). The request is an audit event;
   * fan-out re-queues the event when it reaches it (within a scheduler pass). Events must be
   * chained (the caller links pending events first) and match the endpoint's filter.
   */
  async requestRedelivery(actor: Principal, name: string, eventId: string) {
    if (!hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', 'only an admin can ask for a redelivery');
    const config = this.deps.config.current();
    const ep = this.endpoints(config).get(name)?.endpoint;
    if (!ep) throw new HgError('HG_NOT_FOUND', `no webhook ${name}`);
    const event = await this.store.findChainedEvent(eventId);
    if (!event) throw new HgError('HG_NOT_FOUND', `no audit event ${eventId}`);
    if (!eventMatches(ep.events, event.type)) {
      throw new HgError('HG_INVALID_INPUT', `webhook ${name} does not subscribe to ${event.type} events (events: ${ep.events.join(', ')})`);
    }
    const now = this.deps.clock.now();
    const [audit] = stamp(
      this.deps,
      [{ type: REDELIVERY_EVENT, actor: actor.id, details: { webhook: name, eventId, eventType: event.type, eventSeq: event.seq } }],
      now,
      config.policyHash,
    );
    await this.deps.store.transaction((tx) => tx.appendAudit([audit!]));
    return { webhook: name, eventId, eventType: event.type, requestEventId: audit!.id, queued: true as const };
  }
}

export const attemptId = (outboxId: string, attempt: number) => `${outboxId}.${attempt}`;

function attemptJson(a: AttemptRecord) {
  return {
    id: attemptId(a.outboxId, a.attempt),
    outboxId: a.outboxId,
    webhook: a.endpoint,
    attempt: a.attempt,
    at: iso(a.at),
    outcome: outcomeOf(a.statusCode, a.error),
    statusCode: a.statusCode,
    durationMs: a.durationMs,
    error: a.error,
  };
}

// ---- the background worker ----------------------------------------------------------------------------

export interface WebhookWorker extends BackgroundWorker {
  /** Resolves when the delivery round in flight (if any) has ended. */
  idle(): Promise<void>;
}

/**
 * The worker of an outbox (event webhooks here; notifications to people reuse it).
 * Each `runOnce` fans out (quick: two indexed reads when nothing is new), then starts a delivery
 * round unless one is still running, and returns without waiting for it: a slow receiver must not
 * hold up the scheduler pass that expires grants. `detached: false` waits for the round (tests, CLI).
 * An error in a detached round is rethrown by the next `runOnce`, so the scheduler logs it.
 */
export function webhookWorker(
  service: { fanOut(): Promise<unknown>; deliverDue(): Promise<unknown> },
  opts: { detached?: boolean; name?: string } = {},
): WebhookWorker {
  let round: Promise<void> | undefined;
  let roundError: unknown;
  return {
    name: opts.name ?? 'webhooks',
    async runOnce() {
      const previous = roundError;
      roundError = undefined;
      await service.fanOut();
      if (!round) {
        round = service
          .deliverDue()
          .then(
            () => {},
            (err: unknown) => {
              roundError = err;
            },
          )
          .finally(() => {
            round = undefined;
          });
      }
      if (opts.detached === false) {
        await round;
        const now = roundError;
        roundError = undefined;
        if (now !== undefined) throw now;
      }
      if (previous !== undefined) throw previous;
    },
    async idle() {
      while (round) await round;
    },
  };
}
