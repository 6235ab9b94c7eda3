/**
 * ServiceNow (Table API) as a ticket system: the record whose `number` is the key, read with
 * display values (the state as its label, `Implement`, not `-1`); an empty result means no such
 * record. Comments are work notes (`PATCH /api/now/table/TABLE/SYS_ID`), visible to the
 * fulfillers, not to the caller of a request. Basic auth with a user and its password.
 */
import type { HourglassConfig, TicketSystemSettings } from '../../../config/types.js';
import type { TicketLookup, TicketSystem } from '../../../app/tickets/ports.js';
import { answerJson, basicAuth, checkKey, expectSuccess, isObject, oneLine, STATE_MAX, SUMMARY_MAX, ticketRequest } from '../ticket-http.js';

/** sys_ids are 32 hex digits; anything else is not put into a path. */
const SYS_ID = /^[A-Za-z0-9]{1,64}$/;

interface Found {
  sysId: string;
  summary: string;
  state: string;
}

function auth(settings: TicketSystemSettings): string {
  if (settings.user === undefined) throw new Error('servicenow: user is not set');
  return basicAuth(settings.user, settings.token);
}

const tablePath = (settings: TicketSystemSettings) => `${settings.url}/api/now/table/${encodeURIComponent(settings.table)}`;

/** The record numbered `key`, or undefined. The key rule keeps `^` and `=` out of the encoded query. */
async function find(key: string, settings: TicketSystemSettings, config: HourglassConfig): Promise<Found | undefined> {
  checkKey('servicenow', key);
  const query = new URLSearchParams({
    sysparm_query: `number=${key}`,
    sysparm_fields: 'sys_id,number,short_description,state',
    sysparm_display_value: 'true',
    sysparm_limit: '1',
  });
  const answer = await ticketRequest(
    'servicenow',
    { method: 'GET', url: `${tablePath(settings)}?${query}`, authorization: auth(settings), readBody: true },
    settings,
    config,
  );
  expectSuccess('servicenow', answer);
  const json = answerJson('servicenow', answer);
  const result = isObject(json) ? json.result : undefined;
  if (!Array.isArray(result)) throw new Error('servicenow: the answer has no result list');
  if (result.length === 0) return undefined;
  const record: unknown = result[0];
  if (!isObject(record) || typeof record.sys_id !== 'string' || !SYS_ID.test(record.sys_id) || typeof record.state !== 'string') {
    throw new Error('servicenow: the record has no sys_id and state');
  }
  const summary = typeof record.short_description === 'string' ? record.short_description : '';
  return { sysId: record.sys_id, summary, state: record.state };
}

export function serviceNowTickets(): TicketSystem {
  return {
    kind: 'servicenow',
    async lookup(key, settings, config): Promise<TicketLookup> {
      const record = await find(key, settings, config);
      if (!record) return { found: false };
      return {
        found: true,
        ticket: {
          key,
          summary: oneLine(record.summary, SUMMARY_MAX),
          state: oneLine(record.state, STATE_MAX),
          url: `${settings.url}/nav_to.do?uri=${encodeURIComponent(`${settings.table}.do?sys_id=${record.sysId}`)}`,
        },
      };
    },
    async comment(key, text, settings, config): Promise<void> {
      const record = await find(key, settings, config);
      if (!record) throw new Error(`servicenow: no record ${key} in ${settings.table}`);
      const answer = await ticketRequest(
        'servicenow',
        {
          method: 'PATCH',
          url: `${tablePath(settings)}/${encodeURIComponent(record.sysId)}`,
          body: JSON.stringify({ work_notes: text }),
          authorization: auth(settings),
        },
        settings,
        config,
      );
      expectSuccess('servicenow', answer);
    },
  };
}
