/** The chart's numbers as a table, behind a disclosure: what a screen reader or keyboard user reads instead of the canvas. */
import type { StatsJson } from '../api/stats.js';
import { dayLabel } from '../lib/stats.js';

export function PerDayTable({ perDay, open = false }: { perDay: StatsJson['perDay']; open?: boolean }) {
  return (
    <details className="as-table" open={open}>
      <summary>Show as table</summary>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Activations per day, as a table">
        <table>
          <caption>Per day, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Activations</th>
              <th scope="col">Requests submitted</th>
              <th scope="col">Denied</th>
              <th scope="col">Break-glass uses</th>
            </tr>
          </thead>
          <tbody>
            {[...perDay].reverse().map((d) => (
              <tr key={d.date} data-date={d.date}>
                <th scope="row">
                  <time dateTime={d.date}>{dayLabel(d.date)}</time>
                </th>
                <td>{d.activations}</td>
                <td>{d.submitted}</td>
                <td>{d.denied}</td>
                <td>{d.breakGlass}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
