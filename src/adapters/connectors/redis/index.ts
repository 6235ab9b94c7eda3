/** The `redis` target kind: see connector.ts and docs/targets/redis.md. */
import type { ConnectorFactory } from '../../../app/connectors.js';
import { redisClient } from './client.js';
import { REDIS_CAPABILITIES, REDIS_KIND, RedisConnector } from './connector.js';
import { readSettings, redisSettingsSchema } from './settings.js';

export const redisConnectorFactory: ConnectorFactory = {
  kind: REDIS_KIND,
  settings: redisSettingsSchema,
  usage: 'hourglass connect {id}',
  capabilities: () => REDIS_CAPABILITIES,
  validate: (target) => readSettings(target).problems,
  client: redisClient,
  create: (target, opts) => new RedisConnector(target, opts.secretsToScrub),
};

export { RedisConnector, REDIS_KIND, REDIS_ADMIN_ACL_RULES, REDIS_ADMIN_COMMANDS } from './connector.js';
export { parseAclRules } from './acl-rules.js';
