/**
 * What the chat decisions ask of Slack besides messages (app/notifications/ports.ts, SlackApi):
 * who has an e-mail address in the workspace (to accept an account link), and a short answer to the
 * person who pressed a button (ephemeral where they pressed it, else a DM). The same quiet,
 * non-retrying WebClient settings as the channel.
 */
import { WebClient } from '@slack/web-api';
import type { HourglassConfig, SlackSettings } from '../../../config/types.js';
import type { SlackApi } from '../../../app/notifications/ports.js';
import { quiet } from './index.js';

export function slackApi(log?: { warn(obj: object, msg: string): void }): SlackApi {
  let current: { settings: SlackSettings; web: WebClient } | undefined;
  const clientOf = (config: HourglassConfig): WebClient => {
    const s = config.notifications?.slack;
    if (!s) throw new Error('notifications.slack is not configured');
    if (!current || current.settings !== s) {
      current = { settings: s, web: new WebClient(s.botToken, { slackApiUrl: s.apiUrl, timeout: s.timeoutMs, retryConfig: { retries: 0 }, logger: quiet }) };
    }
    return current.web;
  };
  return {
    async userIdByEmail(email, config) {
      try {
        const r = await clientOf(config).users.lookupByEmail({ email });
        return r.user?.id && !r.user.deleted ? r.user.id : undefined;
      } catch (err) {
        if ((err as { data?: { error?: string } }).data?.error === 'users_not_found') return undefined;
        throw err;
      }
    },
    async notice(userId, channelId, text, config) {
      try {
        const web = clientOf(config);
        if (channelId && !channelId.startsWith('D')) await web.chat.postEphemeral({ channel: channelId, user: userId, text });
        else await web.chat.postMessage({ channel: userId, text, unfurl_links: false });
      } catch (err) {
        // The decision (if any) is recorded; only the answer to the presser is lost.
        log?.warn({ err: (err as { data?: { error?: string } }).data?.error ?? (err as Error).message }, 'could not answer a Slack button press');
      }
    },
  };
}
