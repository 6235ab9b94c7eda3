/**
 * The most activated entitlements as a bar list: a table (name, count) whose bars are drawn by
 * CSS and hidden from screen readers, which read the numbers. The width is set through React's
 * style property (the CSSOM), which the Content-Security-Policy allows.
 */
import type { StatsJson } from '../api/stats.js';
import { barPercent } from '../lib/stats.js';

export function TopEntitlements({ top, days }: { top: StatsJson['topEntitlements']; days: number }) {
  if (top.length === 0) return <p className="empty">No activations in the last {days} days.</p>;
  const max = top[0]!.activations;
  return (
    <table className="bars">
      <caption>Activations per entitlement, last {days} days</caption>
      <thead>
        <tr>
          <th scope="col">Entitlement</th>
          <th scope="col">Activations</th>
        </tr>
      </thead>
      <tbody>
        {top.map((t) => (
          <tr key={t.entitlement}>
            <th scope="row">
              <code>{t.entitlement}</code>
            </th>
            <td>
              <span className="bar-cell">
                <span className="bar" aria-hidden="true" style={{ width: `${barPercent(t.activations, max)}%` }} />
                <span className="bar-value">{t.activations}</span>
              </span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
