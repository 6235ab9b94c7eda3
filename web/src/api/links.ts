/**
 * Links from notifications: redeeming an approver's one-time link, and the Slack account the
 * caller linked (POST /v1/links/redeem, /v1/integrations/slack/*; docs/integrations.md).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { fragmentParam, refusalOf, sendable, withoutFragmentParam, type FragmentKey, type LinkOutcome } from '../lib/links.js';
import { replaceHash } from '../lib/router.js';
import { api, ApiError } from './client.js';

/** A linked Slack account: the workspace (team) and the Slack user (U...). */
export interface SlackLinkJson {
  provider: 'slack';
  teamId: string;
  userId: string;
}

export const slackKeys = { link: ['integrations', 'slack', 'link'] as const };

/** Uses an approver's link once: the request it was sent for, or 410 HG_LINK_INVALID with `details.reason`. */
export function useRedeemLink() {
  return useMutation({ mutationFn: (token: string) => api<{ requestId: string }>('POST', '/v1/links/redeem', { token }) });
}

/** Takes `key` out of the URL's fragment (the token is not kept in the address bar or the history). */
export const dropFragmentToken = (key: FragmentKey) => replaceHash(withoutFragmentParam(window.location.hash, key));

/**
 * The token under `key` in the URL's fragment: the one the page was opened with, then each one a
 * link opened later in this tab brings (a fragment change does not reload the page). `seq` counts
 * them, so the same link opened again is a new attempt. `clear`: done with it (and out of the URL).
 */
export function useFragmentToken(key: FragmentKey): { token: string | undefined; seq: number; clear(): void } {
  const [state, setState] = useState(() => ({ token: fragmentParam(window.location.hash, key), seq: 0 }));
  useEffect(() => {
    const onHash = () => {
      const token = fragmentParam(window.location.hash, key);
      if (token) setState((s) => ({ token, seq: s.seq + 1 }));
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [key]);
  const clear = useCallback(() => {
    dropFragmentToken(key);
    setState((s) => ({ token: undefined, seq: s.seq }));
  }, [key]);
  return { ...state, clear };
}

/**
 * The approver's link the page was opened with (`#link=`): redeemed once, then taken out of the URL
 * so a reload does not use it again. `settled`: nothing is left to wait for (no link, or its answer came).
 */
export function useApprovalLink() {
  const { token, seq } = useFragmentToken('link');
  const { mutate, ...redeem } = useRedeemLink();
  const sent = useRef(-1);
  useEffect(() => {
    // Once per link opened, also when an effect runs twice (React's StrictMode): a second try would say "used".
    if (!token || sent.current === seq) return;
    sent.current = seq;
    dropFragmentToken('link');
    if (sendable(token)) mutate(token);
  }, [token, seq, mutate]);

  const refusal = redeem.error instanceof ApiError ? refusalOf(redeem.error.code, redeem.error.details) : undefined;
  const outcome: LinkOutcome | undefined = !token
    ? undefined
    : !sendable(token)
      ? { opened: false, reason: 'unknown' }
      : redeem.isSuccess
        ? { opened: true }
        : refusal
          ? { opened: false, reason: refusal }
          : undefined;
  return {
    outcome,
    requestId: redeem.data?.requestId,
    /** Another failure (the network, the session): shown as it is. */
    error: redeem.isError && !refusal ? redeem.error : undefined,
    settled: !token || !sendable(token) || redeem.isSuccess || redeem.isError,
    /** Counts the links opened in this tab (useFragmentToken). */
    seq,
  };
}

/** `configured`: the server talks to Slack (notifications.slack). */
export interface SlackLinkState {
  configured: boolean;
  link: SlackLinkJson | null;
}

export function useSlackLink() {
  return useQuery({ queryKey: slackKeys.link, queryFn: () => api<SlackLinkState>('GET', '/v1/integrations/slack/link') });
}

/** The cached state with a new link (a server that just linked or unlinked one talks to Slack). */
const withLink =
  (link: SlackLinkJson | null) =>
  (old: SlackLinkState | undefined): SlackLinkState => ({ configured: old?.configured ?? true, link });

/** Links the Slack account a chat link names to the caller (the server checks the e-mail addresses agree). */
export function useLinkSlack() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (token: string) => api<SlackLinkJson>('POST', '/v1/integrations/slack/link', { token }),
    onSuccess: (link) => qc.setQueryData(slackKeys.link, withLink(link)),
  });
}

export function useUnlinkSlack() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api<{ unlinked: boolean }>('POST', '/v1/integrations/slack/unlink', {}),
    onSuccess: () => qc.setQueryData(slackKeys.link, withLink(null)),
  });
}
