/**
 * One-time links in messages. An approver's link opens the request's page in the web UI; the
 * decision is still made there, with the approver's own session and MFA if the policy asks, so the
 * link grants nothing by itself. It works once, only for the person it was sent to, and only until
 * it expires: a forwarded or leaked link is refused, and a used one cannot be replayed.
 *
 * The token is 256 random bits (`hgl_...`) carried in the URL's fragment (`#link=`), which browsers
 * never send to servers or in Referer headers; the store keeps only its SHA-256 with whom it is for.
 * Redeeming it is one conditional UPDATE, so two tabs racing get one success.
 */
import { randomBytes } from 'node:crypto';
import { HgError } from '../../core/errors.js';
import type { Principal } from '../../core/types.js';
import { digestOf } from '../identity/secrets.js';
import type { AppDeps } from '../context.js';
import type { NotificationStore, OneTimeLink } from './ports.js';

const PREFIX = 'hgl_';
/** A chat account link is made within minutes of pressing a button: short. */
export const CHAT_LINK_LIFETIME_MS = 15 * 60_000;

export const newLinkToken = (): string => PREFIX + randomBytes(32).toString('base64url');

function looksLikeToken(token: unknown): token is string {
  return typeof token === 'string' && token.length === 47 && token.startsWith(PREFIX);
}

export class ApprovalLinks {
  constructor(
    private readonly deps: AppDeps,
    private readonly store: NotificationStore,
  ) {}

  /** A new link for `principal` to `requestId`; only its digest is kept. */
  async create(principal: string, requestId: string, now: number, lifetimeMs: number): Promise<{ url: string; expiresAt: number }> {
    const token = newLinkToken();
    const expiresAt = now + lifetimeMs;
    await this.store.putLink({ digest: digestOf(token), purpose: 'approval', principal, requestId, subject: null, expiresAt, usedAt: null });
    const base = this.deps.config.current().server.publicUrl!;
    return { url: `${base}/approvals?request=${encodeURIComponent(requestId)}#link=${token}`, expiresAt };
  }

  /** A link that binds a chat account (`slack:TEAM:USER`) to whoever signs in and opens it. */
  async createChatLink(subject: string, now: number): Promise<{ url: string; expiresAt: number }> {
    const token = newLinkToken();
    const expiresAt = now + CHAT_LINK_LIFETIME_MS;
    await this.store.putLink({ digest: digestOf(token), purpose: 'chat-link', principal: null, requestId: null, subject, expiresAt, usedAt: null });
    const base = this.deps.config.current().server.publicUrl!;
    return { url: `${base}/profile#chat-link=${token}`, expiresAt };
  }

  /**
   * Uses a link once. Refused (HG_LINK_INVALID, `details.reason`) when unknown, of another purpose,
   * expired, used, or (approval links) sent to someone other than `actor`; a refused link stays as
   * it was, so the right person can still use it.
   */
  async redeem(actor: Principal, token: unknown, purpose: OneTimeLink['purpose']): Promise<OneTimeLink> {
    const refuse = (reason: string, message: string) => new HgError('HG_LINK_INVALID', message, { details: { reason } });
    if (!looksLikeToken(token)) throw refuse('unknown', 'this is not a link Hourglass sent');
    const link = await this.store.getLink(digestOf(token));
    if (!link || link.purpose !== purpose) throw refuse('unknown', 'this is not a link Hourglass sent');
    const now = this.deps.clock.now();
    if (link.usedAt !== null) throw refuse('used', 'this link was used already; open the request from the Approvals page');
    if (link.expiresAt <= now) throw refuse('expired', 'this link has expired; open the request from the Approvals page');
    if (link.principal !== null && link.principal !== actor.id)
      throw refuse('other_person', 'this link was sent to someone else; sign in as the person it was sent to');
    if (!(await this.store.useLink(link.digest, now))) throw refuse('used', 'this link was used already; open the request from the Approvals page');
    return { ...link, usedAt: now };
  }
}
