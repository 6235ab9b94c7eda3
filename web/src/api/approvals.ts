/**
 * The Approvals inbox's reads and writes: an approver's context of one request
 * (GET /v1/requests/{id}/context), break-glass grants awaiting the caller's review
 * (GET /v1/requests?reviewable=true), reviews, and bulk decisions.
 *
 * Keys sit under `keys.approvable`, so whatever re-reads the inbox (a decision, a live update)
 * re-reads these too.
 */
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import type { z } from 'zod';
import type { requestContextResponse } from '../../../src/http/responses.js';
import type { BulkOutcome, Decision } from '../lib/approvals.js';
import { api, ApiError } from './client.js';
import { keys, LIVE_REFRESH_MS } from './hooks.js';
import type { RequestJson, RequestListJson } from './types.js';

export type RequestContextJson = z.infer<typeof requestContextResponse>;
export type HintJson = RequestContextJson['hints'][number];
export type HistoryJson = RequestContextJson['history'][number];

export const approvalKeys = {
  reviewable: [...keys.approvable, 'reviewable'] as const,
  context: (id: string) => [...keys.approvable, 'context', id] as const,
};

export function useReviewable(enabled: boolean) {
  return useQuery({
    queryKey: approvalKeys.reviewable,
    queryFn: () => api<RequestListJson>('GET', '/v1/requests?reviewable=true&limit=100'),
    enabled,
    refetchInterval: LIVE_REFRESH_MS,
  });
}

const contextQuery = (id: string) => ({
  queryKey: approvalKeys.context(id),
  queryFn: () => api<RequestContextJson>('GET', `/v1/requests/${encodeURIComponent(id)}/context`),
  staleTime: 30_000,
});

export function useRequestContext(id: string) {
  return useQuery(contextQuery(id));
}

/** True once the context of every one of these requests has been read (or failed): the page draws them all at once, without jumps. */
export function useContextsSettled(ids: readonly string[]): boolean {
  return useQueries({ queries: ids.map(contextQuery), combine: (results) => results.every((r) => !r.isPending) });
}

export function useReview() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: string; comment: string }) => api<RequestJson>('POST', `/v1/requests/${encodeURIComponent(v.id)}/review`, { comment: v.comment }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['requests'] }),
  });
}

/**
 * One decision with one comment on several requests, one call each, in order: a refusal (someone
 * decided first, MFA needed) is that request's outcome and the others go on.
 */
export function useBulkDecision() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (v: { action: Decision; comment: string; requests: { id: string; label: string }[] }): Promise<BulkOutcome[]> => {
      const out: BulkOutcome[] = [];
      const body = v.comment.trim() ? { comment: v.comment.trim() } : {};
      for (const r of v.requests) {
        try {
          await api<RequestJson>('POST', `/v1/requests/${encodeURIComponent(r.id)}/${v.action}`, body);
          out.push({ id: r.id, label: r.label, ok: true });
        } catch (e) {
          const err = e instanceof ApiError ? e : new ApiError(0, 'HG_INTERNAL', e instanceof Error ? e.message : String(e));
          out.push({ id: r.id, label: r.label, ok: false, message: err.message, code: err.code });
        }
      }
      return out;
    },
    onSettled: () => qc.invalidateQueries({ queryKey: ['requests'] }),
  });
}
