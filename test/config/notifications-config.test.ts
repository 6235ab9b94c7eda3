/** The `notifications`, `tickets` and `oncall` sections, principals' addresses, and the policies' chat and escalation keys. */
import { describe, expect, it } from 'vitest';
import type { ConfigProblem } from '../../src/config/types.js';
import { HgError } from '../../src/core/errors.js';
import { parseConfig } from '../support/config.js';

const base = (extra: string, policy = '', server = '  publicUrl: https://hourglass.example.com\n') => `
server:
${server}principals:
  - { id: alice, groups: [developers], email: alice@example.com, displayName: Alice A. }
  - { id: bob, groups: [leads] }
targets:
  db: { type: hourglass, entitlements: { write: {} } }
policies:
  - name: write
    subjects: { groups: [developers] }
    entitlements: [db/write]
    pendingTimeout: 2h
    approval:
      required: 1
      approvers: { groups: [leads] }
${policy}
${extra}
`;

const SLACK = `notifications:
  slack: { botToken: xoxb-1234567890, signingSecret: 0123456789abcdef0123 }
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, {}, 'test.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(HgError);
    return ((e as HgError).details as { problems: ConfigProblem[] }).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected HG_CONFIG_INVALID');
}

describe('notifications', () => {
  it('takes defaults: STARTTLS on 587, routes to each person by e-mail and Slack, links for 4h', () => {
    const c = parseConfig(
      base(`notifications:
  email: { host: smtp.example.com, from: "Hourglass <a@example.com>", user: u, password: p }
  slack: { botToken: xoxb-1234567890 }
`),
    );
    expect(c.notifications).toEqual({
      linkLifetimeMs: 4 * 3_600_000,
      email: { host: 'smtp.example.com', port: 587, security: 'starttls', user: 'u', password: 'p', from: 'Hourglass <a@example.com>', timeoutMs: 10_000 },
      slack: { botToken: 'xoxb-1234567890', apiUrl: 'https://slack.com/api/', timeoutMs: 10_000 },
      teams: [],
      routes: [{ channels: ['email', 'slack'], topics: ['*'], policies: ['*'] }],
    });
    expect(c.principals[0]).toMatchObject({ email: 'alice@example.com', displayName: 'Alice A.' });
    expect(parseConfig(base('')).notifications).toBeUndefined();
  });

  it('refuses what would fail or leak at run time', () => {
    expect(problems(base(SLACK, '', ''))).toContain('notifications: needs server.publicUrl: every message links to the request in the web UI');
    expect(problems(base(`notifications:\n  email: { host: smtp.example.com, security: none, from: a@example.com }\n`))).toEqual([
      expect.stringContaining('notifications.email.security: none sends mail in clear'),
    ]);
    expect(problems(base(`notifications:\n  email: { host: 127.0.0.1, from: a@example.com, user: u }\n`))).toEqual([
      'notifications.email: user and password go together (SMTP AUTH), or neither',
    ]);
    expect(problems(base(`notifications:\n  routes: [{ channels: [email, teams:ops, slack:C01] }]\n`))).toEqual([
      'notifications.routes[0].channels[0]: "email": no notifications.email is configured',
      'notifications.routes[0].channels[1]: "teams:ops": no notifications.teams entry is named "ops"',
      'notifications.routes[0].channels[2]: "slack:C01": no notifications.slack is configured',
    ]);
    expect(problems(base(`${SLACK}  routes: [{ channels: [slack], topics: [aproval.requested] }]\n`))).toEqual([
      expect.stringContaining('notifications.routes[0].topics[0]: must be *, a topic'),
    ]);
    expect(problems(base(`${SLACK}  routes: [{ channels: [slack], policies: [wirte, "wri*"] }]\n`))).toEqual([
      'notifications.routes[0].policies[0]: no policy is named "wirte"',
    ]);
    expect(problems(base(`notifications:\n  slack: { botToken: xoxp-user-token }\n`))).toEqual([
      'notifications.slack.botToken: must be a bot token (xoxb-...)',
    ]);
    expect(problems(base(`notifications:\n  teams: [{ name: ops, url: "http://teams.example.com/x" }]\n`))).toEqual([
      expect.stringContaining('notifications.teams[0].url'),
    ]);
    expect(problems(base(`${SLACK}  linkLifetime: 30d\n`))).toEqual(['notifications.linkLifetime: must be between 5m and 7d']);
    expect(problems(base('').replace('email: alice@example.com', 'email: "alice <a@x.com>"'))).toEqual([
      'principals[0].email: must be an e-mail address (name@example.com)',
    ]);
  });
});

describe('policies: approval.fromChat and approval.escalation', () => {
  it('refuses chat approval where MFA is required to approve', () => {
    const policy = `      fromChat: true
    mfa: { required: true, for: [approve] }`;
    expect(problems(base(SLACK, policy))).toEqual([expect.stringContaining('policies[0].approval.fromChat: approving from chat cannot prove MFA')]);
    const ok = parseConfig(base(SLACK, `      fromChat: true\n    mfa: { required: true, for: [request] }`));
    expect(ok.policies[0]!.approval.fromChat).toBe(true);
  });

  it('takes tiers in order, shorter than the pending timeout', () => {
    const tiers = (a: string, b: string) => `      escalation:
        - { after: ${a}, approvers: { groups: [managers] } }
        - { after: ${b}, approvers: { users: [bob] } }`;
    const c = parseConfig(base('', tiers('30m', '1h')));
    expect(c.policies[0]!.approval.escalation).toEqual([
      { afterMs: 1_800_000, approvers: { groups: ['managers'], users: [] } },
      { afterMs: 3_600_000, approvers: { groups: [], users: ['bob'] } },
    ]);
    expect(problems(base('', tiers('1h', '30m')))).toEqual([expect.stringContaining('escalation[1].after: must be later than the tier before (1h)')]);
    expect(problems(base('', tiers('30m', '2h')))).toEqual([expect.stringContaining('escalation[1].after: must be shorter than pendingTimeout (2h)')]);
  });

  it('keeps the policy hash of policies without them', () => {
    const a = parseConfig(base(''));
    const b = parseConfig(base(SLACK));
    expect(b.policyHash).toBe(a.policyHash);
    expect(parseConfig(base('', '      fromChat: true')).policyHash).not.toBe(a.policyHash);
  });
});

describe('tickets and oncall', () => {
  it('parses each kind with its defaults and refuses missing credentials', () => {
    const c = parseConfig(
      base(`tickets:
  - { name: jira, type: jira, url: "https://example.atlassian.net/", user: bot@example.com, token: secret-token }
  - { name: snow, type: servicenow, url: "https://example.service-now.com", user: hourglass, token: secret-pass, table: incident }
oncall:
  - { name: primary, type: pagerduty, schedule: P123, token: pd-token-123 }
  - { name: rota, type: ical, url: "https://calendar.example.com/rota.ics" }
`),
    );
    expect(c.tickets[0]).toEqual({
      name: 'jira',
      type: 'jira',
      url: 'https://example.atlassian.net',
      user: 'bot@example.com',
      token: 'secret-token',
      table: 'change_request',
      pollIntervalMs: 60_000,
      timeoutMs: 10_000,
    });
    expect(c.tickets[1]).toMatchObject({ table: 'incident' });
    expect(c.oncall).toEqual([
      { name: 'primary', type: 'pagerduty', schedule: 'P123', token: 'pd-token-123', url: 'https://api.pagerduty.com', cacheMs: 60_000, timeoutMs: 10_000 },
      { name: 'rota', type: 'ical', url: 'https://calendar.example.com/rota.ics', cacheMs: 60_000, timeoutMs: 10_000 },
    ]);
    expect(problems(base(`tickets:\n  - { name: j, type: jira, url: "https://x.atlassian.net", token: secret-token }\n`))).toEqual([
      expect.stringContaining('tickets[0].user: jira needs user'),
    ]);
    expect(problems(base(`oncall:\n  - { name: o, type: opsgenie, schedule: s }\n`))).toEqual([
      expect.stringContaining('opsgenie needs schedule (its id) and token'),
    ]);
  });
});
