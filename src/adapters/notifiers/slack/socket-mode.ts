/**
 * Button presses over Socket Mode (https://api.slack.com/apis/socket-mode): with an app-level token
 * (`notifications.slack.appToken`) Slack delivers interactions over a WebSocket we open, so no public
 * interactions URL is needed. Each envelope is acknowledged at once (Slack shows the user an error
 * after 3 seconds without one), then block_actions on our decide buttons go to `onDecision`.
 * Connecting, the pings and reconnecting (Slack recycles connections every few hours) are the
 * official client's.
 */
import { LogLevel, SocketModeClient, type Logger as SlackLogger } from '@slack/socket-mode';
import type { Logger } from 'pino';
import type { SlackSettings } from '../../../config/types.js';
import { decisionFrom, type SlackDecision } from './interaction.js';

export interface SlackSocketMode {
  /** Settles when Slack first said hello on the socket; rejects when the client gave up starting (e.g. `invalid_auth`). */
  readonly ready: Promise<void>;
  /** Closes the socket and stops reconnecting. */
  stop(): Promise<void>;
}

type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** The libraries' messages into our log. Their debug lines quote whole payloads (response URLs included): dropped. */
function slackLogger(log: Log): SlackLogger {
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
  return {
    debug: () => undefined,
    info: (...msg: unknown[]) => log.debug({ component: 'slack-socket-mode' }, text(msg)),
    warn: (...msg: unknown[]) => log.warn({ component: 'slack-socket-mode' }, text(msg)),
    error: (...msg: unknown[]) => log.error({ component: 'slack-socket-mode' }, text(msg)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}

interface Envelope {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  envelope_id?: string;
  type?: string;
  body?: unknown;
}

/**
 * Opens the Socket Mode connection (`apps.connections.open` with the app token, at `settings.apiUrl`)
 * and returns at once; `ready` tells when it is up. Throws only when `settings.appToken` is absent.
 */
export function startSlackSocketMode(settings: SlackSettings, onDecision: (d: SlackDecision) => Promise<void>, log: Log): SlackSocketMode {
  if (!settings.appToken) throw new Error('notifications.slack.appToken is needed for Socket Mode');
  const client = new SocketModeClient({
    appToken: settings.appToken,
    logger: slackLogger(log),
    clientOptions: { slackApiUrl: settings.apiUrl, timeout: settings.timeoutMs },
  });
  let stopped = false;

  // Every envelope (interactive, events_api, slash_commands) passes here once.
  client.on('slack_event', (e: Envelope) => {
    void (async () => {
      try {
        if (e.envelope_id) await e.ack();
      } catch (err) {
        // The socket went away under us: the press still counts (it came over our authenticated socket).
        log.warn({ component: 'slack-socket-mode', err: (err as Error).message }, 'could not acknowledge a Slack envelope');
      }
      if (e.type !== 'interactive') return;
      const parsed = decisionFrom(e.body);
      if (!parsed.ok) {
        log.debug({ component: 'slack-socket-mode', reason: parsed.reason }, 'Slack interaction ignored');
        return;
      }
      const d = parsed.decision;
      try {
        await onDecision(d);
      } catch (err) {
        log.error(
          { component: 'slack-socket-mode', team: d.teamId, user: d.userId, requestId: d.requestId, action: d.action, err: (err as Error).message },
          'Slack decision failed',
        );
      }
    })();
  });

  const ready = client.start().then(
    async () => {
      // stop() came while the connection was being opened: close what just opened.
      if (stopped) await client.disconnect();
    },
    (err: unknown) => {
      log.error({ component: 'slack-socket-mode', err: err instanceof Error ? err.message : String(err) }, 'Slack Socket Mode could not start');
      throw err instanceof Error ? err : new Error(String(err));
    },
  );
  // A caller that does not wait for `ready` must not see an unhandled rejection: the error is logged above.
  ready.catch(() => undefined);

  return {
    ready,
    async stop() {
      if (stopped) return;
      stopped = true;
      await client.disconnect();
    },
  };
}
