/**
 * Notifications to people, through a durable outbox fed from the audit chain.
 *
 * - Fan-out follows the chain by `seq` from its own cursor (as the webhook outbox does), plans
 *   who hears what (core/notify-plan.ts), and writes one row per (destination, event, topic,
 *   recipient) in the same transaction as the cursor move: several servers may run it, a crash
 *   loses nothing, and a row is never written twice.
 * - Delivery claims due rows with a lease, renders each message at the attempt (templates and
 *   addresses in force then), hands it to its channel, logs the attempt, and retries failures
 *   with backoff for a day. Nothing here runs inside a database transaction while a channel is
 *   called.
 * - An approver's message carries a one-time link (links.ts); a Slack prompt is updated in place
 *   once the request is decided (`approval.closed`).
 */
import type { HourglassConfig } from '../../config/types.js';
import type { StoredChainLink } from '../../core/audit-chain.js';
import { HgError } from '../../core/errors.js';
import { destinationsFor, digestDay, intentsFor, type NotificationTopic } from '../../core/notify-plan.js';
import type { AccessRequest, Principal } from '../../core/types.js';
import { mfaFor } from '../step-up-gate.js';
import type { AppDeps } from '../context.js';
import { directoryOf, hasRole } from '../directory.js';
import type { PrincipalStore } from '../ports.js';
import { retryDelay, scrubSecrets } from '../webhooks.js';
import { audienceOf } from './audience.js';
import { ApprovalLinks } from './links.js';
import type {
  MessageChannel,
  NewNotificationRow,
  NotificationAttempt,
  NotificationFilter,
  NotificationRow,
  NotificationStore,
  Recipient,
  SendResult,
} from './ports.js';
import { payloadOf, render, type NotificationPayload, type RenderContext } from './render.js';

/** Retried this long after the row was written; a message a day late is noise, so it is then given up (logged). */
const GIVE_UP_AFTER_MS = 86_400_000;
const PROMPT_TOPICS: readonly NotificationTopic[] = ['approval.requested', 'approval.escalated', 'approval.reminder', 'extension.requested'];
/** The chat identity provider key in identity_links (one Slack workspace per deployment). */
export const SLACK_LINK_PROVIDER = 'slack';

export interface NotificationOptions {
  fanOutBatch?: number;
  concurrency?: number;
  maxPerRound?: number;
  leaseMarginMs?: number;
  random: () => number;
  /** This server's presence id (presence.ts), named in its claims so that others retry them at once if it dies. */
  owner?: string;
}

export class NotificationService {
  readonly links: ApprovalLinks;
  private readonly o: Required<Omit<NotificationOptions, 'owner'>> & { owner?: string };

  constructor(
    private readonly deps: AppDeps,
    readonly store: NotificationStore,
    private readonly channels: readonly MessageChannel[],
    private readonly principals: PrincipalStore | undefined,
    opts: NotificationOptions,
  ) {
    this.o = { fanOutBatch: 200, concurrency: 4, maxPerRound: 100, leaseMarginMs: 30_000, ...opts };
    this.links = new ApprovalLinks(deps, store);
  }

  private channelFor(config: HourglassConfig, destination: string): MessageChannel | undefined {
    return this.channels.find((c) => c.destinations(config).includes(destination));
  }

  // ---- fan-out ----

  /** Turns newly chained events into outbox rows (and the daily digest, when due); returns how many it wrote. */
  async fanOut(): Promise<number> {
    return (await this.fanOutEvents()) + (await this.digestDue());
  }

  private async fanOutEvents(): Promise<number> {
    const config = this.deps.config.current();
    const settings = config.notifications;
    const cursor = await this.store.getCursor();
    const from = cursor ?? 0;
    if (!settings && config.tickets.length === 0) {
      // Nobody to tell: follow the head, so turning notifications on later starts from then
      // (migration 0013 starts the cursor at the head too: an upgraded store's history is never sent).
      const head = (await this.deps.store.auditHead())?.seq ?? 0;
      if (head !== from) await this.store.fanOut(cursor, head, []);
      return 0;
    }
    const links = await this.deps.store.readChain(from + 1, this.o.fanOutBatch);
    if (links.length === 0) {
      const head = (await this.deps.store.auditHead())?.seq ?? 0;
      if (cursor !== undefined && head < cursor) await this.store.fanOut(cursor, head, []);
      return 0;
    }
    const now = this.deps.clock.now();
    const rows: NewNotificationRow[] = [];
    const requests = new Map<string, AccessRequest | undefined>();
    let everyone: Principal[] | undefined;
    const names = nameIndex(config);
    for (const link of links) {
      let req: AccessRequest | undefined;
      if (link.requestId) {
        if (!requests.has(link.requestId)) requests.set(link.requestId, await this.deps.store.getRequest(link.requestId));
        req = requests.get(link.requestId);
      }
      const intents = intentsFor(link, req);
      if (intents.length === 0) continue;
      everyone ??= [...(await directoryOf(this.deps).all())];
      const policies = req ? [...new Set(Object.values(req.policies))] : [];
      for (const intent of intents) {
        const destinations = [...destinationsFor(settings?.routes ?? [], intent.topic, policies), ...ticketComments(intent.topic, req)].filter((d) => {
          const channel = this.channelFor(config, d);
          // approval.closed only ever updates a prompt in place; it is never a message of its own.
          return channel !== undefined && (intent.topic !== 'approval.closed' || channel.updatesInPlace);
        });
        if (destinations.length === 0) continue;
        const payload = JSON.stringify(payloadOf(eventOf(link), req, names));
        // A close goes to whoever got a prompt there (those who approved included); others to the audience now.
        const prompted = intent.topic === 'approval.closed' && link.requestId ? await this.store.prompts(link.requestId) : undefined;
        const people = prompted ? [] : audienceOf(intent.audience, req, everyone);
        for (const destination of destinations) {
          const personal = this.channelFor(config, destination)!.personal(destination);
          // A shared channel hears about a request once, whoever its audience is (and not when there is none).
          const recipients = prompted
            ? [...new Set(prompted.filter((p) => p.destination === destination).map((p) => p.recipient))]
            : personal
              ? people
              : people.length > 0 || intent.audience.kind === 'admins'
                ? ['']
                : [];
          for (const recipient of recipients) {
            rows.push({
              id: this.deps.ids.eventId(),
              destination,
              eventId: link.id,
              eventSeq: link.seq,
              topic: intent.topic,
              recipient,
              requestId: link.requestId ?? null,
              payload,
              createdAt: now,
            });
          }
        }
      }
    }
    const last = links[links.length - 1]!.seq;
    if (!(await this.store.fanOut(cursor, last, rows))) return 0;
    return rows.length;
  }

  // ---- the daily digest ----

  private digestSent: string | undefined;

  /**
   * Once a day, at `notifications.digest.at` local time: one `digest` message per approver listing
   * the requests waiting for them. Keyed by the local date, so every server may run it and each
   * approver still gets one (the outbox skips rows it has); a server started later that day sends
   * nothing new.
   */
  async digestDue(): Promise<number> {
    const config = this.deps.config.current();
    const digest = config.notifications?.digest;
    if (!digest) return 0;
    const now = this.deps.clock.now();
    const day = digestDay(now, digest);
    if (!day || this.digestSent === day) return 0;
    const destinations = destinationsFor(config.notifications!.routes, 'digest', []).filter((d) => this.channelFor(config, d)?.personal(d));
    const pending = await this.deps.store.listRequests({ status: ['pending'], limit: 1000 });
    const everyone = [...(await directoryOf(this.deps).all())];
    const names = nameIndex(config);
    const waiting = new Map<string, AccessRequest[]>();
    for (const req of pending) for (const id of audienceOf({ kind: 'approvers' }, req, everyone)) waiting.set(id, [...(waiting.get(id) ?? []), req]);
    const rows: NewNotificationRow[] = [];
    for (const [principal, reqs] of waiting) {
      const items = reqs.map((r) => ({
        id: r.id,
        requesterName: names(r.requester),
        entitlements: r.entitlements,
        durationMs: r.durationMs,
        requestedAt: r.requestedAt,
      }));
      const event = { id: `digest:${day}`, type: 'digest', actor: 'system', at: now, details: null };
      const payload = JSON.stringify(payloadOf(event, undefined, names, { items }));
      for (const destination of destinations) {
        rows.push({
          id: this.deps.ids.eventId(),
          destination,
          eventId: event.id,
          eventSeq: 0,
          topic: 'digest',
          recipient: principal,
          requestId: null,
          payload,
          createdAt: now,
        });
      }
    }
    await this.store.enqueue(rows);
    this.digestSent = day;
    return rows.length;
  }

  // ---- delivery ----

  async deliverDue(): Promise<{ attempted: number; sent: number }> {
    const result = { attempted: 0, sent: 0 };
    await this.store.releaseClaimsOfDead(this.deps.clock.now());
    while (result.attempted < this.o.maxPerRound) {
      const config = this.deps.config.current();
      const now = this.deps.clock.now();
      const longest = Math.max(10_000, ...this.timeouts(config));
      const limit = Math.min(this.o.concurrency, this.o.maxPerRound - result.attempted);
      const rows = await this.store.claimDue(now, limit, now + longest + this.o.leaseMarginMs, this.o.owner);
      if (rows.length === 0) break;
      const outcomes = await Promise.all(rows.map((row) => this.attempt(row, config)));
      result.attempted += rows.length;
      result.sent += outcomes.filter((o) => o === 'sent').length;
      if (rows.length < limit) break;
    }
    return result;
  }

  private timeouts(config: HourglassConfig): number[] {
    const s = config.notifications;
    return [s?.email?.timeoutMs ?? 0, s?.slack?.timeoutMs ?? 0, ...(s?.teams ?? []).map((t) => t.timeoutMs)];
  }

  private async attempt(row: NotificationRow, config: HourglassConfig): Promise<SendResult['kind']> {
    const at = this.deps.clock.now();
    const channel = this.channelFor(config, row.destination);
    let sent: SendResult;
    try {
      sent = channel ? await this.send(row, channel, config, at) : { kind: 'skipped', reason: `${row.destination} is no longer configured`, durationMs: 0 };
    } catch (err) {
      // A bug or an outage between channel and store (a directory read): retried like a failed send.
      sent = { kind: 'failed', message: (err as Error).message ?? String(err), durationMs: 0 };
    }
    const secrets = channel ? channel.secrets(config) : [];
    const giveUp = sent.kind === 'failed' && at - row.createdAt >= GIVE_UP_AFTER_MS;
    const error =
      sent.kind === 'sent'
        ? null
        : scrubSecrets(sent.kind === 'skipped' ? sent.reason : giveUp ? `gave up after ${row.attempts} attempts: ${sent.message}` : sent.message, secrets);
    const attempt: NotificationAttempt = {
      notificationId: row.id,
      destination: row.destination,
      recipient: row.recipient,
      topic: row.topic,
      eventId: row.eventId,
      requestId: row.requestId,
      attempt: row.attempts,
      at,
      outcome: sent.kind,
      durationMs: Math.max(0, Math.round(sent.durationMs)),
      error,
    };
    const finishedAt = this.deps.clock.now();
    await this.store.finishAttempt(
      row,
      attempt,
      sent.kind === 'sent'
        ? { status: 'sent', ...(sent.ref ? { ref: sent.ref } : {}) }
        : sent.kind === 'skipped' || giveUp
          ? { status: 'skipped' }
          : { status: 'pending', nextAttemptAt: finishedAt + retryDelay(row.attempts, this.o.random, { baseMs: 5_000, capMs: 900_000, minMs: 1_000 }) },
    );
    this.deps.metrics?.notificationAttempt(channel?.kind ?? row.destination.split(':')[0]!, sent.kind);
    return sent.kind;
  }

  private async send(row: NotificationRow, channel: MessageChannel, config: HourglassConfig, now: number): Promise<SendResult> {
    const settings = config.notifications;
    const payload = JSON.parse(row.payload) as NotificationPayload;
    const personal = row.recipient !== '';
    let recipient: Recipient | undefined;
    if (personal) {
      recipient = await this.recipient(row.recipient, config);
      if (!recipient) return { kind: 'skipped', reason: `${row.recipient} is no longer a known principal`, durationMs: 0 };
    }
    let replaces: string | undefined;
    if (row.topic === 'approval.closed') {
      const prompts = row.requestId
        ? (await this.store.prompts(row.requestId)).filter((p) => p.destination === row.destination && p.recipient === row.recipient)
        : [];
      if (prompts.some((p) => p.status === 'pending')) return { kind: 'failed', message: 'waiting for the prompt to be sent first', durationMs: 0 };
      replaces = prompts.filter((p) => p.ref).at(-1)?.ref ?? undefined;
      if (!replaces) return { kind: 'skipped', reason: 'no prompt was sent here to update', durationMs: 0 };
    }
    const req = payload.request;
    const publicUrl = config.server.publicUrl!;
    const ctx: RenderContext = {
      publicUrl,
      templatesDir: settings?.templatesDir,
      now,
      ...(recipient?.displayName ? { recipientName: recipient.displayName } : {}),
    };
    if (req) {
      const prompt = PROMPT_TOPICS.includes(row.topic);
      const current = prompt || row.topic === 'approval.closed' ? await this.deps.store.getRequest(req.id) : undefined;
      const extension = row.topic === 'extension.requested';
      if (prompt && current && !extension && current.status !== 'pending')
        return { kind: 'skipped', reason: `the request is ${current.status} already`, durationMs: 0 };
      if (extension && current && !current.pendingExtension) return { kind: 'skipped', reason: 'the extension was decided already', durationMs: 0 };
      if (prompt && personal) {
        const link = await this.links.create(row.recipient, req.id, now, settings?.linkLifetimeMs ?? 4 * 3_600_000);
        ctx.link = { label: 'Review the request', url: link.url, oneTime: true, expiresAt: link.expiresAt };
        ctx.mfa = current ? mfaFor(current.terms, 'approve') !== undefined : false;
      } else if (prompt || row.topic === 'approval.closed' || row.topic === 'review.requested') {
        ctx.link = { label: 'Open in Hourglass', url: `${publicUrl}/approvals?request=${encodeURIComponent(req.id)}`, oneTime: false };
      } else {
        ctx.link = { label: 'Open in Hourglass', url: `${publicUrl}/?request=${encodeURIComponent(req.id)}`, oneTime: false };
      }
      ctx.decide = prompt && !extension && channel.kind === 'slack' && current !== undefined && fromChat(current);
    } else if (row.topic === 'digest') {
      ctx.link = { label: 'Open your approvals', url: `${publicUrl}/approvals`, oneTime: false };
    } else if (row.topic === 'alert') {
      ctx.link = { label: 'Open the audit log', url: `${publicUrl}/audit?event=${encodeURIComponent(payload.event.id)}`, oneTime: false };
    }
    if (channel.kind === 'ticket') ctx.forTicket = true;
    const message = render(row.topic, payload, ctx);
    return channel.send(
      {
        notificationId: row.id,
        deliveryId: `${row.id}.${row.attempts}`,
        destination: row.destination,
        ...(recipient ? { recipient } : {}),
        message,
        ...(replaces ? { replaces } : {}),
        ...(channel.kind === 'ticket' && req?.ticket ? { ticketKey: req.ticket } : {}),
      },
      config,
    );
  }

  /** A principal's addresses now: the file's, else the identity source's; their Slack id from the link they made. */
  async recipient(id: string, config: HourglassConfig): Promise<Recipient | undefined> {
    const principal = await directoryOf(this.deps).find(id);
    if (!principal) return undefined;
    const fromFile = config.principals.find((p) => p.id === id);
    const stored = fromFile ? undefined : await this.principals?.get(id);
    const linked = await this.deps.store.transaction((tx) => tx.identity.linkedSubject(SLACK_LINK_PROVIDER, id));
    const slackUser = linked?.split(':')[1];
    const email = fromFile?.email ?? stored?.email;
    const displayName = fromFile?.displayName ?? stored?.displayName;
    return { principal: id, ...(displayName ? { displayName } : {}), ...(email ? { email } : {}), ...(slackUser ? { slackUser } : {}) };
  }

  // ---- the delivery log (HTTP) ----

  private assertReader(actor: Principal) {
    if (!hasRole(actor, 'admin', 'auditor')) throw new HgError('HG_FORBIDDEN', 'the auditor or admin role is needed to read notification deliveries');
  }

  async overview(actor: Principal) {
    this.assertReader(actor);
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    const [stats, cursor, head] = await Promise.all([this.store.stats(), this.store.getCursor(), this.deps.store.auditHead()]);
    const destinations = this.channels.flatMap((c) => c.destinations(config).map((d) => ({ d, c })));
    return {
      enabled: config.notifications !== undefined,
      destinations: destinations.map(({ d, c }) => {
        const s = stats.get(d);
        return {
          destination: d,
          kind: c.kind,
          personal: c.personal(d),
          pending: s?.pending ?? 0,
          failing: s?.failing ?? 0,
          sent: s?.sent ?? 0,
          skipped: s?.skipped ?? 0,
          oldestPendingAgeSeconds: s?.oldestPendingAt != null ? Math.max(0, Math.floor((now - s.oldestPendingAt) / 1000)) : null,
        };
      }),
      routes: config.notifications?.routes ?? [],
      fanOut: { cursor: cursor ?? 0, head: head?.seq ?? 0 },
    };
  }

  async deliveries(actor: Principal, filter: NotificationFilter) {
    this.assertReader(actor);
    const entries = await this.store.listAttempts(filter);
    const last = entries.at(-1);
    return {
      deliveries: entries.map((e) => ({
        id: `${e.notificationId}.${e.attempt}`,
        notificationId: e.notificationId,
        destination: e.destination,
        recipient: e.recipient || null,
        topic: e.topic,
        eventId: e.eventId,
        requestId: e.requestId,
        attempt: e.attempt,
        at: new Date(e.at).toISOString(),
        outcome: e.outcome,
        durationMs: e.durationMs,
        error: e.error,
      })),
      nextCursor: entries.length === filter.limit && last ? String(last.pos) : null,
    };
  }
}

/** Every policy that needs approval lets its approvers decide from chat, and none asks MFA to approve. */
export function fromChat(req: AccessRequest): boolean {
  const deciding = req.terms.filter((t) => t.approval.required > 0);
  return deciding.length > 0 && deciding.every((t) => t.approval.fromChat === true) && mfaFor(req.terms, 'approve') === undefined;
}

/** Ticket systems to comment on when access starts or ends (`ticket.comment`), outside the routes. */
function ticketComments(topic: NotificationTopic, req: AccessRequest | undefined): string[] {
  if (!req?.ticket || (topic !== 'grant.active' && topic !== 'grant.ended')) return [];
  return [...new Set(req.terms.flatMap((t) => (t.ticket?.comment ? [`ticket:${t.ticket.system}`] : [])))];
}

function eventOf(link: StoredChainLink): NotificationPayload['event'] {
  return { id: link.id, type: link.type, actor: link.actor, at: link.at, details: (link.details ?? null) as Record<string, unknown> | null };
}

/** Display names for the file's principals (others show by id at fan-out; their names come with the address at delivery). */
function nameIndex(config: HourglassConfig): (id: string) => string {
  const byId = new Map(config.principals.map((p) => [p.id, p.displayName ?? p.id]));
  return (id) => byId.get(id) ?? id;
}
