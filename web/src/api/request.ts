/**
 * The Request access page's server calls: GET /v1/policies/explain as the form changes (the
 * server's own rules, one source of truth) and POST /v1/requests, with step-up MFA when a
 * policy asks for it.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { SubmitJson } from '../lib/request.js';
import { api } from './client.js';
import type { MfaProof } from './mfa.js';
import type { ExplainResult } from '../../../src/app/explain-result.js';
import type { RequestJson } from './types.js';

/** The answer of GET /v1/policies/explain: the server's own type (type-only: nothing of the server is bundled). */
export type ExplainJson = ExplainResult;

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms = 300): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/**
 * The server's verdict on the form as it is (`query`: from explainQuery). The previous answer
 * stays on screen while the next is asked, so the verdict does not flicker as people type.
 */
export function useExplain(query: string | undefined) {
  return useQuery({
    queryKey: ['explain', query ?? ''],
    queryFn: () => api<ExplainJson>('GET', `/v1/policies/explain?${query}`),
    enabled: query !== undefined,
    placeholderData: keepPreviousData,
    retry: false,
    staleTime: 10_000,
  });
}

/**
 * POST /v1/requests. `send(body, proof)` is given to useStepUp().run by the page, so a policy
 * that wants a second factor gets the same body again with the proof.
 */
export function useSubmitAccess() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (run: () => Promise<RequestJson | undefined>) => run(),
    onSuccess: (r) => {
      if (r) return qc.invalidateQueries({ queryKey: ['requests'] });
    },
  });
}

export const submitRequest = (body: SubmitJson, mfa?: MfaProof) => api<RequestJson>('POST', '/v1/requests', { ...body, ...(mfa ? { mfa } : {}) });
