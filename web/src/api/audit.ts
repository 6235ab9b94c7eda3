/**
 * The Audit page's reads: events by filter with cursor paging (GET /v1/audit), one request's
 * whole story, the chain head, the newest signed checkpoint, and verification with progress
 * (GET /v1/audit/verify/stream, NDJSON read as it arrives). Exports are plain links (the cookie
 * goes with them), so they are not here.
 */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { z } from 'zod';
import type { auditListResponse, latestCheckpointResponse } from '../../../src/http/responses.js';
import { listQuery, NO_FILTER, takeLines, type AuditEventJson, type AuditFilter, type HeadJson, type VerifyJson } from '../lib/audit.js';
import { mount } from '../lib/base.js';
import { api, ApiError } from './client.js';
import type { ApiErrorBody } from './types.js';

export type AuditListJson = z.infer<typeof auditListResponse>;
export type LatestCheckpointJson = z.infer<typeof latestCheckpointResponse>;

export const auditKeys = {
  all: ['audit'] as const,
  events: (f: AuditFilter) => ['audit', 'events', f] as const,
  story: (id: string) => ['audit', 'story', id] as const,
  head: ['audit', 'head'] as const,
  checkpoint: ['audit', 'checkpoint'] as const,
};

/** Events per page of the table; "Load more" reads the next. */
export const AUDIT_PAGE = 100;
/** A story is read whole, in pages of 1000, up to this many pages (a request rarely has more than a few dozen events). */
const STORY_PAGES = 20;

export function useAuditEvents(filter: AuditFilter) {
  return useInfiniteQuery({
    queryKey: auditKeys.events(filter),
    queryFn: ({ pageParam }) => api<AuditListJson>('GET', `/v1/audit${listQuery(filter, AUDIT_PAGE, pageParam)}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
}

export function useRequestStory(requestId: string) {
  return useQuery({
    queryKey: auditKeys.story(requestId),
    enabled: requestId !== '',
    queryFn: async (): Promise<{ events: AuditEventJson[]; complete: boolean }> => {
      const events: AuditEventJson[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < STORY_PAGES; i++) {
        const page = await api<AuditListJson>('GET', `/v1/audit${listQuery({ ...NO_FILTER, requestId }, 1000, cursor)}`);
        events.push(...page.events);
        if (!page.nextCursor) return { events, complete: true };
        cursor = page.nextCursor;
      }
      return { events, complete: false };
    },
  });
}

export function useAuditHead() {
  return useQuery({ queryKey: auditKeys.head, queryFn: () => api<HeadJson>('GET', '/v1/audit/head') });
}

export function useLatestCheckpoint() {
  return useQuery({ queryKey: auditKeys.checkpoint, queryFn: () => api<LatestCheckpointJson>('GET', '/v1/audit/checkpoints/latest') });
}

/**
 * Verification on demand, with the number of events checked so far while it runs (a big log
 * takes seconds). The head is read again afterwards: it may have moved meanwhile.
 */
export function useVerifyChain() {
  const qc = useQueryClient();
  const [checked, setChecked] = useState(0);
  const mutation = useMutation({
    mutationFn: () => {
      setChecked(0);
      return verifyStream(setChecked);
    },
    onSettled: () => qc.invalidateQueries({ queryKey: auditKeys.head }),
  });
  return { ...mutation, checked };
}

async function verifyStream(onProgress: (count: number) => void): Promise<VerifyJson> {
  let res: Response;
  try {
    res = await fetch(`${mount}/v1/audit/verify/stream?every=10000`, { headers: { accept: 'application/x-ndjson' }, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'HG_NETWORK', 'Hourglass cannot be reached; check your connection and try again.');
  }
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => undefined)) as ApiErrorBody | undefined;
    throw new ApiError(res.status, body?.error.code ?? 'HG_INTERNAL', body?.error.message ?? `the server answered ${res.status}`, body?.error.details);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    const { lines, rest } = takeLines(buffer + (value ?? '') + (done ? '\n' : ''));
    buffer = rest;
    for (const line of lines) {
      const msg = JSON.parse(line) as { progress?: { count: number }; result?: VerifyJson; error?: { code: string; message: string } };
      if (msg.progress) onProgress(msg.progress.count);
      else if (msg.result) return msg.result;
      else if (msg.error) throw new ApiError(500, msg.error.code, msg.error.message);
    }
    if (done) throw new ApiError(0, 'HG_NETWORK', 'the verification was cut short before its result; try again');
  }
}
