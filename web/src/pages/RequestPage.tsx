/**
 * Request access: pick what you need (grouped by target, searchable, each with its terms), for
 * how long, from when and why; the server's explain API checks the form as it changes (the same
 * rules submission applies), then Activate submits, with a second factor when a policy wants one.
 */
import { useId, useMemo, useState, type FormEvent } from 'react';
import { useEntitlements } from '../api/hooks.js';
import { useStepUp } from '../api/mfa.js';
import { submitRequest, useDebounced, useExplain, useSubmitAccess } from '../api/request.js';
import type { SessionJson } from '../api/types.js';
import {
  defaultDurationMs,
  explainQuery,
  groupByTarget,
  hasBreakGlass,
  isoToLocalInput,
  localInputToIso,
  matchesSearch,
  missingInputs,
  submitBody,
  type RequestForm,
} from '../lib/request.js';
import { navigate } from '../lib/router.js';
import { formatDuration } from '../lib/time.js';
import { useNow } from '../lib/useNow.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { EntitlementPicker } from '../views/EntitlementPicker.js';
import { ExplainVerdict } from '../views/ExplainVerdict.js';
import { MfaPrompt } from '../views/MfaPrompt.js';
import './request.css';

const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

export function RequestPage({ me: _me }: { me: SessionJson['principal'] }) {
  const entitlements = useEntitlements(true);
  const stepUp = useStepUp();
  const now = useNow(30_000);
  const submit = useSubmitAccess();
  const [query, setQuery] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [breakGlass, setBreakGlass] = useState(false);
  // Until the person types a duration, it follows the chosen entitlements' shortest default.
  const [typedDuration, setTypedDuration] = useState<string | undefined>(undefined);
  const [startAt, setStartAt] = useState('');
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  const base = useId();
  const ids = {
    details: `${base}-details`,
    breakGlass: `${base}-bg`,
    duration: `${base}-duration`,
    start: `${base}-start`,
    reason: `${base}-reason`,
    ticket: `${base}-ticket`,
    verdict: `${base}-verdict`,
  };

  const all = useMemo(() => entitlements.data?.entitlements ?? [], [entitlements.data]);
  const groups = useMemo(() => groupByTarget(all.filter((e) => matchesSearch(e, query))), [all, query]);
  const chosenSet = useMemo(() => new Set(chosen), [chosen]);
  const chosenEntitlements = all.filter((e) => chosenSet.has(e.entitlement));
  const anyBreakGlass = all.some(hasBreakGlass);
  const defaultMs = defaultDurationMs(chosenEntitlements, breakGlass);
  const duration = typedDuration ?? (defaultMs !== undefined ? formatDuration(defaultMs) : '');

  const form: RequestForm = { entitlements: chosen, duration, startAt, reason, ticket, breakGlass };
  const settledQuery = useDebounced(explainQuery(form), 300);
  const explain = useExplain(settledQuery);
  const verdict = explain.isError ? undefined : explain.data;
  const requires = verdict?.requires;
  const missing = missingInputs(form, requires);
  const refused = explain.isError || verdict?.allowed === false;
  const startIso = localInputToIso(startAt);
  const ticketPatterns = requires?.ticket.patterns ?? [];

  const send = (e: FormEvent) => {
    e.preventDefault();
    if (missing.length || refused || !verdict || submit.isPending) return;
    const body = submitBody(form);
    submit.mutate(() => stepUp.run((mfa) => submitRequest(body, mfa)), { onSuccess: (r) => r && navigate('/') });
  };

  const toggle = (entitlement: string, on: boolean) =>
    setChosen((c) => (on ? [...c.filter((x) => x !== entitlement), entitlement] : c.filter((x) => x !== entitlement)));

  return (
    <section aria-labelledby="request-title" className="request-page">
      <h1 id="request-title">Request access</h1>
      {entitlements.isError && <ErrorNotice error={entitlements.error} title="What you may request could not be loaded" />}
      <form onSubmit={send} noValidate>
        <div className="request-layout">
          <section className="card" aria-labelledby={`${base}-what`}>
            <h2 id={`${base}-what`}>What you need</h2>
            {entitlements.isPending && <p aria-busy="true">Loading what you may request…</p>}
            {entitlements.data?.entitlements.length === 0 && <p className="empty">No policy lets you request anything.</p>}
            {all.length > 0 && (
              <EntitlementPicker
                groups={groups}
                total={all.length}
                query={query}
                onQuery={setQuery}
                chosen={chosenSet}
                onToggle={toggle}
                breakGlass={breakGlass}
              />
            )}
          </section>

          <section className="card request-details" aria-labelledby={ids.details}>
            <h2 id={ids.details}>Your request</h2>
            <p className="chosen-list">{chosen.length ? <>Chosen: {chosen.join(', ')}</> : 'Nothing chosen yet.'}</p>

            {anyBreakGlass && (
              <label className="check break-glass-choice" htmlFor={ids.breakGlass}>
                <input
                  id={ids.breakGlass}
                  type="checkbox"
                  checked={breakGlass}
                  aria-describedby={`${ids.breakGlass}-hint`}
                  onChange={(e) => setBreakGlass(e.target.checked)}
                />
                <span>
                  <strong>Break-glass</strong> (emergency access)
                  <span id={`${ids.breakGlass}-hint`} className="hint block">
                    Only under break-glass policies: access begins without approval and is reviewed afterwards. Use it for emergencies only.
                  </span>
                </span>
              </label>
            )}

            <label htmlFor={ids.duration}>Duration</label>
            <input
              id={ids.duration}
              value={duration}
              autoComplete="off"
              aria-describedby={`${ids.duration}-hint`}
              onChange={(e) => setTypedDuration(e.target.value)}
            />
            <p id={`${ids.duration}-hint`} className="hint">
              Like 30m, 1h30m or 2d.
              {verdict?.allowed && verdict.durationSeconds !== null ? ` The server reads it as ${formatDuration(verdict.durationSeconds * 1000)}.` : ''}
              {typedDuration === undefined && defaultMs !== undefined ? ' This is the default of what you chose.' : ''}
            </p>

            <label htmlFor={ids.start}>Start (optional)</label>
            <input
              id={ids.start}
              type="datetime-local"
              value={startAt}
              min={isoToLocalInput(now)}
              aria-describedby={`${ids.start}-hint`}
              onChange={(e) => setStartAt(e.target.value)}
            />
            <p id={`${ids.start}-hint`} className="hint">
              Empty: at once. In your time zone ({viewerZone}).
            </p>

            <label htmlFor={ids.reason}>Reason{requires?.reason ? ' (required)' : ''}</label>
            <textarea
              id={ids.reason}
              value={reason}
              maxLength={2000}
              required={requires?.reason}
              aria-required={requires?.reason ?? false}
              onChange={(e) => setReason(e.target.value)}
            />

            <label htmlFor={ids.ticket}>Ticket{requires?.ticket.required ? ' (required)' : ''}</label>
            <input
              id={ids.ticket}
              value={ticket}
              maxLength={200}
              autoComplete="off"
              required={requires?.ticket.required}
              aria-required={requires?.ticket.required ?? false}
              aria-describedby={`${ids.ticket}-hint`}
              onChange={(e) => setTicket(e.target.value)}
            />
            <p id={`${ids.ticket}-hint`} className="hint">
              {ticketPatterns.length ? `Format: ${ticketPatterns.join(' or ')} (a regular expression).` : 'A change or incident number, if you have one.'}
            </p>

            <h3 className="verdict-title">Check</h3>
            <ExplainVerdict
              id={ids.verdict}
              idle={chosen.length === 0}
              checking={explain.isFetching || settledQuery !== explainQuery(form)}
              explain={chosen.length ? verdict : undefined}
              error={chosen.length && explain.isError ? explain.error : undefined}
              startAt={startIso}
              missing={missing}
              now={now}
            />
            {submit.isError && <ErrorNotice error={submit.error} title="Not requested" />}
            <button type="submit" aria-describedby={ids.verdict} disabled={submit.isPending || missing.length > 0 || refused || !verdict}>
              {submit.isPending ? 'Sending…' : 'Activate'}
            </button>
          </section>
        </div>
      </form>
      {stepUp.prompt && <MfaPrompt key={stepUp.prompt.need.digest} prompt={stepUp.prompt} />}
    </section>
  );
}
