/**
 * The server's verdict on the form (GET /v1/policies/explain): allowed, and then what happens
 * (active at once, scheduled, or waiting for whose approvals, a second factor first), or refused
 * with the server's own message and code. Announced politely as it changes.
 */
import { ApiError } from '../api/client.js';
import type { ExplainJson } from '../api/request.js';
import { approvalsText, secondsText, subjectsText } from '../lib/request.js';
import { localTime } from '../lib/time.js';

export interface ExplainVerdictProps {
  id: string;
  /** Nothing chosen yet. */
  idle: boolean;
  checking: boolean;
  explain: ExplainJson | undefined;
  /** The explain call itself failed (e.g. HG_INVALID_INPUT for a duration it cannot read). */
  error: unknown;
  /** The requested start (ISO), when one is given. */
  startAt: string | undefined;
  /** Obviously empty inputs the person still has to fill in. */
  missing: string[];
  now: number;
  /** Whom the answer is about, when not the viewer (the Policies page's "what would happen if"). */
  who?: string;
}

export function ExplainVerdict({ id, idle, checking, explain, error, startAt, missing, now, who }: ExplainVerdictProps) {
  return (
    <div className="verdict">
      <div id={id} aria-live="polite" aria-busy={checking}>
        {idle ? (
          <p className="empty">Choose what you need; the server checks the request against its policies as you fill in the form.</p>
        ) : error ? (
          <Refused code={error instanceof ApiError ? error.code : undefined} message={error instanceof Error ? error.message : String(error)} />
        ) : !explain ? (
          <p className="empty">Checking with the server…</p>
        ) : !explain.allowed ? (
          <Refused code={explain.code ?? undefined} message={explain.message ?? 'not allowed'} candidates={explain.candidates} />
        ) : (
          <Allowed explain={explain} startAt={startAt} now={now} who={who} />
        )}
        {!idle && missing.length > 0 && <p className="missing">Before you activate: {missing.join('; ')}.</p>}
      </div>
      {/* Outside the live region: it comes and goes with every keystroke. */}
      {checking && explain && !idle && (
        <p className="hint" aria-hidden="true">
          Checking the changes…
        </p>
      )}
    </div>
  );
}

function Refused({ code, message, candidates }: { code: string | undefined; message: string; candidates?: ExplainJson['candidates'] }) {
  const reasons = Object.entries(candidates ?? {}).flatMap(([e, vs]) => vs.filter((v) => v.reasons.length).map((v) => ({ e, ...v })));
  return (
    <div className="refused">
      <p>
        <strong>Not allowed.</strong> {message}
        {code && <span className="code"> ({code})</span>}
      </p>
      {reasons.length > 0 && (
        <ul>
          {reasons.map((r) => (
            <li key={`${r.e}:${r.policy}`}>
              {r.e}, policy {r.policy}: {r.reasons.join('; ')}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Allowed({ explain: x, startAt, now, who }: { explain: ExplainJson; startAt: string | undefined; now: number; who: string | undefined }) {
  const duration = x.durationSeconds !== null ? secondsText(x.durationSeconds) : undefined;
  const when = startAt && Date.parse(startAt) > now ? `from ${localTime(Date.parse(startAt))}` : undefined;
  const mfa = x.requires.mfa?.request;
  return (
    <div className="allowed">
      <p>
        <strong>Allowed</strong> under policy {x.policy}
        {duration ? `, for ${duration}` : ''}.{' '}
        {x.breakGlass
          ? `Break-glass: access begins ${when ?? 'at once'}, without approval, and is reviewed afterwards.`
          : x.selfService
            ? when
              ? `Self-service: scheduled, active ${when}.`
              : 'Self-service: active at once.'
            : `Needs ${x.approvals.map((a) => `${approvalsText(a.required)} from ${subjectsText(a.approvers)}${x.approvals.length > 1 ? ` (policy ${a.policy})` : ''}`).join(' and ')}${when ? `, then active ${when}` : ''}.`}
      </p>
      <ul>
        {!x.selfService &&
          x.approvals.map((a) => (
            <li key={a.policy}>
              Could approve{x.approvals.length > 1 ? ` (policy ${a.policy})` : ''}: {a.eligibleApprovers.length ? a.eligibleApprovers.join(', ') : 'nobody yet'}
              {a.approvers.manager && x.manager ? ` (${who ? `${who}'s` : 'your'} manager: ${x.manager})` : ''}
            </li>
          ))}
        {!x.selfService && x.pendingTimeoutSeconds !== null && <li>Waits at most {secondsText(x.pendingTimeoutSeconds)} for approval.</li>}
        {x.reviews.map((r) => (
          <li key={r.policy}>
            Reviewed within {secondsText(r.withinSeconds)} by {subjectsText(r.reviewers)}
            {r.eligibleReviewers.length ? ` (${r.eligibleReviewers.join(', ')})` : ''}.
          </li>
        ))}
        {mfa != null &&
          (who ? (
            <li>
              {who} will be asked for a second factor when they activate (unless they signed in with MFA in the last {secondsText(mfa)}).
            </li>
          ) : (
            <li>You will be asked for a second factor when you activate (unless you signed in with MFA in the last {secondsText(mfa)}).</li>
          ))}
        {x.requires.sourceNetworks && (
          <li>
            Only from networks {x.requires.sourceNetworks.join(', ')}: the server checks {who ? 'their' : 'your'} address when{' '}
            {who ? 'they activate' : 'you activate'}.
          </li>
        )}
        {x.warnings.map((w) => (
          <li key={w} className="warning">
            Warning: {w}
          </li>
        ))}
      </ul>
    </div>
  );
}
