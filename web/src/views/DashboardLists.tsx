/** The Dashboard's lists: latest break-glass uses with their review, grants ending within the hour, removals overdue. Each row links to the request's story (Audit). */
import type { StatsJson } from '../api/stats.js';
import { REVIEW_TEXT } from '../lib/stats.js';
import { formatRemaining, localTime, relativeTime } from '../lib/time.js';
import { AppLink } from './AppLink.js';

const story = (id: string) => `?story=${encodeURIComponent(id)}`;

function When({ at, now }: { at: string; now: number }) {
  const ms = Date.parse(at);
  return (
    <time dateTime={at} title={localTime(ms)}>
      {relativeTime(ms, now)}
    </time>
  );
}

function StoryLink({ id }: { id: string }) {
  return (
    <AppLink page="/audit" search={story(id)} label={`Story of request ${id}`}>
      <code>{id}</code>
    </AppLink>
  );
}

export function BreakGlassList({ uses, count, now }: { uses: StatsJson['breakGlass']['latest']; count: number; now: number }) {
  if (uses.length === 0) return <p className="empty">No break-glass use in the period.</p>;
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label="Latest break-glass uses">
      <table>
        <caption>{count > uses.length ? `The latest ${uses.length} of ${count}, newest first` : 'Newest first'}</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Entitlements</th>
            <th scope="col">Review</th>
            <th scope="col">Request</th>
          </tr>
        </thead>
        <tbody>
          {uses.map((u, i) => (
            <tr key={u.requestId ?? i}>
              <td>
                <When at={u.at} now={now} />
              </td>
              <td>{u.requester}</td>
              <td>{u.entitlements.join(', ')}</td>
              <td>
                <span className={`badge review-${u.review.state}`}>{REVIEW_TEXT[u.review.state]}</span>
                {u.review.state === 'reviewed' && u.review.by && <span className="hint"> by {u.review.by}</span>}
                {(u.review.state === 'pending' || u.review.state === 'overdue') && u.review.dueAt && (
                  <span className="hint">
                    {' '}
                    due <When at={u.review.dueAt} now={now} />
                  </span>
                )}
              </td>
              <td>{u.requestId ? <StoryLink id={u.requestId} /> : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ExpiringList({ expiring, now }: { expiring: StatsJson['expiringSoon']; now: number }) {
  if (expiring.count === 0) return <p className="empty">No grant ends within the next hour.</p>;
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label="Grants expiring within the hour">
      <table>
        <caption>
          {expiring.count > expiring.grants.length ? `The first ${expiring.grants.length} of ${expiring.count}, soonest first` : 'Soonest first'}.{' '}
          <AppLink page="/live">Extend or revoke on Live access</AppLink>
        </caption>
        <thead>
          <tr>
            <th scope="col">Ends in</th>
            <th scope="col">Who</th>
            <th scope="col">Entitlement</th>
            <th scope="col">Request</th>
          </tr>
        </thead>
        <tbody>
          {expiring.grants.map((g) => (
            <tr key={`${g.requestId} ${g.entitlement}`}>
              <td>
                <time dateTime={g.expiresAt} title={localTime(Date.parse(g.expiresAt))} className="countdown">
                  {formatRemaining(Date.parse(g.expiresAt) - now)}
                </time>
              </td>
              <td>{g.principal}</td>
              <td>
                <code>{g.entitlement}</code>
              </td>
              <td>
                <StoryLink id={g.requestId} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function OverdueList({ overdue, now }: { overdue: StatsJson['revocationsOverdue']; now: number }) {
  if (overdue.count === 0) return <p className="empty">No removal is overdue: every ended grant has left its targets in time.</p>;
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label="Overdue removals">
      <table>
        <caption>Ended grants still on a target, oldest first; Hourglass keeps retrying.</caption>
        <thead>
          <tr>
            <th scope="col">Removing since</th>
            <th scope="col">Who</th>
            <th scope="col">Entitlements</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last error</th>
            <th scope="col">Request</th>
          </tr>
        </thead>
        <tbody>
          {overdue.requests.map((r) => (
            <tr key={r.requestId}>
              <td>{r.removingSince ? <When at={r.removingSince} now={now} /> : '–'}</td>
              <td>{r.requester}</td>
              <td>{r.entitlements.join(', ')}</td>
              <td>
                {r.attempts}
                {r.alerted && <span className="badge review-overdue"> alert raised</span>}
              </td>
              <td>{r.lastError ?? '–'}</td>
              <td>
                <StoryLink id={r.requestId} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
