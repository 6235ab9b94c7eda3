/**
 * One request's whole story, in chain order: submitted, approved, activated, ..., expired or
 * revoked; each step with who and when and what its details say.
 */
import { forwardRef, type MouseEvent } from 'react';
import { stepLabel, summarize, toneOf, type AuditEventJson } from '../lib/audit.js';
import { ErrorNotice } from './ErrorNotice.js';
import { EventTime } from './AuditTable.js';

export interface RequestTimelineProps {
  requestId: string;
  events: AuditEventJson[] | undefined;
  /** False when the story was longer than the UI reads at once. */
  complete: boolean;
  loading: boolean;
  error: unknown;
  now: number;
  filterHref: string;
  onFilter(): void;
  onClose(): void;
}

/** The heading takes focus when a story opens, so keyboard and screen-reader users land on it. */
export const RequestTimeline = forwardRef<HTMLHeadingElement, RequestTimelineProps>(function RequestTimeline(p, headingRef) {
  const filter = (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    p.onFilter();
  };
  const titleId = `story-${p.requestId}`;
  return (
    <section className="story card" aria-labelledby={titleId}>
      <div className="story-head">
        <h2 id={titleId} ref={headingRef} tabIndex={-1}>
          Story of request <span className="mono">{p.requestId}</span>
        </h2>
        <button type="button" className="secondary" onClick={p.onClose}>
          Close story
        </button>
      </div>
      {p.error != null && <ErrorNotice error={p.error} title="The request's events could not be read" />}
      {p.loading ? (
        <p aria-busy="true">Loading…</p>
      ) : p.events && p.events.length === 0 ? (
        <p className="empty">The audit log has no event for this request.</p>
      ) : p.events ? (
        <ol className="timeline" aria-label={`Events of request ${p.requestId}, oldest first`}>
          {p.events.map((e) => {
            const summary = summarize(e);
            return (
              <li key={e.id} className={`step tone-${toneOf(e.type)}`}>
                <div className="step-head">
                  <strong>{stepLabel(e.type)}</strong> <span className="by">by {e.actor}</span>
                </div>
                <div className="step-meta">
                  <EventTime at={e.at} now={p.now} /> · <code>{e.type}</code>
                  {e.seq !== null && <span className="seq"> #{e.seq}</span>}
                </div>
                {summary && <p className="step-summary">{summary}</p>}
              </li>
            );
          })}
        </ol>
      ) : null}
      {!p.complete && <p className="hint">Only the first events are shown; filter the log by this request to page through all of them.</p>}
      <p>
        <a href={p.filterHref} onClick={filter}>
          Show only this request’s events in the table
        </a>
      </p>
    </section>
  );
});
