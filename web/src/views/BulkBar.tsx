/** Several requests decided at once with one comment, and each one's outcome (announced). */
import { useEffect, useId, useRef } from 'react';
import { bulkSummary, type BulkOutcome, type Decision } from '../lib/approvals.js';

export function BulkBar({
  total,
  selected,
  state,
  onToggleAll,
  comment,
  onComment,
  onDecide,
  busy,
  result,
}: {
  total: number;
  selected: number;
  state: 'none' | 'some' | 'all';
  onToggleAll(): void;
  comment: string;
  onComment(text: string): void;
  onDecide(action: Decision): void;
  busy: boolean;
  result: { action: Decision; outcomes: BulkOutcome[] } | undefined;
}) {
  const all = useRef<HTMLInputElement>(null);
  const commentId = useId();
  useEffect(() => {
    if (all.current) all.current.indeterminate = state === 'some';
  }, [state]);
  return (
    <div className="card bulk" role="group" aria-label="Decide several requests at once">
      <label className="check">
        <input ref={all} type="checkbox" checked={state === 'all'} onChange={onToggleAll} />
        Select all ({total})
      </label>
      <label htmlFor={commentId}>Comment for the selected requests (optional)</label>
      <input id={commentId} value={comment} maxLength={1000} onChange={(e) => onComment(e.target.value)} />
      <div className="buttons">
        <button type="button" disabled={busy || selected === 0} onClick={() => onDecide('approve')}>
          Approve selected ({selected})
        </button>
        <button type="button" className="danger" disabled={busy || selected === 0} onClick={() => onDecide('deny')}>
          Deny selected ({selected})
        </button>
      </div>
      <div role="status" className="bulk-result">
        {busy && <p>Deciding…</p>}
        {result && !busy && (
          <>
            <p>
              <strong>{bulkSummary(result.action, result.outcomes)}.</strong>
            </p>
            <ul className="outcomes">
              {result.outcomes.map((o) => (
                <li key={o.id} className={o.ok ? 'ok' : 'failed'}>
                  {o.label}: {o.ok ? (result.action === 'approve' ? 'approved' : 'denied') : `not decided. ${o.message ?? ''}`}
                  {!o.ok && o.code && <span className="code"> ({o.code})</span>}
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
    </div>
  );
}
