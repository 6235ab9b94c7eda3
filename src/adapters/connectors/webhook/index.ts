/** The `webhook` target kind: see connector.ts and docs/targets/webhook.md. */
import type { ConnectorFactory } from '../../../app/connectors.js';
import { WEBHOOK_CAPABILITIES, WEBHOOK_KIND, WebhookConnector } from './connector.js';
import { webhookProblems, webhookSettingsSchema } from './settings.js';

export const webhookConnectorFactory: ConnectorFactory = {
  kind: WEBHOOK_KIND,
  settings: webhookSettingsSchema,
  usage: 'hourglass credentials {id}',
  capabilities: () => WEBHOOK_CAPABILITIES,
  validate: webhookProblems,
  secretSettings: [['secret']],
  create: (target, opts) => new WebhookConnector(target, opts),
};

export { WebhookConnector, WEBHOOK_KIND, WEBHOOK_CAPABILITIES, idempotencyKey, payloadOf, type WebhookPayload } from './connector.js';
