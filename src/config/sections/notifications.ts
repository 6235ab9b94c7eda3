/**
 * The `notifications` section: how people are told (e-mail, Slack, Teams), which topics go where,
 * and the templates. docs/configuration.md and docs/integrations.md describe every key.
 */
import { z } from 'zod';
import { NOTIFICATION_TOPICS } from '../../core/notify-plan.js';
import type { NotificationRoute, NotificationSettings } from '../types.js';
import { durationSchema, httpsOrLoopbackUrl, isValidTimezone, nonEmptyString, strictObject } from '../primitives.js';
import { isPlainObject, parseFields, shown, type RawProblem } from '../problems.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export const emailShape = {
  host: nonEmptyString,
  port: z.number().int().min(1).max(65535).optional(),
  security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  user: nonEmptyString.optional(),
  password: z.string().min(1).optional(),
  from: z
    .string()
    .max(320)
    .regex(/^[^\r\n]*@[^\r\n]*$/, 'must be an address, optionally with a name: "Hourglass <access@example.com>"'),
  ca: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must be PEM (-----BEGIN CERTIFICATE-----...)' }).optional(),
  timeout: durationSchema.default('10s'),
};

export const slackShape = {
  botToken: z.string().startsWith('xoxb-', 'must be a bot token (xoxb-...)'),
  signingSecret: z.string().min(16).optional(),
  appToken: z.string().startsWith('xapp-', 'must be an app-level token (xapp-...) with connections:write').optional(),
  apiUrl: httpsOrLoopbackUrl.default('https://slack.com/api/'),
  timeout: durationSchema.default('10s'),
};

export const teamsShape = {
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1-40 characters: lower-case letters, digits, _ and - (not first)'),
  url: httpsOrLoopbackUrl,
  timeout: durationSchema.default('10s'),
};

const topicPattern = z
  .string()
  .refine(
    (p) =>
      p === '*' || (NOTIFICATION_TOPICS as readonly string[]).includes(p) || NOTIFICATION_TOPICS.some((t) => p.endsWith('.*') && t.startsWith(p.slice(0, -1))),
    {
      message: `must be *, a topic (${NOTIFICATION_TOPICS.join(', ')}) or a prefix such as approval.*`,
    },
  );

export const routeShape = {
  channels: z
    .array(z.string().regex(/^(email|slack|slack:[A-Z0-9]{2,30}|teams:[a-z0-9][a-z0-9_-]{0,39})$/, 'must be email, slack, slack:CHANNEL_ID or teams:NAME'))
    .min(1),
  topics: z.array(topicPattern).min(1).default(['*']),
  policies: z
    .array(z.string().regex(/^[A-Za-z0-9*][A-Za-z0-9._*-]{0,127}$/, 'must be a policy name, with * as a wildcard'))
    .min(1)
    .default(['*']),
};

export const notificationsShape = {
  templates: nonEmptyString.optional(),
  linkLifetime: durationSchema.default('4h'),
  email: strictObject(emailShape).optional(),
  slack: strictObject(slackShape).optional(),
  teams: z.array(strictObject(teamsShape)).default([]),
  routes: z.array(strictObject(routeShape)).default([]),
  digest: strictObject({
    at: z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be a local time HH:MM, e.g. "09:00"'),
    timezone: z.string().refine(isValidTimezone, 'must be a known IANA time zone (e.g. UTC, Europe/Berlin)').default('UTC'),
  }).optional(),
};

const DEFAULT_PORT = { starttls: 587, tls: 465, none: 25 } as const;

export function parseNotifications(
  raw: unknown,
  out: RawProblem[],
  publicUrl: string | undefined,
  policyNames: readonly string[],
): NotificationSettings | undefined {
  if (raw === undefined || raw === null) return undefined;
  const path = ['notifications'];
  if (!isPlainObject(raw)) {
    out.push({ path, message: 'must be a mapping: { email, slack, teams, routes }' });
    return undefined;
  }
  const before = out.length;
  const { values: v } = parseFields(notificationsShape, raw, path, out);
  const problem = (at: (string | number)[], message: string) => out.push({ path: [...path, ...at], message });
  if (!publicUrl) problem([], 'needs server.publicUrl: every message links to the request in the web UI');
  if (v.linkLifetime !== undefined && (v.linkLifetime < 5 * 60_000 || v.linkLifetime > 7 * 86_400_000)) problem(['linkLifetime'], 'must be between 5m and 7d');
  const email = v.email;
  if (email) {
    if ((email.user === undefined) !== (email.password === undefined)) problem(['email'], 'user and password go together (SMTP AUTH), or neither');
    if (email.security === 'none' && !LOOPBACK.has(email.host)) {
      problem(
        ['email', 'security'],
        `none sends mail in clear: allowed only to a relay on this machine (127.0.0.1), not ${shown(email.host)}; use starttls or tls`,
      );
    }
  }
  const teamNames = new Set<string>();
  v.teams?.forEach((t, i) => {
    if (teamNames.has(t.name)) problem(['teams', i, 'name'], `duplicate Teams webhook name ${shown(t.name)}`);
    teamNames.add(t.name);
  });
  v.routes?.forEach((r, i) => {
    // A name without a wildcard that names no policy is a typo that would silence the route.
    r.policies.forEach((p, j) => {
      if (!p.includes('*') && !policyNames.includes(p)) problem(['routes', i, 'policies', j], `no policy is named ${shown(p)}`);
    });
    r.channels.forEach((c, j) => {
      const why =
        c === 'email' && !email
          ? 'no notifications.email is configured'
          : (c === 'slack' || c.startsWith('slack:')) && !v.slack
            ? 'no notifications.slack is configured'
            : c.startsWith('teams:') && !teamNames.has(c.slice(6))
              ? `no notifications.teams entry is named ${shown(c.slice(6))}`
              : undefined;
      if (why) problem(['routes', i, 'channels', j], `${shown(c)}: ${why}`);
    });
  });
  if (out.length !== before) return undefined;
  const routes: NotificationRoute[] = v.routes!.length
    ? v.routes!.map((r) => ({ channels: [...new Set(r.channels)], topics: r.topics, policies: r.policies }))
    : defaultRoutes(Boolean(email), Boolean(v.slack));
  return {
    ...(v.templates !== undefined ? { templatesDir: v.templates } : {}),
    linkLifetimeMs: v.linkLifetime!,
    ...(email
      ? {
          email: {
            host: email.host,
            port: email.port ?? DEFAULT_PORT[email.security],
            security: email.security,
            ...(email.user !== undefined ? { user: email.user, password: email.password! } : {}),
            from: email.from,
            ...(email.ca !== undefined ? { ca: email.ca } : {}),
            timeoutMs: email.timeout,
          },
        }
      : {}),
    ...(v.slack
      ? {
          slack: {
            botToken: v.slack.botToken,
            ...(v.slack.signingSecret !== undefined ? { signingSecret: v.slack.signingSecret } : {}),
            ...(v.slack.appToken !== undefined ? { appToken: v.slack.appToken } : {}),
            apiUrl: v.slack.apiUrl.endsWith('/') ? v.slack.apiUrl : `${v.slack.apiUrl}/`,
            timeoutMs: v.slack.timeout,
          },
        }
      : {}),
    teams: v.teams!.map((t) => ({ name: t.name, url: t.url, timeoutMs: t.timeout })),
    routes,
    ...(v.digest ? { digest: { atMinutes: Number(v.digest.at.slice(0, 2)) * 60 + Number(v.digest.at.slice(3)), timezone: v.digest.timezone } } : {}),
  };
}

/** Without routes: every topic to each person's own e-mail and Slack (shared channels need a route). */
function defaultRoutes(email: boolean, slack: boolean): NotificationRoute[] {
  const channels = [...(email ? ['email'] : []), ...(slack ? ['slack'] : [])];
  return channels.length ? [{ channels, topics: ['*'], policies: ['*'] }] : [];
}
