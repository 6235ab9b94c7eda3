/** My access: requests waiting for approval, grants scheduled or active (counting down), and those that ended. */
import { useEffect } from 'react';
import { useMyRequests, useRequestAction } from '../api/hooks.js';
import type { SessionJson } from '../api/types.js';
import { bucketOf, nextChangeAt } from '../lib/requests.js';
import { hrefOf, navigate } from '../lib/router.js';
import { useNow } from '../lib/useNow.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { RequestCard } from '../views/RequestCard.js';

const ENDED_SHOWN = 10;

export function MyAccessPage({ me }: { me: SessionJson['principal'] }) {
  const mine = useMyRequests(true);
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
              <RequestCard key={r.id} request={r} now={now}>
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
              <RequestCard key={r.id} request={r} now={now}>
                <button type="button" className="secondary" disabled={action.isPending} onClick={() => action.mutate({ id: r.id, action: 'cancel' })}>
                  Cancel request
                </button>
              </RequestCard>
            ))
          )}
          <h2>Ended recently</h2>
          {ended.length === 0 ? <p className="empty">Nothing has ended yet.</p> : ended.map((r) => <RequestCard key={r.id} request={r} now={now} />)}
        </>
      )}
    </section>
  );
}
