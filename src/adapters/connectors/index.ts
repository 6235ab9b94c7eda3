/**
 * The target kinds this build knows: the registry, one line per kind. Everything else about a
 * kind is in its folder (docs/architecture.md#adding-a-target-kind). The order is the order
 * an unknown `type` lists them in.
 */
import type { ConnectorFactory } from '../../app/connectors.js';
import { hourglassKindFactory } from './hourglass/index.js';
import { mariadbConnectorFactory } from './mariadb/index.js';
import { postgresConnectorFactory } from './postgres/index.js';
import { redisConnectorFactory } from './redis/index.js';
import { sshConnectorFactory } from './ssh/index.js';
import { tokenConnectorFactory } from './token/index.js';
import { webhookConnectorFactory } from './webhook/index.js';

export const connectorFactories: readonly ConnectorFactory[] = [
  hourglassKindFactory,
  postgresConnectorFactory,
  mariadbConnectorFactory,
  redisConnectorFactory,
  sshConnectorFactory,
  tokenConnectorFactory,
  webhookConnectorFactory,
];
