/**
 * Your MFA factors: each authenticator app and security key or passkey, pending ones included,
 * with Remove; how many recovery codes are left, with New recovery codes; and the buttons that
 * add a factor.
 */
import { useId } from 'react';
import type { FactorJson } from '../api/profile.js';
import { FACTOR_KIND } from '../lib/profile.js';
import { When } from './When.js';

export interface MfaDevicesProps {
  factors: readonly FactorJson[];
  recoveryCodesLeft: number;
  now: number;
  busy: boolean;
  /** False when the browser has no WebAuthn (or the page is not a secure context). */
  webauthnAvailable: boolean;
  label: string;
  onLabel(label: string): void;
  onAddTotp(): void;
  onAddWebauthn(): void;
  onRemove(f: FactorJson): void;
  onNewRecoveryCodes(): void;
}

export function MfaDevices(p: MfaDevicesProps) {
  const ids = { label: useId(), labelHint: useId(), webauthnHint: useId() };
  const active = p.factors.filter((f) => f.status === 'active');
  return (
    <>
      {p.factors.length === 0 ? (
        <p className="empty">No MFA factor yet. Policies that ask for step-up MFA refuse you until you add one.</p>
      ) : (
        <ul className="plain profile-list">
          {p.factors.map((f) => (
            <li key={f.id} className="card factor" aria-label={`${f.label} (${FACTOR_KIND[f.kind] ?? f.kind}, ${f.status})`}>
              <div className="row-head">
                <h3>{f.label}</h3>
                <span className={`badge ${f.status === 'active' ? 'status-active' : 'status-pending'}`}>
                  {f.status === 'active' ? 'Active' : 'Waiting for a code'}
                </span>
              </div>
              <dl className="facts">
                <dt>Kind</dt>
                <dd>{FACTOR_KIND[f.kind] ?? f.kind}</dd>
                <dt>Added</dt>
                <dd>
                  <When at={f.createdAt} now={p.now} past />
                </dd>
                {f.status === 'active' && (
                  <>
                    <dt>Last used</dt>
                    <dd>{f.lastUsedAt ? <When at={f.lastUsedAt} now={p.now} past /> : <span className="empty">never</span>}</dd>
                  </>
                )}
                {f.expiresAt && (
                  <>
                    <dt>Dropped</dt>
                    <dd>
                      <When at={f.expiresAt} now={p.now} /> unless confirmed
                    </dd>
                  </>
                )}
              </dl>
              <button type="button" className="danger" disabled={p.busy} aria-label={`Remove ${f.label}`} onClick={() => p.onRemove(f)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}

      {active.length > 0 && (
        <div className="recovery-left">
          <p>
            <strong>Recovery codes:</strong> {p.recoveryCodesLeft} of 10 left. Each works once, when your app or key is not at hand.
          </p>
          <button type="button" className="secondary" disabled={p.busy} onClick={p.onNewRecoveryCodes}>
            New recovery codes
          </button>
        </div>
      )}

      <div className="add-factor">
        <h3>Add a factor</h3>
        {active.length > 0 && <p className="hint">You hold a factor already, so adding another asks you to confirm it is you first.</p>}
        <label htmlFor={ids.label}>Name (optional)</label>
        <input id={ids.label} value={p.label} maxLength={64} autoComplete="off" aria-describedby={ids.labelHint} onChange={(e) => p.onLabel(e.target.value)} />
        <p id={ids.labelHint} className="hint">
          To tell your factors apart, such as “Work phone” or “Blue key”.
        </p>
        <div className="buttons">
          <button type="button" disabled={p.busy} onClick={p.onAddTotp}>
            Add authenticator app
          </button>
          <button
            type="button"
            disabled={p.busy || !p.webauthnAvailable}
            aria-describedby={p.webauthnAvailable ? undefined : ids.webauthnHint}
            onClick={p.onAddWebauthn}
          >
            Add security key or passkey
          </button>
        </div>
        {!p.webauthnAvailable && (
          <p id={ids.webauthnHint} className="hint">
            This browser offers no security keys or passkeys here (WebAuthn needs HTTPS or localhost).
          </p>
        )}
      </div>
    </>
  );
}
