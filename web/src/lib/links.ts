/**
 * Links from notifications (docs/integrations.md): an approver's message opens
 * `/approvals?request=ID#link=hgl_...`, a requester's `/?request=ID`, and Slack's account link
 * `/profile#chat-link=hgl_...`. The one-time token rides in the fragment, which browsers never
 * send to servers; the page takes it out of the URL once used. What each outcome says, in words.
 */

/** The fragment keys the server's links use. */
export type FragmentKey = 'link' | 'chat-link';

/** Why the server refused a link (410 HG_LINK_INVALID, `details.reason`). */
export type LinkRefusal = 'unknown' | 'used' | 'expired' | 'other_person';
const REFUSALS: readonly LinkRefusal[] = ['unknown', 'used', 'expired', 'other_person'];

/** The server's body limit for a token (src/http/routes/notifications.ts): longer ones are not its links. */
const MAX_TOKEN = 100;

/** The value of `key` in a fragment (`#link=hgl_...&x=y`), or undefined when absent or empty. */
export function fragmentParam(hash: string, key: FragmentKey): string | undefined {
  const value = new URLSearchParams(hash.replace(/^#/, '')).get(key)?.trim();
  return value ? value : undefined;
}

/** Whether a token is worth sending: the server refuses anything longer than its body limit with 400, not as a link. */
export const sendable = (token: string): boolean => token.length <= MAX_TOKEN;

/** The fragment without `key` ('' when nothing else was in it), for history.replaceState. */
export function withoutFragmentParam(hash: string, key: FragmentKey): string {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  if (!params.has(key)) return hash;
  params.delete(key);
  const rest = params.toString();
  return rest ? `#${rest}` : '';
}

/** The request a page was opened for (`?request=ID`). */
export function requestParam(search: string): string | undefined {
  return new URLSearchParams(search).get('request')?.trim() || undefined;
}

/** The reason of a refused link, from an error's code and details; undefined when it is another error. */
export function refusalOf(code: string | undefined, details: unknown): LinkRefusal | undefined {
  if (code !== 'HG_LINK_INVALID') return undefined;
  const reason = details && typeof details === 'object' ? (details as { reason?: unknown }).reason : undefined;
  return REFUSALS.includes(reason as LinkRefusal) ? (reason as LinkRefusal) : 'unknown';
}

/** What became of the approver's link: opened, refused (and why), or not known (no link, still checking, another error). */
export type LinkOutcome = { opened: true } | { opened: false; reason: LinkRefusal };

export interface Notice {
  text: string;
  /** `warn`: the person should act (signed in as someone else). */
  tone: 'info' | 'warn';
}

/**
 * What the Approvals page says about the link it was opened with. `found`: the request is on the
 * page (waiting for the caller's decision or review); `me`: who is signed in.
 */
export function approvalLinkNotice(outcome: LinkOutcome | undefined, found: boolean, me: string): Notice | undefined {
  const notHere = 'That request is no longer waiting for your decision: it may have been decided, cancelled or have expired.';
  if (!outcome) return found ? undefined : { tone: 'info', text: notHere };
  if (outcome.opened) return { tone: 'info', text: found ? 'Opened from your notification.' : `Opened from your notification. ${notHere}` };
  const after = found ? 'The request is shown below.' : notHere;
  switch (outcome.reason) {
    case 'other_person':
      return {
        tone: 'warn',
        text: `This link was sent to someone else; you are signed in as ${me}. To use it, sign out and sign in as the person it was sent to.`,
      };
    case 'used':
      return { tone: 'info', text: `This link was used already: each link from a notification works once. ${after}` };
    case 'expired':
      return { tone: 'info', text: `This link has expired. ${after}` };
    case 'unknown':
      return { tone: 'info', text: `This is not a link Hourglass sent, or it was copied incompletely. ${after}` };
  }
}

/** What My access says when the request of a notification is not among those it shows. */
export const mineNotFoundText = 'The request from your notification is not among those shown here.';

/** A refused Slack account link in words: the server's texts speak of approval links. */
export function chatLinkRefusalText(reason: LinkRefusal): string {
  const again = 'Press Approve or Deny on the message in Slack again for a new link.';
  switch (reason) {
    case 'used':
      return `This link from Slack was used already. ${again}`;
    case 'expired':
      return `This link from Slack has expired: each lasts 15 minutes. ${again}`;
    case 'other_person':
    case 'unknown':
      return `This is not a link Hourglass sent from Slack, or it was copied incompletely. ${again}`;
  }
}
