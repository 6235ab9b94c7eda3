/** Your live personal access tokens (never their secrets): scopes, when made, when they end, when last used; Revoke for each. */
import type { TokenJson } from '../api/profile.js';
import { When } from './When.js';

export function TokenList({ tokens, now, onRevoke }: { tokens: readonly TokenJson[]; now: number; onRevoke(t: TokenJson): void }) {
  if (tokens.length === 0) return <p className="empty">You have no personal access tokens.</p>;
  return (
    <ul className="plain profile-list">
      {[...tokens]
        .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
        .map((t) => (
          <li key={t.id} className="card token" aria-label={`Token ${t.name}`}>
            <div className="row-head">
              <h3>{t.name}</h3>
              <span className="scopes">
                {t.scopes.map((s) => (
                  <span key={s} className="badge scope">
                    {s}
                  </span>
                ))}
              </span>
            </div>
            <dl className="facts">
              <dt>Scopes</dt>
              <dd>{t.scopes.join(', ')}</dd>
              <dt>Created</dt>
              <dd>
                <When at={t.createdAt} now={now} past />
                {t.createdBy !== t.principal && <> by {t.createdBy}</>}
              </dd>
              <dt>Expires</dt>
              <dd>
                <When at={t.expiresAt} now={now} />
              </dd>
              <dt>Last used</dt>
              <dd>{t.lastUsedAt ? <When at={t.lastUsedAt} now={now} past /> : <span className="empty">never</span>}</dd>
            </dl>
            <button type="button" className="danger" aria-label={`Revoke token ${t.name}`} onClick={() => onRevoke(t)}>
              Revoke
            </button>
          </li>
        ))}
    </ul>
  );
}
