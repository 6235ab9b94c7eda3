/**
 * The built-in message templates (Mustache: logic-less, so an override can show data but never run
 * code). Each topic has three parts, named as the override files are: `TOPIC.subject.txt`,
 * `TOPIC.txt` and `TOPIC.html`. A file of that name in `notifications.templates` replaces the
 * built-in part; `hourglass notifications templates --out DIR` writes these to start from.
 * docs/integrations.md lists the variables. The HTML part is rendered with HTML escaping, the
 * others without (they are never HTML); the layout around HTML parts is `layout.html`.
 */
import type { NotificationTopic } from '../../core/notify-plan.js';

export type TemplatePart = 'subject.txt' | 'txt' | 'html';

const requestFacts = `{{#request}}Requester: {{requesterName}}
Entitlements: {{entitlements}}
Duration: {{duration}}
{{#reason}}Reason: {{reason}}
{{/reason}}{{#ticket}}Ticket: {{ticket}}{{#ticketSummary}}: {{ticketSummary}} ({{ticketState}}){{/ticketSummary}}
{{/ticket}}{{/request}}`;

const requestFactsHtml = `{{#request}}<table class="facts">
<tr><th>Requester</th><td>{{requesterName}}</td></tr>
<tr><th>Entitlements</th><td>{{entitlements}}</td></tr>
<tr><th>Duration</th><td>{{duration}}</td></tr>
{{#reason}}<tr><th>Reason</th><td>{{reason}}</td></tr>{{/reason}}
{{#ticket}}<tr><th>Ticket</th><td>{{ticket}}{{#ticketSummary}}: {{ticketSummary}} ({{ticketState}}){{/ticketSummary}}</td></tr>{{/ticket}}
</table>{{/request}}`;

const linkText = `{{#link}}
{{label}}: {{url}}{{/link}}`;
const linkHtml = `{{#link}}<p><a class="button" href="{{url}}">{{label}}</a></p>{{/link}}`;
const oneTime = `{{#oneTimeLink}}
The link works once, for you only, until {{linkExpiresAt}}; you decide on the page after signing in{{#mfa}}, with MFA{{/mfa}}.{{/oneTimeLink}}`;
const oneTimeHtml = `{{#oneTimeLink}}<p class="small">The link works once, for you only, until {{linkExpiresAt}}; you decide on the page after signing in{{#mfa}}, with MFA{{/mfa}}.</p>{{/oneTimeLink}}`;

type Parts = Record<TemplatePart, string>;

function topic(subject: string, lead: string, leadHtml: string = lead, tail = ''): Parts {
  return {
    'subject.txt': subject,
    txt: `${lead}\n\n${requestFacts}${tail}${linkText}${oneTime}\n`,
    html: `<p>${leadHtml}</p>\n${requestFactsHtml}\n${linkHtml}\n${oneTimeHtml}`,
  };
}

export const BUILTIN_TEMPLATES: Record<NotificationTopic, Parts> = {
  'approval.requested': topic(
    '{{#request}}{{requesterName}} asks for {{entitlements}}{{/request}}',
    '{{#request}}{{requesterName}} asks for {{entitlements}} for {{duration}}. Your approval is needed ({{approvals}}).{{/request}}',
  ),
  'approval.escalated': topic(
    '{{#request}}Escalated: {{requesterName}} asks for {{entitlements}}{{/request}}',
    '{{#request}}Nobody has decided on this request for {{waited}}, so it was escalated to you ({{approvals}}).{{/request}}',
  ),
  'approval.reminder': topic(
    '{{#request}}Reminder: {{requesterName}} still waits for {{entitlements}}{{/request}}',
    '{{#request}}This request times out at {{pendingUntil}} unless it is decided ({{approvals}}).{{/request}}',
  ),
  'approval.closed': topic(
    '{{#request}}{{requesterName}}: {{entitlements}} ({{statusText}}){{/request}}',
    '{{#request}}This request is {{statusText}}{{#decidedBy}} by {{decidedBy}}{{/decidedBy}}: nothing more to do.{{/request}}',
  ),
  'extension.requested': topic(
    '{{#request}}{{requesterName}} asks to extend {{entitlements}}{{/request}}',
    '{{#request}}{{requesterName}} asks to extend their access to {{entitlements}} by {{extension}} (now until {{expiresAt}}). Your approval is needed.{{/request}}',
  ),
  'request.decided': topic(
    '{{#request}}Your request for {{entitlements}} was {{statusText}}{{/request}}',
    '{{#request}}Your request for {{entitlements}} was {{statusText}}{{#decidedBy}} by {{decidedBy}}{{/decidedBy}}.{{#startsAt}} It starts at {{startsAt}}.{{/startsAt}}{{/request}}',
    undefined,
    '{{#comment}}Comment: {{comment}}\n{{/comment}}',
  ),
  'grant.active': topic(
    '{{#request}}Your access to {{entitlements}} is active{{/request}}',
    '{{#request}}Your access to {{entitlements}} is active until {{expiresAt}}.{{/request}}',
  ),
  'grant.expiring': topic(
    '{{#request}}Your access to {{entitlements}} ends at {{expiresAt}}{{/request}}',
    '{{#request}}Your access to {{entitlements}} ends at {{expiresAt}}.{{#extendable}} You can ask to extend it.{{/extendable}}{{/request}}',
  ),
  'grant.ended': topic(
    '{{#request}}Your access to {{entitlements}} has ended{{/request}}',
    '{{#request}}Your access to {{entitlements}} has ended ({{statusText}}{{#endedBy}} by {{endedBy}}{{/endedBy}}{{#endReason}}: {{endReason}}{{/endReason}}).{{/request}}',
  ),
  'review.requested': topic(
    '{{#request}}Break-glass access by {{requesterName}} needs your review{{/request}}',
    '{{#request}}{{requesterName}} used break-glass access to {{entitlements}}; review it by {{reviewDueAt}}.{{/request}}',
  ),
  alert: {
    'subject.txt': 'Hourglass alert: {{alert.title}}',
    txt: '{{alert.title}}\n\n{{alert.summary}}\n\n{{#request}}Request: {{id}} ({{requesterName}}, {{entitlements}})\n{{/request}}{{#link}}{{label}}: {{url}}{{/link}}\n',
    html: '<p><strong>{{alert.title}}</strong></p>\n<p>{{alert.summary}}</p>\n{{#request}}<p>Request {{id}} ({{requesterName}}, {{entitlements}})</p>{{/request}}\n{{#link}}<p><a class="button" href="{{url}}">{{label}}</a></p>{{/link}}',
  },
  digest: {
    'subject.txt': '{{digest.count}} request(s) wait for your approval',
    txt: '{{digest.count}} request(s) wait for your approval:\n\n{{#digest.items}}- {{requesterName}}: {{entitlements}} for {{duration}}, waiting {{waited}}\n{{/digest.items}}{{#link}}\n{{label}}: {{url}}{{/link}}\n',
    html: '<p>{{digest.count}} request(s) wait for your approval:</p>\n<ul>{{#digest.items}}<li>{{requesterName}}: {{entitlements}} for {{duration}}, waiting {{waited}}</li>{{/digest.items}}</ul>\n{{#link}}<p><a class="button" href="{{url}}">{{label}}</a></p>{{/link}}',
  },
};

/**
 * Comments on a request's ticket (`ticket.comment` policies), as `TOPIC.ticket.txt`: the access
 * starting and ending, with the link to the request's audit trail.
 */
export const BUILTIN_TICKET_TEMPLATES: Partial<Record<NotificationTopic, string>> = {
  'grant.active': `{{#request}}Hourglass: {{requesterName}} ({{requester}}) has access to {{entitlements}} from {{event.at}} until {{expiresAt}} for this ticket.
{{#reason}}Reason: {{reason}}
{{/reason}}Audit trail: {{hourglass.url}}/audit?request={{id}}{{/request}}
`,
  'grant.ended': `{{#request}}Hourglass: the access of {{requesterName}} ({{requester}}) to {{entitlements}} for this ticket has ended ({{statusText}}{{#endReason}}: {{endReason}}{{/endReason}}) at {{event.at}}.
Audit trail: {{hourglass.url}}/audit?request={{id}}{{/request}}
`,
};

/** Around every HTML part (override with `layout.html`; `{{{body}}}` is the rendered part). */
export const BUILTIN_LAYOUT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark"><title>{{subject}}</title>
<style>body{font-family:system-ui,sans-serif;line-height:1.5;max-width:40rem;margin:1rem auto;padding:0 1rem}
.facts th{text-align:left;padding-right:1rem;vertical-align:top}.button{display:inline-block;padding:.5rem 1rem;border-radius:.25rem;background:#1d4ed8;color:#fff;text-decoration:none}
.small{font-size:.875rem;color:#555}</style></head>
<body>
{{{body}}}
<p class="small">Sent by Hourglass{{#hourglass}} at <a href="{{url}}">{{url}}</a>{{/hourglass}}. You receive this because of your role in this request or as an administrator.</p>
</body></html>
`;
