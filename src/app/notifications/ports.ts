/**
 * Notifications to people: what a message channel (e-mail, Slack, Teams) is given and answers.
 *
 * The service (app/notifications/service.ts) follows the audit chain, decides who hears what
 * (core/notify-plan.ts), keeps one outbox row per (destination, event, recipient) and renders the
 * message from templates at each attempt; a channel only turns a rendered message into one call to
 * its service. Adapters live in src/adapters/notifiers/<kind>/ and are registered in
 * src/adapters/notifiers/index.ts. docs/integrations.md describes them for operators.
 */
import type { HourglassConfig } from '../../config/types.js';

import type { NotificationTopic } from '../../core/notify-plan.js';

export { NOTIFICATION_TOPICS, type NotificationTopic } from '../../core/notify-plan.js';

/** A message as every channel receives it: the texts from the templates, and the facts chat cards show. */
export interface RenderedMessage {
  topic: NotificationTopic;
  /** E-mail subject; the headline of chat messages and their notification text. */
  subject: string;
  /** Plain text (the e-mail's text part; the body of chat messages). */
  text: string;
  /** The e-mail's HTML part (escaped by the template engine). */
  html: string;
  /** Label/value pairs for chat cards (requester, entitlements, duration, reason, ticket...). */
  facts: { label: string; value: string }[];
  /** Where to act or read more: an approver's one-time link, or the request's page. */
  link?: { label: string; url: string };
  /** Decide from the chat message (Slack buttons): only for approvers of a policy with `approval.fromChat`. */
  decide?: { requestId: string };
}

/** The person a personal message goes to, with their addresses from the directory. */
export interface Recipient {
  principal: string;
  displayName?: string;
  email?: string;
  /** Their Slack user id, from the link they made (POST /v1/integrations/slack/link). */
  slackUser?: string;
}

export interface SendInput {
  /** The outbox row (the same for every attempt). */
  notificationId: string;
  /** `notificationId.attempt`: receivers may de-duplicate on it. */
  deliveryId: string;
  /** `email`, `slack`, `slack:C0123`, `teams:ops`. */
  destination: string;
  /** Absent for shared destinations (a Slack channel, a Teams channel). */
  recipient?: Recipient;
  message: RenderedMessage;
  /** Update this earlier message in place (its `ref` from a send), instead of posting a new one. */
  replaces?: string;
  /** For `ticket:NAME` destinations: the ticket to comment on. */
  ticketKey?: string;
}

/**
 * How one attempt ended. `sent` may carry a reference for later updates in place (Slack: channel
 * and ts); `skipped` is final (no address for this person on this channel): logged, not retried;
 * `failed` is retried with backoff.
 */
export type SendResult =
  | { kind: 'sent'; ref?: string; durationMs: number }
  | { kind: 'skipped'; reason: string; durationMs: number }
  | { kind: 'failed'; message: string; durationMs: number };

export interface MessageChannel {
  /** `email`, `slack`, `teams`. */
  readonly kind: string;
  /** The destinations this channel serves under the configuration now (empty when not configured). */
  destinations(config: HourglassConfig): readonly string[];
  /** True for destinations that take one message per recipient (`email`, `slack`); false for shared channels. */
  personal(destination: string): boolean;
  /** True when a sent message can be replaced later (`replaces`). */
  readonly updatesInPlace: boolean;
  /** Secrets scrubbed from error messages before they are logged. */
  secrets(config: HourglassConfig): readonly string[];
  /** One attempt. Never throws: every failure is a SendResult. */
  send(input: SendInput, config: HourglassConfig): Promise<SendResult>;
  /** Releases connections (the SMTP pool, a socket). */
  close?(): Promise<void>;
}

// ---- the outbox of notifications (adapters/store/notification-store.ts) ----------------------------------

/** `pending` (due or being tried), `sent`, or `skipped` (final: nobody to send it to there). */
export type NotificationStatus = 'pending' | 'sent' | 'skipped';

export interface NotificationRow {
  id: string;
  destination: string;
  eventId: string;
  eventSeq: number;
  topic: NotificationTopic;
  /** The principal for personal destinations; '' for shared ones. */
  recipient: string;
  requestId: string | null;
  /** JSON of what the templates read (NotificationPayload), fixed at fan-out. */
  payload: string;
  status: NotificationStatus;
  /** Attempts started, including one in flight. */
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  /** What the channel returned to update the message in place later (Slack: channel and ts). */
  ref: string | null;
  createdAt: number;
  finishedAt: number | null;
}

export type NewNotificationRow = Pick<
  NotificationRow,
  'id' | 'destination' | 'eventId' | 'eventSeq' | 'topic' | 'recipient' | 'requestId' | 'payload' | 'createdAt'
>;

export type AttemptOutcome = 'sent' | 'skipped' | 'failed';

export interface NotificationAttempt {
  notificationId: string;
  destination: string;
  recipient: string;
  topic: NotificationTopic;
  eventId: string;
  requestId: string | null;
  attempt: number;
  at: number;
  outcome: AttemptOutcome;
  durationMs: number;
  /** Scrubbed of every channel secret; the reason of a skip. */
  error: string | null;
}

export interface NotificationLogEntry extends NotificationAttempt {
  pos: number;
}

export interface NotificationFilter {
  destination?: string;
  recipient?: string;
  requestId?: string;
  outcome?: AttemptOutcome;
  /** Log position strictly below this (pages go newest first). */
  before?: number;
  limit: number;
}

export interface DestinationStats {
  pending: number;
  failing: number;
  sent: number;
  skipped: number;
  oldestPendingAt: number | null;
}

/** A one-time link (its secret's SHA-256 is the key): to a request for its approver, or to link a chat account. */
export interface OneTimeLink {
  digest: string;
  purpose: 'approval' | 'chat-link';
  principal: string | null;
  requestId: string | null;
  /** What the link binds (`slack:TEAM:USER` for chat-link). */
  subject: string | null;
  expiresAt: number;
  usedAt: number | null;
}

export interface NotificationStore {
  getCursor(): Promise<number | undefined>;
  /** Moves the cursor by compare-and-swap and inserts the rows (skipping ones already present), in one transaction. */
  fanOut(expected: number | undefined, next: number, rows: NewNotificationRow[]): Promise<boolean>;
  /** Inserts rows outside the chain's fan-out (the daily digest), skipping ones already present. */
  enqueue(rows: NewNotificationRow[]): Promise<void>;
  /** Claims due pending rows with a lease (attempts + 1, next_attempt_at = leaseUntil), oldest first. */
  claimDue(now: number, limit: number, leaseUntil: number, owner?: string): Promise<NotificationRow[]>;
  /** Makes due now the rows claimed by servers that stopped saying they are alive (presence.ts); how many. */
  releaseClaimsOfDead(now: number): Promise<number>;
  /** Logs the attempt and settles the row, while it is still this claim's (same attempts count). */
  finishAttempt(
    row: NotificationRow,
    attempt: NotificationAttempt,
    result: { status: 'sent'; ref?: string } | { status: 'skipped' } | { status: 'pending'; nextAttemptAt: number },
  ): Promise<void>;
  /** The prompts (approval.requested, approval.escalated) of a request, every destination and recipient. */
  prompts(requestId: string): Promise<NotificationRow[]>;
  stats(): Promise<Map<string, DestinationStats>>;
  listAttempts(filter: NotificationFilter): Promise<NotificationLogEntry[]>;
  putLink(link: OneTimeLink): Promise<void>;
  getLink(digest: string): Promise<OneTimeLink | undefined>;
  /** Marks the link used if it was not: true for the one caller that did. */
  useLink(digest: string, at: number): Promise<boolean>;
}

// ---- deciding from chat -------------------------------------------------------------------------------------

/** A button press in Slack, verified (signature or Socket Mode) and parsed by the adapter. */
export interface ChatDecisionInput {
  teamId: string;
  userId: string;
  action: 'approve' | 'deny';
  requestId: string;
  /** Where the button was (a DM or a channel): the answer is shown there, to the presser only. */
  channelId?: string;
}

/** What the chat integration asks of Slack besides sending messages (adapters/notifiers/slack/). */
export interface SlackApi {
  /** The Slack user with this e-mail address in the workspace (users.lookupByEmail), if any. */
  userIdByEmail(email: string, config: HourglassConfig): Promise<string | undefined>;
  /** A short answer to the person who pressed a button: ephemeral in a channel, else a DM. Never throws. */
  notice(userId: string, channelId: string | undefined, text: string, config: HourglassConfig): Promise<void>;
}
