/**
 * Live grants as a table: who, what, where it stands with a countdown, why, approved by whom, and
 * Revoke for those who may (admins). On a phone each row reads as a card (live-access.css).
 */
import type { RequestJson } from '../api/types.js';
import { approvedByText, grantLabel, timeText } from '../lib/live-access.js';
import { STATUS_LABEL } from '../lib/requests.js';
import { localTime } from '../lib/time.js';

export interface GrantTableProps {
  rows: readonly RequestJson[];
  now: number;
  /** Shown to admins only: opens the revoke confirmation. */
  onRevoke?: (r: RequestJson) => void;
  /** What the table holds (its accessible name). */
  caption: string;
}

export function GrantTable({ rows, now, onRevoke, caption }: GrantTableProps) {
  return (
    <table className="grants" aria-label={caption}>
      <thead>
        <tr>
          <th scope="col">Person</th>
          <th scope="col">Access</th>
          <th scope="col">Status</th>
          <th scope="col">Time</th>
          <th scope="col">Reason</th>
          <th scope="col">Approved by</th>
          {onRevoke && <th scope="col">Actions</th>}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const at = r.status === 'scheduled' ? r.startAt : r.expiresAt;
          return (
            <tr key={r.id} className={`status-${r.status}`}>
              <th scope="row" data-label="Person">
                {r.requester}
              </th>
              <td data-label="Access">
                <span className="entitlements">{r.entitlements.join(', ')}</span>
                <span className="policy">
                  policy {r.policy}
                  {r.breakGlass && <span className="badge break-glass">break-glass</span>}
                </span>
              </td>
              <td data-label="Status">
                <span className={`badge status-${r.status}`}>{STATUS_LABEL[r.status]}</span>
              </td>
              <td data-label="Time">
                <span className="countdown" role="timer">
                  {timeText(r, now)}
                </span>
                {at && (
                  <span className="at">
                    {r.status === 'scheduled' ? 'from ' : 'until '}
                    <time dateTime={at}>{localTime(Date.parse(at))}</time>
                  </span>
                )}
              </td>
              <td data-label="Reason">
                {r.reason ?? <span className="empty">none given</span>}
                {r.ticket && <span className="ticket">ticket {r.ticket}</span>}
              </td>
              <td data-label="Approved by">{approvedByText(r)}</td>
              {onRevoke && (
                <td data-label="Actions">
                  <button type="button" className="danger" aria-label={`Revoke ${grantLabel(r)}`} onClick={() => onRevoke(r)}>
                    Revoke
                  </button>
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
