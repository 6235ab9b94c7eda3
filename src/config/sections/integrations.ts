/**
 * The `tickets` and `oncall` sections: change-management systems that requests' tickets are checked
 * against, and on-call schedules policies may auto-approve from (docs/integrations.md).
 */
import { z } from 'zod';
import type { OnCallSettings, TicketSystemSettings } from '../types.js';
import { durationSchema, httpsOrLoopbackUrl, nonEmptyString, optionalDuration } from '../primitives.js';
import { isPlainObject, parseFields, shown, type RawProblem } from '../problems.js';

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1-40 characters: lower-case letters, digits, _ and - (not first)');

export const ticketSystemShape = {
  name,
  type: z.enum(['jira', 'servicenow', 'http']),
  url: httpsOrLoopbackUrl,
  user: nonEmptyString.optional(),
  token: z.string().min(8, 'must be the API token or password (at least 8 characters)'),
  table: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,79}$/, 'must be a ServiceNow table name (change_request, incident)')
    .default('change_request'),
  pollInterval: durationSchema.default('1m'),
  webhookSecret: z.string().min(16, 'must be at least 16 characters').optional(),
  timeout: durationSchema.default('10s'),
};

export const onCallShape = {
  name,
  type: z.enum(['pagerduty', 'opsgenie', 'ical']),
  schedule: nonEmptyString.optional(),
  token: z.string().min(8).optional(),
  url: httpsOrLoopbackUrl.optional(),
  cache: optionalDuration.default('1m'),
  timeout: durationSchema.default('10s'),
};

const DEFAULT_API = { pagerduty: 'https://api.pagerduty.com', opsgenie: 'https://api.opsgenie.com' } as const;

function list<T extends { name: string }>(
  raw: unknown,
  key: string,
  out: RawProblem[],
  each: (item: Record<string, unknown>, path: (string | number)[]) => T | undefined,
): T[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    out.push({ path: [key], message: 'must be a list' });
    return [];
  }
  const result: T[] = [];
  const names = new Set<string>();
  raw.forEach((item, i) => {
    if (!isPlainObject(item)) {
      out.push({ path: [key, i], message: 'must be a mapping with name and type' });
      return;
    }
    const v = each(item, [key, i]);
    if (!v) return;
    const n = v.name;
    if (names.has(n)) out.push({ path: [key, i, 'name'], message: `duplicate name ${shown(n)}` });
    names.add(n);
    result.push(v);
  });
  return result;
}

export function parseTickets(raw: unknown, out: RawProblem[]): TicketSystemSettings[] {
  return list(raw, 'tickets', out, (item, path) => {
    const before = out.length;
    const { values: v } = parseFields(ticketSystemShape, item, path, out);
    if (v.type === 'jira' && v.user === undefined)
      out.push({ path: [...path, 'user'], message: "jira needs user: the account's e-mail address (Basic auth with the API token)" });
    if (v.type === 'servicenow' && v.user === undefined)
      out.push({ path: [...path, 'user'], message: 'servicenow needs user (Basic auth with the password in token)' });
    if (v.pollInterval !== undefined && v.pollInterval < 10_000) out.push({ path: [...path, 'pollInterval'], message: 'must be at least 10s' });
    if (out.length !== before) return undefined;
    return {
      name: v.name!,
      type: v.type!,
      url: v.url!.replace(/\/+$/, ''),
      ...(v.user !== undefined ? { user: v.user } : {}),
      token: v.token!,
      table: v.table!,
      pollIntervalMs: v.pollInterval!,
      ...(v.webhookSecret !== undefined ? { webhookSecret: v.webhookSecret } : {}),
      timeoutMs: v.timeout!,
    };
  });
}

export function parseOnCall(raw: unknown, out: RawProblem[]): OnCallSettings[] {
  return list(raw, 'oncall', out, (item, path) => {
    const before = out.length;
    const { values: v } = parseFields(onCallShape, item, path, out);
    if (v.type === 'ical' && v.url === undefined) out.push({ path: [...path, 'url'], message: 'ical needs url: the iCalendar (.ics) feed of the rota' });
    if ((v.type === 'pagerduty' || v.type === 'opsgenie') && (v.schedule === undefined || v.token === undefined)) {
      out.push({ path, message: `${v.type} needs schedule (its id) and token (a read-only API key)` });
    }
    if (out.length !== before) return undefined;
    const url = v.url ?? (v.type === 'ical' ? '' : DEFAULT_API[v.type!]);
    return {
      name: v.name!,
      type: v.type!,
      ...(v.schedule !== undefined ? { schedule: v.schedule } : {}),
      ...(v.token !== undefined ? { token: v.token } : {}),
      url: url.replace(/\/+$/, ''),
      cacheMs: v.cache!,
      timeoutMs: v.timeout!,
    };
  });
}
