/**
 * The built-in `hourglass` kind: the grant lives in Hourglass itself (the check API answers
 * from the grants index), so there is no target to call. It is `inline`: a transition moves
 * `access` together with `status`, in the same transaction, and the access worker never calls
 * its connector. The connector exists so the kind is one like the others; every call is a
 * no-op, and it has no reconciliation (canList false). See docs/targets.md.
 */
import type { Connector, ConnectorFactory } from '../../../app/connectors.js';
import { baseTargetSchema } from '../../../config/schema.js';
import type { TargetCapabilities } from '../../../core/types.js';

const CAPABILITIES: TargetCapabilities = { inline: true, issuesCredentials: false, endsSessions: false, enforcesExpiry: false, canList: false };

const inlineConnector: Connector = {
  kind: 'hourglass',
  capabilities: CAPABILITIES,
  grant: async () => ({}),
  revoke: async () => {},
  extend: async () => {},
  health: async () => ({ ok: true }),
  close: async () => {},
};

export const hourglassKindFactory: ConnectorFactory = {
  kind: 'hourglass',
  // Entitlements with a description, and any other keys the file gives (as before kinds had schemas).
  settings: baseTargetSchema,
  capabilities: () => CAPABILITIES,
  validate: () => [],
  create: () => inlineConnector,
};
