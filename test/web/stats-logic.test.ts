// The Dashboard's pure logic (web/src/lib/stats.ts): the period in the URL, the chart's columns,
// the screen reader's summary of the chart, and words for its numbers.
import { describe, expect, it } from 'vitest';
import type { StatsJson } from '../../web/src/api/stats.js';
import { approveTimeText, barPercent, chartColumns, chartSummary, dayLabel, periodFromSearch, searchOfPeriod } from '../../web/src/lib/stats.js';

const day = (date: string, activations: number, submitted: number, denied: number): StatsJson['perDay'][number] => ({
  date,
  start: `${date}T00:00:00.000Z`,
  activations,
  submitted,
  denied,
  breakGlass: 0,
});

describe('dashboard logic', () => {
  it('reads and writes the period in the URL, 30 days by default', () => {
    expect(periodFromSearch('')).toBe(30);
    expect(periodFromSearch('?days=7')).toBe(7);
    expect(periodFromSearch('?days=90')).toBe(90);
    expect(periodFromSearch('?days=12')).toBe(30);
    expect(periodFromSearch('?days=abc')).toBe(30);
    expect(searchOfPeriod(30)).toBe('');
    expect(searchOfPeriod(7)).toBe('?days=7');
  });

  it('gives uPlot one column of day starts in seconds and one per series', () => {
    const [xs, act, sub, den] = chartColumns([day('2026-01-05', 2, 4, 1), day('2026-01-06', 3, 5, 0)]);
    expect(xs).toEqual([Date.parse('2026-01-05T00:00:00Z') / 1000, Date.parse('2026-01-06T00:00:00Z') / 1000]);
    expect([act, sub, den]).toEqual([
      [2, 3],
      [4, 5],
      [1, 0],
    ]);
  });

  it('sums the chart up in a sentence, naming the busiest day', () => {
    const perDay = [day('2026-01-04', 0, 0, 0), day('2026-01-05', 2, 4, 1), day('2026-01-06', 3, 5, 0)];
    expect(chartSummary(perDay, 'en-GB')).toBe(
      'Activations per day over the last 3 days: 5 in all, most on Tue 6 Jan (3); 9 requests submitted, 1 denied. The table below has every day.',
    );
    expect(chartSummary([day('2026-01-06', 0, 1, 0)], 'en-GB')).toBe(
      'Activations per day over the last 1 day: 0 in all; 1 request submitted, 0 denied. The table below has every day.',
    );
    // The date is the calendar date, whatever the zone the test runs in.
    expect(dayLabel('2026-01-05', 'en-GB')).toBe('Mon 5 Jan');
  });

  it('words times to approve and sizes bars', () => {
    expect(approveTimeText(null)).toBe('–');
    expect(approveTimeText(40 * 60_000)).toBe('40m 00s');
    expect(approveTimeText(65 * 60_000)).toBe('1h 05m');
    expect(barPercent(5, 10)).toBe(50);
    expect(barPercent(1, 1000)).toBe(2);
    expect(barPercent(0, 10)).toBe(0);
    expect(barPercent(3, 0)).toBe(0);
  });
});
