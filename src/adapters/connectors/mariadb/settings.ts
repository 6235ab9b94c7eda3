/**
 * The mariadb target's settings: their schema (the loader applies it, with the defaults), the
 * typed shape read from a validated target, and the checks the schema cannot make: privilege
 * strings against the catalogue, the host part, TLS files.
 */
import { z } from 'zod';
import { entitlementDescription, sqlIdentifier, strictObject, targetSettings, urlWith } from '../../../config/schema.js';
import type { TargetConfig } from '../../../core/types.js';
import { isSafeHost } from './names.js';
import { parsePrivilege, type ParsedPrivilege } from './privileges.js';
import { readPem, tlsProblems, tlsSettingsOf, type TlsMode, type TlsSettings } from '../tls.js';

export const mariadbSettingsSchema = targetSettings(
  {
    url: urlWith(['mysql', 'mariadb']).describe('the admin connection, mysql://USER:PASSWORD@HOST:PORT'),
    userHost: z.string().min(1).max(255).default('%').describe("host part of created accounts ('%' = any)"),
  },
  strictObject({
    description: entitlementDescription,
    privileges: z
      .array(z.string().regex(/^[A-Za-z ,_]+ ON [`A-Za-z0-9_*$.-]+$/, 'must look like "SELECT, INSERT ON shop.*"'))
      .optional()
      .describe('privileges granted to the account, "SELECT, INSERT ON shop.*"'),
    roles: z.array(sqlIdentifier).optional().describe('roles granted to the account (and made its default)'),
  }).refine((e) => (Array.isArray(e.privileges) ? e.privileges.length : 0) + (Array.isArray(e.roles) ? e.roles.length : 0) > 0, 'give privileges or roles'),
);

export interface MariadbSettings {
  name: string;
  url: string;
  userHost: string;
  accountPrefix: string;
  clientHost?: string;
  clientPort?: number;
  tls?: TlsSettings;
}

export interface AdminEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The URL's path, when it names one. */
  database?: string;
}

export type Problem = { path: (string | number)[]; message: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function readSettings(target: TargetConfig): MariadbSettings {
  const t = target as Record<string, unknown>;
  const settings: MariadbSettings = {
    name: target.name,
    url: str(t.url) ?? '',
    userHost: str(t.userHost) ?? '%',
    accountPrefix: str(t.accountPrefix) ?? 'hg_',
  };
  const clientHost = str(t.clientHost);
  if (clientHost) settings.clientHost = clientHost;
  if (typeof t.clientPort === 'number') settings.clientPort = t.clientPort;
  const tls = tlsSettingsOf(t.tls);
  if (tls) settings.tls = tls;
  return settings;
}

/** Host, port and admin account from the URL (mysql:// or mariadb://). Throws on a bad URL. */
export function adminEndpoint(url: string): AdminEndpoint {
  const u = new URL(url);
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new Error('must be a mysql:// or mariadb:// URL');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error('the URL names no host');
  if (!u.username) throw new Error('the URL names no user (the account Hourglass administers with)');
  const endpoint: AdminEndpoint = {
    host,
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (db) endpoint.database = db;
  return endpoint;
}

/** An entitlement's privileges and roles (config as validated at load). */
export interface EntitlementSpec {
  privileges: ParsedPrivilege[];
  roles: string[];
}

export function entitlementSpec(config: Record<string, unknown>): EntitlementSpec {
  const privileges: ParsedPrivilege[] = [];
  const rawPrivileges = Array.isArray(config.privileges) ? config.privileges : [];
  for (const text of rawPrivileges) {
    const r = parsePrivilege(String(text));
    if (!r.ok) throw new Error(`privilege ${JSON.stringify(String(text))}: ${r.message}`);
    privileges.push(r.value);
  }
  const roles = (Array.isArray(config.roles) ? config.roles : []).map(String);
  for (const role of roles) {
    if (!/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(role)) throw new Error(`role ${JSON.stringify(role)} is not a plain identifier`);
  }
  return { privileges, roles };
}

export function validateSettings(target: TargetConfig): Problem[] {
  const problems: Problem[] = [];
  const s = readSettings(target);
  try {
    adminEndpoint(s.url);
  } catch (e) {
    problems.push({ path: ['url'], message: (e as Error).message.startsWith('Invalid URL') ? 'must be a mysql:// URL' : (e as Error).message });
  }
  if (!isSafeHost(s.userHost)) {
    problems.push({ path: ['userHost'], message: 'must be a host name, address, netmask or pattern (letters, digits and . % _ : / -)' });
  }
  problems.push(...tlsProblems(target.tls));
  for (const [name, ent] of Object.entries(target.entitlements ?? {})) {
    const config = (ent ?? {}) as Record<string, unknown>;
    const privileges = Array.isArray(config.privileges) ? config.privileges : [];
    privileges.forEach((text, i) => {
      const r = parsePrivilege(String(text));
      if (!r.ok) problems.push({ path: ['entitlements', name, 'privileges', i], message: r.message });
    });
  }
  return problems;
}

export { readPem, type TlsMode, type TlsSettings };
