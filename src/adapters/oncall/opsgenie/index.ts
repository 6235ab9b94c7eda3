/**
 * The `opsgenie` on-call kind: the Who-is-on-call API, `GET /v2/schedules/{id}/on-calls` with
 * `flat=true` (recipients as user names, which in Opsgenie are e-mail addresses) at `date`. A
 * schedule that is not a UUID is sent as its name (`scheduleIdentifierType=name`, as the API
 * documents the parameter). The token is an API integration key (`GenieKey`); the EU instance is
 * `url: https://api.eu.opsgenie.com`.
 */
import type { OnCallSchedule } from '../../../app/oncall/ports.js';
import type { HourglassConfig, OnCallSettings } from '../../../config/types.js';
import { addresses, answerJson, cachedRead, expectOk, isObject, onCallGet } from '../oncall-http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `yyyy-MM-dd'T'HH:mm:ssZ` as the API documents it (seconds, numeric offset). */
const opsgenieDate = (at: number): string => new Date(at).toISOString().replace(/\.\d{3}Z$/, '+00:00');

async function onCallAt(at: number, settings: OnCallSettings, config: HourglassConfig): Promise<string[]> {
  const token = settings.token ?? '';
  const schedule = settings.schedule ?? '';
  const authorization = `GenieKey ${token}`;
  const url = new URL(`${settings.url}/v2/schedules/${encodeURIComponent(schedule)}/on-calls`);
  url.searchParams.set('scheduleIdentifierType', UUID.test(schedule) ? 'id' : 'name');
  url.searchParams.set('flat', 'true');
  url.searchParams.set('date', opsgenieDate(at));
  const answer = await onCallGet(
    'opsgenie',
    url.toString(),
    { accept: 'application/json', authorization },
    [token, encodeURIComponent(token), authorization],
    settings,
    config,
  );
  expectOk('opsgenie', answer);
  const body = answerJson('opsgenie', answer);
  const recipients = isObject(body) && isObject(body.data) ? body.data.onCallRecipients : undefined;
  if (!Array.isArray(recipients)) throw new Error('opsgenie: the answer has no onCallRecipients list');
  return addresses(recipients as unknown[]);
}

export function opsgenieSchedule(): OnCallSchedule {
  return { kind: 'opsgenie', onCallAt: cachedRead(onCallAt) };
}
