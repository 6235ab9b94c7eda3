/**
 * What an approver needs beside the request itself: what each entitlement gives on its target,
 * the requester's recent history for those entitlements, and the risk hints.
 */
import type { RequestContextJson } from '../api/approvals.js';
import { grantLines } from '../lib/approvals.js';
import { STATUS_LABEL } from '../lib/requests.js';
import { formatDuration, localTime, relativeTime } from '../lib/time.js';
import { ErrorNotice } from './ErrorNotice.js';
import { RiskHints } from './RiskHints.js';

const DAYS: Record<string, string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

export function ApprovalContext({
  requester,
  context,
  loading,
  error,
  now,
}: {
  requester: string;
  context: RequestContextJson | undefined;
  loading: boolean;
  error: unknown;
  now: number;
}) {
  if (error) return <ErrorNotice error={error} title="The request's context could not be loaded" />;
  if (loading || !context) {
    return (
      <p className="hint" aria-busy="true">
        Loading what this request gives…
      </p>
    );
  }
  const days = context.usualHours.days.map((d) => DAYS[d] ?? d);
  return (
    <div className="approval-context">
      <h4>Risk hints</h4>
      <RiskHints hints={context.hints} />
      <p className="hint">
        Usual hours: {days[0]}–{days[days.length - 1]} {context.usualHours.from}–{context.usualHours.to} ({context.usualHours.timezone}).
      </p>

      <h4>What it gives</h4>
      <ul className="plain gives">
        {context.entitlements.map((e) => {
          const lines = grantLines(e.kind, e.grants);
          return (
            <li key={e.entitlement}>
              <strong>{e.entitlement}</strong>
              {e.kind && <span className="kind"> · {e.kind} target</span>}
              {e.description && <span> · {e.description}</span>}
              {lines.length > 0 ? (
                <dl className="facts grants">
                  {lines.map((l) => (
                    <div key={l.label} className="grant-line">
                      <dt>{l.label}</dt>
                      <dd>
                        <code>{l.value}</code>
                      </dd>
                    </div>
                  ))}
                </dl>
              ) : (
                <p className="hint">
                  {e.kind === 'hourglass'
                    ? 'Access recorded in Hourglass itself (apps ask its check API); nothing is set on a target.'
                    : 'No settings on the target.'}
                </p>
              )}
            </li>
          );
        })}
      </ul>

      <h4>Recent history of {requester} for these entitlements</h4>
      {context.history.length === 0 ? (
        <p className="hint">No earlier requests.</p>
      ) : (
        <ul className="history">
          {context.history.map((h) => (
            <li key={h.id}>
              <span className={`badge status-${h.status}`}>{STATUS_LABEL[h.status]}</span> {h.entitlements.join(', ')} for{' '}
              {formatDuration(h.durationSeconds * 1000)}
              {h.breakGlass ? ' (break-glass)' : ''}, asked{' '}
              <time dateTime={h.requestedAt} title={localTime(Date.parse(h.requestedAt))}>
                {relativeTime(Date.parse(h.requestedAt), now)}
              </time>
              {h.activatedAt && (
                <>
                  , active from <time dateTime={h.activatedAt}>{localTime(Date.parse(h.activatedAt))}</time>
                </>
              )}
              {h.endReason ? ` · ${h.endReason}` : ''}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
