/**
 * The `mariadb` target kind: see connector.ts and docs/targets/mariadb.md.
 */
import type { ConnectorFactory } from '../../../app/connectors.js';
import { mariadbClient } from './client.js';
import { MARIADB_CAPABILITIES, MariadbConnector } from './connector.js';
import { mariadbSettingsSchema, validateSettings } from './settings.js';

export const mariadbConnectorFactory: ConnectorFactory = {
  kind: 'mariadb',
  settings: mariadbSettingsSchema,
  usage: 'hourglass connect {id}',
  capabilities: () => MARIADB_CAPABILITIES,
  validate: (target) => validateSettings(target),
  client: mariadbClient,
  create: (target, opts) => new MariadbConnector(target, opts.secretsToScrub),
};

export { MariadbConnector, nativePasswordHash } from './connector.js';
export { accountName, requestIdOf } from './names.js';
export { parsePrivilege } from './privileges.js';
export { adminBaseGrants, LISTED_TABLES, USER_COLUMNS } from './admin.js';
