/** One entitlement's terms, per policy that could decide it, as GET /v1/entitlements lists them. */
import type { EntitlementJson } from '../api/types.js';
import { offeredPolicies, termsOf } from '../lib/request.js';

export function TermsSummary({ entitlement, breakGlass, id }: { entitlement: EntitlementJson; breakGlass: boolean; id: string }) {
  const offered = offeredPolicies(entitlement, breakGlass);
  const other = entitlement.policies.filter((p) => p.breakGlass !== breakGlass);
  return (
    <div className="terms" id={id}>
      {offered.length === 0 && (
        <p className="hint">{breakGlass ? 'No break-glass policy covers it for you.' : 'Only as break-glass: choose break-glass below to ask for it.'}</p>
      )}
      {offered.map((p) => (
        <div key={p.name} className="policy-terms">
          <p className="policy-name">
            Policy {p.name}
            {p.breakGlass && <span className="badge break-glass">break-glass</span>}
          </p>
          <dl className="facts compact">
            {termsOf(p).map((t) => (
              <div key={t.label} className="fact">
                <dt>{t.label}</dt>
                <dd>{t.text}</dd>
              </div>
            ))}
          </dl>
        </div>
      ))}
      {!breakGlass && other.length > 0 && offered.length > 0 && (
        <p className="hint">Also as break-glass (policy {other.map((p) => p.name).join(', ')}): for emergencies only, reviewed afterwards.</p>
      )}
    </div>
  );
}
