/**
 * From an outbox row's payload to a RenderedMessage: the view the templates read, the templates
 * in force (a deployment's files over the built-ins), and the facts chat cards show. What a
 * payload holds is chosen at fan-out (payloadOf): request facts and the event, never a credential,
 * and user text cut to a bounded length so no message outgrows what a channel accepts.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Mustache from 'mustache';
import { formatDuration } from '../../core/duration.js';
import type { NotificationTopic } from '../../core/notify-plan.js';
import type { AccessRequest } from '../../core/types.js';
import type { RenderedMessage } from './ports.js';
import { BUILTIN_LAYOUT, BUILTIN_TEMPLATES, BUILTIN_TICKET_TEMPLATES, type TemplatePart } from './templates.js';

/** What fan-out keeps of the moment: enough to write the message, nothing secret. */
export interface NotificationPayload {
  event: { id: string; type: string; actor: string; at: number; details: Record<string, unknown> | null };
  request?: {
    id: string;
    requester: string;
    requesterName: string;
    entitlements: string[];
    durationMs: number;
    reason?: string;
    ticket?: string;
    /** The ticket as its system told it (`ticket.system` policies). */
    ticketSummary?: string;
    ticketState?: string;
    status: string;
    requestedAt: number;
    startAt?: number;
    expiresAt?: number;
    pendingUntil?: number;
    reviewDueAt?: number;
    approvals: number;
    required: number;
    breakGlass: boolean;
    extendable: boolean;
    decidedBy?: string;
    /** The pending extension's duration. */
    extensionMs?: number;
    endedBy?: string;
    endReason?: string;
  };
  digest?: { items: { id: string; requesterName: string; entitlements: string[]; durationMs: number; requestedAt: number }[] };
}

const MAX_TEXT = 500;
const cut = (s: string | undefined) => (s === undefined ? undefined : s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s);

export function payloadOf(
  event: NotificationPayload['event'],
  req: AccessRequest | undefined,
  names: (id: string) => string,
  digest?: NotificationPayload['digest'],
): NotificationPayload {
  const details = event.details ?? {};
  const text = (v: unknown) => (typeof v === 'string' ? cut(v) : undefined);
  const out: NotificationPayload = { event: { ...event, details: Object.keys(details).length ? sanitize(details) : null } };
  if (req) {
    const required = req.terms.reduce((n, t) => n + t.approval.required, 0);
    out.request = {
      id: req.id,
      requester: req.requester,
      requesterName: names(req.requester),
      entitlements: req.entitlements,
      durationMs: req.durationMs,
      ...(req.reason ? { reason: cut(req.reason)! } : {}),
      ...(req.ticket ? { ticket: cut(req.ticket)! } : {}),
      ...(req.ticketInfo ? { ticketSummary: cut(req.ticketInfo.summary)!, ticketState: req.ticketInfo.state } : {}),
      status: req.status,
      requestedAt: req.requestedAt,
      ...(req.startAt !== undefined ? { startAt: req.startAt } : {}),
      ...(req.expiresAt !== undefined ? { expiresAt: req.expiresAt } : {}),
      ...(req.pendingUntil !== undefined ? { pendingUntil: req.pendingUntil } : {}),
      ...(req.reviewDueAt !== undefined ? { reviewDueAt: req.reviewDueAt } : {}),
      approvals: req.approvals.length,
      required,
      breakGlass: req.breakGlass,
      extendable: req.terms.every((t) => t.extension.allowed),
      ...(req.decision ? { decidedBy: names(req.decision.by) } : {}),
      ...(req.pendingExtension ? { extensionMs: req.pendingExtension.durationMs } : {}),
      ...(req.endedBy ? { endedBy: names(req.endedBy) } : {}),
      ...(text(req.endReason) ? { endReason: text(req.endReason)! } : {}),
    };
  }
  if (digest) out.digest = digest;
  return out;
}

/** Event details as messages may show them: strings cut short, nested values dropped (they carry nothing a person reads). */
function sanitize(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) {
    if (typeof v === 'string') out[k] = cut(v);
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v.slice(0, 20).map((x) => cut(x as string));
  }
  return out;
}

const STATUS_TEXT: Record<string, string> = {
  pending: 'pending',
  scheduled: 'approved (scheduled)',
  active: 'approved and active',
  expired: 'expired',
  denied: 'denied',
  cancelled: 'cancelled',
  revoked: 'revoked',
  failed: 'failed',
};

const ALERT_TITLES: Record<string, string> = {
  'alert.revocation_overdue': 'Access removal is overdue',
  'alert.break_glass_used': 'Break-glass access was used',
  'alert.review_overdue': 'A break-glass review is overdue',
  'alert.audit_chain_broken': 'The audit chain does not verify',
  'alert.target_unconfigured': 'A target holding access is no longer configured',
  'alert.agent_behind': 'A host agent has not confirmed a change',
  'drift.orphan_removed': 'Drift: an account Hourglass did not grant was removed',
  'drift.extra_privileges': 'Drift: extra privileges found on a target',
  'drift.access_missing': 'Drift: granted access is missing on a target',
};

export interface RenderContext {
  publicUrl: string;
  /** `notifications.templates`: override files, read when they change. */
  templatesDir?: string | undefined;
  /** The one-time link (approvers), or a plain link to the page. */
  link?: { label: string; url: string; oneTime: boolean; expiresAt?: number };
  recipientName?: string;
  /** Decide buttons for this message (Slack, `approval.fromChat`). */
  decide?: boolean;
  /** MFA is asked on the page for this approval. */
  mfa?: boolean;
  /** A comment on the request's ticket: `text` is the `TOPIC.ticket.txt` part. */
  forTicket?: boolean;
  now: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z'));

function viewOf(topic: NotificationTopic, p: NotificationPayload, ctx: RenderContext) {
  const r = p.request;
  const d = p.event.details ?? {};
  const status = r ? (STATUS_TEXT[r.status] ?? r.status) : '';
  return {
    topic,
    hourglass: { url: ctx.publicUrl },
    recipient: { name: ctx.recipientName },
    event: { type: p.event.type, at: iso(p.event.at), actor: p.event.actor },
    comment: typeof d.comment === 'string' ? d.comment : undefined,
    mfa: ctx.mfa === true,
    request: r
      ? {
          ...r,
          entitlements: r.entitlements.join(', '),
          entitlementList: r.entitlements,
          duration: formatDuration(r.durationMs),
          statusText: status,
          approvals: `${r.approvals} of ${r.required} approval${r.required === 1 ? '' : 's'}`,
          startsAt: r.status === 'scheduled' ? iso(r.startAt) : undefined,
          expiresAt: iso(r.expiresAt),
          pendingUntil: iso(r.pendingUntil),
          reviewDueAt: iso(r.reviewDueAt),
          waited: formatDuration(Math.max(0, p.event.at - r.requestedAt)),
          extension: r.extensionMs !== undefined ? formatDuration(r.extensionMs) : undefined,
        }
      : undefined,
    alert: topic === 'alert' ? { type: p.event.type, title: ALERT_TITLES[p.event.type] ?? p.event.type, summary: alertSummary(d) } : undefined,
    digest: p.digest
      ? {
          count: p.digest.items.length,
          items: p.digest.items.map((i) => ({
            ...i,
            entitlements: i.entitlements.join(', '),
            duration: formatDuration(i.durationMs),
            waited: formatDuration(Math.max(0, ctx.now - i.requestedAt)),
          })),
        }
      : undefined,
    link: ctx.link ? { label: ctx.link.label, url: ctx.link.url } : undefined,
    oneTimeLink: ctx.link?.oneTime === true,
    linkExpiresAt: iso(ctx.link?.expiresAt),
  };
}

function alertSummary(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)
    .join('; ');
}

const overrides = new Map<string, { mtimeMs: number; text: string }>();

/** The override file's text, re-read when it changes; undefined when there is none. */
function overrideOf(dir: string | undefined, name: string): string | undefined {
  if (!dir) return undefined;
  const path = join(dir, name);
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
  const cached = overrides.get(path);
  if (cached && cached.mtimeMs === mtimeMs) return cached.text;
  const text = readFileSync(path, 'utf8');
  overrides.set(path, { mtimeMs, text });
  return text;
}

function template(topic: NotificationTopic, part: TemplatePart, dir: string | undefined): string {
  return overrideOf(dir, `${topic}.${part}`) ?? BUILTIN_TEMPLATES[topic][part];
}

const plain = { escape: (s: unknown) => String(s) };
/** HTML escaping of text and attribute values (Mustache's default also escapes / and = and `, which mangles URLs to read). */
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const html = { escape: (s: unknown) => String(s).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!) };

export function render(topic: NotificationTopic, payload: NotificationPayload, ctx: RenderContext): RenderedMessage {
  const view = viewOf(topic, payload, ctx);
  const subject = Mustache.render(template(topic, 'subject.txt', ctx.templatesDir), view, {}, plain)
    .replace(/[\r\n]+/g, ' ')
    .trim()
    .slice(0, 250);
  const textTemplate = ctx.forTicket
    ? (overrideOf(ctx.templatesDir, `${topic}.ticket.txt`) ?? BUILTIN_TICKET_TEMPLATES[topic] ?? template(topic, 'txt', ctx.templatesDir))
    : template(topic, 'txt', ctx.templatesDir);
  const text = Mustache.render(textTemplate, view, {}, plain).trim();
  const body = Mustache.render(template(topic, 'html', ctx.templatesDir), view, {}, html);
  const layout = overrideOf(ctx.templatesDir, 'layout.html') ?? BUILTIN_LAYOUT;
  const page = Mustache.render(layout, { ...view, subject, body }, {}, html);
  const r = view.request;
  const facts = r
    ? [
        { label: 'Requester', value: r.requesterName },
        { label: 'Entitlements', value: r.entitlements },
        { label: 'Duration', value: r.duration },
        ...(r.reason ? [{ label: 'Reason', value: r.reason }] : []),
        ...(r.ticket ? [{ label: 'Ticket', value: r.ticketSummary ? `${r.ticket}: ${r.ticketSummary} (${r.ticketState})` : r.ticket }] : []),
        { label: 'Status', value: r.statusText },
      ]
    : [];
  return {
    topic,
    subject,
    text,
    html: page,
    facts,
    ...(ctx.link ? { link: { label: ctx.link.label, url: ctx.link.url } } : {}),
    ...(ctx.decide && r ? { decide: { requestId: r.id } } : {}),
  };
}
