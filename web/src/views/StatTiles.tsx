/** The Dashboard's headline numbers for the period, each a tile; revocations overdue turn red when any is. */
import type { StatsJson } from '../api/stats.js';
import { approveTimeText } from '../lib/stats.js';

export function StatTiles({ stats }: { stats: StatsJson }) {
  const overdue = stats.revocationsOverdue.count;
  const tta = stats.timeToApprove;
  const tiles: { key: string; label: string; value: string; note: string; alarm?: boolean }[] = [
    { key: 'activations', label: 'Activations', value: String(stats.totals.activations), note: `${stats.totals.submitted} requests submitted` },
    {
      key: 'approve',
      label: 'Median time to approve',
      value: approveTimeText(tta.medianMs),
      note: tta.requests === 0 ? 'no approved requests' : `90th percentile ${approveTimeText(tta.p90Ms)}, over ${tta.requests}`,
    },
    { key: 'break-glass', label: 'Break-glass uses', value: String(stats.breakGlass.count), note: reviewNote(stats) },
    { key: 'expiring', label: 'Expiring within the hour', value: String(stats.expiringSoon.count), note: 'live grants' },
    {
      key: 'overdue',
      label: 'Revocations overdue',
      value: String(overdue),
      note: overdue > 0 ? 'access not yet removed from a target' : 'every removal on time',
      alarm: overdue > 0,
    },
  ];
  return (
    <ul className="tiles" aria-label="Summary">
      {tiles.map((t) => (
        <li key={t.key} className={t.alarm ? 'tile alarm' : 'tile'} data-tile={t.key}>
          <span className="tile-label">{t.label}</span>
          <strong className="tile-value">{t.value}</strong>
          <span className="tile-note">{t.note}</span>
        </li>
      ))}
    </ul>
  );
}

function reviewNote(stats: StatsJson): string {
  const open = stats.breakGlass.latest.filter((b) => b.review.state === 'overdue').length;
  if (stats.breakGlass.count === 0) return 'none in the period';
  return open > 0 ? `${open} of the latest with review overdue` : 'latest listed below';
}
