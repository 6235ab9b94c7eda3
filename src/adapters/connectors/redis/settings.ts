/**
 * The redis target's settings: their schema (the loader applies it, with the defaults), and the
 * typed shape read from the validated target configuration: where the admin connection goes,
 * how TLS is set up, and what clients are told. Checked again here (the schema already did the
 * basics) so a connector never runs on half-understood settings.
 */
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { entitlementDescription, strictObject, targetSettings, urlWith } from '../../../config/schema.js';
import type { TargetConfig } from '../../../core/types.js';
import { parseAclRules } from './acl-rules.js';
import { readPem, tlsProblems, tlsSettingsOf, type TlsSettings, verification } from '../tls.js';

export const redisSettingsSchema = targetSettings(
  { url: urlWith(['redis', 'rediss']).describe('the admin connection, redis://USER:PASSWORD@HOST:PORT (rediss:// for TLS)') },
  strictObject({
    description: entitlementDescription,
    acl: z
      .string()
      .min(1)
      .refine(
        (s) => !/(^|\s)(>|<|#|!|nopass|resetpass|on|off|reset)(\s|$|\S)/.test(s.replace(/~\S+|%\S+|&\S+|[+-]\S+/g, '')),
        'must hold only key (~), channel (&) and command (+/-) rules',
      )
      .describe('ACL rules for the user, e.g. "~app:* +@read"; on, the password and resets are added by Hourglass'),
  }),
);

export interface RedisSettings {
  targetName: string;
  /** Host for the admin connection (no IPv6 brackets). */
  host: string;
  port: number;
  /** Admin user; undefined means `default`. */
  username?: string;
  password?: string;
  /** Database index from the URL path, handed to clients (ACL users are server-wide). */
  db?: number;
  accountPrefix: string;
  clientHost: string;
  clientPort: number;
  /** TLS on: the URL is rediss://, or a tls block with a mode other than disable is given. */
  tls?: TlsSettings;
  /** Entitlement name → its rule tokens (already checked). */
  entitlements: Map<string, string[]>;
}

export type Problem = { path: (string | number)[]; message: string };

const DEFAULT_PORT = 6379;

/** Reads the settings; every problem is reported with its config path. */
export function readSettings(target: TargetConfig): { settings?: RedisSettings; problems: Problem[] } {
  const problems: Problem[] = [];
  const prefix = typeof target.accountPrefix === 'string' ? target.accountPrefix : 'hg_';
  if (!/^[a-z][a-z0-9_]{0,15}$/.test(prefix)) {
    problems.push({ path: ['accountPrefix'], message: 'must be 1-16 of a-z 0-9 _ starting with a letter' });
  }

  let url: URL | undefined;
  try {
    url = new URL(String(target.url));
  } catch {
    // reported below
  }
  const scheme = url?.protocol.replace(/:$/, '');
  if (!url || (scheme !== 'redis' && scheme !== 'rediss')) {
    problems.push({ path: ['url'], message: 'must be a redis:// or rediss:// URL' });
    url = undefined;
  }

  let username: string | undefined;
  let password: string | undefined;
  let db: number | undefined;
  let host = '';
  let port = DEFAULT_PORT;
  if (url) {
    try {
      username = url.username ? decodeURIComponent(url.username) : undefined;
      password = url.password ? decodeURIComponent(url.password) : undefined;
    } catch {
      problems.push({ path: ['url'], message: 'user name or password is not valid percent-encoding' });
    }
    host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!host) problems.push({ path: ['url'], message: 'must name a host' });
    port = url.port ? Number(url.port) : DEFAULT_PORT;
    const path = url.pathname.replace(/^\/+/, '');
    if (path) {
      if (/^\d{1,5}$/.test(path)) db = Number(path);
      else problems.push({ path: ['url'], message: 'path must be empty or a database number (redis://host:6379/0)' });
    }
    if (username && username.startsWith(prefix)) {
      problems.push({
        path: ['url'],
        message: `the admin user must not start with the account prefix "${prefix}": Hourglass would treat it as one of its temporary accounts`,
      });
    }
  }

  let tls: TlsSettings | undefined;
  const tlsFound = tlsProblems(target.tls);
  problems.push(...tlsFound);
  const given = tlsSettingsOf(target.tls);
  if (given?.mode === 'disable') {
    if (scheme === 'rediss') problems.push({ path: ['tls', 'mode'], message: 'is disable but the URL is rediss:// (TLS): use redis:// or another mode' });
  } else if (given && tlsFound.length === 0) {
    // Read now: ioredis takes the PEM text, and an unreadable file is a validation problem.
    try {
      tls = { ...given, ...pemsOf(given) };
    } catch (e) {
      problems.push({ path: ['tls'], message: `cannot read a certificate file (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  } else if (!given && scheme === 'rediss') {
    tls = { mode: 'verify-full' };
  }

  const entitlements = new Map<string, string[]>();
  const rawEntitlements = target.entitlements ?? {};
  for (const [name, value] of Object.entries(rawEntitlements)) {
    const acl = (value as Record<string, unknown> | undefined)?.acl;
    const parsed = parseAclRules(acl);
    for (const message of parsed.problems) problems.push({ path: ['entitlements', name, 'acl'], message });
    if (parsed.problems.length === 0) entitlements.set(name, parsed.tokens);
  }

  const clientPort = typeof target.clientPort === 'number' ? target.clientPort : port;
  const clientHost = typeof target.clientHost === 'string' && target.clientHost ? target.clientHost : host;
  if (problems.length > 0) return { problems };
  return {
    problems,
    settings: {
      targetName: target.name,
      host,
      port,
      username,
      password,
      db,
      accountPrefix: prefix,
      clientHost,
      clientPort,
      tls,
      entitlements,
    },
  };
}

/** ca, cert and key as PEM text (`file:` read now). */
function pemsOf(tls: TlsSettings): Pick<TlsSettings, 'ca' | 'cert' | 'key'> {
  const out: Pick<TlsSettings, 'ca' | 'cert' | 'key'> = {};
  for (const k of ['ca', 'cert', 'key'] as const) if (tls[k]) out[k] = readPem(tls[k]!);
  return out;
}

/** The `tls` option for ioredis (node:tls connect options). */
export function tlsOptions(tls: TlsSettings, host: string): ConnectionOptions {
  const opts: ConnectionOptions = {};
  if (tls.ca) opts.ca = tls.ca;
  if (tls.cert) opts.cert = tls.cert;
  if (tls.key) opts.key = tls.key;
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  // SNI must not be an IP address; the certificate check then matches the IP SAN.
  if (tls.serverName) opts.servername = tls.serverName;
  else if (!isIp) opts.servername = host;
  return { ...opts, ...verification(tls.mode) };
}

/** `host` as it goes in a URL (IPv6 in brackets). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
