/**
 * A Prometheus histogram with one label whose values are known up front, for the hottest
 * observation Hourglass makes (hourglass_check_duration_seconds, on every /v1/check).
 *
 * Why not prom-client's Histogram: its observe converts, validates and hashes the labels on every
 * call, even through a bound child, which cost /v1/check more than its index lookup
 * (docs/benchmarks.md). Here an observation is an array index and a bucket search; prom-client
 * still formats the exposition (the registry reads `get()` like any of its own metrics), so the
 * output is what a prom-client Histogram with the same name, buckets and labels would write.
 */
import type { Registry } from 'prom-client';

interface Series {
  /** Per bucket (not cumulative); the last slot counts values above the highest bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class LeanHistogram<V extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<V, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: string,
    values: readonly V[],
    private readonly bounds: readonly number[],
    registers: Registry[],
  ) {
    for (const v of values) this.series.set(v, { counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 });
    for (const r of registers) r.registerMetric(this as never);
  }

  /** Records `value` under label value `v` (one of those given at construction; others are dropped). */
  observe(v: V, value: number): void {
    const s = this.series.get(v);
    if (!s || !Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  /** prom-client's metric shape: cumulative `_bucket` series by `le`, then `_sum` and `_count`. */
  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const [v, s] of this.series) {
      if (s.count === 0) continue; // as prom-client: a label set never observed is not exposed
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, [this.label]: v }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', [this.label]: v }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { [this.label]: v }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.label]: v }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
