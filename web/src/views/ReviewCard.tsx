/** A break-glass grant awaiting the reviewer: what happened, and a review with a required comment. */
import { useId, useState, type ReactNode } from 'react';
import type { RequestJson } from '../api/types.js';
import { localTime, relativeTime } from '../lib/time.js';
import { DecisionError } from './DecisionError.js';
import { RequestCard } from './RequestCard.js';

export function ReviewCard({
  request,
  now,
  context,
  onReview,
  busy,
  error,
  targeted,
}: {
  request: RequestJson;
  now: number;
  context: ReactNode;
  onReview(comment: string): void;
  busy: boolean;
  error: unknown;
  /** The request a notification linked to (RequestCard's `targeted`). */
  targeted?: boolean;
}) {
  const [comment, setComment] = useState('');
  const [missing, setMissing] = useState(false);
  const id = useId();
  const due = request.reviewDueAt ? Date.parse(request.reviewDueAt) : undefined;
  const submit = () => {
    if (!comment.trim()) {
      setMissing(true);
      return;
    }
    setMissing(false);
    onReview(comment.trim());
  };
  return (
    <div className="approval review">
      <RequestCard request={request} now={now} heading="h3" targeted={targeted}>
        {due !== undefined && (
          <p className={due < now ? 'notice error' : 'hint'}>
            Review {due < now ? 'was due' : 'due'}{' '}
            <time dateTime={request.reviewDueAt!} title={localTime(due)}>
              {relativeTime(due, now)}
            </time>
            .
          </p>
        )}
        {context}
        <label htmlFor={id}>Review comment (required)</label>
        <textarea
          id={id}
          value={comment}
          maxLength={1000}
          required
          aria-invalid={missing || undefined}
          aria-describedby={missing ? `${id}-missing` : undefined}
          onChange={(e) => setComment(e.target.value)}
        />
        {missing && (
          <p id={`${id}-missing`} className="field-error" role="alert">
            Say what you checked: a review needs a comment.
          </p>
        )}
        <div className="buttons">
          <button type="button" disabled={busy} onClick={submit}>
            Review
          </button>
        </div>
        {error != null && <DecisionError error={error} title="Not reviewed" />}
      </RequestCard>
    </div>
  );
}
