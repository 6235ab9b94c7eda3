/**
 * Slack's interactions URL (`POST /v1/integrations/slack/interactions`): button presses on our
 * messages, posted by Slack as a form signed with the app's signing secret. The signature (over the
 * exact bytes, with a timestamp within 5 minutes) is checked before anything else is read; a press
 * is then answered at once (Slack shows an error after 3 seconds), decided by the core through the
 * presser's linked principal (app/notifications/chat-decisions.ts), and the presser is told the
 * outcome in Slack. Socket Mode (socket-mode.ts) delivers the same presses without a public URL.
 */
import { z } from 'zod';
import { HgError } from '../../../core/errors.js';
import type { ChatDecisions } from '../../../app/notifications/chat-decisions.js';
import type { ChatDecisionInput, SlackApi } from '../../../app/notifications/ports.js';
import type { ConfigSource } from '../../../app/ports.js';
import { defineRoute } from '../../../http/route.js';
import type { RouteContext } from '../../../http/routes/context.js';
import { parseInteraction, type SlackDecision } from './interaction.js';
import { verifySlackSignature } from './signature.js';

/** Decides one press and answers the presser; never throws (the answer is all that can fail). */
export function answerPress(chat: () => ChatDecisions, slack: SlackApi, config: ConfigSource, log: { error(obj: object, msg: string): void }) {
  return async (d: SlackDecision): Promise<void> => {
    const input: ChatDecisionInput = {
      teamId: d.teamId,
      userId: d.userId,
      action: d.action,
      requestId: d.requestId,
      ...(d.channelId ? { channelId: d.channelId } : {}),
    };
    let text: string;
    try {
      text = (await chat().decide(input)).text;
    } catch (err) {
      log.error({ err: (err as Error).message, requestId: d.requestId }, 'a Slack decision failed');
      text = 'Hourglass could not record this decision; try again, or decide in the web UI.';
    }
    await slack.notice(d.userId, d.channelId, text, config.current());
  };
}

export function slackInteractionRoutes(opts: {
  chat: () => ChatDecisions;
  slack: SlackApi;
  config: ConfigSource;
  now: () => number;
  log: { error(obj: object, msg: string): void };
}) {
  const press = answerPress(opts.chat, opts.slack, opts.config, opts.log);
  return ({ server, table }: RouteContext): void => {
    defineRoute(server, table, {
      method: 'POST',
      url: '/v1/integrations/slack/interactions',
      tag: 'notifications',
      auth: 'none',
      summary: "Slack's interactions URL: Approve and Deny presses on Hourglass messages (signed by Slack)",
      description:
        'Set as the Interactivity Request URL of the Slack app. Refused with 401 unless `x-slack-signature` is the HMAC-SHA256 of `v0:TIMESTAMP:BODY` with `notifications.slack.signingSecret` and `x-slack-request-timestamp` is within 5 minutes; 404 when Slack (or its signing secret) is not configured. Answers 200 at once; the presser is told the outcome in Slack.',
      headers: z.object({ 'x-slack-signature': z.string(), 'x-slack-request-timestamp': z.string() }),
      body: z.object({ payload: z.string().describe('the interaction payload (JSON)') }).passthrough(),
      responses: { 200: { description: 'acknowledged (an empty body)' } },
      handler: async ({ req, reply, body }) => {
        const settings = opts.config.current().notifications?.slack;
        if (!settings?.signingSecret) throw new HgError('HG_NOT_FOUND', 'Slack interactions are not configured (notifications.slack.signingSecret)');
        const check = verifySlackSignature({
          signingSecret: settings.signingSecret,
          timestamp: req.headers['x-slack-request-timestamp'],
          signature: req.headers['x-slack-signature'],
          rawBody: req.rawBody ?? '',
          now: opts.now(),
        });
        if (!check.ok) throw new HgError('HG_UNAUTHENTICATED', `not a request from Slack: ${check.reason}`);
        const parsed = parseInteraction(body.payload);
        // Anything but our decision buttons (the link button, other payloads) is acknowledged and ignored.
        if (parsed.ok) void press(parsed.decision);
        return reply.status(200).send('');
      },
    });
  };
}
