/**
 * Jira Cloud (REST API v3) as a ticket system: `GET /rest/api/3/issue/KEY?fields=summary,status`
 * reads the issue (404: none, or not visible to the account, which Jira does not tell apart),
 * comments are `POST /rest/api/3/issue/KEY/comment` in Atlassian Document Format (v3 refuses plain
 * strings). Basic auth with the account's e-mail and an API token.
 */
import type { TicketLookup, TicketSystem } from '../../../app/tickets/ports.js';
import type { TicketSystemSettings } from '../../../config/types.js';
import { answerJson, basicAuth, checkKey, expectSuccess, isObject, oneLine, STATE_MAX, SUMMARY_MAX, ticketRequest } from '../ticket-http.js';

function auth(settings: TicketSystemSettings): string {
  if (settings.user === undefined) throw new Error("jira: user (the account's e-mail address) is not set");
  return basicAuth(settings.user, settings.token);
}

/** One paragraph per line; an empty line is an empty paragraph (ADF text nodes must not be empty). */
export function adfDocument(text: string) {
  return {
    type: 'doc' as const,
    version: 1 as const,
    content: text.split(/\r?\n/).map((line) => ({ type: 'paragraph' as const, content: line ? [{ type: 'text' as const, text: line }] : [] })),
  };
}

export function jiraTickets(): TicketSystem {
  return {
    kind: 'jira',
    async lookup(key, settings, config): Promise<TicketLookup> {
      checkKey('jira', key);
      const path = `/rest/api/3/issue/${encodeURIComponent(key)}`;
      const answer = await ticketRequest(
        'jira',
        { method: 'GET', url: `${settings.url}${path}?fields=summary,status`, authorization: auth(settings), readBody: true },
        settings,
        config,
      );
      if (answer.status === 404) return { found: false };
      expectSuccess('jira', answer);
      const issue = answerJson('jira', answer);
      const fields = isObject(issue) ? issue.fields : undefined;
      const status = isObject(fields) ? fields.status : undefined;
      if (!isObject(fields) || typeof fields.summary !== 'string' || !isObject(status) || typeof status.name !== 'string') {
        throw new Error('jira: the answer has no fields.summary and fields.status.name');
      }
      return {
        found: true,
        ticket: {
          key,
          summary: oneLine(fields.summary, SUMMARY_MAX),
          state: oneLine(status.name, STATE_MAX),
          url: `${settings.url}/browse/${encodeURIComponent(key)}`,
        },
      };
    },
    async comment(key, text, settings, config): Promise<void> {
      checkKey('jira', key);
      const answer = await ticketRequest(
        'jira',
        {
          method: 'POST',
          url: `${settings.url}/rest/api/3/issue/${encodeURIComponent(key)}/comment`,
          body: JSON.stringify({ body: adfDocument(text) }),
          authorization: auth(settings),
        },
        settings,
        config,
      );
      expectSuccess('jira', answer);
    },
  };
}
