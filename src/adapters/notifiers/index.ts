/**
 * The registries of notification channel kinds: a new kind is one folder here plus one line below.
 * Event webhooks are channels of the webhook outbox (app/notify.ts); e-mail, Slack and Teams carry
 * notifications to people (app/notifications/ports.ts).
 */
import type { NotificationChannel } from '../../app/notify.js';
import type { MessageChannel } from '../../app/notifications/ports.js';
import { emailChannel } from './email/index.js';
import { slackChannel } from './slack/index.js';
import { teamsChannel } from './teams/index.js';
import { ticketChannel } from './ticket/index.js';
import { ticketSystems } from '../tickets/index.js';
import { webhookChannel } from './webhook/index.js';

export const notificationChannels: readonly NotificationChannel[] = [webhookChannel()];

/** A fresh set per server (each keeps its own connections: an SMTP pool, a Slack client). */
export const messageChannels = (): MessageChannel[] => [emailChannel(), slackChannel(), teamsChannel(), ticketChannel(ticketSystems)];
