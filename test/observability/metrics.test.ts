/**
 * GET /metrics: who may read it, and that its figures follow a real request lifecycle over a
 * real SQLite store (counters from the use cases, gauges read from the store at scrape time).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchedulerStatus } from '../../src/adapters/scheduler.js';
import { T0, token } from '../support/app-harness.js';
import { createObservedServer, parseMetrics, valueOf, type Sample } from './support.js';

describe('GET /metrics access', () => {
  let h: Awaited<ReturnType<typeof createObservedServer>>;
  beforeAll(async () => {
    h = await createObservedServer();
  });
  afterAll(async () => {
    await h.close();
  });

  it('401 without a token or with a wrong one, bland and with WWW-Authenticate', async () => {
    for (const auth of [undefined, 'not-a-token', 'prom-demo-token ']) {
      const res = await h.scrape(auth);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(JSON.parse(res.body)).toEqual({ error: { code: 'HG_UNAUTHENTICATED', message: 'authentication required' } });
    }
    const basic = await h.server.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Basic cHJvbTpwcm9t' } });
    expect(basic.statusCode).toBe(401);
  });

  it('403 for a principal without the metrics or admin role', async () => {
    for (const who of ['alice', 'auditor', 'app']) {
      const res = await h.scrape(token(who));
      expect(res.statusCode, who).toBe(403);
      expect(JSON.parse(res.body).error.code).toBe('HG_FORBIDDEN');
    }
  });

  it('200 in the Prometheus text format for the metrics role and for admins', async () => {
    for (const who of ['prom', 'sec-admin']) {
      const res = await h.scrape(token(who));
      expect(res.statusCode, who).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('# TYPE hourglass_events_total counter');
      const samples = parseMetrics(res.body);
      // Node process metrics are included.
      expect(valueOf(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(samples.some((s) => s.name.startsWith('nodejs_eventloop_lag'))).toBe(true);
    }
  });

  it('404 when the server runs without metrics, whatever the token', async () => {
    const bare = await createObservedServer({ metrics: false });
    try {
      for (const auth of [undefined, token('prom')]) {
        const res = await bare.scrape(auth);
        expect(res.statusCode).toBe(404);
        expect(JSON.parse(res.body).error.code).toBe('HG_NOT_FOUND');
      }
    } finally {
      await bare.close();
    }
  });
});

describe('metric values', () => {
  let h: Awaited<ReturnType<typeof createObservedServer>>;
  const scheduler: SchedulerStatus = { running: true, lastRunAt: T0 - 200, lastLagMs: 120, transitions: 0 };
  const samples = async (): Promise<Sample[]> => {
    const res = await h.scrape(token('prom'));
    expect(res.statusCode).toBe(200);
    return parseMetrics(res.body);
  };

  beforeAll(async () => {
    h = await createObservedServer({ scheduler: () => scheduler });
  });
  afterAll(async () => {
    await h.close();
  });

  it('starts from zero, with a series for every configured target', async () => {
    const s = await samples();
    expect(valueOf(s, 'hourglass_store_up')).toBe(1);
    for (const status of ['pending', 'scheduled', 'active']) expect(valueOf(s, 'hourglass_requests', { status })).toBe(0);
    expect(valueOf(s, 'hourglass_active_grants', { target: 'demo-db' })).toBe(0);
    expect(valueOf(s, 'hourglass_active_grants', { target: 'ops-console' })).toBe(0);
    expect(valueOf(s, 'hourglass_revocations_overdue')).toBe(0);
    expect(valueOf(s, 'hourglass_webhook_outbox_pending')).toBe(0);
    expect(valueOf(s, 'hourglass_webhook_outbox_oldest_pending_age_seconds')).toBe(0);
    expect(valueOf(s, 'hourglass_audit_chain_length')).toBe(0);
    // Not verified yet: no verdict rather than a false one.
    expect(valueOf(s, 'hourglass_audit_chain_ok')).toBeUndefined();
    expect(valueOf(s, 'hourglass_scheduler_running')).toBe(1);
    expect(valueOf(s, 'hourglass_scheduler_last_run_timestamp_seconds')).toBe((T0 - 200) / 1000);
    expect(valueOf(s, 'hourglass_scheduler_lag_seconds')).toBe(0.12);
    expect(valueOf(s, 'hourglass_scheduler_failing')).toBe(0);
  });

  it('counters and gauges follow a lifecycle: submit, approve, check, self-service, revoke, expire', async () => {
    const admin = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['demo-db/admin'], duration: '1h', reason: 'index' });
    expect(admin.status).toBe(201);
    expect((await h.call('POST', `/v1/requests/${admin.body.id}/approve`, token('alice'))).status).toBe(403); // self-approval: refused
    let s = await samples();
    expect(valueOf(s, 'hourglass_requests', { status: 'pending' })).toBe(1);

    expect((await h.call('POST', `/v1/requests/${admin.body.id}/approve`, token('bob'), { comment: 'ok' })).body.status).toBe('active');
    const read = await h.call('POST', '/v1/requests', token('bob'), { entitlements: ['demo-db/read', 'ops-console/view'], duration: '30m' });
    expect(read.body.status).toBe('active');
    const other = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['ops-console/view'], duration: '2h' });
    expect(other.body.status).toBe('active');
    for (const [principal, entitlement, allowed] of [
      ['alice', 'demo-db/admin', true],
      ['alice', 'demo-db/read', false],
      ['carol', 'demo-db/admin', false],
    ] as const) {
      expect((await h.call('GET', `/v1/check?principal=${principal}&entitlement=${entitlement}`, token('app'))).body.allowed).toBe(allowed);
    }

    s = await samples();
    expect(valueOf(s, 'hourglass_requests', { status: 'pending' })).toBe(0);
    expect(valueOf(s, 'hourglass_requests', { status: 'active' })).toBe(3);
    expect(valueOf(s, 'hourglass_active_grants', { target: 'demo-db' })).toBe(2);
    expect(valueOf(s, 'hourglass_active_grants', { target: 'ops-console' })).toBe(2);
    expect(valueOf(s, 'hourglass_events_total', { type: 'request.submitted' })).toBe(3);
    expect(valueOf(s, 'hourglass_events_total', { type: 'grant.activated' })).toBe(3);
    expect(valueOf(s, 'hourglass_decisions_total', { decision: 'approve' })).toBe(1);
    expect(valueOf(s, 'hourglass_decisions_total', { decision: 'action_refused' })).toBe(1);
    expect(valueOf(s, 'hourglass_check_duration_seconds_count', { allowed: 'true' })).toBe(1);
    expect(valueOf(s, 'hourglass_check_duration_seconds_count', { allowed: 'false' })).toBe(2);
    expect(valueOf(s, 'hourglass_check_duration_seconds_bucket', { allowed: 'false', le: '+Inf' })).toBe(2);
    const chain = valueOf(s, 'hourglass_audit_chain_length')!;
    expect(chain).toBeGreaterThanOrEqual(7);
    expect(valueOf(s, 'hourglass_audit_unchained_events')).toBe(0);

    // An admin revokes bob's grant; alice's admin grant expires 2 s late (whatever ran before it,
    // such as a reminder, ran just before expiry).
    expect((await h.call('POST', `/v1/requests/${read.body.id}/revoke`, token('sec-admin'), { reason: 'done' })).body.status).toBe('revoked');
    h.clock.set(T0 + 3600_000 - 1);
    await h.app.due.runDue();
    const before = await samples();
    const lag = (x: Sample[], name: string, labels: Record<string, string> = {}) => valueOf(x, `hourglass_due_lag_seconds_${name}`, labels) ?? 0;
    h.clock.set(T0 + 3600_000 + 2000);
    await h.app.due.runDue();

    s = await samples();
    expect(valueOf(s, 'hourglass_decisions_total', { decision: 'revoke' })).toBe(1);
    expect(valueOf(s, 'hourglass_events_total', { type: 'grant.expired' })).toBe(1);
    expect(lag(s, 'count') - lag(before, 'count')).toBe(1);
    expect(lag(s, 'sum') - lag(before, 'sum')).toBeCloseTo(2, 6);
    expect(lag(s, 'bucket', { le: '1' }) - lag(before, 'bucket', { le: '1' })).toBe(0);
    expect(lag(s, 'bucket', { le: '2.5' }) - lag(before, 'bucket', { le: '2.5' })).toBe(1);
    expect(valueOf(s, 'hourglass_requests', { status: 'active' })).toBe(1);
    expect(valueOf(s, 'hourglass_active_grants', { target: 'demo-db' })).toBe(0);
    expect(valueOf(s, 'hourglass_active_grants', { target: 'ops-console' })).toBe(1);
    expect(valueOf(s, 'hourglass_audit_chain_length')).toBeGreaterThan(chain);
  });

  it('reports the last audit verification', async () => {
    const report = await h.app.audit.verifyIncrementally();
    expect(report.ok).toBe(true);
    const s = await samples();
    expect(valueOf(s, 'hourglass_audit_chain_ok')).toBe(1);
    expect(valueOf(s, 'hourglass_audit_last_verify_timestamp_seconds')).toBe(h.clock.now() / 1000);
  });

  it('counts overdue revocations and the webhook outbox from the store', async () => {
    const now = h.clock.now();
    // A connector that cannot reach its target leaves access `removing` (a later issue): fake two
    // such rows (only the columns and the fields the gauge reads).
    const removing = (id: string, endedAt: number) => ({
      id,
      status: 'revoked',
      access: 'removing',
      requester: 'alice',
      due_at: null,
      requested_at: now,
      version: 2,
      body: JSON.stringify({ id, status: 'revoked', access: 'removing', endedAt }),
    });
    await h.store.db
      .insertInto('requests')
      .values([removing('req_removing_old', now - 61_000), removing('req_removing_new', now - 5_000)])
      .execute();
    const outbox = (id: string, status: string, createdAt: number) => ({
      id,
      endpoint: 'siem',
      event_id: `ev_${id}`,
      event_seq: 1,
      event_type: 'grant.activated',
      payload: '{}',
      status,
      attempts: 1,
      next_attempt_at: now,
      last_status: null,
      last_error: null,
      created_at: createdAt,
      delivered_at: null,
    });
    await h.store.db
      .insertInto('webhook_outbox')
      .values([outbox('o1', 'pending', now - 30_000), outbox('o2', 'pending', now - 1000), outbox('o3', 'delivered', now - 90_000)])
      .execute();

    const s = await samples();
    expect(valueOf(s, 'hourglass_revocations_pending')).toBe(2);
    expect(valueOf(s, 'hourglass_revocations_overdue')).toBe(1);
    expect(valueOf(s, 'hourglass_webhook_outbox_pending')).toBe(2);
    expect(valueOf(s, 'hourglass_webhook_outbox_oldest_pending_age_seconds')).toBe(30);
  });

  it('the Metrics port counts webhook deliveries and revocation retries, and never throws', async () => {
    const m = h.app.deps.metrics!;
    m.webhookDelivery('siem', 'delivered');
    m.webhookDelivery('siem', 'failed');
    m.webhookDelivery('siem', 'failed');
    m.revocationRetry('prod-db');
    m.eventRecorded('Not An Event Type {"x"}');
    expect(() => m.checkLatency(Number.NaN, true)).not.toThrow();
    const s = await samples();
    expect(valueOf(s, 'hourglass_webhook_deliveries_total', { endpoint: 'siem', outcome: 'failed' })).toBe(2);
    expect(valueOf(s, 'hourglass_webhook_deliveries_total', { endpoint: 'siem', outcome: 'delivered' })).toBe(1);
    expect(valueOf(s, 'hourglass_revocation_retries_total', { target: 'prod-db' })).toBe(1);
    expect(valueOf(s, 'hourglass_events_total', { type: 'other' })).toBe(1);
  });

  it('still answers when the store is gone: store gauges drop out, hourglass_store_up is 0', async () => {
    scheduler.lastError = 'boom';
    await h.store.close();
    const s = await samples();
    expect(valueOf(s, 'hourglass_store_up')).toBe(0);
    expect(valueOf(s, 'hourglass_requests', { status: 'active' })).toBeUndefined();
    expect(valueOf(s, 'hourglass_active_grants', { target: 'demo-db' })).toBeUndefined();
    expect(valueOf(s, 'hourglass_scheduler_failing')).toBe(1);
    expect(valueOf(s, 'hourglass_events_total', { type: 'grant.expired' })).toBe(1);
  });
});
