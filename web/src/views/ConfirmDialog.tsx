/**
 * A modal confirmation (the native <dialog>: focus stays inside, Escape cancels): says exactly
 * what will happen, optionally asks for a reason, and shows the server's refusal. Render it only
 * while it is open; focus goes back where it was when it closes.
 */
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { ErrorNotice } from './ErrorNotice.js';
import './confirm-dialog.css';

export interface ConfirmDialogProps {
  title: string;
  /** What will happen, in full. */
  children: ReactNode;
  confirmLabel: string;
  cancelLabel?: string;
  /** The confirm button is red: the action ends something. */
  danger?: boolean;
  busy?: boolean;
  /** The last attempt failed: shown in the dialog, which stays open. */
  error?: unknown;
  /** Ask for a reason; `required`: the confirm button asks for one first. */
  reason?: { label: string; required?: boolean; hint?: string };
  onConfirm(reason: string): void;
  onCancel(): void;
}

export function ConfirmDialog({ title, children, confirmLabel, cancelLabel = 'Cancel', danger, busy, error, reason, onConfirm, onCancel }: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const ids = { title: useId(), body: useId(), reason: useId(), hint: useId(), problem: useId() };
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    const d = ref.current;
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (d && !d.open) d.showModal();
    return () => {
      d?.close();
      // The element that opened the dialog may be gone (a revoked row): then the page itself.
      (before?.isConnected ? before : document.getElementById('main'))?.focus();
    };
  }, []);

  const send = (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (reason?.required && !text.trim()) {
      setProblem(`Give ${reason.label.toLowerCase()} first.`);
      return;
    }
    setProblem(undefined);
    onConfirm(text.trim());
  };

  return (
    <dialog
      ref={ref}
      className="confirm-dialog"
      aria-labelledby={ids.title}
      aria-describedby={ids.body}
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <form onSubmit={send} noValidate>
        <h2 id={ids.title}>{title}</h2>
        <div id={ids.body}>{children}</div>
        {reason && (
          <>
            <label htmlFor={ids.reason}>
              {reason.label}
              {reason.required ? ' (required)' : ' (optional)'}
            </label>
            <textarea
              id={ids.reason}
              value={text}
              autoFocus
              maxLength={2000}
              required={reason.required}
              aria-invalid={problem ? true : undefined}
              aria-describedby={[reason.hint ? ids.hint : '', problem ? ids.problem : ''].filter(Boolean).join(' ') || undefined}
              onChange={(e) => setText(e.target.value)}
            />
            {reason.hint && (
              <p id={ids.hint} className="hint">
                {reason.hint}
              </p>
            )}
            {problem && (
              <p id={ids.problem} className="problem" role="alert">
                {problem}
              </p>
            )}
          </>
        )}
        {error != null && <ErrorNotice error={error} title="That did not work" />}
        <div className="buttons">
          <button type="submit" className={danger ? 'danger' : undefined} disabled={busy} aria-busy={busy || undefined}>
            {confirmLabel}
          </button>
          <button type="button" className="secondary" autoFocus={!reason} disabled={busy} onClick={onCancel}>
            {cancelLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
