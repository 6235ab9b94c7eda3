/**
 * The Live access page's server calls: every live grant (GET /v1/requests with
 * status=active,scheduled: admins and auditors see everyone's, with requester, reason, approvals
 * and times), the locks in force (GET /v1/locks), and the emergency controls (lock, unlock,
 * freeze, unfreeze). The live feed tells only of requests that concern the caller, so the lists
 * are also read again every LIVE_ACCESS_REFRESH_MS.
 */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { EmergencyResult } from '../lib/live-access.js';
import { api } from './client.js';
import type { RequestListJson } from './types.js';

export const LIVE_ACCESS_REFRESH_MS = 10_000;
const PAGE = 200;

export const liveKeys = {
  grants: ['requests', 'live'] as const,
  locks: ['locks'] as const,
};

export function useLiveGrants(enabled: boolean) {
  return useInfiniteQuery({
    queryKey: liveKeys.grants,
    queryFn: ({ pageParam }) =>
      api<RequestListJson>('GET', `/v1/requests?status=active,scheduled&limit=${PAGE}${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ''}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled,
    refetchInterval: LIVE_ACCESS_REFRESH_MS,
  });
}

export interface LockJson {
  subject: string;
  by: string;
  at: string;
  reason: string | null;
}

export function useLocks(enabled: boolean) {
  return useQuery({
    queryKey: liveKeys.locks,
    queryFn: () => api<{ principals: LockJson[]; targets: LockJson[] }>('GET', '/v1/locks'),
    enabled,
    refetchInterval: LIVE_ACCESS_REFRESH_MS,
  });
}

export type EmergencyAction = 'lock' | 'unlock' | 'freeze' | 'unfreeze';

const PATH: Record<EmergencyAction, (s: string) => string> = {
  lock: (s) => `/v1/principals/${encodeURIComponent(s)}/lock`,
  unlock: (s) => `/v1/principals/${encodeURIComponent(s)}/unlock`,
  freeze: (s) => `/v1/targets/${encodeURIComponent(s)}/freeze`,
  unfreeze: (s) => `/v1/targets/${encodeURIComponent(s)}/unfreeze`,
};

/** A lock or freeze ends grants and requests: the locks and every request list are read again. */
export function useEmergency() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { action: EmergencyAction; subject: string; reason?: string }) =>
      api<EmergencyResult>('POST', PATH[v.action](v.subject), v.reason ? { reason: v.reason } : {}),
    onSuccess: () => Promise.all([qc.invalidateQueries({ queryKey: liveKeys.locks }), qc.invalidateQueries({ queryKey: ['requests'] })]),
  });
}
