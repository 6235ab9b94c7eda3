/**
 * Audit (auditors and admins): the log filtered by person, request, type and time, kept in the
 * URL so a filtered view can be linked; one request's story as a timeline; the chain's status
 * with its head and the newest signed checkpoint; exports with the same filters. Whoever lacks
 * the role gets the API's 403 in words.
 */
import { useEffect, useRef } from 'react';
import { useAuditEvents, useAuditHead, useLatestCheckpoint, useRequestStory, useVerifyChain } from '../api/audit.js';
import { ApiError } from '../api/client.js';
import type { SessionJson } from '../api/types.js';
import { exportPath, filterText, NO_FILTER, searchOf, viewFromSearch, type AuditFilter, type AuditView } from '../lib/audit.js';
import { mount } from '../lib/base.js';
import { hrefOf, setSearch, useSearch } from '../lib/router.js';
import { useNow } from '../lib/useNow.js';
import { AuditFilters } from '../views/AuditFilters.js';
import { AuditTable } from '../views/AuditTable.js';
import { ChainStatus } from '../views/ChainStatus.js';
import { RequestTimeline } from '../views/RequestTimeline.js';
import './audit.css';

const isForbidden = (e: unknown) => e instanceof ApiError && e.status === 403;

export function AuditPage({ me }: { me: SessionJson['principal'] }) {
  const search = useSearch();
  const view = viewFromSearch(search);
  const { filter, story } = view;
  const now = useNow(30_000);

  const events = useAuditEvents(filter);
  const storyEvents = useRequestStory(story);
  const head = useAuditHead();
  const checkpoint = useLatestCheckpoint();
  const verify = useVerifyChain();

  const go = (next: AuditView) => setSearch(searchOf(next));
  const hrefFor = (next: AuditView) => hrefOf('/audit', searchOf(next));
  const openStory = (id: string) => go({ filter, story: id });

  // A story opened by a click (or a linked URL) takes focus, so the timeline is where one lands.
  const storyHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (story) storyHeading.current?.focus();
  }, [story]);

  if (isForbidden(events.error) || isForbidden(head.error)) {
    const err = (isForbidden(events.error) ? events.error : head.error) as ApiError;
    return (
      <section aria-labelledby="audit-title" className="audit">
        <h1 id="audit-title">Audit</h1>
        <div className="notice error" role="alert">
          <strong>You cannot read the audit log.</strong> It needs the auditor or admin role, and {me.id} has neither. {err.message}
          <span className="code"> ({err.code})</span>
        </div>
      </section>
    );
  }

  const list = events.data?.pages.flatMap((p) => p.events) ?? [];
  const applied = (f: AuditFilter) => go({ filter: f, story });

  return (
    <section aria-labelledby="audit-title" className="audit">
      <h1 id="audit-title">Audit</h1>

      <ChainStatus
        head={{ data: head.data, error: head.error }}
        checkpoint={{ data: checkpoint.data, error: checkpoint.error }}
        verify={{ running: verify.isPending, checked: verify.checked, result: verify.data, error: verify.error, onVerify: () => verify.mutate() }}
        now={now}
      />

      <AuditFilters key={searchOf({ filter, story: '' })} filter={filter} onApply={applied} onClear={() => go({ filter: NO_FILTER, story })} />

      <section aria-labelledby="export-title" className="export">
        <h2 id="export-title">Export</h2>
        <p>
          Every event matching {filterText(filter)}, oldest first, each with its <code>seq</code> and <code>hash</code>:{' '}
          <a href={`${mount}${exportPath(filter, 'csv')}`} download>
            Download CSV
          </a>{' '}
          ·{' '}
          <a href={`${mount}${exportPath(filter, 'jsonl')}`} download>
            Download JSON Lines
          </a>
        </p>
      </section>

      {story && (
        <RequestTimeline
          ref={storyHeading}
          requestId={story}
          events={storyEvents.data?.events}
          complete={storyEvents.data?.complete ?? true}
          loading={storyEvents.isPending}
          error={storyEvents.error}
          now={now}
          filterHref={hrefFor({ filter: { ...NO_FILTER, requestId: story }, story })}
          onFilter={() => go({ filter: { ...NO_FILTER, requestId: story }, story })}
          onClose={() => go({ filter, story: '' })}
        />
      )}

      <section aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        <AuditTable
          events={list}
          selection={filterText(filter)}
          now={now}
          loading={events.isPending}
          error={events.error}
          hasMore={events.hasNextPage}
          loadingMore={events.isFetchingNextPage}
          onLoadMore={() => void events.fetchNextPage()}
          storyHref={(id) => hrefFor({ filter, story: id })}
          onOpenStory={openStory}
        />
      </section>
    </section>
  );
}
