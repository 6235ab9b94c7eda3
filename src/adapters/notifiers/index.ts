/** The registry of notification channel kinds: a new kind is one folder here plus one line below (app/notify.ts). */
import type { NotificationChannel } from '../../app/notify.js';
import { webhookChannel } from './webhook/index.js';

export const notificationChannels: readonly NotificationChannel[] = [webhookChannel()];
