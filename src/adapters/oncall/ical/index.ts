/**
 * The `ical` on-call kind: GET the rota's iCalendar feed (`url`, often a secret address) and read
 * who is on call with ics.ts. The URL is treated as a secret: no error shows it.
 */
import type { OnCallSchedule } from '../../../app/oncall/ports.js';
import type { HourglassConfig, OnCallSettings } from '../../../config/types.js';
import { cachedRead, expectOk, onCallGet, urlSecrets } from '../oncall-http.js';
import { peopleOnCallAt } from './ics.js';

async function onCallAt(at: number, settings: OnCallSettings, config: HourglassConfig): Promise<string[]> {
  const answer = await onCallGet('ical', settings.url, { accept: 'text/calendar, */*;q=0.1' }, urlSecrets(settings.url), settings, config);
  expectOk('ical', answer);
  try {
    return peopleOnCallAt(answer.body.toString('utf8'), at);
  } catch (err) {
    throw new Error(`ical: ${(err as Error).message}`);
  }
}

export function icalSchedule(): OnCallSchedule {
  return { kind: 'ical', onCallAt: cachedRead(onCallAt) };
}
