/**
 * A grant's credentials, shown when the person asks for them: per target, each field with a
 * Copy button. The page clears them when the grant ends or the person hides them.
 */
import type { CredentialsJson } from '../api/access.js';
import { localTime } from '../lib/time.js';
import { CopyText } from './CopyText.js';
import { ErrorNotice } from './ErrorNotice.js';

const SECRET_FIELD = /password|token|secret|certificate|key$/i;

function Fields({ fields }: { fields: Record<string, unknown> }) {
  const shown = Object.entries(fields).filter(([k, v]) => v !== null && v !== undefined && k !== 'kind' && k !== 'credentials');
  return (
    <dl className="facts">
      {shown.map(([k, v]) => (
        <div key={k} className="fact-row">
          <dt>{k}</dt>
          <dd>
            <CopyText value={typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v)} label={k} secret={SECRET_FIELD.test(k)} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function CredentialsPanel({
  credentials,
  busy,
  error,
  onShow,
  onHide,
}: {
  credentials: CredentialsJson | null;
  busy: boolean;
  error: unknown;
  onShow(): void;
  onHide(): void;
}) {
  if (!credentials) {
    return (
      <div className="credentials">
        <button type="button" className="secondary" disabled={busy} onClick={onShow}>
          {busy ? 'Fetching…' : 'Show credentials'}
        </button>
        {error ? <ErrorNotice error={error} title="No credentials" /> : null}
      </div>
    );
  }
  const targets = Object.entries(credentials.targets);
  return (
    <section className="credentials" aria-label="Credentials">
      <p className="hint">
        Valid until {localTime(Date.parse(credentials.expiresAt))}. Fetching them was recorded in the audit log. They disappear from this page when the grant
        ends.
      </p>
      {targets.length === 0 && <p className="empty">Nothing to show here: use the command above (it needs your own key or client).</p>}
      {targets.map(([target, value]) => (
        <div key={target}>
          <h4>{target}</h4>
          {Array.isArray(value.credentials) ? (
            (value.credentials as Record<string, unknown>[]).map((c, i) => <Fields key={String(c.entitlement ?? i)} fields={c} />)
          ) : (
            <Fields fields={value} />
          )}
        </div>
      ))}
      <button type="button" className="secondary" onClick={onHide}>
        Hide credentials
      </button>
    </section>
  );
}
