/**
 * The Policies page's server calls: GET /v1/policies (admins, auditors) and the "what would
 * happen if" form's GET /v1/policies/explain, asked when the form is sent (not as it is typed).
 */
import { useQuery } from '@tanstack/react-query';
import { api } from './client.js';
import type { ExplainJson } from './request.js';
import type { PolicyJson, PolicyListJson } from '../../../src/app/policy-list.js';

export type { PolicyJson, PolicyListJson };

export function usePolicies(enabled: boolean) {
  return useQuery({ queryKey: ['policies'], queryFn: () => api<PolicyListJson>('GET', '/v1/policies'), enabled, staleTime: 60_000 });
}

/**
 * The server's answer for one sent form (`query`: from whatIfQuery; `sent` counts the sends, so
 * sending the same form again asks again); nothing is asked before the first.
 */
export function useWhatIf(query: string | undefined, sent: number) {
  return useQuery({
    queryKey: ['explain', 'what-if', query ?? '', sent],
    queryFn: () => api<ExplainJson>('GET', `/v1/policies/explain?${query}`),
    enabled: query !== undefined,
    retry: false,
    staleTime: 0,
  });
}
