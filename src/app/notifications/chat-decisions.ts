/**
 * Deciding from Slack, and linking a Slack account to a principal.
 *
 * A button press names a Slack user; it counts as a principal's decision only through a link that
 * principal made: the person presses a button once unlinked, gets a one-time link in Slack (so they
 * hold the Slack account), opens it signed in to Hourglass (so they hold the principal), and the link
 * is accepted only if the principal's e-mail address is that Slack user's (so a link forwarded to
 * somebody else binds nothing). After that, every rule of the core applies to the press as to a
 * click in the web UI: never one's own request, distinct approvers, quorum, locks; and only policies
 * with `approval.fromChat` (which validation refuses where MFA is required to approve) take it.
 */
import { HgError, isHgError } from '../../core/errors.js';
import type { Principal } from '../../core/types.js';
import type { AppDeps } from '../context.js';
import { stamp } from '../context.js';
import { directoryOf } from '../directory.js';
import type { PrincipalStore } from '../ports.js';
import type { RequestService } from '../requests.js';
import type { ApprovalLinks } from './links.js';
import type { ChatDecisionInput, SlackApi } from './ports.js';
import { fromChat, SLACK_LINK_PROVIDER } from './service.js';

export interface ChatAnswer {
  /** What the presser is told (in Slack, to them only); the audit log says whether it was recorded. */
  text: string;
}

const subjectOf = (teamId: string, userId: string) => `${teamId}:${userId}`;

const REFUSALS: Record<string, string> = {
  HG_SELF_APPROVAL: 'You cannot decide on your own request.',
  HG_NOT_APPROVER: 'You are not an approver of this request.',
  HG_ALREADY_APPROVED: 'You have approved this request already; it waits for other approvers.',
  HG_INVALID_TRANSITION: 'This request is decided already.',
  HG_NOT_FOUND: 'There is no such request, or you may not see it.',
  HG_PRINCIPAL_LOCKED: 'Your Hourglass account is locked.',
  HG_MFA_REQUIRED: 'This approval needs MFA: decide in the web UI.',
  HG_CONCURRENT_UPDATE: 'Someone else changed this request at the same moment; press again if it still waits.',
};

export class ChatDecisions {
  constructor(
    private readonly deps: AppDeps,
    private readonly requests: RequestService,
    private readonly links: ApprovalLinks,
    private readonly slack: SlackApi | undefined,
    private readonly principals: PrincipalStore | undefined,
  ) {}

  /** One button press. Never throws for the presser's mistakes: they are answered (and audited by the core). */
  async decide(d: ChatDecisionInput): Promise<ChatAnswer> {
    const config = this.deps.config.current();
    const publicUrl = config.server.publicUrl ?? '';
    const id = await this.deps.store.transaction((tx) => tx.identity.linkedPrincipal(SLACK_LINK_PROVIDER, subjectOf(d.teamId, d.userId)));
    if (!id) {
      const link = await this.links.createChatLink(`slack:${subjectOf(d.teamId, d.userId)}`, this.deps.clock.now());
      return {
        text: `To decide from Slack, link your Slack account to Hourglass once: ${link.url} (valid 15 minutes; sign in, confirm, then press the button again).`,
      };
    }
    const actor = await directoryOf(this.deps).find(id);
    if (!actor) return { text: 'Your Hourglass account is not active.' };
    const req = await this.deps.store.getRequest(d.requestId);
    const page = `${publicUrl}/approvals?request=${encodeURIComponent(d.requestId)}`;
    if (req && !fromChat(req)) return { text: `This request's policy asks you to decide in the web UI: ${page}` };
    try {
      const after =
        d.action === 'approve'
          ? await this.requests.approve(d.requestId, actor, 'approved from Slack', undefined, 'slack')
          : await this.requests.deny(d.requestId, actor, 'denied from Slack', 'slack');
      if (d.action === 'deny') return { text: 'You denied the request.' };
      const waiting = after.status === 'pending';
      return {
        text: waiting ? `You approved; it still waits for other approvers (${after.approvals.length} so far).` : 'You approved the request.',
      };
    } catch (err) {
      if (isHgError(err) && REFUSALS[err.code]) return { text: REFUSALS[err.code]! };
      throw err;
    }
  }

  /**
   * Binds the Slack account a chat link names to `actor`, if the actor's e-mail address is that
   * account's in the workspace. Replaces an earlier link of the actor; audited `chat.linked`.
   */
  async link(actor: Principal, token: unknown): Promise<{ provider: 'slack'; teamId: string; userId: string }> {
    const config = this.deps.config.current();
    if (!config.notifications?.slack || !this.slack) throw new HgError('HG_INVALID_INPUT', 'Slack is not configured on this server');
    const used = await this.links.redeem(actor, token, 'chat-link');
    const [, teamId = '', userId = ''] = (used.subject ?? '').split(':');
    const email = await this.emailOf(actor.id);
    if (!email) throw new HgError('HG_FORBIDDEN', 'your Hourglass account has no e-mail address to match with Slack; ask an admin');
    const owner = await this.slack.userIdByEmail(email, config);
    if (owner !== userId) {
      throw new HgError('HG_FORBIDDEN', "this Slack account's e-mail address is not yours: the link was made by someone else", {
        details: { reason: 'email_mismatch' },
      });
    }
    const now = this.deps.clock.now();
    const subject = subjectOf(teamId, userId);
    await this.deps.store.transaction(async (tx) => {
      const holder = await tx.identity.linkedPrincipal(SLACK_LINK_PROVIDER, subject);
      if (holder && holder !== actor.id) throw new HgError('HG_IDENTITY_CONFLICT', 'this Slack account is linked to another principal');
      if (holder === actor.id) return;
      await tx.identity.unlink(SLACK_LINK_PROVIDER, actor.id);
      await tx.identity.link(SLACK_LINK_PROVIDER, subject, actor.id, now);
      await tx.appendAudit(
        stamp(this.deps, [{ type: 'chat.linked', actor: actor.id, details: { provider: 'slack', teamId, userId } }], now, config.policyHash),
      );
    });
    return { provider: 'slack', teamId, userId };
  }

  /** Removes the actor's Slack link (audited `chat.unlinked`); false when there was none. */
  async unlink(actor: Principal): Promise<boolean> {
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const subject = await tx.identity.linkedSubject(SLACK_LINK_PROVIDER, actor.id);
      if (!subject) return false;
      await tx.identity.unlink(SLACK_LINK_PROVIDER, actor.id);
      await tx.appendAudit(stamp(this.deps, [{ type: 'chat.unlinked', actor: actor.id, details: { provider: 'slack', subject } }], now, config.policyHash));
      return true;
    });
  }

  /** The actor's Slack link, if any. */
  async linked(actor: Principal): Promise<{ provider: 'slack'; teamId: string; userId: string } | null> {
    const subject = await this.deps.store.transaction((tx) => tx.identity.linkedSubject(SLACK_LINK_PROVIDER, actor.id));
    if (!subject) return null;
    const [teamId = '', userId = ''] = subject.split(':');
    return { provider: 'slack', teamId, userId };
  }

  private async emailOf(id: string): Promise<string | undefined> {
    const fromFile = this.deps.config.current().principals.find((p) => p.id === id);
    if (fromFile) return fromFile.email;
    return (await this.principals?.get(id))?.email;
  }
}
