/**
 * What pages read and change, as react-query hooks over the public API. Pages get data and
 * callbacks from here and hand them to views, which never fetch.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, setCsrfToken } from './client.js';
import type { EntitlementJson, ProviderJson, RequestJson, RequestListJson, SessionJson } from './types.js';

/**
 * Requests and grants change on their own (approvals, expiry). Live updates (api/live.ts) say so
 * at once; this poll is the fallback when the event stream is cut.
 */
export const LIVE_REFRESH_MS = 30_000;

export const keys = {
  session: ['session'] as const,
  providers: ['providers'] as const,
  entitlements: ['entitlements'] as const,
  mine: ['requests', 'mine'] as const,
  approvable: ['requests', 'approvable'] as const,
};

/** The signed-in caller, or null when nobody is (401). */
export function useSession() {
  return useQuery({
    queryKey: keys.session,
    queryFn: async (): Promise<SessionJson | null> => {
      try {
        const s = await api<SessionJson>('GET', '/v1/auth/session');
        setCsrfToken(s.csrfToken);
        return s;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          setCsrfToken(undefined);
          return null;
        }
        throw e;
      }
    },
    staleTime: 60_000,
  });
}

export function useProviders() {
  return useQuery({ queryKey: keys.providers, queryFn: () => api<{ providers: ProviderJson[] }>('GET', '/v1/auth/providers'), staleTime: Infinity });
}

export function usePasswordSignIn() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { principal: string; password: string }) => api<{ principal: string; csrfToken: string }>('POST', '/v1/auth/password', v),
    onSuccess: async (r) => {
      setCsrfToken(r.csrfToken);
      await qc.invalidateQueries();
    },
  });
}

export function useSignOut() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api<{ signedOut: boolean }>('POST', '/v1/auth/logout'),
    onSettled: () => {
      setCsrfToken(undefined);
      qc.clear();
    },
  });
}

export function useEntitlements(enabled: boolean) {
  return useQuery({ queryKey: keys.entitlements, queryFn: () => api<{ entitlements: EntitlementJson[] }>('GET', '/v1/entitlements'), enabled });
}

export function useMyRequests(enabled: boolean) {
  return useQuery({
    queryKey: keys.mine,
    queryFn: () => api<RequestListJson>('GET', '/v1/requests?mine=true&limit=100'),
    enabled,
    refetchInterval: LIVE_REFRESH_MS,
  });
}

export function useApprovable(enabled: boolean) {
  return useQuery({
    queryKey: keys.approvable,
    queryFn: () => api<RequestListJson>('GET', '/v1/requests?approvable=true&limit=100'),
    enabled,
    refetchInterval: LIVE_REFRESH_MS,
  });
}

export type RequestAction = 'cancel' | 'release' | 'approve' | 'deny' | 'extend' | 'revoke';

/** A decision or change on one request; every list that may show it is read again. */
export function useRequestAction() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: string; action: RequestAction; body?: Record<string, unknown> }) =>
      api<RequestJson>('POST', `/v1/requests/${encodeURIComponent(v.id)}/${v.action}`, v.body ?? {}),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['requests'] }),
  });
}
