/**
 * The `slack` message channel: Block Kit messages through Slack's Web API with the bot token
 * (`notifications.slack`). Destination `slack` is each person's own DM (their linked Slack user,
 * else the user Slack finds by their e-mail address); `slack:C0123` is a shared channel the bot was
 * invited to. Messages can be updated in place (`chat.update`), so an approval prompt turns into its
 * outcome. The official WebClient does the HTTP; it neither retries nor waits out rate limits here,
 * because the outbox owns retries and backoff.
 */
import { performance } from 'node:perf_hooks';
import { LogLevel, WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError, WebClient, type Logger } from '@slack/web-api';
import type { HourglassConfig, SlackSettings } from '../../../config/types.js';
import type { MessageChannel, SendInput, SendResult } from '../../../app/notifications/ports.js';
import { fallbackText, messageBlocks } from './blocks.js';

const PREFIX = 'slack:';
const CHANNEL_ID = /^[A-Z0-9]{2,30}$/;
const TS = /^\d{1,12}\.\d{1,9}$/;
/** How long a user found by e-mail is remembered (per address); not-found answers are not remembered. */
export const EMAIL_LOOKUP_TTL_MS = 10 * 60_000;
const MAX_CACHED_EMAILS = 10_000;

/** Where a sent message is: what `chat.update` needs (`ref` of a send, `replaces` of a later one). */
export interface SlackMessageRef {
  channel: string;
  ts: string;
}

export const formatSlackRef = (ref: SlackMessageRef): string => JSON.stringify({ channel: ref.channel, ts: ref.ts });

export function parseSlackRef(ref: string): SlackMessageRef | undefined {
  try {
    const v = JSON.parse(ref) as { channel?: unknown; ts?: unknown };
    if (typeof v?.channel === 'string' && CHANNEL_ID.test(v.channel) && typeof v.ts === 'string' && TS.test(v.ts)) return { channel: v.channel, ts: v.ts };
  } catch {
    // not ours: posted anew below
  }
  return undefined;
}

const settingsOf = (config: HourglassConfig): SlackSettings | undefined => config.notifications?.slack;

/** The WebClient's own logging is off: every outcome comes back as a SendResult, logged by the caller. */
export const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

/** Slack's error code, when Slack answered one. */
const platformCode = (err: unknown): string | undefined => (err instanceof WebAPIPlatformError ? err.data.error : undefined);

/** `slack: <error code>` (or what failed on the way), with the tokens taken out in case a layer quoted one. */
function describe(err: unknown, settings: SlackSettings): string {
  let message: string;
  if (err instanceof WebAPIPlatformError) message = `slack: ${err.data.error}`;
  else if (err instanceof WebAPIRateLimitedError) message = 'slack: ratelimited';
  else if (err instanceof WebAPIHTTPError) message = `slack: HTTP ${err.statusCode}`;
  else if (err instanceof WebAPIRequestError) {
    const original = err.original as Error & { cause?: { code?: unknown; message?: unknown } };
    if (original.name === 'TimeoutError' || original.name === 'AbortError') message = `slack: no answer within ${settings.timeoutMs} ms`;
    else {
      const code = typeof original.cause?.code === 'string' ? original.cause.code : undefined;
      const cause = typeof original.cause?.message === 'string' ? original.cause.message : undefined;
      message = `slack: request failed: ${code ?? cause ?? original.message}`;
    }
  } else message = `slack: ${err instanceof Error ? err.message : String(err)}`;
  for (const s of [settings.botToken, settings.appToken, settings.signingSecret]) if (s) message = message.split(s).join('[redacted]');
  return message;
}

/** `now`: a monotonic clock in milliseconds for the e-mail cache (tests pass their own). */
export function slackChannel(opts: { now?: () => number } = {}): MessageChannel {
  const now = opts.now ?? (() => performance.now());
  let current: { settings: SlackSettings; web: WebClient } | undefined;
  /** Lower-cased e-mail address -> Slack user id, until a monotonic time. */
  const byEmail = new Map<string, { user: string; until: number }>();

  /** One client per settings: a new token, URL or timeout builds a new one (and forgets the users found). */
  const clientFor = (s: SlackSettings): WebClient => {
    const c = current?.settings;
    if (!current || c!.botToken !== s.botToken || c!.apiUrl !== s.apiUrl || c!.timeoutMs !== s.timeoutMs) {
      const web = new WebClient(s.botToken, {
        slackApiUrl: s.apiUrl,
        timeout: s.timeoutMs,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        logger: quiet,
      });
      current = { settings: s, web };
      byEmail.clear();
    }
    return current.web;
  };

  /** The Slack user with this e-mail address; undefined when Slack knows none (or only a deactivated one). */
  async function userByEmail(web: WebClient, email: string): Promise<string | undefined> {
    const key = email.toLowerCase();
    const hit = byEmail.get(key);
    if (hit && hit.until > now()) return hit.user;
    byEmail.delete(key);
    try {
      const r = await web.users.lookupByEmail({ email });
      const user = r.user;
      if (!user?.id || user.deleted) return undefined;
      if (byEmail.size >= MAX_CACHED_EMAILS) byEmail.delete(byEmail.keys().next().value!);
      byEmail.set(key, { user: user.id, until: now() + EMAIL_LOOKUP_TTL_MS });
      return user.id;
    } catch (err) {
      if (platformCode(err) === 'users_not_found') return undefined;
      throw err;
    }
  }

  return {
    kind: 'slack',
    destinations: (config) => {
      if (!settingsOf(config)) return [];
      const shared = (config.notifications?.routes ?? []).flatMap((r) => r.channels).filter((c) => c.startsWith(PREFIX));
      return ['slack', ...new Set(shared)];
    },
    personal: (destination) => destination === 'slack',
    updatesInPlace: true,
    secrets: (config) => {
      const s = settingsOf(config);
      return s ? [s.botToken, s.signingSecret, s.appToken].filter((v): v is string => Boolean(v)) : [];
    },

    async send(input: SendInput, config: HourglassConfig): Promise<SendResult> {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const skipped = (reason: string): SendResult => ({ kind: 'skipped', reason, durationMs: elapsed() });
      const settings = settingsOf(config);
      // Removed from the configuration since the message was queued: retrying cannot help.
      if (!settings) return skipped('notifications.slack is not configured');
      try {
        const web = clientFor(settings);
        let channel: string;
        if (input.destination === 'slack') {
          const r = input.recipient;
          if (!r) return skipped('no recipient for a personal Slack message');
          if (r.slackUser) channel = r.slackUser;
          else if (r.email) {
            const found = await userByEmail(web, r.email);
            if (!found) return skipped(`no Slack user has the e-mail address of ${r.principal}`);
            channel = found;
          } else return skipped(`${r.principal} has no linked Slack user and no e-mail address`);
        } else if (input.destination.startsWith(PREFIX) && CHANNEL_ID.test(input.destination.slice(PREFIX.length))) {
          channel = input.destination.slice(PREFIX.length);
        } else return skipped(`${input.destination} is not a Slack destination`);

        const text = fallbackText(input.message);
        const blocks = messageBlocks(input.message);
        const earlier = input.replaces ? parseSlackRef(input.replaces) : undefined;
        if (earlier) {
          try {
            const r = await web.chat.update({ channel: earlier.channel, ts: earlier.ts, text, blocks });
            return { kind: 'sent', ref: formatSlackRef({ channel: r.channel ?? earlier.channel, ts: r.ts ?? earlier.ts }), durationMs: elapsed() };
          } catch (err) {
            // Deleted in Slack: nothing is left to update, and posting anew would repeat an old story.
            if (platformCode(err) === 'message_not_found') return skipped('the Slack message to update no longer exists');
            throw err;
          }
        }
        // To a user id, Slack posts in the app's DM with that user (and answers with the DM's channel id).
        const r = await web.chat.postMessage({ channel, text, blocks, unfurl_links: false, unfurl_media: false });
        if (!r.channel || !r.ts) return { kind: 'failed', message: 'slack: the answer named no channel and ts', durationMs: elapsed() };
        return { kind: 'sent', ref: formatSlackRef({ channel: r.channel, ts: r.ts }), durationMs: elapsed() };
      } catch (err) {
        return { kind: 'failed', message: describe(err, settings), durationMs: elapsed() };
      }
    },

    async close() {
      current = undefined;
      byEmail.clear();
    },
  };
}
