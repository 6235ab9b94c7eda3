/**
 * Your open sessions: where each runs, how it signed in, when it was last seen and when it ends,
 * this browser's marked; Sign out for each.
 */
import type { SessionInfoJson } from '../api/profile.js';
import { amrText, sessionTitle, sourceText, sortSessions } from '../lib/profile.js';
import { localTime } from '../lib/time.js';
import { When } from './When.js';

export interface SessionListProps {
  sessions: readonly SessionInfoJson[];
  now: number;
  /** The session being signed out, whose button is busy. */
  busyId?: string;
  onSignOut(s: SessionInfoJson): void;
}

export function SessionList({ sessions, now, busyId, onSignOut }: SessionListProps) {
  if (sessions.length === 0) return <p className="empty">No open sessions.</p>;
  return (
    <ul className="plain profile-list">
      {sortSessions(sessions).map((s) => {
        const title = sessionTitle(s);
        return (
          <li key={s.id} className={`card session${s.current ? ' current' : ''}`} aria-label={s.current ? `${title} (this session)` : title}>
            <div className="row-head">
              <h3>{title}</h3>
              {s.current && <span className="badge this-session">This session</span>}
            </div>
            <dl className="facts">
              <dt>Signed in with</dt>
              <dd>
                {sourceText(s.source)}; methods: {amrText(s.amr)}
              </dd>
              <dt>Started</dt>
              <dd>
                <When at={s.createdAt} now={now} past />
              </dd>
              <dt>Last seen</dt>
              <dd>
                <When at={s.lastSeenAt} now={now} past />
              </dd>
              <dt>Ends</dt>
              <dd>
                <When at={s.expiresAt} now={now} /> at the latest
              </dd>
              {s.ip && (
                <>
                  <dt>Address</dt>
                  <dd>{s.ip}</dd>
                </>
              )}
              {s.userAgent && (
                <>
                  <dt>User agent</dt>
                  <dd className="user-agent">{s.userAgent}</dd>
                </>
              )}
            </dl>
            <button
              type="button"
              className="secondary"
              disabled={busyId === s.id}
              aria-busy={busyId === s.id || undefined}
              aria-label={s.current ? 'Sign out this session' : `Sign out ${title}, started ${localTime(Date.parse(s.createdAt))}`}
              onClick={() => onSignOut(s)}
            >
              {s.current ? 'Sign out this session' : 'Sign out'}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
