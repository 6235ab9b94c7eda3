/**
 * The `token` kind: short-lived signed JWTs for APIs, with a JWKS and RFC 7662 introspection
 * (docs/targets/token.md).
 */
import type { ConnectorFactory } from '../../../app/connectors.js';
import { TOKEN_CAPABILITIES, TokenConnector } from './connector.js';
import { keyProblems, tokenSettingsSchema } from './settings.js';

export const tokenConnectorFactory: ConnectorFactory = {
  kind: 'token',
  settings: tokenSettingsSchema,
  usage: 'hourglass credentials {id}',
  capabilities: () => TOKEN_CAPABILITIES,
  validate: (target) => keyProblems(target),
  secretSettings: [['signingKey']],
  create: (target) => new TokenConnector(target),
};
