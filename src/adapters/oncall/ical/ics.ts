/**
 * Who an iCalendar rota (RFC 5545) has on call at one instant: a pure reader over the feed's text.
 * An event covers [start, end); its people are its ATTENDEE addresses (mailto: or the EMAIL
 * parameter; declined ones left out), else its SUMMARY when that is one e-mail address.
 *
 * Times: `Z` is UTC; a `TZID=` resolves to the feed's own VTIMEZONE (ical.js looks it up in the
 * calendar it was parsed with, so one feed's zones never leak into another's), else to the IANA
 * zone of that name; floating times and all-day dates are read in the calendar's X-WR-TIMEZONE,
 * else UTC. A TZID that is neither fails the read rather than guess.
 *
 * RRULE/RDATE/EXDATE are expanded by ical.js from DTSTART on, stopping at the first occurrence
 * after `at`; RECURRENCE-ID overrides are related by UID only (ical.js would otherwise relate every
 * override in the file to every series). The feed's size, the occurrences walked and the steps
 * ical.js takes to find them are bounded, and VTIMEZONEs it could expand without bound are dropped:
 * a feed past a bound is refused (the caller fails closed), never read in part.
 */
import ICAL from 'ical.js';

/** Larger feeds are refused, not parsed (the HTTP read is bounded the same). */
export const MAX_ICS_BYTES = 1024 * 1024;
/** Occurrences walked across the whole feed, at ~15 µs each: a rule this long is refused, not followed. */
export const MAX_OCCURRENCES = 10_000;
/**
 * Candidates ical.js may test across the whole feed, at ~8 µs each. Within one `next()` it steps
 * through a rule's candidates without bound (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30 never returns);
 * real rules take a step or a few per occurrence.
 */
export const MAX_RULE_STEPS = 50_000;

const EMAIL = /^[^\s@<>()[\]",;:\\]+@[^\s@<>()[\]",;:\\]+$/;

type Component = ICAL.Component;
type Time = ICAL.Time;

/** An address as the port wants it (lower-case), or undefined when `raw` is not one. */
function address(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const v = raw.trim().replace(/^mailto:/i, '');
  return EMAIL.test(v) ? v.toLowerCase() : undefined;
}

function parameter(prop: ICAL.Property, name: string): string | undefined {
  const v = prop.getParameter(name);
  const first = Array.isArray(v) ? (v[0] as unknown) : v;
  return typeof first === 'string' && first !== '' ? first : undefined;
}

function people(event: Component): string[] {
  const out: string[] = [];
  for (const a of event.getAllProperties('attendee')) {
    if (parameter(a, 'partstat')?.toUpperCase() === 'DECLINED') continue;
    const email = address(a.getFirstValue()) ?? address(parameter(a, 'email'));
    if (email) out.push(email);
  }
  if (out.length > 0) return out;
  const summary = address(event.getFirstPropertyValue('summary'));
  return summary ? [summary] : [];
}

const cancelled = (event: Component): boolean => String(event.getFirstPropertyValue('status') ?? '').toUpperCase() === 'CANCELLED';

// ---- time zones ----------------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat | null>();

/** A formatter that shows wall-clock time in `zone`, or null when Intl does not know the zone. */
function formatter(zone: string): Intl.DateTimeFormat | null {
  let f = formatters.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      f = null;
    }
    if (formatters.size < 500) formatters.set(zone, f);
  }
  return f;
}

/** `zone`'s offset from UTC at `epochMs`, in ms. */
function offsetMs(f: Intl.DateTimeFormat, epochMs: number): number {
  const p = Object.fromEntries(f.formatToParts(new Date(epochMs)).map((x) => [x.type, Number(x.value)]));
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return wall - Math.floor(epochMs / 1000) * 1000;
}

const DAY_MS = 86_400_000;

/**
 * Wall-clock time in an IANA zone to epoch ms, as RFC 5545 3.3.5 has it: a time that occurs twice
 * (clocks going back) is the first, a time skipped (clocks going forward) takes the offset from
 * before the change. Assumes at most one change within a day either side.
 */
function wallToEpoch(t: Time, f: Intl.DateTimeFormat): number {
  const wall = Date.UTC(t.year, t.month - 1, t.day, t.isDate ? 0 : t.hour, t.isDate ? 0 : t.minute, t.isDate ? 0 : t.second);
  const before = wall - offsetMs(f, wall - DAY_MS);
  const after = wall - offsetMs(f, wall + DAY_MS);
  const valid = [before, after].filter((c) => wall - offsetMs(f, c) === c);
  return valid.length > 0 ? Math.min(...valid) : before;
}

interface Zones {
  /** X-WR-TIMEZONE when Intl knows it; floating times and dates are read there. */
  calendar?: Intl.DateTimeFormat;
}

/**
 * Epoch ms of `t`. ical.js gives UTC and VTIMEZONE-bound times a real zone; what it leaves
 * floating is either truly floating, or names a TZID the feed defines no VTIMEZONE for.
 */
function epochOf(t: Time, tzid: string | undefined, zones: Zones): number {
  if (t.zone !== ICAL.Timezone.localTimezone) return t.toUnixTime() * 1000;
  if (tzid !== undefined) {
    const f = formatter(tzid);
    if (!f) throw new Error(`the feed names time zone ${JSON.stringify(tzid.slice(0, 60))} but defines no VTIMEZONE for it`);
    return wallToEpoch(t, f);
  }
  return zones.calendar ? wallToEpoch(t, zones.calendar) : Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
}

const tzidOf = (event: Component, prop: 'dtstart' | 'dtend' | 'recurrence-id'): string | undefined => {
  const p = event.getFirstProperty(prop);
  return p ? parameter(p, 'tzid') : undefined;
};

// ---- events ----------------------------------------------------------------------------------------

interface Budget {
  left: number;
  steps: number;
}

/** The series' expansion, with every candidate its rules test counted against the budget. */
function boundedIterator(master: ICAL.Event, budget: Budget): ICAL.RecurExpansion {
  const expansion = master.iterator();
  const iterators = (expansion as unknown as { ruleIterators?: unknown }).ruleIterators;
  // Fail closed should a new ical.js keep its rule iterators elsewhere.
  if (!Array.isArray(iterators)) throw new Error('cannot bound the recurrence expansion');
  for (const it of iterators as ICAL.RecurIterator[]) {
    const check = it.check_contracting_rules.bind(it);
    it.check_contracting_rules = () => {
      if (--budget.steps < 0) throw new Error(`the feed's recurrence rules take more than ${MAX_RULE_STEPS} steps to reach the time asked about`);
      return check();
    };
  }
  return expansion;
}

/** The zone a DTEND is read in: its own TZID, else DTSTART's (a DURATION counts from DTSTART). */
const endTzidOf = (event: Component): string | undefined => (event.hasProperty('dtend') ? tzidOf(event, 'dtend') : undefined) ?? tzidOf(event, 'dtstart');

/** Whether [start, end) covers `at`; `endTz` is the TZID the end's wall-clock time is in. */
function covers(item: ICAL.Event, start: Time, end: Time, endTz: string | undefined, at: number, zones: Zones): boolean {
  return epochOf(start, tzidOf(item.component, 'dtstart'), zones) <= at && at < epochOf(end, endTz, zones);
}

const tooMany = () => new Error(`the feed's recurrences need more than ${MAX_OCCURRENCES} occurrences to reach the time asked about`);

function seriesPeople(master: ICAL.Event, at: number, zones: Zones, budget: Budget): string[] {
  const out: string[] = [];
  const dtstartTz = tzidOf(master.component, 'dtstart');
  const it = boundedIterator(master, budget);
  for (let occ = it.next(); occ; occ = it.next()) {
    if (--budget.left < 0) throw tooMany();
    if (epochOf(occ, dtstartTz, zones) > at) break;
    const d = master.getOccurrenceDetails(occ);
    if (cancelled(d.item.component)) continue;
    // A plain occurrence ends DTSTART's duration later, in DTSTART's zone; an override has its own end.
    const endTz = d.item === master ? dtstartTz : endTzidOf(d.item.component);
    if (covers(d.item, d.startDate, d.endDate, endTz, at, zones)) out.push(...people(d.item.component));
  }
  // An override moved earlier than its original slot (which the walk stopped before) still counts.
  for (const ex of Object.values(master.exceptions)) {
    if (cancelled(ex.component) || epochOf(ex.recurrenceId, tzidOf(ex.component, 'recurrence-id'), zones) <= at) continue;
    if (covers(ex, ex.startDate, ex.endDate, endTzidOf(ex.component), at, zones)) out.push(...people(ex.component));
  }
  return out;
}

const ZONE_RULE_PARTS = new Set(['BYMONTH', 'BYDAY', 'BYMONTHDAY']);
const MAX_ZONE_RDATES = 1000;

/**
 * Whether a VTIMEZONE has the shape real zones have: yearly rules by month and day, a bounded list
 * of dates. ical.js expands a zone's rules (unbounded, and out of our reach) when it first converts
 * a time in it, so any other zone is dropped and its TZID read as the IANA zone of that name.
 */
function plainZone(vtz: Component): boolean {
  try {
    let rdates = 0;
    for (const observance of vtz.getAllSubcomponents()) {
      for (const p of observance.getAllProperties('rrule')) {
        const rule = p.getFirstValue() as ICAL.Recur;
        if (rule.freq !== 'YEARLY' || Object.keys(rule.parts).some((k) => !ZONE_RULE_PARTS.has(k))) return false;
      }
      for (const p of observance.getAllProperties('rdate')) rdates += p.getValues().length;
    }
    return rdates <= MAX_ZONE_RDATES;
  } catch {
    return false;
  }
}

function calendars(text: string): Component[] {
  let parsed: unknown;
  try {
    parsed = ICAL.parse(text);
  } catch (e) {
    throw new Error(`the feed is not iCalendar (${String((e as Error).message ?? e).slice(0, 120)})`);
  }
  // Several top-level components parse to a list of them.
  const list = (Array.isArray(parsed) && typeof parsed[0] !== 'string' ? parsed : [parsed]) as unknown[];
  const out = list.map((jcal) => new ICAL.Component(jcal as unknown[])).filter((c) => c.name === 'vcalendar');
  if (out.length === 0) throw new Error('the feed is not iCalendar (no VCALENDAR)');
  return out;
}

/** The e-mail addresses on call at `at` (epoch ms): lower-cased, deduplicated, sorted. Throws on a feed it cannot read. */
export function peopleOnCallAt(icsText: string, at: number): string[] {
  if (Buffer.byteLength(icsText, 'utf8') > MAX_ICS_BYTES) throw new Error(`the feed is larger than ${MAX_ICS_BYTES} bytes`);
  const found = new Set<string>();
  const budget: Budget = { left: MAX_OCCURRENCES, steps: MAX_RULE_STEPS };
  for (const cal of calendars(icsText)) {
    for (const vtz of cal.getAllSubcomponents('vtimezone')) if (!plainZone(vtz)) cal.removeSubcomponent(vtz);
    const wr = cal.getFirstPropertyValue('x-wr-timezone');
    const calendarZone = typeof wr === 'string' ? formatter(wr.trim()) : null;
    const zones: Zones = calendarZone ? { calendar: calendarZone } : {};
    const events = cal.getAllSubcomponents('vevent').filter((e) => e.hasProperty('dtstart'));
    const uidOf = (e: Component) => String(e.getFirstPropertyValue('uid') ?? '');
    const masters = new Set(events.filter((e) => !e.hasProperty('recurrence-id')).map(uidOf));
    const overrides = new Map<string, Component[]>();
    for (const e of events) {
      if (e.hasProperty('recurrence-id') && masters.has(uidOf(e))) overrides.set(uidOf(e), [...(overrides.get(uidOf(e)) ?? []), e]);
    }
    for (const component of events) {
      // Overrides are read with their series; one without a series in the feed stands alone.
      if ((component.hasProperty('recurrence-id') && masters.has(uidOf(component))) || cancelled(component)) continue;
      const event = new ICAL.Event(component, { exceptions: overrides.get(uidOf(component)) ?? [] });
      const who =
        event.isRecurring() && !event.isRecurrenceException()
          ? seriesPeople(event, at, zones, budget)
          : covers(event, event.startDate, event.endDate, endTzidOf(component), at, zones)
            ? people(component)
            : [];
      for (const p of who) found.add(p);
    }
  }
  return [...found].sort();
}
