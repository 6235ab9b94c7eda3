/**
 * Activations, requests submitted and denials per day, drawn by uPlot on a canvas. Loaded lazily
 * (its own chunk, with uPlot and its stylesheet) so other pages never pay for it. uPlot sets its
 * styles through the CSSOM, which the Content-Security-Policy allows (no style attributes in HTML).
 * The canvas says nothing to a screen reader: the wrapper is an image labelled with a summary,
 * and the page shows the same numbers as a table.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { StatsJson } from '../api/stats.js';
import { chartColumns } from '../lib/stats.js';

const HEIGHT = 240;
const DAY_S = 86_400;
// Ticks on whole days, labelled in the viewer's language (uPlot's own labels are US-style).
const dayTick = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
// The stylesheet's colours (styles.css): each at least 3:1 against white, and told apart by dashes too.
const INK = '#4d5663';
const GRID = '#e3e7ec';
const SERIES = [
  { label: 'Activations', stroke: '#0b5cad', dash: [] as number[] },
  { label: 'Requests submitted', stroke: '#4d5663', dash: [6, 4] },
  { label: 'Denied', stroke: '#a4161a', dash: [2, 3] },
];

export function ActivationsChart({ perDay, summary }: { perDay: StatsJson['perDay']; summary: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = { stroke: INK, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } };
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
        axes: [
          { ...axis, incrs: [1, 2, 7, 14, 28].map((n) => n * DAY_S), values: (_u, splits) => splits.map((t) => dayTick.format(t * 1000)) },
          { ...axis, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000], values: (_u, splits) => splits.map((v) => String(v)) },
        ],
        series: [{}, ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, dash: s.dash, points: { show: perDay.length <= 31, size: 5 } }))],
      },
      chartColumns(perDay),
      el,
    );
    const resized = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: HEIGHT }));
    resized.observe(el);
    return () => {
      resized.disconnect();
      plot.destroy();
    };
  }, [perDay]);

  return (
    <figure className="chart-figure">
      <div className="chart" role="img" aria-label={summary} ref={box} />
      <figcaption className="chart-legend" aria-hidden="true">
        {SERIES.map((s, i) => (
          <span key={s.label} className={`key key-${i}`}>
            {s.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
