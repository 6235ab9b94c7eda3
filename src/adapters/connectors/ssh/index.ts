/**
 * The `ssh` kind: Hourglass as an OpenSSH certificate authority (docs/targets/ssh.md). Hosts
 * trust its key and read its revocation list, kept current by `hourglass agent`.
 */
import type { ConnectorFactory } from '../../../app/connectors.js';
import { SSH_CAPABILITIES, SshConnector } from './connector.js';
import { caProblems, sshSettingsSchema } from './settings.js';

export const sshConnectorFactory: ConnectorFactory = {
  kind: 'ssh',
  settings: sshSettingsSchema,
  usage: 'hourglass ssh {id} USER@HOST',
  capabilities: () => SSH_CAPABILITIES,
  validate: (target) => caProblems(target),
  secretSettings: [['ca', 'key']],
  create: (target) => new SshConnector(target),
};
