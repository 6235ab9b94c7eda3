/** Risk hints of a request, as the server judges them (GET /v1/requests/{id}/context). */
import type { HintJson } from '../api/approvals.js';

const TITLE: Record<HintJson['code'], string> = {
  break_glass: 'Break-glass',
  first_time: 'New',
  outside_hours: 'Off hours',
  long_duration: 'Long',
};

export function RiskHints({ hints }: { hints: readonly HintJson[] }) {
  if (hints.length === 0) return <p className="hint no-risk">No risk hints.</p>;
  return (
    <ul className="risk-hints" aria-label="Risk hints">
      {hints.map((h) => (
        <li key={`${h.code}:${h.entitlement ?? ''}`} className={`risk risk-${h.code}`}>
          <strong className="risk-title">{TITLE[h.code]}:</strong> {h.message}
        </li>
      ))}
    </ul>
  );
}
