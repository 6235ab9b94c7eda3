/**
 * A generic ticket endpoint, for systems without their own kind (or a small bridge in front of
 * one): `GET URL/tickets/KEY` answers 200 `{ key, summary, state, url? }` or 404, and
 * `POST URL/tickets/KEY/comments` takes `{ text }`. Bearer token auth.
 */
import type { TicketLookup, TicketSystem } from '../../../app/tickets/ports.js';
import { answerJson, checkKey, expectSuccess, isObject, oneLine, STATE_MAX, SUMMARY_MAX, ticketRequest } from '../ticket-http.js';

/** The link shown to approvers: only an absolute http(s) URL (never `javascript:` or a relative path). */
function pageUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

export function httpTickets(): TicketSystem {
  return {
    kind: 'http',
    async lookup(key, settings, config): Promise<TicketLookup> {
      checkKey('http', key);
      const answer = await ticketRequest(
        'http',
        { method: 'GET', url: `${settings.url}/tickets/${encodeURIComponent(key)}`, authorization: `Bearer ${settings.token}`, readBody: true },
        settings,
        config,
      );
      if (answer.status === 404) return { found: false };
      expectSuccess('http', answer);
      const json = answerJson('http', answer);
      if (!isObject(json) || typeof json.summary !== 'string' || typeof json.state !== 'string') {
        throw new Error('http: the answer has no summary and state');
      }
      const url = pageUrl(json.url);
      return { found: true, ticket: { key, summary: oneLine(json.summary, SUMMARY_MAX), state: oneLine(json.state, STATE_MAX), ...(url ? { url } : {}) } };
    },
    async comment(key, text, settings, config): Promise<void> {
      checkKey('http', key);
      const answer = await ticketRequest(
        'http',
        {
          method: 'POST',
          url: `${settings.url}/tickets/${encodeURIComponent(key)}/comments`,
          body: JSON.stringify({ text }),
          authorization: `Bearer ${settings.token}`,
        },
        settings,
        config,
      );
      expectSuccess('http', answer);
    },
  };
}
