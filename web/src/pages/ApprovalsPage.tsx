/**
 * Approvals: every request the caller may decide, each with what it gives on the target, the
 * requester's history and risk hints; approve or deny one with a comment, or several at once;
 * and the break-glass grants awaiting the caller's review. Opened from a notification
 * (`?request=ID#link=...`): the link is redeemed once and that request's card focused.
 */
import { useId, useState } from 'react';
import { useBulkDecision, useContextsSettled, useRequestContext, useReview, useReviewable } from '../api/approvals.js';
import { useApprovable, useRequestAction } from '../api/hooks.js';
import { useApprovalLink } from '../api/links.js';
import { useStepUp } from '../api/mfa.js';
import type { RequestJson, SessionJson } from '../api/types.js';
import { approvalLinkNotice, requestParam } from '../lib/links.js';
import { useSearch } from '../lib/router.js';
import { useFocusRequest } from '../lib/useFocusRequest.js';
import { pruneSelection, requestLabel, selectionState, toggleAll, toggleOne, type BulkOutcome, type Decision } from '../lib/approvals.js';
import { formatDuration } from '../lib/time.js';
import { useNow } from '../lib/useNow.js';
import { ApprovalContext } from '../views/ApprovalContext.js';
import { BulkBar } from '../views/BulkBar.js';
import { DecisionError } from '../views/DecisionError.js';
import { MfaPrompt } from '../views/MfaPrompt.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { LinkNotice } from '../views/LinkNotice.js';
import { RequestCard } from '../views/RequestCard.js';
import { ReviewCard } from '../views/ReviewCard.js';
import './approvals.css';

export function ApprovalsPage({ me }: { me: SessionJson['principal'] }) {
  const approvable = useApprovable(true);
  const reviewable = useReviewable(true);
  const now = useNow();
  const requests = (approvable.data?.requests ?? []).filter((r) => r.requester !== me.id);
  const reviews = (reviewable.data?.requests ?? []).filter((r) => r.requester !== me.id);
  const ids = requests.map((r) => r.id);
  const link = useApprovalLink();
  const search = useSearch();
  // The server's answer names the request the link was sent for; the query string is only what the URL says.
  const target = link.requestId ?? requestParam(search);

  const [picked, setPicked] = useState<Set<string>>(new Set());
  const selected = pruneSelection(picked, ids);
  const [bulkComment, setBulkComment] = useState('');
  const bulk = useBulkDecision();
  const [result, setResult] = useState<{ action: Decision; outcomes: BulkOutcome[] }>();
  const decideSelected = (action: Decision) => {
    const chosen = requests.filter((r) => selected.has(r.id)).map((r) => ({ id: r.id, label: requestLabel(r) }));
    setResult(undefined);
    bulk.mutate(
      { action, comment: bulkComment, requests: chosen },
      {
        onSuccess: (outcomes) => {
          setResult({ action, outcomes });
          setPicked(new Set(outcomes.filter((o) => !o.ok).map((o) => o.id)));
        },
      },
    );
  };

  // Drawn once everything on it is known, so cards do not grow under the reader's eyes.
  const settled = useContextsSettled([...ids, ...reviews.map((r) => r.id)]) && !approvable.isPending && !reviewable.isPending;
  useFocusRequest(target, settled && link.settled, link.seq);
  const found = target !== undefined && (ids.includes(target) || reviews.some((r) => r.id === target));
  // Said once the page and the link's answer are both known; the status region is there from the start.
  const notice = settled && link.settled && target !== undefined ? approvalLinkNotice(link.outcome, found, me.id) : undefined;
  const linkStatus = <LinkNotice notice={notice} error={link.error} errorTitle="The link from your notification could not be checked" />;
  if (!settled) {
    return (
      <section aria-labelledby="approvals-title" className="approvals">
        <h1 id="approvals-title">Approvals</h1>
        {linkStatus}
        <p aria-busy="true">Loading…</p>
      </section>
    );
  }

  return (
    <section aria-labelledby="approvals-title" className="approvals">
      <h1 id="approvals-title">Approvals</h1>
      {linkStatus}

      <section aria-labelledby="decide-title">
        <h2 id="decide-title">Waiting for your decision</h2>
        {approvable.isError && <ErrorNotice error={approvable.error} title="The requests could not be loaded" />}
        {(requests.length > 1 || result) && (
          <BulkBar
            total={requests.length}
            selected={selected.size}
            state={selectionState(selected, ids)}
            onToggleAll={() => setPicked(toggleAll(selected, ids))}
            comment={bulkComment}
            onComment={setBulkComment}
            onDecide={decideSelected}
            busy={bulk.isPending}
            result={result}
          />
        )}
        {approvable.isPending ? (
          <p aria-busy="true">Loading…</p>
        ) : requests.length === 0 ? (
          <p className="empty">Nothing is waiting for your decision.</p>
        ) : (
          requests.map((r) => (
            <DecisionCard
              key={r.id}
              request={r}
              now={now}
              selectable={requests.length > 1}
              selected={selected.has(r.id)}
              onSelect={() => setPicked(toggleOne(selected, r.id))}
              targeted={r.id === target}
            />
          ))
        )}
      </section>

      <section aria-labelledby="review-title">
        <h2 id="review-title">Break-glass grants to review</h2>
        {reviewable.isError && <ErrorNotice error={reviewable.error} title="The grants to review could not be loaded" />}
        {reviewable.isPending ? (
          <p aria-busy="true">Loading…</p>
        ) : reviews.length === 0 ? (
          <p className="empty">No break-glass grant is waiting for your review.</p>
        ) : (
          reviews.map((r) => <Review key={r.id} request={r} now={now} targeted={r.id === target} />)
        )}
      </section>
    </section>
  );
}

/** The context of one request, read when its card is shown. */
function Context({ request, now }: { request: RequestJson; now: number }) {
  const context = useRequestContext(request.id);
  return <ApprovalContext requester={request.requester} context={context.data} loading={context.isPending} error={context.error} now={now} />;
}

function DecisionCard({
  request,
  now,
  selectable,
  selected,
  onSelect,
  targeted,
}: {
  request: RequestJson;
  now: number;
  selectable: boolean;
  selected: boolean;
  onSelect(): void;
  targeted: boolean;
}) {
  const action = useRequestAction();
  const stepUp = useStepUp();
  const [comment, setComment] = useState('');
  const id = useId();
  const decide = (what: Decision) => {
    const body = comment.trim() ? { comment: comment.trim() } : {};
    if (what === 'deny') return action.mutate({ id: request.id, action: what, body });
    // Approving may need step-up MFA bound to this request: the prompt asks, then the approval is sent again with the proof.
    void stepUp.run((mfa) => action.mutateAsync({ id: request.id, action: what, body: mfa ? { ...body, mfa } : body })).catch(() => {});
  };
  const ext = request.status === 'active' ? request.pendingExtension : null;
  return (
    <div className={`approval${selected ? ' selected' : ''}`}>
      <RequestCard request={request} now={now} heading="h3" targeted={targeted}>
        {selectable && (
          <label className="check select">
            <input type="checkbox" checked={selected} onChange={onSelect} />
            Select {requestLabel(request)}
          </label>
        )}
        {ext && (
          <p className="notice">
            {ext.by} asks to extend this grant by {formatDuration(ext.durationSeconds * 1000)}
            {ext.reason ? `: ${ext.reason}` : ''}.
          </p>
        )}
        <Context request={request} now={now} />
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
        {action.isError && !stepUp.prompt && <DecisionError error={action.error} />}
        {stepUp.prompt && <MfaPrompt key={stepUp.prompt.need.digest} prompt={stepUp.prompt} />}
      </RequestCard>
    </div>
  );
}

function Review({ request, now, targeted }: { request: RequestJson; now: number; targeted: boolean }) {
  const review = useReview();
  return (
    <ReviewCard
      request={request}
      now={now}
      context={<Context request={request} now={now} />}
      onReview={(comment) => review.mutate({ id: request.id, comment })}
      busy={review.isPending}
      error={review.isError ? review.error : null}
      targeted={targeted}
    />
  );
}
