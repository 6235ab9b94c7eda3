/** Request access: pick what you may request, for how long and why, then Activate. */
import { useId, useState, type FormEvent } from 'react';
import { useEntitlements, useSubmitRequest } from '../api/hooks.js';
import type { SessionJson } from '../api/types.js';
import { navigate } from '../lib/router.js';
import { formatDuration, parseDuration } from '../lib/time.js';
import { ErrorNotice } from '../views/ErrorNotice.js';

export function RequestPage({ me: _me }: { me: SessionJson['principal'] }) {
  const entitlements = useEntitlements(true);
  const submit = useSubmitRequest();
  const [chosen, setChosen] = useState<string[]>([]);
  const [duration, setDuration] = useState('1h');
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  const ids = { duration: useId(), reason: useId(), ticket: useId() };
  const durationMs = parseDuration(duration);

  const send = (e: FormEvent) => {
    e.preventDefault();
    if (chosen.length === 0 || durationMs === undefined) return;
    submit.mutate(
      {
        entitlements: chosen,
        duration: formatDuration(durationMs),
        ...(reason.trim() ? { reason: reason.trim() } : {}),
        ...(ticket.trim() ? { ticket: ticket.trim() } : {}),
      },
      { onSuccess: () => navigate('/') },
    );
  };

  return (
    <section aria-labelledby="request-title">
      <h1 id="request-title">Request access</h1>
      {entitlements.isError && <ErrorNotice error={entitlements.error} title="What you may request could not be loaded" />}
      <form onSubmit={send} className="card">
        <fieldset>
          <legend>Entitlements</legend>
          {entitlements.isPending && <p aria-busy="true">Loading…</p>}
          {entitlements.data?.entitlements.length === 0 && <p className="empty">No policy lets you request anything.</p>}
          {entitlements.data?.entitlements.map((e) => (
            <label key={e.entitlement} className="check">
              <input
                type="checkbox"
                checked={chosen.includes(e.entitlement)}
                onChange={(ev) => setChosen(ev.target.checked ? [...chosen, e.entitlement] : chosen.filter((c) => c !== e.entitlement))}
              />
              <span>
                <strong>{e.entitlement}</strong>
                {e.description ? ` · ${e.description}` : ''}
              </span>
            </label>
          ))}
        </fieldset>
        <label htmlFor={ids.duration}>Duration</label>
        <input
          id={ids.duration}
          value={duration}
          required
          aria-invalid={durationMs === undefined}
          aria-describedby={`${ids.duration}-hint`}
          onChange={(e) => setDuration(e.target.value)}
        />
        <p id={`${ids.duration}-hint`} className="hint">
          {durationMs === undefined ? 'Write it like 30m, 1h30m or 2h.' : `${formatDuration(durationMs)}`}
        </p>
        <label htmlFor={ids.reason}>Reason</label>
        <textarea id={ids.reason} value={reason} maxLength={1000} onChange={(e) => setReason(e.target.value)} />
        <label htmlFor={ids.ticket}>Ticket</label>
        <input id={ids.ticket} value={ticket} maxLength={200} onChange={(e) => setTicket(e.target.value)} />
        {submit.isError && <ErrorNotice error={submit.error} title="Not requested" />}
        <button type="submit" disabled={submit.isPending || chosen.length === 0 || durationMs === undefined}>
          {submit.isPending ? 'Sending…' : 'Activate'}
        </button>
      </form>
    </section>
  );
}
