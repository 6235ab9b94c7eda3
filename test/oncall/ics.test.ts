/**
 * The iCalendar rota reader (pure): who an event names, [start, end) coverage, weekly rotas with
 * RRULE, EXDATE and overrides, TZID by the feed's VTIMEZONE or by IANA name, and its bounds.
 */
import { describe, expect, it } from 'vitest';
import { MAX_ICS_BYTES, MAX_OCCURRENCES, MAX_RULE_STEPS, peopleOnCallAt } from '../../src/adapters/oncall/ical/ics.js';

const at = (iso: string) => Date.parse(iso);

/** A feed of these VEVENT bodies (and extra calendar lines), CRLF line ends as RFC 5545 has them. */
function feed(events: string[], extra: string[] = []): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Hourglass tests//EN', ...extra];
  events.forEach((body, i) => {
    lines.push('BEGIN:VEVENT', `DTSTAMP:20250101T000000Z`, ...(body.includes('UID:') ? [] : [`UID:event-${i}@test`]), ...body.trim().split('\n'), 'END:VEVENT');
  });
  lines.push('END:VCALENDAR');
  return lines.map((l) => l.trim()).join('\r\n') + '\r\n';
}

const BERLIN = [
  'BEGIN:VTIMEZONE',
  'TZID:Europe/Berlin',
  'BEGIN:DAYLIGHT',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0200',
  'TZNAME:CEST',
  'DTSTART:19700329T020000',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU',
  'END:DAYLIGHT',
  'BEGIN:STANDARD',
  'TZOFFSETFROM:+0200',
  'TZOFFSETTO:+0100',
  'TZNAME:CET',
  'DTSTART:19701025T030000',
  'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU',
  'END:STANDARD',
  'END:VTIMEZONE',
];

describe('one event', () => {
  const ics = feed([
    `DTSTART:20250602T090000Z
     DTEND:20250603T090000Z
     SUMMARY:Primary on call
     ATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT:mailto:Alice@Example.com
     ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:MAILTO:bob@example.com`,
  ]);

  it('names its attendees, lower-cased, from start (inclusive) to end (exclusive)', () => {
    expect(peopleOnCallAt(ics, at('2025-06-02T09:00:00Z'))).toEqual(['alice@example.com', 'bob@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-03T08:59:59.999Z'))).toEqual(['alice@example.com', 'bob@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-02T08:59:59.999Z'))).toEqual([]);
    expect(peopleOnCallAt(ics, at('2025-06-03T09:00:00Z'))).toEqual([]);
  });

  it('falls back to a SUMMARY that is an e-mail address, and to nobody for one that is not', () => {
    const bySummary = feed(['DTSTART:20250602T090000Z\nDTEND:20250602T170000Z\nSUMMARY: Carol@Example.com ']);
    expect(peopleOnCallAt(bySummary, at('2025-06-02T12:00:00Z'))).toEqual(['carol@example.com']);
    const noOne = feed(['DTSTART:20250602T090000Z\nDTEND:20250602T170000Z\nSUMMARY:Carol (carol@example.com)']);
    expect(peopleOnCallAt(noOne, at('2025-06-02T12:00:00Z'))).toEqual([]);
  });

  it('leaves out declined attendees, reads the EMAIL parameter, ignores the organizer', () => {
    const ics2 = feed([
      `DTSTART:20250602T090000Z
       DTEND:20250602T170000Z
       ORGANIZER:mailto:boss@example.com
       ATTENDEE;PARTSTAT=DECLINED:mailto:dave@example.com
       ATTENDEE;EMAIL=erin@example.com:urn:uuid:00000000-0000-0000-0000-000000000001`,
    ]);
    expect(peopleOnCallAt(ics2, at('2025-06-02T12:00:00Z'))).toEqual(['erin@example.com']);
  });

  it('skips cancelled events and merges overlapping ones without duplicates', () => {
    const ics2 = feed([
      'DTSTART:20250602T090000Z\nDTEND:20250602T170000Z\nSUMMARY:alice@example.com',
      'DTSTART:20250602T100000Z\nDTEND:20250602T120000Z\nATTENDEE:mailto:ALICE@example.com\nATTENDEE:mailto:bob@example.com',
      'DTSTART:20250602T090000Z\nDTEND:20250602T170000Z\nSTATUS:CANCELLED\nSUMMARY:mallory@example.com',
    ]);
    expect(peopleOnCallAt(ics2, at('2025-06-02T11:00:00Z'))).toEqual(['alice@example.com', 'bob@example.com']);
  });

  it('reads DURATION, and an all-day event as its whole day (UTC, or X-WR-TIMEZONE)', () => {
    const ics2 = feed(['DTSTART:20250602T090000Z\nDURATION:PT8H\nSUMMARY:alice@example.com']);
    expect(peopleOnCallAt(ics2, at('2025-06-02T16:59:59Z'))).toEqual(['alice@example.com']);
    expect(peopleOnCallAt(ics2, at('2025-06-02T17:00:00Z'))).toEqual([]);
    const allDay = ['DTSTART;VALUE=DATE:20250602\nSUMMARY:alice@example.com'];
    expect(peopleOnCallAt(feed(allDay), at('2025-06-02T00:00:00Z'))).toEqual(['alice@example.com']);
    expect(peopleOnCallAt(feed(allDay), at('2025-06-03T00:00:00Z'))).toEqual([]);
    const tokyo = feed(allDay, ['X-WR-TIMEZONE:Asia/Tokyo']);
    expect(peopleOnCallAt(tokyo, at('2025-06-01T15:00:00Z'))).toEqual(['alice@example.com']); // 00:00 in Tokyo
    expect(peopleOnCallAt(tokyo, at('2025-06-02T15:00:00Z'))).toEqual([]);
  });
});

describe('a weekly rota', () => {
  // Alice and Bob alternate weeks, handing over on Mondays at 09:00 Berlin time.
  const rota = (extraAlice = '', more: string[] = []) =>
    feed(
      [
        `UID:alice-rota@test
         DTSTART;TZID=Europe/Berlin:20250106T090000
         DTEND;TZID=Europe/Berlin:20250113T090000
         RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO
         SUMMARY:alice@example.com${extraAlice}`,
        `UID:bob-rota@test
         DTSTART;TZID=Europe/Berlin:20250113T090000
         DTEND;TZID=Europe/Berlin:20250120T090000
         RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO
         SUMMARY:bob@example.com`,
        ...more,
      ],
      BERLIN,
    );

  it('hands over at 09:00 Berlin time: 08:00Z in winter, 07:00Z in summer', () => {
    const ics = rota();
    expect(peopleOnCallAt(ics, at('2025-01-13T07:59:59Z'))).toEqual(['alice@example.com']);
    expect(peopleOnCallAt(ics, at('2025-01-13T08:00:00Z'))).toEqual(['bob@example.com']);
    // 2025-06-09 is an Alice Monday (22 weeks after 6 January); CEST is UTC+2.
    expect(peopleOnCallAt(ics, at('2025-06-09T06:59:59Z'))).toEqual(['bob@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-09T07:00:00Z'))).toEqual(['alice@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-12T12:00:00Z'))).toEqual(['alice@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-16T07:00:00Z'))).toEqual(['bob@example.com']);
  });

  it('has nobody on call before the rota starts', () => {
    expect(peopleOnCallAt(rota(), at('2025-01-06T07:59:59Z'))).toEqual([]);
  });

  it('leaves out an EXDATE week (nobody on call), and only that one', () => {
    const ics = rota('\nEXDATE;TZID=Europe/Berlin:20250609T090000');
    expect(peopleOnCallAt(ics, at('2025-06-10T12:00:00Z'))).toEqual([]);
    expect(peopleOnCallAt(ics, at('2025-05-27T12:00:00Z'))).toEqual(['alice@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-24T12:00:00Z'))).toEqual(['alice@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-17T12:00:00Z'))).toEqual(['bob@example.com']);
  });

  it('applies a RECURRENCE-ID override of the same series (a swap), not of another', () => {
    const swap = `UID:alice-rota@test
      RECURRENCE-ID;TZID=Europe/Berlin:20250609T090000
      DTSTART;TZID=Europe/Berlin:20250609T090000
      DTEND;TZID=Europe/Berlin:20250616T090000
      SUMMARY:carol@example.com`;
    const ics = rota('', [swap]);
    expect(peopleOnCallAt(ics, at('2025-06-10T12:00:00Z'))).toEqual(['carol@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-24T12:00:00Z'))).toEqual(['alice@example.com']);
    // The same override under another UID is a stray instance, not a change to Alice's series.
    const stray = swap.replace('alice-rota', 'someone-else');
    expect(peopleOnCallAt(rota('', [stray]), at('2025-06-10T12:00:00Z'))).toEqual(['alice@example.com', 'carol@example.com']);
  });

  it('counts an override moved earlier than its slot', () => {
    const early = `UID:alice-rota@test
      RECURRENCE-ID;TZID=Europe/Berlin:20250623T090000
      DTSTART;TZID=Europe/Berlin:20250619T090000
      DTEND;TZID=Europe/Berlin:20250630T090000
      SUMMARY:alice@example.com`;
    const ics = rota('', [early]);
    expect(peopleOnCallAt(ics, at('2025-06-18T12:00:00Z'))).toEqual(['bob@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-20T12:00:00Z'))).toEqual(['alice@example.com', 'bob@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-25T12:00:00Z'))).toEqual(['alice@example.com']);
  });
});

describe('time zones', () => {
  it('reads a TZID without a VTIMEZONE as the IANA zone of that name', () => {
    const ics = feed(['DTSTART;TZID=America/New_York:20250602T090000\nDTEND;TZID=America/New_York:20250602T170000\nSUMMARY:alice@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-02T12:59:59Z'))).toEqual([]);
    expect(peopleOnCallAt(ics, at('2025-06-02T13:00:00Z'))).toEqual(['alice@example.com']); // EDT is UTC-4
    expect(peopleOnCallAt(ics, at('2025-06-02T21:00:00Z'))).toEqual([]);
  });

  it('prefers the feed’s VTIMEZONE over the IANA zone of the same name', () => {
    const odd = [
      'BEGIN:VTIMEZONE',
      'TZID:America/New_York',
      'BEGIN:STANDARD',
      'TZOFFSETFROM:+0500',
      'TZOFFSETTO:+0500',
      'DTSTART:19700101T000000',
      'END:STANDARD',
      'END:VTIMEZONE',
    ];
    const ics = feed(['DTSTART;TZID=America/New_York:20250602T090000\nDTEND;TZID=America/New_York:20250602T170000\nSUMMARY:alice@example.com'], odd);
    expect(peopleOnCallAt(ics, at('2025-06-02T04:00:00Z'))).toEqual(['alice@example.com']);
    expect(peopleOnCallAt(ics, at('2025-06-02T13:00:00Z'))).toEqual([]);
  });

  it('keeps wall-clock hand-overs across a DST change with an IANA TZID', () => {
    const ics = feed(['DTSTART;TZID=Europe/Berlin:20250320T090000\nDTEND;TZID=Europe/Berlin:20250320T170000\nRRULE:FREQ=DAILY\nSUMMARY:alice@example.com']);
    expect(peopleOnCallAt(ics, at('2025-03-28T08:00:00Z'))).toEqual(['alice@example.com']); // 09:00 CET
    expect(peopleOnCallAt(ics, at('2025-03-31T07:00:00Z'))).toEqual(['alice@example.com']); // 09:00 CEST
    expect(peopleOnCallAt(ics, at('2025-03-31T06:59:59Z'))).toEqual([]);
  });

  it('reads a time that occurs twice as the first, and a skipped one with the offset from before', () => {
    const back = feed(['DTSTART;TZID=Europe/Berlin:20251026T023000\nDTEND;TZID=Europe/Berlin:20251026T040000\nSUMMARY:a@example.com']);
    expect(peopleOnCallAt(back, at('2025-10-26T00:29:59Z'))).toEqual([]);
    expect(peopleOnCallAt(back, at('2025-10-26T00:30:00Z'))).toEqual(['a@example.com']); // 02:30 CEST
    expect(peopleOnCallAt(back, at('2025-10-26T03:00:00Z'))).toEqual([]); // 04:00 CET
    const forward = feed(['DTSTART;TZID=Europe/Berlin:20250330T023000\nDTEND;TZID=Europe/Berlin:20250330T050000\nSUMMARY:a@example.com']);
    expect(peopleOnCallAt(forward, at('2025-03-30T01:29:59Z'))).toEqual([]);
    expect(peopleOnCallAt(forward, at('2025-03-30T01:30:00Z'))).toEqual(['a@example.com']); // 02:30 at +01:00
    expect(peopleOnCallAt(forward, at('2025-03-30T03:00:00Z'))).toEqual([]); // 05:00 CEST
  });

  it('refuses a TZID it cannot place rather than guess', () => {
    const ics = feed(['DTSTART;TZID=W. Europe Standard Time:20250602T090000\nDTEND;TZID=W. Europe Standard Time:20250602T170000\nSUMMARY:a@example.com']);
    expect(() => peopleOnCallAt(ics, at('2025-06-02T12:00:00Z'))).toThrow(/time zone "W\. Europe Standard Time" but defines no VTIMEZONE/);
  });
});

describe('bounds and bad input', () => {
  it('stops the expansion at the time asked about (an endless rule is fine)', () => {
    const ics = feed(['DTSTART:20250101T000000Z\nDTEND:20250101T000100Z\nRRULE:FREQ=MINUTELY\nSUMMARY:a@example.com']);
    expect(peopleOnCallAt(ics, at('2025-01-02T00:00:30Z'))).toEqual(['a@example.com']);
  });

  it(`refuses a rule that needs more than ${MAX_OCCURRENCES} occurrences to get there`, () => {
    const ics = feed(['DTSTART:20200101T000000Z\nDTEND:20200101T000100Z\nRRULE:FREQ=MINUTELY\nSUMMARY:a@example.com']);
    expect(() => peopleOnCallAt(ics, at('2025-01-01T00:00:00Z'))).toThrow(/more than 10000 occurrences/);
  });

  it(`refuses a rule that never matches (ical.js would search for ever) after ${MAX_RULE_STEPS} steps`, () => {
    const ics = feed(['DTSTART:20250101T090000Z\nDTEND:20250101T170000Z\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\nSUMMARY:a@example.com']);
    const started = Date.now();
    expect(() => peopleOnCallAt(ics, at('2025-06-01T12:00:00Z'))).toThrow(/recurrence rules take more than 50000 steps/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('drops a VTIMEZONE whose rules are not yearly (ical.js would expand them unbounded)', () => {
    const evil = (tzid: string) => [
      'BEGIN:VTIMEZONE',
      `TZID:${tzid}`,
      'BEGIN:STANDARD',
      'TZOFFSETFROM:+0100',
      'TZOFFSETTO:+0100',
      'DTSTART:19700101T000000',
      'RRULE:FREQ=SECONDLY',
      'END:STANDARD',
      'END:VTIMEZONE',
    ];
    const event = (tzid: string) => `DTSTART;TZID=${tzid}:20250602T090000\nDTEND;TZID=${tzid}:20250602T170000\nSUMMARY:a@example.com`;
    const started = Date.now();
    // Read as the IANA zone of that name instead (CEST, UTC+2) ...
    expect(peopleOnCallAt(feed([event('Europe/Berlin')], evil('Europe/Berlin')), at('2025-06-02T07:00:00Z'))).toEqual(['a@example.com']);
    // ... or refused when there is none.
    expect(() => peopleOnCallAt(feed([event('Corp Time')], evil('Corp Time')), at('2025-06-02T07:00:00Z'))).toThrow(/defines no VTIMEZONE/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('ends a rule at UNTIL or COUNT', () => {
    const ics = feed(['DTSTART:20250101T090000Z\nDTEND:20250101T170000Z\nRRULE:FREQ=DAILY;COUNT=3\nSUMMARY:a@example.com']);
    expect(peopleOnCallAt(ics, at('2025-01-03T12:00:00Z'))).toEqual(['a@example.com']);
    expect(peopleOnCallAt(ics, at('2025-01-04T12:00:00Z'))).toEqual([]);
  });

  it(`refuses a feed larger than ${MAX_ICS_BYTES} bytes`, () => {
    const big = feed([`DTSTART:20250101T090000Z\nDTEND:20250101T170000Z\nSUMMARY:a@example.com\nDESCRIPTION:${'x'.repeat(MAX_ICS_BYTES)}`]);
    expect(() => peopleOnCallAt(big, at('2025-01-01T12:00:00Z'))).toThrow(/larger than 1048576 bytes/);
  });

  it('refuses what is not iCalendar', () => {
    expect(() => peopleOnCallAt('<html>login</html>', 0)).toThrow(/not iCalendar/);
    expect(() => peopleOnCallAt('BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nEND:VCARD\r\n', 0)).toThrow(/not iCalendar/);
  });
});
