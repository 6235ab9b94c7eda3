/**
 * Creating a personal access token, in a modal dialog: a name, the scopes (each explained) and a
 * lifetime. The new token is then shown once, in the same dialog, with a Copy button; closing
 * the dialog forgets it (the page keeps it nowhere else).
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { NewTokenJson } from '../api/profile.js';
import { SCOPE_INFO, SCOPE_ORDER, TOKEN_LIFETIMES, tokenRequest, type Scope, type TokenProblems } from '../lib/profile.js';
import { localTime } from '../lib/time.js';
import { ErrorNotice } from './ErrorNotice.js';
import { SecretField } from './SecretField.js';
import './confirm-dialog.css';

export interface NewTokenDialogProps {
  create(body: { name: string; scopes: Scope[]; expiresIn?: string }): Promise<NewTokenJson>;
  onClose(): void;
}

export function NewTokenDialog({ create, onClose }: NewTokenDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const ids = { title: useId(), name: useId(), nameProblem: useId(), scopes: useId(), scopesProblem: useId(), expiry: useId(), done: useId() };
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['read']);
  const [expiresIn, setExpiresIn] = useState('');
  const [problems, setProblems] = useState<TokenProblems>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  // The token lives in this state only: it is gone once the dialog closes or the page is left.
  const [created, setCreated] = useState<NewTokenJson>();

  useEffect(() => {
    const d = ref.current;
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (d && !d.open) d.showModal();
    return () => {
      d?.close();
      (before?.isConnected ? before : document.getElementById('main'))?.focus();
    };
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const r = tokenRequest({ name, scopes, expiresIn });
    if (!r.ok) {
      setProblems(r.problems);
      return;
    }
    setProblems({});
    setBusy(true);
    setError(undefined);
    try {
      setCreated(await create(r.body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (s: Scope, on: boolean) => setScopes(on ? [...scopes, s] : scopes.filter((x) => x !== s));

  return (
    <dialog
      ref={ref}
      className="confirm-dialog new-token"
      aria-labelledby={ids.title}
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onClose();
      }}
    >
      {created ? (
        <div>
          <h2 id={ids.title}>Token {created.name} created</h2>
          <p id={ids.done}>
            Copy it now: it is shown only this once, and Hourglass keeps only its hash. It ends {localTime(Date.parse(created.expiresAt))}, with the scopes{' '}
            {created.scopes.join(', ')}.
          </p>
          <SecretField
            label="New token"
            value={created.token}
            hint="Send it as Authorization: Bearer … to the API, or set it as HOURGLASS_TOKEN for the CLI."
          />
          <div className="buttons">
            <button type="button" autoFocus onClick={onClose}>
              Done, I have copied it
            </button>
          </div>
        </div>
      ) : (
        <form onSubmit={(e) => void submit(e)} noValidate>
          <h2 id={ids.title}>New personal access token</h2>
          <p className="hint">A token acts as you, for scripts and the CLI. Its scopes only take away: your roles still apply.</p>
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            value={name}
            autoFocus
            maxLength={100}
            autoComplete="off"
            aria-invalid={problems.name ? true : undefined}
            aria-describedby={problems.name ? ids.nameProblem : undefined}
            onChange={(e) => setName(e.target.value)}
          />
          {problems.name && (
            <p id={ids.nameProblem} className="problem" role="alert">
              {problems.name}
            </p>
          )}
          <fieldset aria-describedby={problems.scopes ? ids.scopesProblem : undefined}>
            <legend>Scopes</legend>
            {SCOPE_ORDER.map((s) => (
              <label key={s} className="check">
                <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => toggle(s, e.target.checked)} />
                <span>
                  <strong>{s}</strong>: {SCOPE_INFO[s]}
                </span>
              </label>
            ))}
            {problems.scopes && (
              <p id={ids.scopesProblem} className="problem" role="alert">
                {problems.scopes}
              </p>
            )}
          </fieldset>
          <label htmlFor={ids.expiry}>Expires after</label>
          <select id={ids.expiry} value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)}>
            {TOKEN_LIFETIMES.map((l) => (
              <option key={l.value} value={l.value}>
                {l.label}
              </option>
            ))}
          </select>
          {error != null && <ErrorNotice error={error} title="The token was not created" />}
          <div className="buttons">
            <button type="submit" disabled={busy} aria-busy={busy || undefined}>
              {busy ? 'Creating…' : 'Create token'}
            </button>
            <button type="button" className="secondary" disabled={busy} onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
