/**
 * My access: requests waiting for approval, grants scheduled or active (counting down), and those
 * that ended. Opened from a notification (`/?request=ID`): that request's card is focused.
 */
import { useEffect, useState } from 'react';
import { fetchCredentials, useExtend, type CredentialsJson } from '../api/access.js';
import { useEntitlements, useMyRequests, useRequestAction } from '../api/hooks.js';
import { useStepUp } from '../api/mfa.js';
import type { EntitlementJson, RequestJson, SessionJson } from '../api/types.js';
import { mineNotFoundText, requestParam } from '../lib/links.js';
import { bucketOf, nextChangeAt } from '../lib/requests.js';
import { hrefOf, navigate, useSearch } from '../lib/router.js';
import { useFocusRequest } from '../lib/useFocusRequest.js';
import { useNow } from '../lib/useNow.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { CopyText } from '../views/CopyText.js';
import { CredentialsPanel } from '../views/CredentialsPanel.js';
import { ExtendForm } from '../views/ExtendForm.js';
import { LinkNotice } from '../views/LinkNotice.js';
import { MfaPrompt } from '../views/MfaPrompt.js';
import { RequestCard } from '../views/RequestCard.js';
import { formatDuration } from '../lib/time.js';
import { grantUse } from '../lib/requests.js';
import './my-access.css';

const ENDED_SHOWN = 10;

export function MyAccessPage({ me }: { me: SessionJson['principal'] }) {
  const mine = useMyRequests(true);
  const entitlements = useEntitlements(true);
  const action = useRequestAction();
  const now = useNow();
  const requests = (mine.data?.requests ?? []).filter((r) => r.requester === me.id);

  // Read again the moment something is due to change by itself (a start, an end), not only at the next poll.
  const due = nextChangeAt(requests, now);
  const { refetch } = mine;
  useEffect(() => {
    if (due === undefined) return;
    const t = window.setTimeout(() => void refetch(), Math.max(0, due - Date.now()) + 300);
    return () => window.clearTimeout(t);
  }, [due, refetch]);

  const waiting = requests.filter((r) => bucketOf(r) === 'waiting');
  const live = requests.filter((r) => bucketOf(r) === 'live');
  const ended = requests.filter((r) => bucketOf(r) === 'ended').slice(0, ENDED_SHOWN);
  const target = requestParam(useSearch());
  useFocusRequest(target, mine.isSuccess);
  const shown = [...live, ...waiting, ...ended].some((r) => r.id === target);

  return (
    <section aria-labelledby="my-access-title">
      <div className="page-head">
        <h1 id="my-access-title">My access</h1>
        <a
          className="button"
          href={hrefOf('/request')}
          onClick={(e) => {
            e.preventDefault();
            navigate('/request');
          }}
        >
          Request access
        </a>
      </div>
      <LinkNotice notice={target !== undefined && mine.isSuccess && !shown ? { tone: 'info', text: mineNotFoundText } : undefined} />
      {mine.isError && <ErrorNotice error={mine.error} title="Your requests could not be loaded" />}
      {action.isError && <ErrorNotice error={action.error} title="That did not work" />}
      {mine.isPending ? (
        <p aria-busy="true">Loading your requests…</p>
      ) : (
        <>
          <h2>Active and scheduled</h2>
          {live.length === 0 ? (
            <p className="empty">No access right now.</p>
          ) : (
            live.map((r) => (
              <RequestCard key={r.id} request={r} now={now} targeted={r.id === target}>
                {r.status === 'active' && <UseGrant request={r} now={now} entitlements={entitlements.data?.entitlements ?? []} />}
                {r.status === 'active' && (
                  <button type="button" className="secondary" disabled={action.isPending} onClick={() => action.mutate({ id: r.id, action: 'release' })}>
                    Release now
                  </button>
                )}
                {r.status === 'scheduled' && (
                  <button type="button" className="secondary" disabled={action.isPending} onClick={() => action.mutate({ id: r.id, action: 'cancel' })}>
                    Cancel
                  </button>
                )}
              </RequestCard>
            ))
          )}
          <h2>Waiting for approval</h2>
          {waiting.length === 0 ? (
            <p className="empty">Nothing is waiting for approval.</p>
          ) : (
            waiting.map((r) => (
              <RequestCard key={r.id} request={r} now={now} targeted={r.id === target}>
                <button type="button" className="secondary" disabled={action.isPending} onClick={() => action.mutate({ id: r.id, action: 'cancel' })}>
                  Cancel request
                </button>
              </RequestCard>
            ))
          )}
          <h2>Ended recently</h2>
          {ended.length === 0 ? (
            <p className="empty">Nothing has ended yet.</p>
          ) : (
            ended.map((r) => <RequestCard key={r.id} request={r} now={now} targeted={r.id === target} />)
          )}
        </>
      )}
    </section>
  );
}

/** Using an active grant: the command that uses it, its credentials on demand, and more time. */
function UseGrant({ request: r, now, entitlements }: { request: RequestJson; now: number; entitlements: EntitlementJson[] }) {
  const use = grantUse(r, entitlements);
  const stepUp = useStepUp();
  const extend = useExtend();
  const [credentials, setCredentials] = useState<CredentialsJson | null>(null);
  const [fetching, setFetching] = useState(false);
  const [credError, setCredError] = useState<unknown>(null);
  const [extending, setExtending] = useState(false);
  // Credentials never outlive the grant: dropped at its end (this component goes when it ends
  // early, and with the page), and never shown past expiresAt.
  const ended = r.status !== 'active' || (r.expiresAt !== null && Date.parse(r.expiresAt) <= now);
  useEffect(() => {
    if (!credentials || r.expiresAt === null) return;
    const t = window.setTimeout(() => setCredentials(null), Math.max(0, Date.parse(r.expiresAt) - Date.now()));
    return () => window.clearTimeout(t);
  }, [credentials, r.expiresAt]);

  const show = () => {
    setFetching(true);
    setCredError(null);
    stepUp
      .run((mfa) => fetchCredentials(r.id, mfa))
      .then((c) => setCredentials(c ?? null))
      .catch((e: unknown) => setCredError(e))
      .finally(() => setFetching(false));
  };

  return (
    <div className="use-grant">
      {use.commands.map((c) => (
        <p key={c} className="command">
          <span>Use it: </span>
          <CopyText value={c} label="the command" />
        </p>
      ))}
      {use.delivers && !ended && (
        <CredentialsPanel credentials={ended ? null : credentials} busy={fetching} error={credError} onShow={show} onHide={() => setCredentials(null)} />
      )}
      {stepUp.prompt && <MfaPrompt key={stepUp.prompt.need.digest} prompt={stepUp.prompt} />}
      {r.pendingExtension && <p className="notice">Asked for {formatDuration(r.pendingExtension.durationSeconds * 1000)} more: waiting for an approver.</p>}
      {use.extension?.allowed && !r.pendingExtension && !extending && (
        <button type="button" className="secondary" onClick={() => setExtending(true)}>
          Extend
        </button>
      )}
      {extending && use.extension && (
        <ExtendForm
          maxTotalMs={use.extension.maxTotal}
          requiresApproval={use.extension.requiresApproval}
          busy={extend.isPending}
          error={extend.error}
          onCancel={() => setExtending(false)}
          onExtend={(v) => extend.mutate({ id: r.id, ...v }, { onSuccess: () => setExtending(false) })}
        />
      )}
    </div>
  );
}
