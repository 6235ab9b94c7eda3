/** The `webhooks` and `reminders` sections: where events are sent, and when reminders are due. */
import { z } from 'zod';
import type { ReminderSettings, WebhookEndpoint } from '../types.js';
import { durationSchema, eventPatternSchema, httpUrlSchema, optionalDuration, POLICY_NAME_PATTERN, secretSchema } from '../primitives.js';
import { isPlainObject, parseFields, shown, type RawProblem } from '../problems.js';

export const webhookShape = {
  name: z.string().regex(POLICY_NAME_PATTERN, 'must be 1-128 characters: letters, digits and . _ - (not first)'),
  url: httpUrlSchema,
  secret: secretSchema,
  events: z.array(eventPatternSchema).min(1).default(['*']),
  timeout: durationSchema.default('10s'),
};

export function parseWebhooks(raw: unknown, out: RawProblem[]): WebhookEndpoint[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    out.push({ path: ['webhooks'], message: 'must be a list of webhooks: [{ name, url, secret, events }]' });
    return [];
  }
  const result: WebhookEndpoint[] = [];
  const names = new Set<string>();
  raw.forEach((item, i) => {
    const path = ['webhooks', i];
    if (!isPlainObject(item)) {
      out.push({ path, message: 'must be a mapping with name, url and secret' });
      return;
    }
    const { values: v, ok } = parseFields(webhookShape, item, path, out);
    if (v.name !== undefined) {
      if (names.has(v.name)) out.push({ path: [...path, 'name'], message: `duplicate webhook name ${shown(v.name)}` });
      names.add(v.name);
    }
    if (!ok) return;
    result.push({ name: v.name!, url: v.url!, secret: v.secret!, events: v.events!, timeoutMs: v.timeout! });
  });
  return result;
}

export const remindersShape = {
  beforeExpiry: optionalDuration.default('15m'),
  beforePendingTimeout: optionalDuration.default('1h'),
};

export function parseReminders(raw: unknown, out: RawProblem[]): ReminderSettings {
  const input = raw === undefined || raw === null ? {} : raw;
  if (!isPlainObject(input)) {
    out.push({ path: ['reminders'], message: 'must be a mapping' });
    return { beforeExpiryMs: 0, beforePendingTimeoutMs: 0 };
  }
  const { values: v } = parseFields(remindersShape, input, ['reminders'], out);
  return { beforeExpiryMs: v.beforeExpiry ?? 0, beforePendingTimeoutMs: v.beforePendingTimeout ?? 0 };
}
