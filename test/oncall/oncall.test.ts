/**
 * The on-call schedule kinds against stand-ins of PagerDuty, Opsgenie and an iCalendar feed (real
 * HTTP on loopback): who is on call at an instant and at a hand-over, the requests as the APIs
 * document them, failures that never show the key or the feed's URL, the per-minute cache, and
 * the outbound guard.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { onCallScheduleOf, onCallSchedules } from '../../src/adapters/oncall/index.js';
import { icalSchedule } from '../../src/adapters/oncall/ical/index.js';
import { opsgenieSchedule } from '../../src/adapters/oncall/opsgenie/index.js';
import { pagerDutySchedule } from '../../src/adapters/oncall/pagerduty/index.js';
import type { HourglassConfig, OnCallSettings } from '../../src/config/types.js';
import { configFromYaml, DEMO_YAML } from '../support/app-harness.js';
import {
  startIcsServer,
  startOpsgenieStandIn,
  startPagerDutyStandIn,
  type IcsServer,
  type OpsgenieStandin,
  type PagerDutyStandin,
  type Shift,
} from '../support/oncall-standins.js';

const base = configFromYaml(DEMO_YAML);
const config = (allowedHosts: string[] = ['127.0.0.1']): HourglassConfig => ({ ...base, server: { ...base.server, allowedHosts } });

/** Noon on a Monday: minute-aligned, so T + seconds stays in T's minute. */
const T = Date.parse('2025-06-02T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const PD_TOKEN = 'u+pd_Rest-Api_Key-0123';
const OG_KEY = 'c0ffee00-1111-2222-3333-444455556666';

/** Alice until T + 1h, then Bob; Carol is on another schedule. */
const rota = (): Shift[] => [
  { email: 'Alice@Example.com', start: iso(T - DAY), end: iso(T + HOUR) },
  { email: 'bob@example.com', start: iso(T + HOUR), end: iso(T + DAY) },
];

let pd: PagerDutyStandin;
let og: OpsgenieStandin;
const OG_ID = randomUUID();

beforeAll(async () => {
  pd = await startPagerDutyStandIn({
    token: PD_TOKEN,
    schedules: { PSCHED1: rota(), PSCHED2: [{ email: 'carol@example.com', start: iso(T - DAY), end: null }] },
  });
  og = await startOpsgenieStandIn({ apiKey: OG_KEY, schedules: { [OG_ID]: { name: 'ops_schedule', shifts: rota() } } });
});
afterAll(async () => {
  await pd.close();
  await og.close();
});
beforeEach(() => {
  pd.requests.length = 0;
  og.requests.length = 0;
  pd.setSchedule('PSCHED1', rota());
  og.setSchedule(OG_ID, { name: 'ops_schedule', shifts: rota() });
});

const pdSettings = (over: Partial<OnCallSettings> = {}): OnCallSettings => ({
  name: 'primary',
  type: 'pagerduty',
  schedule: 'PSCHED1',
  token: PD_TOKEN,
  url: pd.url,
  cacheMs: 0,
  timeoutMs: 2_000,
  ...over,
});

const ogSettings = (over: Partial<OnCallSettings> = {}): OnCallSettings => ({
  name: 'ops',
  type: 'opsgenie',
  schedule: OG_ID,
  token: OG_KEY,
  url: og.url,
  cacheMs: 0,
  timeoutMs: 2_000,
  ...over,
});

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail');
}

describe('the registry', () => {
  it('has one schedule per kind', () => {
    expect(onCallSchedules.map((s) => s.kind)).toEqual(['pagerduty', 'opsgenie', 'ical']);
    for (const kind of ['pagerduty', 'opsgenie', 'ical'] as const) expect(onCallScheduleOf(kind).kind).toBe(kind);
  });
});

describe('pagerduty', () => {
  it('names who is on call at the instant, and nobody outside every shift', async () => {
    const s = pagerDutySchedule();
    expect(await s.onCallAt(T, pdSettings(), config())).toEqual(['alice@example.com']);
    expect(await s.onCallAt(T + 2 * DAY, pdSettings(), config())).toEqual([]);
    expect(await s.onCallAt(T - 2 * DAY, pdSettings(), config())).toEqual([]);
  });

  it('asks GET /oncalls for the schedule and instant, with users, as REST API v2 with the token', async () => {
    await pagerDutySchedule().onCallAt(T, pdSettings(), config());
    expect(pd.requests).toHaveLength(1);
    const r = pd.requests[0]!;
    expect(r).toMatchObject({ method: 'GET', path: '/oncalls', status: 200 });
    expect(r.query.getAll('schedule_ids[]')).toEqual(['PSCHED1']);
    expect(r.query.get('since')).toBe('2025-06-02T12:00:00.000Z');
    expect(r.query.get('until')).toBe('2025-06-02T12:00:00.000Z');
    expect(r.query.getAll('include[]')).toEqual(['users']);
    expect(r.query.get('earliest')).toBe('true');
    expect(r.headers.authorization).toBe(`Token token=${PD_TOKEN}`);
    expect(r.headers.accept).toBe('application/vnd.pagerduty+json;version=2');
  });

  it('hands over at the boundary: the leaving entry ends there (exclusive), the next starts there', async () => {
    const s = pagerDutySchedule();
    expect(await s.onCallAt(T + HOUR - 1, pdSettings(), config())).toEqual(['alice@example.com']);
    // The API returns both entries (each touches the instant); only Bob's covers it.
    expect(await s.onCallAt(T + HOUR, pdSettings(), config())).toEqual(['bob@example.com']);
    expect(pd.requests.at(-1)!.status).toBe(200);
  });

  it('reads an entry with no end as on call until further notice, and several levels at once', async () => {
    pd.setSchedule('PSCHED1', [
      { email: 'dave@example.com', start: iso(T - DAY), end: null },
      { email: 'erin@example.com', start: iso(T - DAY), end: iso(T + DAY), level: 2 },
    ]);
    expect(await pagerDutySchedule().onCallAt(T + HOUR, pdSettings(), config())).toEqual(['dave@example.com', 'erin@example.com']);
    expect(await pagerDutySchedule().onCallAt(T + 30 * DAY, pdSettings(), config())).toEqual(['dave@example.com']);
  });

  it('follows pages', async () => {
    pd.setSchedule(
      'PSCHED1',
      Array.from({ length: 130 }, (_, i) => ({ email: `user${String(i).padStart(3, '0')}@example.com`, start: iso(T - DAY), end: iso(T + DAY) })),
    );
    const who = await pagerDutySchedule().onCallAt(T, pdSettings(), config());
    expect(who).toHaveLength(130);
    expect(pd.requests.map((r) => r.query.get('offset'))).toEqual(['0', '100']);
  });

  it('throws on a wrong key without the key', async () => {
    const wrong = 'not-the-right-token-42';
    const e = await failure(pagerDutySchedule().onCallAt(T, pdSettings({ token: wrong }), config()));
    expect(e.message).toBe('pagerduty: HTTP 401');
    expect(pd.requests[0]!.status).toBe(401);
  });

  it('throws on an answer that is not the API’s, and on a network error without the key', async () => {
    pd.answerNext(1, 500);
    expect((await failure(pagerDutySchedule().onCallAt(T, pdSettings(), config()))).message).toBe('pagerduty: HTTP 500');
    pd.answerNext(1, 200); // a 200 whose body is not an on-call list
    expect((await failure(pagerDutySchedule().onCallAt(T, pdSettings(), config()))).message).toBe('pagerduty: the answer has no oncalls list');
    const closed = await startPagerDutyStandIn({ token: PD_TOKEN, schedules: {} });
    await closed.close();
    const e = await failure(pagerDutySchedule().onCallAt(T, pdSettings({ url: closed.url }), config()));
    expect(e.message).toMatch(/^pagerduty: connect ECONNREFUSED/);
    expect(e.message).not.toContain(PD_TOKEN);
  });

  it('asks once per schedule and minute: a burst is one call, the next minute another', async () => {
    const s = pagerDutySchedule();
    const settings = pdSettings({ cacheMs: 60_000 });
    const burst = await Promise.all([0, 1, 2, 3, 4].map((i) => s.onCallAt(T + i * 10_000, settings, config())));
    expect(burst).toEqual(Array(5).fill(['alice@example.com']));
    expect(pd.requests).toHaveLength(1);
    // Within the minute the answer stands even when the rota changed.
    pd.setSchedule('PSCHED1', [{ email: 'frank@example.com', start: iso(T - DAY), end: null }]);
    expect(await s.onCallAt(T + 59_999, settings, config())).toEqual(['alice@example.com']);
    expect(pd.requests).toHaveLength(1);
    expect(await s.onCallAt(T + 60_000, settings, config())).toEqual(['frank@example.com']);
    expect(pd.requests).toHaveLength(2);
    // Another schedule is its own entry.
    expect(await s.onCallAt(T, pdSettings({ cacheMs: 60_000, schedule: 'PSCHED2' }), config())).toEqual(['carol@example.com']);
    expect(pd.requests).toHaveLength(3);
  });

  it('keeps an answer only for cacheMs, and never a failure', async () => {
    const s = pagerDutySchedule();
    await s.onCallAt(T, pdSettings({ cacheMs: 50 }), config());
    await new Promise((r) => setTimeout(r, 80));
    await s.onCallAt(T, pdSettings({ cacheMs: 50 }), config());
    expect(pd.requests).toHaveLength(2);
    pd.answerNext(1, 503);
    await failure(s.onCallAt(T + DAY, pdSettings({ cacheMs: 60_000 }), config()));
    expect(await s.onCallAt(T + DAY, pdSettings({ cacheMs: 60_000 }), config())).toEqual([]);
    expect(pd.requests).toHaveLength(4);
  });

  it('refuses an internal address not listed in server.allowedHosts, before connecting', async () => {
    const e = await failure(pagerDutySchedule().onCallAt(T, pdSettings(), config([])));
    expect(e.message).toMatch(/^pagerduty: refused: 127\.0\.0\.1 is an internal address/);
    const byName = await failure(pagerDutySchedule().onCallAt(T, pdSettings({ url: pd.url.replace('127.0.0.1', 'localhost') }), config([])));
    expect(byName.message).toMatch(/^pagerduty: refused: localhost resolves to an internal address/);
    expect(pd.requests).toHaveLength(0);
  });
});

describe('opsgenie', () => {
  it('names who is on call at the instant, by schedule id', async () => {
    const s = opsgenieSchedule();
    expect(await s.onCallAt(T, ogSettings(), config())).toEqual(['alice@example.com']);
    expect(await s.onCallAt(T + 2 * DAY, ogSettings(), config())).toEqual([]);
    const r = og.requests[0]!;
    expect(r).toMatchObject({ method: 'GET', path: `/v2/schedules/${OG_ID}/on-calls`, status: 200 });
    expect(Object.fromEntries(r.query)).toEqual({ scheduleIdentifierType: 'id', flat: 'true', date: '2025-06-02T12:00:00+00:00' });
    expect(r.headers.authorization).toBe(`GenieKey ${OG_KEY}`);
  });

  it('hands over at the boundary', async () => {
    const s = opsgenieSchedule();
    expect(await s.onCallAt(T + HOUR - 1000, ogSettings(), config())).toEqual(['alice@example.com']);
    expect(await s.onCallAt(T + HOUR, ogSettings(), config())).toEqual(['bob@example.com']);
  });

  it('asks by name for a schedule that is not a UUID', async () => {
    expect(await opsgenieSchedule().onCallAt(T, ogSettings({ schedule: 'ops_schedule' }), config())).toEqual(['alice@example.com']);
    expect(og.requests[0]!.path).toBe('/v2/schedules/ops_schedule/on-calls');
    expect(og.requests[0]!.query.get('scheduleIdentifierType')).toBe('name');
  });

  it('throws on a wrong key without the key, and on an unknown schedule', async () => {
    const wrong = 'deadbeef-0000-0000-0000-000000000000';
    const e = await failure(opsgenieSchedule().onCallAt(T, ogSettings({ token: wrong }), config()));
    expect(e.message).toBe('opsgenie: HTTP 401');
    const missing = await failure(opsgenieSchedule().onCallAt(T, ogSettings({ schedule: randomUUID() }), config()));
    expect(missing.message).toBe('opsgenie: HTTP 404');
  });

  it('asks once per schedule and minute', async () => {
    const s = opsgenieSchedule();
    const settings = ogSettings({ cacheMs: 60_000 });
    await Promise.all([s.onCallAt(T, settings, config()), s.onCallAt(T + 1000, settings, config())]);
    og.setSchedule(OG_ID, { name: 'ops_schedule', shifts: [{ email: 'frank@example.com', start: iso(T - DAY), end: null }] });
    expect(await s.onCallAt(T + 2000, settings, config())).toEqual(['alice@example.com']);
    expect(og.requests).toHaveLength(1);
    expect(await s.onCallAt(T + 60_000, settings, config())).toEqual(['frank@example.com']);
    expect(og.requests).toHaveLength(2);
  });

  it('refuses an internal address not listed in server.allowedHosts', async () => {
    const e = await failure(opsgenieSchedule().onCallAt(T, ogSettings(), config([])));
    expect(e.message).toMatch(/^opsgenie: refused: 127\.0\.0\.1 is an internal address/);
    expect(e.message).not.toContain(OG_KEY);
    expect(og.requests).toHaveLength(0);
  });
});

describe('ical', () => {
  const ics = (who: string) =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//Hourglass tests//EN',
      'BEGIN:VEVENT',
      'UID:rota@test',
      'DTSTAMP:20250101T000000Z',
      'DTSTART:20250602T090000Z',
      'DTEND:20250602T130000Z',
      'RRULE:FREQ=DAILY',
      `ATTENDEE;CN=On call:mailto:${who}`,
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');

  let feed: IcsServer;
  beforeAll(async () => {
    feed = await startIcsServer(ics('alice@example.com'));
  });
  afterAll(async () => {
    await feed.close();
  });
  beforeEach(() => {
    feed.requests.length = 0;
    feed.setIcs(ics('alice@example.com'));
  });

  const icalSettings = (over: Partial<OnCallSettings> = {}): OnCallSettings => ({
    name: 'rota',
    type: 'ical',
    url: feed.url,
    cacheMs: 0,
    timeoutMs: 2_000,
    ...over,
  });
  /** The feed's secret: its path. */
  const secretPath = () => new URL(feed.url).pathname;

  it('reads who is on call from the feed', async () => {
    const s = icalSchedule();
    expect(await s.onCallAt(T, icalSettings(), config())).toEqual(['alice@example.com']);
    expect(await s.onCallAt(T + HOUR, icalSettings(), config())).toEqual([]); // 13:00 is the end
    expect(await s.onCallAt(T + 3 * DAY, icalSettings(), config())).toEqual(['alice@example.com']);
    expect(feed.requests[0]).toMatchObject({ method: 'GET', path: secretPath(), status: 200 });
    expect(feed.requests[0]!.headers.accept).toMatch(/^text\/calendar/);
  });

  it('throws on a missing feed or one that is not iCalendar, without its URL', async () => {
    const e = await failure(icalSchedule().onCallAt(T, icalSettings({ url: `${feed.url}x` }), config()));
    expect(e.message).toBe('ical: HTTP 404');
    feed.setIcs('<html><body>Sign in</body></html>');
    const bad = await failure(icalSchedule().onCallAt(T, icalSettings(), config()));
    expect(bad.message).toMatch(/^ical: the feed is not iCalendar/);
    for (const m of [e.message, bad.message]) expect(m).not.toContain(secretPath().split('/')[3]!);
  });

  it('refuses a feed over 1 MiB', async () => {
    feed.setIcs(ics('alice@example.com').replace('UID:rota@test', `UID:rota@test\r\nDESCRIPTION:${'x'.repeat(1024 * 1024)}`));
    const e = await failure(icalSchedule().onCallAt(T, icalSettings(), config()));
    expect(e.message).toBe('ical: the response is larger than 1048576 bytes');
  });

  it('asks once per feed and minute', async () => {
    const s = icalSchedule();
    const settings = icalSettings({ cacheMs: 60_000 });
    await Promise.all([s.onCallAt(T, settings, config()), s.onCallAt(T + 5_000, settings, config())]);
    feed.setIcs(ics('bob@example.com'));
    expect(await s.onCallAt(T + 10_000, settings, config())).toEqual(['alice@example.com']);
    expect(feed.requests).toHaveLength(1);
    expect(await s.onCallAt(T + 60_000, settings, config())).toEqual(['bob@example.com']);
    expect(feed.requests).toHaveLength(2);
  });

  it('refuses an internal address not listed in server.allowedHosts, without the URL', async () => {
    const e = await failure(icalSchedule().onCallAt(T, icalSettings(), config([])));
    expect(e.message).toMatch(/^ical: refused: 127\.0\.0\.1 is an internal address/);
    expect(e.message).not.toContain(secretPath());
    expect(feed.requests).toHaveLength(0);
    expect(await icalSchedule().onCallAt(T, icalSettings(), config(['127.0.0.0/8']))).toEqual(['alice@example.com']);
  });
});
