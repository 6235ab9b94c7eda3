/** A configuration with every channel pointed at the test's real SMTP server and the Slack and Teams stand-ins. */
import { startSlackStandIn, type SlackStandIn } from '../support/slack-standin.js';
import { startSmtpServer, type SmtpServer } from '../support/smtp-server.js';
import { startTeamsStandin, type TeamsStandin } from '../support/teams-standin.js';

export const BOT_TOKEN = 'xoxb-test-bot-token-0123456789';
export const APP_TOKEN = 'xapp-test-app-token-0123456789';
export const SIGNING_SECRET = 'slack-signing-secret-0123456789abcdef';
export const SMTP_PASSWORD = 'smtp-password-do-not-leak';

export interface Parts {
  smtp: SmtpServer;
  slack: SlackStandIn;
  teams: TeamsStandin;
  close(): Promise<void>;
}

/** Slack users: alice, bob, carol, erin and admin by their e-mail addresses. */
export async function startParts(): Promise<Parts> {
  const smtp = await startSmtpServer({ users: { hourglass: SMTP_PASSWORD } });
  const slack = await startSlackStandIn({
    botToken: BOT_TOKEN,
    appToken: APP_TOKEN,
    users: ['alice', 'bob', 'carol', 'erin', 'admin'].map((id, i) => ({ id: `U0${i + 1}${id.toUpperCase()}`, email: `${id}@example.com` })),
  });
  const teams = await startTeamsStandin();
  return {
    smtp,
    slack,
    teams,
    close: async () => {
      await Promise.all([smtp.close(), slack.close(), teams.close()]);
    },
  };
}

export const slackUser = (id: string) => `U0${['alice', 'bob', 'carol', 'erin', 'admin'].indexOf(id) + 1}${id.toUpperCase()}`;

const principal = (id: string, groups: string[], roles: string[] = [], email = true) =>
  `  - id: ${id}\n    groups: [${groups.join(', ')}]\n    roles: [${roles.join(', ')}]\n${email ? `    email: ${id}@example.com\n    displayName: ${id[0]!.toUpperCase()}${id.slice(1)} Example\n` : ''}    apiTokens: [{ sha256: "${sha(id)}" }]`;

import { createHash } from 'node:crypto';
const sha = (id: string) => createHash('sha256').update(`${id}-demo-token`).digest('hex');

export interface YamlOptions {
  routes?: string;
  /** Extra keys of the `approval` of the `chat` policy. */
  chatApproval?: string;
  templates?: string;
  /** `notifications.digest`, e.g. `{ at: "10:30" }`. */
  digest?: string;
  /** Socket Mode: `notifications.slack.appToken`. */
  socketMode?: boolean;
}

export function notifyYaml(p: Parts, o: YamlOptions = {}): string {
  return `
server:
  listen: 127.0.0.1:0
  store: "sqlite::memory:"
  publicUrl: https://hourglass.example.com
  allowedHosts: [127.0.0.1]
principals:
${principal('alice', ['developers'])}
${principal('bob', ['sre-leads'])}
${principal('carol', ['sre-leads'])}
${principal('erin', ['managers'])}
${principal('nomail', ['sre-leads'], [], false)}
${principal('dave', ['oncall'])}
${principal('admin', [], ['admin'])}
${principal('auditor', [], ['auditor'])}
targets:
  db:
    type: hourglass
    entitlements:
      read: {}
      write: {}
      admin: {}
policies:
  - name: write
    subjects: { groups: [developers] }
    entitlements: [db/write]
    maxDuration: 2h
    pendingTimeout: 4h
    approval:
      required: 1
      approvers: { groups: [sre-leads] }
      escalation:
        - after: 30m
          approvers: { groups: [managers] }
  - name: chat
    subjects: { groups: [developers] }
    entitlements: [db/read]
    maxDuration: 2h
    reason: optional
    approval:
      required: 2
      approvers: { groups: [sre-leads] }
      fromChat: true
${o.chatApproval ?? ''}
  - name: mfa-admin
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    maxDuration: 1h
    approval: { required: 1, approvers: { groups: [sre-leads] } }
    mfa: { required: true, for: [approve] }
  - name: break-glass
    subjects: { groups: [oncall] }
    entitlements: [db/admin]
    maxDuration: 1h
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { groups: [sre-leads] }, within: 2h }
notifications:
  linkLifetime: 1h
${o.templates ? `  templates: ${JSON.stringify(o.templates)}\n` : ''}${o.digest ? `  digest: ${o.digest}\n` : ''}  email:
    host: 127.0.0.1
    port: ${p.smtp.port}
    user: hourglass
    password: ${JSON.stringify(SMTP_PASSWORD)}
    from: "Hourglass <access@example.com>"
    ca: ${JSON.stringify(p.smtp.ca)}
    timeout: 5s
  slack:
    botToken: ${BOT_TOKEN}
    signingSecret: ${SIGNING_SECRET}
${o.socketMode ? `    appToken: ${APP_TOKEN}\n` : ''}    apiUrl: ${p.slack.apiUrl}
    timeout: 5s
  teams:
    - name: ops
      url: ${JSON.stringify(p.teams.url())}
      timeout: 5s
${
  o.routes ??
  `  routes:
    - channels: [email, slack]
    - channels: [teams:ops]
      topics: [approval.requested, alert]`
}
`;
}
