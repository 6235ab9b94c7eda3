/**
 * The `postgres` target kind: one-time login roles (account mode) or role memberships of
 * existing users (membership mode). See docs/targets/postgres.md.
 */
import type { ConnectorFactory } from '../../../app/connectors.js';
import { postgresClient } from './client.js';
import { PostgresConnector } from './connector.js';
import { isPrivilegedBuiltinName } from './safety.js';
import { capabilitiesOf, postgresSettingsSchema, settingsOf, validateSettings } from './settings.js';

export const postgresConnectorFactory: ConnectorFactory = {
  kind: 'postgres',
  settings: postgresSettingsSchema,
  usage: 'hourglass connect {id}',
  capabilities: (target) => capabilitiesOf(settingsOf(target).mode),
  validate: (target) => validateSettings(target, isPrivilegedBuiltinName),
  client: postgresClient,
  create: (target, opts) => new PostgresConnector(target, opts),
};

export { PostgresConnector, setsRole, BOOKKEEPING_TABLE, CONNECTION_LIMIT } from './connector.js';
export { accountName } from './names.js';
export { scramSha256Verifier } from './scram.js';
export { PRIVILEGED_BUILTIN_ROLES, MONITORING_ROLES, isPrivilegedBuiltinName } from './safety.js';
