/** Asks for more time on an active grant (the policy's `extension` terms apply; some need an approval). */
import { useId, useState, type FormEvent } from 'react';
import { formatDuration, parseDuration } from '../lib/time.js';
import { ErrorNotice } from './ErrorNotice.js';

export function ExtendForm({
  maxTotalMs,
  requiresApproval,
  busy,
  error,
  onExtend,
  onCancel,
}: {
  maxTotalMs: number;
  requiresApproval: boolean;
  busy: boolean;
  error: unknown;
  onExtend(v: { duration: string; reason?: string }): void;
  onCancel(): void;
}) {
  const [duration, setDuration] = useState('30m');
  const [reason, setReason] = useState('');
  const ids = { duration: useId(), reason: useId() };
  const ms = parseDuration(duration);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (ms === undefined) return;
    onExtend({ duration: formatDuration(ms), ...(reason.trim() ? { reason: reason.trim() } : {}) });
  };
  return (
    <form className="extend" onSubmit={submit} aria-label="Extend">
      <label htmlFor={ids.duration}>Extend by</label>
      <input
        id={ids.duration}
        value={duration}
        aria-invalid={ms === undefined}
        aria-describedby={`${ids.duration}-hint`}
        onChange={(e) => setDuration(e.target.value)}
      />
      <p id={`${ids.duration}-hint`} className="hint">
        The whole grant may last at most {formatDuration(maxTotalMs)}. {requiresApproval ? 'An approver must agree.' : 'No approval needed.'}
      </p>
      <label htmlFor={ids.reason}>Reason (optional)</label>
      <input id={ids.reason} value={reason} maxLength={1000} onChange={(e) => setReason(e.target.value)} />
      {error ? <ErrorNotice error={error} title="Not extended" /> : null}
      <div className="buttons">
        <button type="submit" disabled={busy || ms === undefined}>
          {busy ? 'Extending…' : 'Extend'}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
