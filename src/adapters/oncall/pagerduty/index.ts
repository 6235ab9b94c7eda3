/**
 * The `pagerduty` on-call kind: REST API v2 `GET /oncalls` for one schedule over the instant asked
 * about (`since` = `until` = at, which the API accepts: `until` may not be before `since`), users
 * included so entries carry e-mail addresses. Whoever's entry has start <= at < end is on call
 * (`end` null: until further notice); the API returns any entry overlapping the range, so the
 * hand-over instant is decided here. The token is a read-only REST API key (`Token token=`).
 */
import type { OnCallSchedule } from '../../../app/oncall/ports.js';
import type { HourglassConfig, OnCallSettings } from '../../../config/types.js';
import { addresses, answerJson, cachedRead, expectOk, isObject, onCallGet } from '../oncall-http.js';

/** The API's largest page; more pages than this for one instant is not an answer we trust. */
const PAGE = 100;
const MAX_PAGES = 10;

const bound = (v: unknown, open: number): number => {
  if (v === null || v === undefined) return open;
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new Error('pagerduty: an on-call entry has an unreadable start or end');
  return t;
};

async function onCallAt(at: number, settings: OnCallSettings, config: HourglassConfig): Promise<string[]> {
  const token = settings.token ?? '';
  const authorization = `Token token=${token}`;
  const instant = new Date(at).toISOString();
  const found: unknown[] = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    const url = new URL(`${settings.url}/oncalls`);
    url.searchParams.append('schedule_ids[]', settings.schedule ?? '');
    url.searchParams.set('since', instant);
    url.searchParams.set('until', instant);
    url.searchParams.append('include[]', 'users');
    url.searchParams.set('earliest', 'true');
    url.searchParams.set('limit', String(PAGE));
    url.searchParams.set('offset', String(page * PAGE));
    const answer = await onCallGet(
      'pagerduty',
      url.toString(),
      { accept: 'application/vnd.pagerduty+json;version=2', authorization },
      [token, encodeURIComponent(token), authorization],
      settings,
      config,
    );
    expectOk('pagerduty', answer);
    const body = answerJson('pagerduty', answer);
    if (!isObject(body) || !Array.isArray(body.oncalls)) throw new Error('pagerduty: the answer has no oncalls list');
    for (const entry of body.oncalls as unknown[]) {
      if (!isObject(entry) || !isObject(entry.user)) continue;
      // Filtered by schedule already; an entry of another schedule (or of none) is not this rota.
      if (!isObject(entry.schedule) || entry.schedule.id !== settings.schedule) continue;
      if (bound(entry.start, -Infinity) <= at && at < bound(entry.end, Infinity)) found.push(entry.user.email);
    }
    if (body.more !== true) return addresses(found);
  }
  throw new Error(`pagerduty: more than ${MAX_PAGES * PAGE} on-call entries for one instant`);
}

export function pagerDutySchedule(): OnCallSchedule {
  return { kind: 'pagerduty', onCallAt: cachedRead(onCallAt) };
}
