/**
 * Using a grant from My access: its credentials, fetched only when asked for (every retrieval is
 * audited) and never put in the query cache, and extending it.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from './client.js';
import type { MfaProof } from './mfa.js';
import type { RequestJson } from './types.js';

/** POST /v1/requests/{id}/credentials: per target, kept credentials' fields, or `{kind, credentials: [...]}` for those issued now. */
export interface CredentialsJson {
  requestId: string;
  expiresAt: string;
  targets: Record<string, Record<string, unknown>>;
}

export const fetchCredentials = (id: string, mfa?: MfaProof) =>
  api<CredentialsJson>('POST', `/v1/requests/${encodeURIComponent(id)}/credentials`, mfa ? { mfa } : {});

export function useExtend() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (v: { id: string; duration: string; reason?: string }) =>
      api<RequestJson>('POST', `/v1/requests/${encodeURIComponent(v.id)}/extend`, { duration: v.duration, ...(v.reason ? { reason: v.reason } : {}) }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['requests'] }),
  });
}
