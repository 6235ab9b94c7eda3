/**
 * The step-up MFA prompt (useStepUp's `prompt`): a modal dialog asking for the authenticator
 * app's code, a recovery code, or the security key / passkey when the challenge offers one.
 * Escape or Cancel gives up; a refused proof shows the server's message and code.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client.js';
import type { StepUpPrompt } from '../api/mfa.js';

const ACTION_TEXT: Record<string, string> = {
  request: 'to make this request',
  approve: 'to approve this request',
  credentials: 'to fetch these credentials',
};

export function MfaPrompt({ prompt }: { prompt: StepUpPrompt }) {
  const ref = useRef<HTMLDialogElement>(null);
  const ids = { title: useId(), code: useId(), hint: useId() };
  const [mode, setMode] = useState<'totp' | 'recovery'>(prompt.challenge.methods.includes('totp') ? 'totp' : 'recovery');
  const { challenge, busy, error } = prompt;
  // What was typed for this challenge: a new one (after a refused code) starts empty.
  const [entry, setEntry] = useState({ challenge: challenge.id, code: '' });
  const code = entry.challenge === challenge.id ? entry.code : '';
  const setCode = (c: string) => setEntry({ challenge: challenge.id, code: c });
  const webauthn = challenge.methods.includes('webauthn') && challenge.webauthn !== undefined;
  const canRecover = challenge.methods.includes('recovery_code');

  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);

  const send = (e: FormEvent) => {
    e.preventDefault();
    const c = code.trim();
    if (!c || busy) return;
    prompt.answer(mode === 'totp' ? { totp: c } : { recoveryCode: c });
  };

  return (
    <dialog
      ref={ref}
      className="mfa-prompt"
      aria-labelledby={ids.title}
      onCancel={(e) => {
        e.preventDefault();
        prompt.cancel();
      }}
    >
      <form onSubmit={send}>
        <h2 id={ids.title}>Confirm it is you</h2>
        <p>
          {prompt.need.action === 'mfa'
            ? 'Changing your second factors needs one of them first, so that a stolen session cannot replace them.'
            : `A policy asks for a second factor ${ACTION_TEXT[prompt.need.action] ?? ''}.`}
        </p>
        {error && (
          <div className="notice error" role="alert">
            <strong>Not accepted.</strong> {error.message}
            {error instanceof ApiError && <span className="code"> ({error.code})</span>}
          </div>
        )}
        {webauthn && (
          <button type="button" disabled={busy} onClick={() => prompt.answer({ webauthn: true })}>
            Use a security key or passkey
          </button>
        )}
        {(challenge.methods.includes('totp') || canRecover) && (
          <>
            <label htmlFor={ids.code}>{mode === 'totp' ? 'Code from your authenticator app' : 'Recovery code'}</label>
            <input
              id={ids.code}
              value={code}
              autoFocus
              required
              autoComplete="one-time-code"
              inputMode={mode === 'totp' ? 'numeric' : 'text'}
              maxLength={mode === 'totp' ? 16 : 64}
              aria-describedby={ids.hint}
              onChange={(e) => setCode(e.target.value)}
            />
            <p id={ids.hint} className="hint">
              {mode === 'totp' ? 'The 6-digit code the app shows now.' : 'One of the recovery codes you saved, like xxxx-xxxx-xxxx-xxxx; each works once.'}
            </p>
          </>
        )}
        <div className="buttons">
          {(challenge.methods.includes('totp') || canRecover) && (
            <button type="submit" disabled={busy || !code.trim()}>
              {busy ? 'Checking…' : 'Confirm'}
            </button>
          )}
          {canRecover && challenge.methods.includes('totp') && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setMode(mode === 'totp' ? 'recovery' : 'totp');
                setCode('');
              }}
            >
              {mode === 'totp' ? 'Use a recovery code instead' : 'Use the authenticator app instead'}
            </button>
          )}
          <button type="button" className="secondary" onClick={prompt.cancel}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
