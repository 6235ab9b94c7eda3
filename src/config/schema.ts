/**
 * The configuration file's schema: what each key may hold, its default, and the checks that
 * span several keys. Everything here is pure: it takes the plain value the YAML parser produced
 * (after `${ENV}` interpolation) and the target kinds of this build, and returns either a
 * complete HourglassConfig or every problem.
 *
 * Defaults fail closed: no principal, target or policy exists unless configured, approvals are
 * required unless a policy says `required: 0`, extensions are off, reasons are required.
 *
 * Each section has its module under sections/; the pieces they share are in primitives.ts and
 * problems.ts. This module puts them together and re-exports what other layers use.
 */
import { canonicalJson, sha256Hex } from '../core/audit-chain.js';
import type { Policy, Principal, TargetConfig } from '../core/types.js';
import { isPlainObject, unknownKeys, type RawProblem } from './problems.js';
import { parseAudit } from './sections/audit.js';
import { parseCredentials } from './sections/credentials.js';
import { parseIdentity } from './sections/identity.js';
import { parsePolicies } from './sections/policies.js';
import { parseOnCall, parseTickets } from './sections/integrations.js';
import { parseNotifications } from './sections/notifications.js';
import { parsePrincipals } from './sections/principals.js';
import { parseServer } from './sections/server.js';
import { parseTargets } from './sections/targets.js';
import { parseReminders, parseWebhooks } from './sections/webhooks.js';
import type { TargetKinds } from './target-kind.js';
import type { HourglassConfig, IdentitySettings } from './types.js';

export * from './primitives.js';
export * from './problems.js';
export { checkpointShape } from './sections/audit.js';
export { credentialsShape } from './sections/credentials.js';
export { identityShape, oidcShape, sessionsShape } from './sections/identity.js';
export { policyShape } from './sections/policies.js';
export { onCallShape, ticketSystemShape } from './sections/integrations.js';
export { emailShape, notificationsShape, routeShape, slackShape, teamsShape } from './sections/notifications.js';
export { principalShape } from './sections/principals.js';
export { parseByteSize, parseListen, parseListenOrThrow, serverShape } from './sections/server.js';
export {
  baseTargetSchema,
  CALL_TIMEOUT_MAX_MS,
  commonTargetShape,
  entitlementDescription,
  sqlIdentifier,
  targetSettings,
  tlsSettingsSchema,
  urlWith,
} from './sections/targets.js';
export { remindersShape, webhookShape } from './sections/webhooks.js';
export type { TargetKind, TargetKinds, TargetProblem } from './target-kind.js';

export const TOP_LEVEL_KEYS = [
  'server',
  'identity',
  'principals',
  'targets',
  'policies',
  'webhooks',
  'notifications',
  'tickets',
  'oncall',
  'reminders',
  'audit',
  'credentials',
] as const;

/**
 * A target's settings without its secrets: the hash is recorded with every decision, and a hash
 * over a low-entropy password could be searched offline. Rotating a password is not a policy change.
 */
function withoutSecrets(target: TargetConfig, secretSettings: readonly (readonly string[])[] = []): TargetConfig {
  const copy = structuredClone(target) as TargetConfig;
  if (typeof copy.url === 'string') {
    try {
      const url = new URL(copy.url);
      if (url.password) url.password = '';
      copy.url = url.toString();
    } catch {
      // not a URL: nothing to strip
    }
  }
  // The kind's own secrets (a webhook secret, an SSH CA key): rotating one is no policy change either.
  for (const path of secretSettings) {
    let parent: Record<string, unknown> | undefined = copy;
    for (const key of path.slice(0, -1)) parent = parent?.[key] && typeof parent[key] === 'object' ? (parent[key] as Record<string, unknown>) : undefined;
    if (parent && typeof parent[path[path.length - 1]!] === 'string') delete parent[path[path.length - 1]!];
  }
  if (copy.tls && typeof copy.tls === 'object' && 'key' in (copy.tls as object)) {
    const { key: _key, ...tls } = copy.tls as Record<string, unknown>;
    copy.tls = tls;
  }
  return copy;
}

/**
 * SHA-256 over the canonical form of principals (id, groups, roles, manager), targets, policies
 * and `identity.roles` (which groups of identity sources hold roles; left out when empty, so a
 * file without it keeps its hash).
 */
export function policyHashOf(
  principals: readonly Principal[],
  targets: Record<string, TargetConfig>,
  policies: readonly Policy[],
  kinds: TargetKinds = [],
  identityRoles: IdentitySettings['roles'] = [],
): string {
  const secretsOf = (t: TargetConfig) => kinds.find((k) => k.kind === t.type)?.secretSettings;
  return sha256Hex(
    canonicalJson({
      principals: principals.map((p) => ({ id: p.id, groups: p.groups, roles: p.roles, ...(p.manager !== undefined ? { manager: p.manager } : {}) })),
      targets: Object.fromEntries(Object.entries(targets).map(([name, t]) => [name, withoutSecrets(t, secretsOf(t))])),
      policies,
      ...(identityRoles.length > 0 ? { identityRoles } : {}),
    }),
  );
}

/**
 * Validates the plain value of a whole configuration file against the sections and the given
 * target kinds. Returns the config only when there are no problems; otherwise every problem found.
 */
export function validateConfig(raw: unknown, kinds: TargetKinds): { config?: HourglassConfig; problems: RawProblem[] } {
  const problems: RawProblem[] = [];
  if (raw === undefined || raw === null) {
    problems.push({ path: [], message: 'the configuration is empty: expected a mapping with server, principals, targets and policies' });
    return { problems };
  }
  if (!isPlainObject(raw)) {
    problems.push({ path: [], message: 'the configuration must be a mapping with server, principals, targets and policies' });
    return { problems };
  }
  unknownKeys(raw, TOP_LEVEL_KEYS, [], problems);
  const server = parseServer(raw.server, problems);
  const principals = parsePrincipals(raw.principals, problems);
  const { targets, capabilities, refs } = parseTargets(raw.targets, kinds, problems);
  const targetNames = new Set(isPlainObject(raw.targets) ? Object.keys(raw.targets) : []);
  const namesIn = (list: unknown) => (Array.isArray(list) ? list.flatMap((t) => (isPlainObject(t) && typeof t.name === 'string' ? [t.name] : [])) : []);
  const policies = parsePolicies(raw.policies, refs, targetNames, problems, namesIn(raw.tickets), namesIn(raw.oncall));
  const webhooks = parseWebhooks(raw.webhooks, problems);
  const reminders = parseReminders(raw.reminders, problems);
  const audit = parseAudit(raw.audit, problems);
  const credentials = parseCredentials(raw.credentials, capabilities, problems);
  const identity = parseIdentity(raw.identity, problems, server?.publicUrl);
  const notifications = parseNotifications(
    raw.notifications,
    problems,
    server?.publicUrl,
    policies.map((p) => p.name),
  );
  const tickets = parseTickets(raw.tickets, problems);
  policies.forEach((p, i) => {
    if (p.ticket.comment && !server?.publicUrl) {
      problems.push({ path: ['policies', i, 'ticket', 'comment'], message: 'needs server.publicUrl: each comment links to the audit trail of the request' });
    }
  });
  const oncall = parseOnCall(raw.oncall, problems);
  if (problems.length > 0 || !server) return { problems };
  const policyHash = policyHashOf(principals, targets, policies, kinds, identity.roles);
  return {
    config: {
      server,
      identity,
      principals,
      targets,
      capabilities,
      policies,
      webhooks,
      ...(notifications ? { notifications } : {}),
      tickets,
      oncall,
      reminders,
      audit,
      credentials,
      policyHash,
    },
    problems,
  };
}
