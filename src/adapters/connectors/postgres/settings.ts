/**
 * The postgres target's settings: their schema (the loader applies it, with the defaults), the
 * typed shape read from a validated target (the admin connection parsed from `url`, TLS from the
 * `tls` block, what clients are told, the account/membership options), and the checks beyond it.
 */
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { entitlementDescription, sqlIdentifier, strictObject, targetSettings, urlWith } from '../../../config/schema.js';
import type { TargetCapabilities, TargetConfig } from '../../../core/types.js';
import { readPem, tlsProblems, tlsSettingsOf, type TlsMode, type TlsSettings, verification } from '../tls.js';

export const postgresSettingsSchema = targetSettings(
  {
    url: urlWith(['postgres', 'postgresql']).describe('the admin connection, postgres://USER:PASSWORD@HOST:PORT/DATABASE'),
    mode: z.enum(['account', 'membership']).default('account').describe('account: a login role per grant; membership: roles granted to existing users'),
    owner: sqlIdentifier.optional().describe('REASSIGN OWNED target at the end of an account grant (default: the admin user)'),
    allowPrivilegedRoles: z.boolean().default(false).describe('permit granting superuser-like built-in roles (pg_write_server_files, ...)'),
    userTemplate: z.string().default('{principal}').describe('membership mode: the existing database user of a principal ({principal} is replaced)'),
  },
  strictObject({ description: entitlementDescription, roles: z.array(sqlIdentifier).min(1).describe('roles the grant is given') }),
);

/** Account mode creates a login role (credentials, VALID UNTIL, its backends ended); membership mode lends roles to existing users. */
export function capabilitiesOf(mode: 'account' | 'membership'): TargetCapabilities {
  return mode === 'account'
    ? { endsSessions: true, enforcesExpiry: true, canList: true, issuesCredentials: true }
    : { endsSessions: false, enforcesExpiry: false, canList: true, issuesCredentials: false };
}

export interface PostgresSettings {
  targetName: string;
  mode: 'account' | 'membership';
  accountPrefix: string;
  /** REASSIGN OWNED target; undefined = the admin user. */
  owner?: string;
  allowPrivilegedRoles: boolean;
  userTemplate: string;
  /** Admin connection. */
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  tls?: TlsSettings;
  /** What clients are told. */
  clientHost: string;
  clientPort: number;
  /** Entitlement name → roles. */
  entitlements: Record<string, string[]>;
}

export type Problem = { path: (string | number)[]; message: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Splits the admin URL; problems (not exceptions) for what is missing. */
export function parseUrl(text: string): { value?: { host: string; port: number; user: string; password: string; database: string }; problems: string[] } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problems: ['must be a postgres:// URL'] };
  }
  const problems: string[] = [];
  if (!['postgres:', 'postgresql:'].includes(url.protocol)) problems.push('must be a postgres:// URL');
  const user = decode(url.username);
  if (!user) problems.push('must name the admin user (postgres://USER:PASSWORD@HOST:PORT/DATABASE)');
  let host = decode(url.hostname);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!host) problems.push('must name a host');
  if (url.search) problems.push("query parameters (sslmode, ...) are not read: use the target's `tls` block");
  const port = url.port ? Number(url.port) : 5432;
  const path = decode(url.pathname.replace(/^\//, ''));
  if (path.includes('/')) problems.push('the path must be a single database name');
  return { value: { host, port, user, password: decode(url.password), database: path || user }, problems };
}

export function settingsOf(target: TargetConfig): PostgresSettings {
  const { value } = parseUrl(String(target.url ?? ''));
  const url = value ?? { host: '', port: 5432, user: '', password: '', database: '' };
  const entitlements: Record<string, string[]> = {};
  for (const [name, e] of Object.entries(target.entitlements ?? {})) {
    const roles = (e as { roles?: unknown }).roles;
    entitlements[name] = Array.isArray(roles) ? roles.map(String) : [];
  }
  const settings: PostgresSettings = {
    targetName: target.name,
    mode: target.mode === 'membership' ? 'membership' : 'account',
    accountPrefix: str(target.accountPrefix) ?? 'hg_',
    allowPrivilegedRoles: target.allowPrivilegedRoles === true,
    userTemplate: str(target.userTemplate) ?? '{principal}',
    ...url,
    clientHost: str(target.clientHost) ?? url.host,
    clientPort: typeof target.clientPort === 'number' ? target.clientPort : url.port,
    entitlements,
  };
  const owner = str(target.owner);
  if (owner) settings.owner = owner;
  const tls = tlsSettingsOf(target.tls);
  if (tls) settings.tls = tls;
  return settings;
}

/** node-postgres `ssl` option for the admin connection. */
export function sslOptions(tls: TlsSettings | undefined): false | ConnectionOptions {
  if (!tls || tls.mode === 'disable') return false;
  const opts: ConnectionOptions = {};
  if (tls.ca) opts.ca = readPem(tls.ca);
  if (tls.cert) opts.cert = readPem(tls.cert);
  if (tls.key) opts.key = readPem(tls.key);
  if (tls.serverName) opts.servername = tls.serverName;
  return { ...opts, ...verification(tls.mode) };
}

/** The kind-specific checks beyond the schema, as [path, message] pairs relative to the target. */
export function validateSettings(target: TargetConfig, isPrivilegedName: (role: string) => boolean): Problem[] {
  const problems: Problem[] = [];
  const parsed = parseUrl(String(target.url ?? ''));
  for (const message of parsed.problems) problems.push({ path: ['url'], message });
  const s = settingsOf(target);
  if (s.mode === 'membership' && !s.userTemplate.trim()) problems.push({ path: ['userTemplate'], message: 'must not be empty' });
  for (const [name, roles] of Object.entries(s.entitlements)) {
    if (roles.length === 0) problems.push({ path: ['entitlements', name, 'roles'], message: 'must name at least one role' });
    roles.forEach((role, i) => {
      const path = ['entitlements', name, 'roles', i];
      if (s.mode === 'account' && role.startsWith(s.accountPrefix)) {
        problems.push({ path, message: `role "${role}" carries the account prefix "${s.accountPrefix}": Hourglass's own accounts are never granted` });
      }
      if (!s.allowPrivilegedRoles && isPrivilegedName(role)) {
        problems.push({ path, message: `role "${role}" is a privileged built-in role; set allowPrivilegedRoles: true to permit it` });
      }
    });
  }
  problems.push(...tlsProblems(target.tls));
  return problems;
}

export { readPem, type TlsMode, type TlsSettings };
