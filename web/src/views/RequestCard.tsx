/** One request or grant: what, for how long, why, where it stands, and the actions offered. */
import type { ReactNode } from 'react';
import type { RequestJson } from '../api/types.js';
import { awaitingText, STATUS_LABEL } from '../lib/requests.js';
import { formatDuration, formatRemaining, localTime, relativeTime } from '../lib/time.js';

/** `targeted`: the request a notification linked to, which the page brings into view and focuses (useFocusRequest). */
export function RequestCard({
  request: r,
  now,
  children,
  heading = 'h3',
  targeted,
}: {
  request: RequestJson;
  now: number;
  children?: ReactNode;
  heading?: 'h2' | 'h3';
  targeted?: boolean;
}) {
  const H = heading;
  const expires = r.expiresAt ? Date.parse(r.expiresAt) : undefined;
  const starts = r.startAt ? Date.parse(r.startAt) : undefined;
  return (
    <article
      className={`card request status-${r.status}${targeted ? ' targeted' : ''}`}
      aria-label={`${r.entitlements.join(', ')}: ${STATUS_LABEL[r.status]}`}
      data-request-id={r.id}
      tabIndex={targeted ? -1 : undefined}
    >
      <div className="request-head">
        <H>{r.entitlements.join(', ')}</H>
        <span className={`badge status-${r.status}`}>{STATUS_LABEL[r.status]}</span>
      </div>
      <dl className="facts">
        <dt>Requested by</dt>
        <dd>{r.requester}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(r.durationSeconds * 1000)}</dd>
        {r.reason && (
          <>
            <dt>Reason</dt>
            <dd>{r.reason}</dd>
          </>
        )}
        {r.ticket && (
          <>
            <dt>Ticket</dt>
            <dd>
              {r.ticketInfo?.url && /^https?:\/\//.test(r.ticketInfo.url) ? (
                <a href={r.ticketInfo.url} target="_blank" rel="noopener noreferrer">
                  {r.ticket}
                </a>
              ) : (
                r.ticket
              )}
              {r.ticketInfo && (
                <>
                  {': '}
                  {r.ticketInfo.summary}{' '}
                  <span className="hint">
                    ({r.ticketInfo.state} in {r.ticketInfo.system})
                  </span>
                </>
              )}
            </dd>
          </>
        )}
        <dt>Policy</dt>
        <dd>{r.policy}</dd>
        <dt>Requested</dt>
        <dd>
          <time dateTime={r.requestedAt} title={localTime(Date.parse(r.requestedAt))}>
            {relativeTime(Date.parse(r.requestedAt), now)}
          </time>
        </dd>
        {r.status === 'scheduled' && starts !== undefined && (
          <>
            <dt>Starts</dt>
            <dd>
              <time dateTime={r.startAt!}>{localTime(starts)}</time> ({relativeTime(starts, now)})
            </dd>
          </>
        )}
        {r.status === 'active' && expires !== undefined && (
          <>
            <dt>Ends</dt>
            <dd>
              <time dateTime={r.expiresAt!} title={localTime(expires)}>
                {localTime(expires)}
              </time>
              {' · '}
              <span className="countdown" role="timer" aria-label={`time left: ${formatRemaining(expires - now)}`}>
                {expires > now ? `${formatRemaining(expires - now)} left` : 'ending now…'}
              </span>
            </dd>
          </>
        )}
        {r.endedAt && (
          <>
            <dt>Ended</dt>
            <dd>
              <time dateTime={r.endedAt} title={localTime(Date.parse(r.endedAt))}>
                {relativeTime(Date.parse(r.endedAt), now)}
              </time>
              {r.endReason ? ` · ${r.endReason}` : ''}
              {r.endedBy ? ` (by ${r.endedBy})` : ''}
            </dd>
          </>
        )}
        {r.approvals.length > 0 && (
          <>
            <dt>Approved by</dt>
            <dd>{r.approvals.map((a) => `${a.by}${a.comment ? ` (“${a.comment}”)` : ''}`).join(', ')}</dd>
          </>
        )}
        {r.decision && r.status === 'denied' && (
          <>
            <dt>Denied by</dt>
            <dd>
              {r.decision.by}
              {r.decision.comment ? ` (“${r.decision.comment}”)` : ''}
            </dd>
          </>
        )}
        {r.status === 'pending' && r.awaiting.length > 0 && (
          <>
            <dt>Waiting for</dt>
            <dd>
              <ul className="plain">
                {awaitingText(r).map((t) => (
                  <li key={t}>{t}</li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>
      {children && <div className="actions">{children}</div>}
    </article>
  );
}
