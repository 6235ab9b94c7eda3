/** Approvals: every request the caller may decide, with approve and deny (and a comment). */
import { useId, useState } from 'react';
import { useApprovable, useRequestAction } from '../api/hooks.js';
import type { RequestJson, SessionJson } from '../api/types.js';
import { useNow } from '../lib/useNow.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { RequestCard } from '../views/RequestCard.js';

export function ApprovalsPage({ me }: { me: SessionJson['principal'] }) {
  const approvable = useApprovable(true);
  const now = useNow();
  const requests = (approvable.data?.requests ?? []).filter((r) => r.requester !== me.id);
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">Approvals</h1>
      {approvable.isError && <ErrorNotice error={approvable.error} title="The requests could not be loaded" />}
      {approvable.isPending ? (
        <p aria-busy="true">Loading…</p>
      ) : requests.length === 0 ? (
        <p className="empty">Nothing is waiting for your decision.</p>
      ) : (
        requests.map((r) => <Decision key={r.id} request={r} now={now} />)
      )}
    </section>
  );
}

function Decision({ request, now }: { request: RequestJson; now: number }) {
  const action = useRequestAction();
  const [comment, setComment] = useState('');
  const id = useId();
  const decide = (what: 'approve' | 'deny') => action.mutate({ id: request.id, action: what, body: comment.trim() ? { comment: comment.trim() } : {} });
  return (
    <RequestCard request={request} now={now} heading="h2">
      <label htmlFor={id}>Comment (optional)</label>
      <input id={id} value={comment} maxLength={1000} onChange={(e) => setComment(e.target.value)} />
      <div className="buttons">
        <button type="button" disabled={action.isPending} onClick={() => decide('approve')}>
          Approve
        </button>
        <button type="button" className="danger" disabled={action.isPending} onClick={() => decide('deny')}>
          Deny
        </button>
      </div>
      {action.isError && <ErrorNotice error={action.error} title="Not decided" />}
    </RequestCard>
  );
}
