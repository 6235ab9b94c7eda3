/**
 * The Block Kit message for a rendered notification (pure). Every text may hold a requester's words
 * (a reason, a ticket), so mrkdwn text is escaped as Slack asks (`&`, `<`, `>`: no links, no
 * `<!channel>` mentions) and marked `verbatim` (Slack does not turn `@here` or bare names into
 * mentions); headers and buttons are plain text. Lengths are cut to Block Kit's limits, since Slack
 * refuses the whole message (`invalid_blocks`) when one field is too long.
 */
import type { ActionsBlock, Button, KnownBlock, MrkdwnElement } from '@slack/web-api';
import type { RenderedMessage } from '../../../app/notifications/ports.js';

/** The action ids of the decide buttons; interactions with other ids are not decisions. */
export const APPROVE_ACTION = 'hourglass_approve';
export const DENY_ACTION = 'hourglass_deny';
/** The link button: Slack reports its clicks too (they are acknowledged and ignored). */
export const OPEN_ACTION = 'hourglass_open';

const MAX_FIELDS = 10;
const LIMITS = { header: 150, section: 3000, field: 2000, context: 3000, buttonText: 75, url: 3000, fallback: 3000 } as const;

/** Slack's three reserved characters as entities: the text shows as typed, never as markup. */
export function escapeMrkdwn(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `value` cut to `max` characters (code points, so an emoji is never split), with an ellipsis when cut. */
function clip(value: string, max: number): string {
  const chars = Array.from(value);
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join('')}…`;
}

/** Escaped, then cut so that the escaped text fits `max` without splitting an entity. */
function escapedWithin(value: string, max: number): string {
  let out = '';
  let length = 0;
  const chars = Array.from(value);
  for (let i = 0; i < chars.length; i++) {
    const e = escapeMrkdwn(chars[i]!);
    const room = i === chars.length - 1 ? max : max - 1; // keep one for the ellipsis unless this is the last
    if (length + e.length > room) return `${out}…`;
    out += e;
    length += e.length;
  }
  return out;
}

// Slack refuses empty texts: a dash stands in.
const mrkdwn = (text: string, max: number): MrkdwnElement => ({ type: 'mrkdwn', text: escapedWithin(text, max) || '-', verbatim: true });
const plain = (text: string, max: number) => ({ type: 'plain_text' as const, text: clip(text, max) || '-', emoji: true });

/** Closed: the request was decided (an `approval.closed` message, or `opts.closed` naming the outcome). */
const isClosed = (message: RenderedMessage, opts: { closed?: string }) => message.topic === 'approval.closed' || opts.closed !== undefined;

/**
 * A header with the subject, the text (as a context line once the request is closed), the facts as
 * fields, and the buttons: the link, and Approve / Deny (with a confirmation) while the request may
 * still be decided from chat. `opts.closed` re-renders an earlier prompt as decided ("Approved by
 * Bob"): the buttons go, the outcome is added as a context line.
 */
export function messageBlocks(message: RenderedMessage, opts: { closed?: string } = {}): KnownBlock[] {
  const closed = isClosed(message, opts);
  const blocks: KnownBlock[] = [{ type: 'header', text: plain(message.subject, LIMITS.header) }];
  if (message.text.trim()) {
    blocks.push(
      message.topic === 'approval.closed'
        ? { type: 'context', elements: [mrkdwn(message.text, LIMITS.context)] }
        : { type: 'section', text: mrkdwn(message.text, LIMITS.section) },
    );
  }
  const facts = message.facts.slice(0, MAX_FIELDS);
  if (facts.length > 0) {
    blocks.push({ type: 'section', fields: facts.map((f) => fieldText(f.label, f.value)) });
  }
  const decide = message.decide && !closed ? message.decide : undefined;
  const elements: Button[] = [];
  if (message.link && message.link.url.length <= LIMITS.url) {
    elements.push({
      type: 'button',
      action_id: OPEN_ACTION,
      text: plain(message.link.label, LIMITS.buttonText),
      url: message.link.url,
      // One primary button per set (Slack's guidance): the link, unless Approve is there.
      ...(decide ? {} : { style: 'primary' as const }),
    });
  }
  if (decide) {
    elements.push(
      { type: 'button', action_id: APPROVE_ACTION, text: plain('Approve', LIMITS.buttonText), value: decide.requestId, style: 'primary' },
      {
        type: 'button',
        action_id: DENY_ACTION,
        text: plain('Deny', LIMITS.buttonText),
        value: decide.requestId,
        style: 'danger',
        confirm: {
          title: plain('Deny this request?', 100),
          text: plain('The requester is told that you denied it. This cannot be undone.', 300),
          confirm: plain('Deny', 30),
          deny: plain('Cancel', 30),
          style: 'danger',
        },
      },
    );
  }
  if (elements.length > 0) {
    const actions: ActionsBlock = { type: 'actions', block_id: 'hourglass_actions', elements };
    blocks.push(actions);
  }
  if (opts.closed !== undefined && opts.closed.trim()) blocks.push({ type: 'context', elements: [mrkdwn(opts.closed, LIMITS.context)] });
  return blocks;
}

/** `*Label*` over the value, the whole field within Slack's 2000 characters. */
function fieldText(label: string, value: string): MrkdwnElement {
  const head = `*${escapedWithin(label, 200)}*\n`;
  return { type: 'mrkdwn', text: head + (escapedWithin(value, LIMITS.field - head.length) || '-'), verbatim: true };
}

/** The message's `text`: what notifications, screen readers and clients without blocks show. */
export function fallbackText(message: RenderedMessage): string {
  const body = message.text.trim();
  return escapedWithin(body ? `${message.subject}\n${body}` : message.subject, LIMITS.fallback);
}
