/** The Dashboard's read: GET /v1/stats for the chosen period, counted in the viewer's calendar days. */
import { useQuery } from '@tanstack/react-query';
import type { z } from 'zod';
import type { statsResponse } from '../../../src/http/stats-response.js';
import { api } from './client.js';

export type StatsJson = z.infer<typeof statsResponse>;

/** The figures move slowly; a minute is fresh enough (and the page reads them again when shown). */
export const STATS_REFRESH_MS = 60_000;

export const statsKeys = {
  period: (days: number, tz: string) => ['stats', days, tz] as const,
};

export function useStats(days: number, tz: string) {
  return useQuery({
    queryKey: statsKeys.period(days, tz),
    queryFn: () => api<StatsJson>('GET', `/v1/stats?${new URLSearchParams({ days: String(days), tz })}`),
    refetchInterval: STATS_REFRESH_MS,
    // A 403 stays a 403: no retries.
    retry: (n, err) => (err as { status?: number }).status !== 403 && n < 2,
    placeholderData: (previous) => previous,
  });
}
