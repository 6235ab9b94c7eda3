/**
 * Adding an authenticator app: the QR code to scan (an image, with the secret as text for typing
 * in by hand), then a code from the app to confirm it within 10 minutes. Cancel drops the
 * pending factor.
 */
import { useId, useState, type FormEvent } from 'react';
import type { TotpEnrolmentJson } from '../api/profile.js';
import { groupSecret, svgDataUri } from '../lib/profile.js';
import { localTime } from '../lib/time.js';
import { ErrorNotice } from './ErrorNotice.js';

export interface TotpEnrolmentProps {
  enrolment: TotpEnrolmentJson;
  principal: string;
  busy: boolean;
  error?: unknown;
  onConfirm(code: string): void;
  onCancel(): void;
}

export function TotpEnrolment({ enrolment, principal, busy, error, onConfirm, onCancel }: TotpEnrolmentProps) {
  const ids = { title: useId(), code: useId(), hint: useId(), secret: useId() };
  const [code, setCode] = useState('');
  const send = (e: FormEvent) => {
    e.preventDefault();
    const c = code.replace(/\s+/g, '');
    if (!c || busy) return;
    onConfirm(c);
  };
  return (
    <section className="card totp-enrolment" aria-labelledby={ids.title}>
      <h3 id={ids.title}>Add an authenticator app</h3>
      <ol>
        <li>
          Scan this QR code with your authenticator app:
          <img
            className="qr"
            src={svgDataUri(enrolment.qrSvg)}
            alt={`QR code for Hourglass (${principal}): scan it with your authenticator app`}
            width="200"
            height="200"
          />
          <p id={ids.secret}>
            Or type this secret into the app by hand (time-based, SHA-1, 6 digits, 30 seconds):{' '}
            <code className="totp-secret">{groupSecret(enrolment.secret)}</code>
          </p>
        </li>
        <li>
          <form onSubmit={send}>
            <label htmlFor={ids.code}>Code from the app</label>
            <input
              id={ids.code}
              value={code}
              autoFocus
              required
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={16}
              aria-describedby={ids.hint}
              onChange={(e) => setCode(e.target.value)}
            />
            <p id={ids.hint} className="hint">
              The 6-digit code the app shows now. Confirm before {localTime(Date.parse(enrolment.expiresAt))}, or start again.
            </p>
            {error != null && <ErrorNotice error={error} title="The app was not added" />}
            <div className="buttons">
              <button type="submit" disabled={busy || !code.trim()} aria-busy={busy || undefined}>
                {busy ? 'Checking…' : 'Confirm'}
              </button>
              <button type="button" className="secondary" disabled={busy} onClick={onCancel}>
                Cancel
              </button>
            </div>
          </form>
        </li>
      </ol>
    </section>
  );
}
