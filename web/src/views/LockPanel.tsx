/**
 * Emergency controls: the principals locked and targets frozen now, with Unlock and Unfreeze, and
 * the forms that lock a principal or freeze a target (the page confirms first). Auditors see the
 * lists only.
 */
import { useId, useState, type FormEvent } from 'react';
import type { LockJson } from '../api/live-access.js';
import type { LockKind } from '../lib/live-access.js';
import { localTime, relativeTime } from '../lib/time.js';
import { ErrorNotice } from './ErrorNotice.js';

export interface LockPanelProps {
  principals: readonly LockJson[];
  targets: readonly LockJson[];
  loading: boolean;
  error: unknown;
  now: number;
  /** Admins: the buttons and forms are shown. */
  canChange: boolean;
  busy: boolean;
  /** Names the forms suggest (the people and targets of the live grants). */
  suggestions: { people: readonly string[]; targets: readonly string[] };
  /** Unlock a principal or unfreeze a target. */
  onLift(kind: LockKind, subject: string): void;
  /** Lock a principal or freeze a target: the page asks for confirmation and a reason. */
  onAsk(kind: LockKind, subject: string): void;
}

export function LockPanel(p: LockPanelProps) {
  return (
    <div className="lock-panel">
      {p.error != null && <ErrorNotice error={p.error} title="The locks could not be loaded" />}
      <div className="lock-lists">
        <LockList
          kind="principal"
          title="Locked principals"
          empty="No principal is locked."
          locks={p.principals}
          loading={p.loading}
          now={p.now}
          liftLabel="Unlock"
          {...(p.canChange ? { onLift: (s: string) => p.onLift('principal', s) } : {})}
          busy={p.busy}
        />
        <LockList
          kind="target"
          title="Frozen targets"
          empty="No target is frozen."
          locks={p.targets}
          loading={p.loading}
          now={p.now}
          liftLabel="Unfreeze"
          {...(p.canChange ? { onLift: (s: string) => p.onLift('target', s) } : {})}
          busy={p.busy}
        />
      </div>
      {p.canChange && (
        <div className="lock-forms">
          <AskForm
            kind="principal"
            title="Lock a principal"
            label="Principal id"
            button="Lock…"
            hint="Revokes their grants, cancels their pending requests and refuses new ones; you confirm first."
            suggestions={p.suggestions.people}
            busy={p.busy}
            onAsk={p.onAsk}
          />
          <AskForm
            kind="target"
            title="Freeze a target"
            label="Target name"
            button="Freeze…"
            hint="Revokes every grant on it, cancels pending requests for it and refuses new ones; you confirm first."
            suggestions={p.suggestions.targets}
            busy={p.busy}
            onAsk={p.onAsk}
          />
        </div>
      )}
    </div>
  );
}

function LockList(props: {
  kind: LockKind;
  title: string;
  empty: string;
  locks: readonly LockJson[];
  loading: boolean;
  now: number;
  liftLabel: string;
  onLift?: (subject: string) => void;
  busy: boolean;
}) {
  const id = useId();
  return (
    <section aria-labelledby={id} className="lock-list">
      <h3 id={id}>{props.title}</h3>
      {props.loading ? (
        <p aria-busy="true">Loading…</p>
      ) : props.locks.length === 0 ? (
        <p className="empty">{props.empty}</p>
      ) : (
        <ul className="plain">
          {props.locks.map((l) => (
            <li key={l.subject} className="lock">
              <strong>{l.subject}</strong>{' '}
              <span className="meta">
                by {l.by},{' '}
                <time dateTime={l.at} title={localTime(Date.parse(l.at))}>
                  {relativeTime(Date.parse(l.at), props.now)}
                </time>
                {l.reason ? `: ${l.reason}` : ''}
              </span>
              {props.onLift && (
                <button
                  type="button"
                  className="secondary"
                  disabled={props.busy}
                  aria-label={`${props.liftLabel} ${l.subject}`}
                  onClick={() => props.onLift!(l.subject)}
                >
                  {props.liftLabel}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function AskForm(props: {
  kind: LockKind;
  title: string;
  label: string;
  button: string;
  hint: string;
  suggestions: readonly string[];
  busy: boolean;
  onAsk(kind: LockKind, subject: string): void;
}) {
  const ids = { title: useId(), input: useId(), hint: useId(), list: useId() };
  const [subject, setSubject] = useState('');
  const send = (e: FormEvent) => {
    e.preventDefault();
    if (subject.trim()) props.onAsk(props.kind, subject.trim());
  };
  return (
    <form className="card ask-form" aria-labelledby={ids.title} onSubmit={send}>
      <h3 id={ids.title}>{props.title}</h3>
      <label htmlFor={ids.input}>{props.label}</label>
      <input
        id={ids.input}
        value={subject}
        required
        maxLength={200}
        autoComplete="off"
        list={ids.list}
        aria-describedby={ids.hint}
        onChange={(e) => setSubject(e.target.value)}
      />
      <datalist id={ids.list}>
        {props.suggestions.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      <p id={ids.hint} className="hint">
        {props.hint}
      </p>
      <button type="submit" className="danger" disabled={props.busy || !subject.trim()}>
        {props.button}
      </button>
    </form>
  );
}
