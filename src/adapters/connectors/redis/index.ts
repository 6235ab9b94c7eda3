/** The `redis` target kind: see connector.ts and docs/targets/redis.md. */
export { redisConnectorFactory, RedisConnector, REDIS_KIND, REDIS_ADMIN_ACL_RULES, REDIS_ADMIN_COMMANDS } from './connector.js';
export { parseAclRules } from './acl-rules.js';
