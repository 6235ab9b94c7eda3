/**
 * The `mariadb` target kind: see connector.ts and docs/targets/mariadb.md.
 */
import type { ConnectorFactory } from '../../../app/connectors.js';
import { MariadbConnector } from './connector.js';
import { validateSettings } from './settings.js';

export const mariadbConnectorFactory: ConnectorFactory = {
  kind: 'mariadb',
  validate: (target) => validateSettings(target),
  create: (target, opts) => new MariadbConnector(target, opts.secretsToScrub),
};

export { MariadbConnector, nativePasswordHash } from './connector.js';
export { accountName, requestIdOf } from './names.js';
export { parsePrivilege } from './privileges.js';
export { adminBaseGrants, LISTED_TABLES, USER_COLUMNS } from './admin.js';
