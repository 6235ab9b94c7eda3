/**
 * Pure helpers of the dashboard's figures (GET /v1/stats): where a quantile falls among sorted
 * values, and the calendar days of a time zone as instants.
 */

/** Where quantile `q` (0..1) of `n` ascending values falls, as PostgreSQL's percentile_cont places it: between `offset` and `offset + 1`, `frac` of the way. */
export function quantileRank(n: number, q: number): { offset: number; frac: number } {
  const rank = Math.min(Math.max(q, 0), 1) * (n - 1);
  const offset = Math.floor(rank);
  return { offset, frac: rank - offset };
}

/** The value at a rank from quantileRank, given the values at `offset` and `offset + 1` (the second absent at the end). */
export function interpolate(lower: number, upper: number | undefined, frac: number): number {
  return upper === undefined || frac === 0 ? lower : lower + (upper - lower) * frac;
}

/** Quantile `q` of ascending `sorted` values (linear interpolation); undefined when there are none. */
export function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const { offset, frac } = quantileRank(sorted.length, q);
  return interpolate(sorted[offset]!, sorted[offset + 1], frac);
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws RangeError for a zone the runtime does not know. */
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hourCycle: 'h23' });
    if (formatters.size > 100) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when the runtime knows the IANA zone `timeZone`. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The calendar date (YYYY-MM-DD) of instant `at` in `timeZone`. */
export function localDate(at: number, timeZone: string): string {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** The date `days` after YYYY-MM-DD `date` (negative: before). */
function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y!, m! - 1, d! + days)).toISOString().slice(0, 10);
}

/**
 * The first instant (to the minute) of `date` in `timeZone`: usually local midnight, later when
 * a clock change skips midnight. Every offset in use lies within 15 h of UTC, and zones change
 * their offsets on whole minutes, so a binary search over minutes in that window is exact.
 */
function startOfDate(date: string, timeZone: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  let lo = (utcMidnight - 15 * 60 * MINUTE) / MINUTE; // always the day before, locally
  let hi = (utcMidnight + 15 * 60 * MINUTE) / MINUTE; // always `date` or later
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localDate(mid * MINUTE, timeZone) >= date) hi = mid;
    else lo = mid;
  }
  return hi * MINUTE;
}

export interface LocalDay {
  /** YYYY-MM-DD in the zone. */
  date: string;
  start: number;
  /** The next day's start (days are 23 or 25 hours long across clock changes). */
  end: number;
}

/** The last `count` calendar days of `timeZone` up to and including the one holding `now`, oldest first. */
export function lastLocalDays(now: number, count: number, timeZone: string): LocalDay[] {
  const today = localDate(now, timeZone);
  if (timeZone === 'UTC') {
    const start = Date.parse(`${today}T00:00:00Z`);
    return Array.from({ length: count }, (_, i) => {
      const s = start - (count - 1 - i) * DAY;
      return { date: new Date(s).toISOString().slice(0, 10), start: s, end: s + DAY };
    });
  }
  const starts = Array.from({ length: count + 1 }, (_, i) => addDays(today, i - count + 1)).map((d) => ({ date: d, start: startOfDate(d, timeZone) }));
  return starts.slice(0, count).map((d, i) => ({ ...d, end: starts[i + 1]!.start }));
}
