/** One policy of GET /v1/policies, read-only: who may ask, for what, how long, approved by whom, and its conditions. */
import type { PolicyJson } from '../api/policies.js';
import { policyFacts } from '../lib/policies.js';

export function PolicyCard({ policy: p, position }: { policy: PolicyJson; position: number }) {
  const titleId = `policy-${position}`;
  return (
    <article className="card policy-card" aria-labelledby={titleId}>
      <div className="request-head">
        <h3 id={titleId}>
          <span className="position">{position}.</span> {p.name}
        </h3>
        <span className="badges">
          {p.breakGlass && <span className="badge break-glass">break-glass</span>}
          {!p.breakGlass && p.approval.required === 0 && <span className="badge self-service">self-service</span>}
          {p.mfa && <span className="badge mfa">step-up MFA</span>}
        </span>
      </div>
      <dl className="facts compact">
        {policyFacts(p).map((t) => (
          <div key={t.label} className="fact">
            <dt>{t.label}</dt>
            <dd>{t.text}</dd>
          </div>
        ))}
      </dl>
    </article>
  );
}
