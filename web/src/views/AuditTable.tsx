/**
 * Audit events as a table, oldest first: when (local and relative), type, who, the request (a
 * link that opens its story), what the details say, and the raw event on demand.
 */
import type { MouseEvent } from 'react';
import { rawJson, summarize, type AuditEventJson } from '../lib/audit.js';
import { localTime, relativeTime } from '../lib/time.js';
import { ErrorNotice } from './ErrorNotice.js';

export interface AuditTableProps {
  events: AuditEventJson[];
  /** What the filters select, in words, for the caption. */
  selection: string;
  now: number;
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore(): void;
  storyHref(requestId: string): string;
  onOpenStory(requestId: string): void;
}

/** A link that works as a link (new tab, copy address) and opens the story in place on a plain click. */
export function StoryLink({ id, href, onOpen, children }: { id: string; href: string; onOpen(id: string): void; children: string }) {
  const click = (e: MouseEvent) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    onOpen(id);
  };
  return (
    <a href={href} onClick={click} className="mono">
      {children}
    </a>
  );
}

export function EventTime({ at, now }: { at: string; now: number }) {
  const ms = Date.parse(at);
  return (
    <time dateTime={at} className="event-time">
      <span>{localTime(ms)}</span> <span className="relative">{relativeTime(ms, now)}</span>
    </time>
  );
}

export function AuditTable(p: AuditTableProps) {
  if (p.error && p.events.length === 0) return <ErrorNotice error={p.error} title="The audit log could not be read" />;
  return (
    <>
      {p.events.length > 0 && (
        <div className="audit-table-wrap">
          <table className="audit-table">
            <caption>Audit events: {p.selection}, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Type</th>
                <th scope="col">Person</th>
                <th scope="col">Request</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {p.events.map((e) => {
                const summary = summarize(e);
                return (
                  <tr key={e.id}>
                    <td data-label="Time">
                      <EventTime at={e.at} now={p.now} />
                      {e.seq !== null ? <span className="seq">#{e.seq}</span> : <span className="seq unchained">outside the chain</span>}
                    </td>
                    <td data-label="Type">
                      <code>{e.type}</code>
                    </td>
                    <td data-label="Person">{e.actor}</td>
                    <td data-label="Request">
                      {e.requestId ? (
                        <StoryLink id={e.requestId} href={p.storyHref(e.requestId)} onOpen={p.onOpenStory}>
                          {e.requestId}
                        </StoryLink>
                      ) : (
                        <span className="none">none</span>
                      )}
                    </td>
                    <td data-label="Details" className="details-cell">
                      {summary ? <span className="summary">{summary}</span> : <span className="none">no details</span>}
                      <details className="raw">
                        <summary>
                          Raw JSON<span className="vh"> of event {e.seq ?? e.id}</span>
                        </summary>
                        <pre>{rawJson(e)}</pre>
                      </details>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {p.loading ? <p aria-busy="true">Loading…</p> : p.events.length === 0 ? <p className="empty">No event matches these filters.</p> : null}
      {p.error != null && p.events.length > 0 && <ErrorNotice error={p.error} title="More events could not be read" />}
      <p role="status" className="hint">
        {p.loading ? '' : `${p.events.length} ${p.events.length === 1 ? 'event' : 'events'} shown${p.hasMore ? '; more match' : ''}.`}
      </p>
      {p.hasMore && (
        <button type="button" className="secondary" onClick={p.onLoadMore} disabled={p.loadingMore} aria-busy={p.loadingMore || undefined}>
          {p.loadingMore ? 'Loading more…' : 'Load more'}
        </button>
      )}
    </>
  );
}
