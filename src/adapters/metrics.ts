/**
 * Prometheus metrics (prom-client). Two kinds:
 * - observations pushed by the use cases through the `Metrics` port (counters and histograms);
 * - state read at scrape time from the store and the running server (gauges), with a few cheap,
 *   indexed queries shared by every gauge of one scrape.
 * Every name starts with `hourglass_`; docs/operations.md lists them with suggested alerts.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock, ConfigSource, Metrics } from '../app/ports.js';
import type { SchedulerStatus } from '../app/ports.js';
import type { CheckIndexStatus } from '../app/check-index.js';
import { LeanHistogram } from './lean-histogram.js';
import { REVOCATION_OVERDUE_MS, type StoreSnapshot } from './store/state-snapshot.js';

/** A registry with Node's process metrics (CPU, memory, event loop lag, GC, handles). */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Audit event type -> `decision` label: what a person (or policy) decided. */
const DECISIONS: Readonly<Record<string, string>> = {
  'request.approved': 'approve',
  'request.denied': 'deny',
  'request.refused': 'refuse',
  'decision.refused': 'action_refused',
  'request.cancelled': 'cancel',
  'grant.revoked': 'revoke',
  'grant.released': 'release',
  'grant.extension_approved': 'extension_approve',
  'grant.extension_denied': 'extension_deny',
  'breakglass.reviewed': 'review',
  'principal.locked': 'lock',
  'target.frozen': 'freeze',
};

/** Event types are a fixed set in code; anything else is folded so a label can never explode. */
const EVENT_TYPE = /^[a-z_]{1,40}\.[a-z_]{1,60}$/;

/** The `Metrics` port over a prom-client registry. Never throws: monitoring must not break a request. */
export function createPrometheusMetrics(registry: Registry): Metrics {
  const registers = [registry];
  const events = new Counter({
    name: 'hourglass_events_total',
    help: 'Audit events committed (and linked into the chain), by type',
    labelNames: ['type'],
    registers,
  });
  const decisions = new Counter({
    name: 'hourglass_decisions_total',
    help: 'Decisions on requests and grants: approve, deny, refuse (by policy), cancel, revoke, release, extension_*, review, lock, freeze, action_refused',
    labelNames: ['decision'],
    registers,
  });
  const dueLag = new Histogram({
    name: 'hourglass_due_lag_seconds',
    help: 'How late a due transition (activation, expiry, pending timeout, review alert) ran after its time',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const check = new LeanHistogram(
    'hourglass_check_duration_seconds',
    'Time to decide /v1/check (from the handler to the answer, before it is written), by answer',
    'allowed',
    ['true', 'false'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  );
  const notifications = new Counter({
    name: 'hourglass_notification_attempts_total',
    help: 'Notification attempts to people, by channel kind (email, slack, teams) and outcome (sent, skipped, failed)',
    labelNames: ['channel', 'outcome'],
    registers,
  });
  const webhooks = new Counter({
    name: 'hourglass_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by endpoint name and outcome (delivered, failed, refused)',
    labelNames: ['endpoint', 'outcome'],
    registers,
  });
  const retries = new Counter({
    name: 'hourglass_revocation_retries_total',
    help: 'Revocations on a target that had to be retried',
    labelNames: ['target'],
    registers,
  });
  const safe = (fn: () => void) => {
    try {
      fn();
    } catch {
      // A metric must never fail the work it observes.
    }
  };
  return {
    eventRecorded: (type) =>
      safe(() => {
        events.inc({ type: EVENT_TYPE.test(type) ? type : 'other' });
        const decision = DECISIONS[type];
        if (decision) decisions.inc({ decision });
      }),
    dueLag: (ms) => safe(() => dueLag.observe(Math.max(0, ms) / 1000)),
    // A lean histogram (lean-histogram.ts): this runs on every /v1/check, and cannot throw.
    checkLatency: (seconds, allowed) => check.observe(allowed ? 'true' : 'false', seconds),
    webhookDelivery: (endpoint, outcome) => safe(() => webhooks.inc({ endpoint, outcome })),
    notificationAttempt: (channel, outcome) => safe(() => notifications.inc({ channel, outcome })),
    revocationRetry: (target) => safe(() => retries.inc({ target })),
  };
}

// ---- state read at scrape time --------------------------------------------------------------

export { REVOCATION_OVERDUE_MS, type StoreSnapshot };

export interface StateSources {
  /** Reads the store's figures (`OpenedStore.stateSnapshot` from openStore). */
  snapshot: (now: number) => Promise<StoreSnapshot>;
  clock: Clock;
  /** Configured targets get an `hourglass_active_grants` series even at 0. */
  config?: ConfigSource;
  scheduler?: () => SchedulerStatus;
  /** The last audit chain verification (`app.audit.lastVerify`). */
  lastVerify?: () => { ok: boolean; at: number } | undefined;
  /** The check index (`CheckIndex.status`). */
  checkIndex?: () => CheckIndexStatus;
  /** A snapshot is shared by every gauge of a scrape and reused for this long (default 1 s). */
  cacheMs?: number;
}

/** Registers the gauges read at scrape time. Call once per registry. */
export function registerStateGauges(registry: Registry, src: StateSources): void {
  const registers = [registry];
  const cacheMs = src.cacheMs ?? 1000;
  // One snapshot serves every gauge of a scrape (their collects run together) and is reused for
  // `cacheMs` (monotonic time), so two Prometheus servers scraping together cost one read.
  let cached: { startedAt: number; settled: boolean; value: Promise<StoreSnapshot | undefined> } | undefined;
  const snapshot = (): Promise<StoreSnapshot | undefined> => {
    const t = performance.now();
    if (!cached || (cached.settled && t - cached.startedAt >= cacheMs)) {
      const entry: NonNullable<typeof cached> = {
        startedAt: t,
        settled: false,
        value: src
          .snapshot(src.clock.now())
          .catch(() => undefined)
          .finally(() => {
            entry.settled = true;
          }),
      };
      cached = entry;
    }
    return cached.value;
  };
  const seconds = (ms: number) => ms / 1000;

  new Gauge({
    name: 'hourglass_store_up',
    help: '1 when the store answered the scrape-time queries, else 0 (the store gauges are then absent)',
    registers,
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'hourglass_requests',
    help: 'Open requests by status (pending, scheduled, active); final outcomes are counted by hourglass_events_total',
    labelNames: ['status'],
    registers,
    async collect() {
      const s = await snapshot();
      this.reset();
      if (s) for (const [status, n] of Object.entries(s.requests)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'hourglass_active_grants',
    help: 'Live grants (one per entitlement) by target',
    labelNames: ['target'],
    registers,
    async collect() {
      const s = await snapshot();
      this.reset();
      if (!s) return;
      const counts: Record<string, number> = {};
      for (const t of Object.keys(src.config?.current().targets ?? {})) counts[t] = 0;
      Object.assign(counts, s.grantsByTarget);
      for (const [target, n] of Object.entries(counts)) this.set({ target }, n);
    },
  });
  const fromSnapshot = (name: string, help: string, pick: (s: StoreSnapshot) => number | undefined) =>
    optionalGauge(registry, name, help, async () => {
      const s = await snapshot();
      return s ? pick(s) : undefined;
    });
  fromSnapshot('hourglass_revocations_pending', 'Requests whose access is being removed from the target', (s) => s.revocationsPending);
  fromSnapshot(
    'hourglass_revocations_overdue',
    `Requests still removing access more than ${REVOCATION_OVERDUE_MS / 1000} s after they ended: access outlives its grant`,
    (s) => s.revocationsOverdue,
  );
  fromSnapshot('hourglass_audit_chain_length', 'Events linked into the audit hash chain (the head sequence number)', (s) => s.auditChainLength);
  fromSnapshot(
    'hourglass_audit_unchained_events',
    'Audit rows outside the hash chain: the server links every event it writes, so these were written by something else (should be 0)',
    (s) => s.auditUnchained,
  );
  fromSnapshot('hourglass_audit_last_checkpoint_timestamp_seconds', 'When the last signed audit checkpoint was made', (s) =>
    s.lastCheckpointAt === undefined ? undefined : seconds(s.lastCheckpointAt),
  );
  fromSnapshot('hourglass_webhook_outbox_pending', 'Webhook deliveries waiting in the outbox', (s) => s.outboxPending);
  fromSnapshot('hourglass_webhook_outbox_oldest_pending_age_seconds', 'Age of the oldest webhook delivery waiting in the outbox (0 when none)', (s) =>
    s.outboxOldestPendingAt === undefined ? 0 : Math.max(0, seconds(src.clock.now() - s.outboxOldestPendingAt)),
  );

  if (src.lastVerify) {
    const last = src.lastVerify;
    optionalGauge(registry, 'hourglass_audit_chain_ok', '1 when the last audit chain verification passed, 0 when it found the chain altered', () => {
      const v = last();
      return v ? (v.ok ? 1 : 0) : undefined;
    });
    optionalGauge(registry, 'hourglass_audit_last_verify_timestamp_seconds', 'When the audit chain was last verified', () => {
      const v = last();
      return v ? seconds(v.at) : undefined;
    });
  }

  if (src.scheduler) {
    const status = src.scheduler;
    const gauge = (name: string, help: string, pick: (s: SchedulerStatus) => number | undefined) => optionalGauge(registry, name, help, () => pick(status()));
    gauge('hourglass_scheduler_running', '1 while the scheduler runs', (s) => (s.running ? 1 : 0));
    gauge('hourglass_scheduler_last_run_timestamp_seconds', 'When the scheduler last completed a pass', (s) =>
      s.lastRunAt === undefined ? undefined : seconds(s.lastRunAt),
    );
    gauge('hourglass_scheduler_lag_seconds', 'How late the most overdue item of the last pass was', (s) => seconds(s.lastLagMs));
    gauge('hourglass_scheduler_failing', '1 when the last scheduler pass failed', (s) => (s.lastError ? 1 : 0));
  }

  if (src.checkIndex) {
    const status = src.checkIndex;
    optionalGauge(registry, 'hourglass_check_index_grants', "Live grants in this server's check index", () => status().grants);
    optionalGauge(
      registry,
      'hourglass_check_index_age_seconds',
      "Since this server's check index was last confirmed current (checks are refused past server.checkIndex.staleAfter)",
      () => {
        const age = status().ageMs;
        return age === undefined ? undefined : seconds(age);
      },
    );
    optionalGauge(registry, 'hourglass_check_index_seq', 'The last audit seq the check index has applied', () => status().seq);
  }
}

/**
 * A gauge without labels whose value is read at scrape time and that is left out of the scrape
 * when unknown (prom-client would print 0, which an alert cannot tell from a real 0).
 */
class OptionalGauge extends Gauge<string> {
  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly read: () => number | undefined | Promise<number | undefined>,
  ) {
    super({ name, help, registers: [registry] });
  }

  override async get() {
    const [base, value] = await Promise.all([super.get(), this.read()]);
    return { ...base, values: value === undefined || !Number.isFinite(value) ? [] : [{ labels: {}, value }] };
  }
}

function optionalGauge(registry: Registry, name: string, help: string, read: () => number | undefined | Promise<number | undefined>) {
  return new OptionalGauge(registry, name, help, read);
}
