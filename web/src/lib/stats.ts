/** The Dashboard's pure logic: the period in the URL, the chart's series, and words for its numbers. */
import type { StatsJson } from '../api/stats.js';
import { formatRemaining } from './time.js';

/** The periods offered, in days; the first load shows 30. */
export const PERIODS = [7, 30, 90] as const;
export type Period = (typeof PERIODS)[number];
export const DEFAULT_PERIOD: Period = 30;

/** The period a URL's query names (`?days=7`); anything else is the default. */
export function periodFromSearch(search: string): Period {
  const days = Number(new URLSearchParams(search).get('days'));
  return (PERIODS as readonly number[]).includes(days) ? (days as Period) : DEFAULT_PERIOD;
}

/** `?days=7`, or '' for the default (a clean URL). */
export function searchOfPeriod(days: Period): string {
  return days === DEFAULT_PERIOD ? '' : `?days=${days}`;
}

/** The viewer's IANA zone, whose calendar days the server counts; UTC when the browser does not say. */
export function viewerTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

type Day = StatsJson['perDay'][number];

/** uPlot's columns: day starts in seconds, then activations, requests submitted, denied. */
export function chartColumns(perDay: readonly Day[]): [number[], number[], number[], number[]] {
  return [perDay.map((d) => Date.parse(d.start) / 1000), perDay.map((d) => d.activations), perDay.map((d) => d.submitted), perDay.map((d) => d.denied)];
}

/** `Mon 5 Jan` for a YYYY-MM-DD date (the calendar date itself, whatever the viewer's zone). */
export function dayLabel(date: string, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' }).format(Date.parse(`${date}T12:00:00Z`));
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What the chart shows, in one sentence for a screen reader (the chart's aria-label). */
export function chartSummary(perDay: readonly Day[], locale?: string): string {
  const total = (k: 'activations' | 'submitted' | 'denied') => perDay.reduce((n, d) => n + d[k], 0);
  const busiest = perDay.reduce<Day | undefined>((best, d) => (d.activations > (best?.activations ?? 0) ? d : best), undefined);
  const head = `Activations per day over the last ${plural(perDay.length, 'day')}: ${total('activations')} in all`;
  const peak = busiest ? `, most on ${dayLabel(busiest.date, locale)} (${busiest.activations})` : '';
  return `${head}${peak}; ${plural(total('submitted'), 'request')} submitted, ${total('denied')} denied. The table below has every day.`;
}

/** A time to approve as people read it (`40m 00s`, `1h 05m`), or a dash when nothing was approved. */
export function approveTimeText(ms: number | null): string {
  return ms === null ? '–' : formatRemaining(ms);
}

/** A bar's length in percent of the longest (at least a sliver, so a 1 beside a 1000 still shows). */
export function barPercent(n: number, max: number): number {
  if (max <= 0 || n <= 0) return 0;
  return Math.max(2, Math.round((n / max) * 100));
}

export const REVIEW_TEXT: Record<StatsJson['breakGlass']['latest'][number]['review']['state'], string> = {
  reviewed: 'Reviewed',
  pending: 'Review pending',
  overdue: 'Review overdue',
  'not-required': 'No review required',
};
