/**
 * Dashboard (auditors and admins): for the last 7, 30 or 90 days of the viewer's calendar,
 * activations, time to approve, top entitlements and break-glass uses; and, now, grants ending
 * within the hour and removals overdue. The chart (uPlot) is loaded lazily in its own chunk; every
 * chart is also a table. Whoever lacks the role gets the API's 403 in words.
 */
import { lazy, Suspense } from 'react';
import { ApiError } from '../api/client.js';
import { useStats } from '../api/stats.js';
import type { SessionJson } from '../api/types.js';
import { chartSummary, periodFromSearch, searchOfPeriod, viewerTimeZone } from '../lib/stats.js';
import { setSearch, useSearch } from '../lib/router.js';
import { useNow } from '../lib/useNow.js';
import { BreakGlassList, ExpiringList, OverdueList } from '../views/DashboardLists.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { PerDayTable } from '../views/PerDayTable.js';
import { PeriodPicker } from '../views/PeriodPicker.js';
import { StatTiles } from '../views/StatTiles.js';
import { TopEntitlements } from '../views/TopEntitlements.js';
import './dashboard.css';

const ActivationsChart = lazy(() => import('../views/ActivationsChart.js').then((m) => ({ default: m.ActivationsChart })));

const TZ = viewerTimeZone();

export function DashboardPage({ me }: { me: SessionJson['principal'] }) {
  const days = periodFromSearch(useSearch());
  const stats = useStats(days, TZ);
  const now = useNow(15_000);

  if (stats.error instanceof ApiError && stats.error.status === 403) {
    return (
      <section aria-labelledby="dashboard-title" className="dashboard">
        <h1 id="dashboard-title">Dashboard</h1>
        <div className="notice error" role="alert">
          <strong>You cannot see the dashboard.</strong> It needs the auditor or admin role, and {me.id} has neither. {stats.error.message}
          <span className="code"> ({stats.error.code})</span>
        </div>
      </section>
    );
  }

  const s = stats.data;
  // While another period loads, the previous one stays on screen, marked as being replaced.
  const stale = stats.isPlaceholderData;
  return (
    <section aria-labelledby="dashboard-title" className="dashboard">
      <div className="page-head">
        <h1 id="dashboard-title">Dashboard</h1>
        <PeriodPicker value={days} onChange={(p) => setSearch(searchOfPeriod(p))} />
      </div>
      <p className="hint" role="status">
        {stale || !s
          ? `Loading the last ${days} days…`
          : `The last ${s.period.days} days, counted in calendar days of ${s.period.timeZone}; updated every minute.`}
      </p>
      {stats.error && <ErrorNotice error={stats.error} title="The figures could not be read" />}
      {s && (
        <div className={stale ? 'figures stale' : 'figures'} aria-busy={stale}>
          <StatTiles stats={s} />

          <section aria-labelledby="per-day-title" className="panel">
            <h2 id="per-day-title">Activations per day</h2>
            <Suspense fallback={<div className="chart chart-loading">Loading the chart…</div>}>
              <ActivationsChart perDay={s.perDay} summary={chartSummary(s.perDay)} />
            </Suspense>
            <PerDayTable perDay={s.perDay} />
          </section>

          <section aria-labelledby="top-title" className="panel">
            <h2 id="top-title">Top entitlements</h2>
            <TopEntitlements top={s.topEntitlements} days={s.period.days} />
          </section>

          <section aria-labelledby="glass-title" className="panel">
            <h2 id="glass-title">Break-glass uses</h2>
            <BreakGlassList uses={s.breakGlass.latest} count={s.breakGlass.count} now={now} />
          </section>

          <section aria-labelledby="expiring-title" className="panel">
            <h2 id="expiring-title">Expiring within the hour</h2>
            <ExpiringList expiring={s.expiringSoon} now={now} />
          </section>

          <section aria-labelledby="overdue-title" className={s.revocationsOverdue.count > 0 ? 'panel alarm' : 'panel'}>
            <h2 id="overdue-title">Revocations overdue</h2>
            <OverdueList overdue={s.revocationsOverdue} now={now} />
          </section>
        </div>
      )}
    </section>
  );
}
