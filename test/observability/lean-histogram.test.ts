/**
 * The lean histogram behind hourglass_check_duration_seconds (src/adapters/lean-histogram.ts)
 * writes exactly what prom-client's Histogram writes for the same observations, in both the
 * Prometheus and the OpenMetrics exposition.
 */
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LeanHistogram } from '../../src/adapters/lean-histogram.js';

const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1];

function registry(openMetrics: boolean): Registry {
  if (!openMetrics) return new Registry();
  const r = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return r as unknown as Registry;
}

function pair(openMetrics = false) {
  const reference = registry(openMetrics);
  const lean = registry(openMetrics);
  const theirs = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['allowed'], buckets: BOUNDS, registers: [reference] });
  const ours = new LeanHistogram('x_seconds', 'help text', 'allowed', ['true', 'false'] as const, BOUNDS, [lean]);
  return { reference, lean, observe: (allowed: 'true' | 'false', v: number) => (theirs.observe({ allowed }, v), ours.observe(allowed, v)), ours };
}

describe('LeanHistogram', () => {
  it('exposes what prom-client exposes: nothing before an observation, then buckets, sum and count', async () => {
    for (const openMetrics of [false, true]) {
      const p = pair(openMetrics);
      expect(await p.lean.metrics()).toBe(await p.reference.metrics());
      // On bounds, between them, above the last, zero; only the `true` series at first.
      for (const v of [0, 0.0005, 0.0007, 0.001, 0.003, 0.5, 1, 2, 30]) p.observe('true', v);
      expect(await p.lean.metrics()).toBe(await p.reference.metrics());
      p.observe('false', 0.002);
      p.observe('false', 0.2);
      const text = await p.lean.metrics();
      expect(text).toBe(await p.reference.metrics());
      expect(text).toContain('x_seconds_bucket{le="0.001",allowed="true"} 4');
      expect(text).toContain('x_seconds_count{allowed="false"} 2');
    }
  });

  it('drops what it cannot count instead of throwing: an unknown label value, a non-finite value', async () => {
    const p = pair();
    p.ours.observe('maybe' as 'true', 0.1);
    p.ours.observe('true', Number.NaN);
    p.ours.observe('true', Number.POSITIVE_INFINITY);
    expect(await p.lean.metrics()).toBe(await p.reference.metrics());
  });
});
