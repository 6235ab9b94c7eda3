/** Who hears what (pure): intents per event, and routes per topic and policy. */
import { describe, expect, it } from 'vitest';
import { destinationsFor, intentsFor, nameMatches, topicMatches } from '../../src/core/notify-plan.js';
import { request } from '../support/builders.js';

describe('intentsFor', () => {
  const pending = request();
  const active = request({ status: 'active', access: 'present', expiresAt: 1 });

  it('asks approvers only while the request still waits', () => {
    expect(intentsFor({ type: 'request.submitted' }, pending)).toEqual([{ topic: 'approval.requested', audience: { kind: 'approvers' } }]);
    expect(intentsFor({ type: 'request.submitted' }, active)).toEqual([]);
    expect(intentsFor({ type: 'reminder.pending_timeout' }, pending)).toEqual([{ topic: 'approval.reminder', audience: { kind: 'approvers' } }]);
    expect(intentsFor({ type: 'request.escalated', details: { tiers: { p: 1 } } }, pending)).toEqual([
      { topic: 'approval.escalated', audience: { kind: 'approvers', tiers: { p: 1 } } },
    ]);
  });

  it('tells the requester of decisions and of their grant, and closes the prompts', () => {
    const topics = (type: string) => intentsFor({ type }, active).map((i) => `${i.topic}:${i.audience.kind}`);
    expect(topics('request.denied')).toEqual(['approval.closed:approvers', 'request.decided:requester']);
    expect(topics('request.cancelled')).toEqual(['approval.closed:approvers']);
    expect(topics('grant.activated')).toEqual(['approval.closed:approvers', 'grant.active:requester']);
    expect(topics('reminder.grant_expiring')).toEqual(['grant.expiring:requester']);
    for (const t of ['grant.expired', 'grant.revoked', 'grant.released', 'request.failed']) expect(topics(t)).toEqual(['grant.ended:requester']);
  });

  it('alerts admins, and asks reviewers of break-glass', () => {
    expect(intentsFor({ type: 'alert.break_glass_used' }, active).map((i) => i.topic)).toEqual(['review.requested', 'alert']);
    for (const t of ['alert.revocation_overdue', 'drift.extra_privileges', 'alert.audit_chain_broken']) {
      expect(intentsFor({ type: t }, undefined)).toEqual([{ topic: 'alert', audience: { kind: 'admins' } }]);
    }
    expect(intentsFor({ type: 'auth.signed_in' }, undefined)).toEqual([]);
    expect(intentsFor({ type: 'some.future_type' }, undefined)).toEqual([]);
  });
});

describe('routes', () => {
  const routes = [
    { channels: ['email', 'slack'], topics: ['*'], policies: ['*'] },
    { channels: ['teams:ops'], topics: ['approval.*', 'alert'], policies: ['prod-*'] },
    { channels: ['slack:C1'], topics: ['alert'], policies: ['*'] },
  ];
  it('match topics and policies by pattern', () => {
    expect(destinationsFor(routes, 'approval.requested', ['prod-db'])).toEqual(['email', 'slack', 'teams:ops']);
    expect(destinationsFor(routes, 'approval.requested', ['dev-db'])).toEqual(['email', 'slack']);
    expect(destinationsFor(routes, 'grant.active', ['prod-db'])).toEqual(['email', 'slack']);
    // An alert about no request matches only routes for every policy.
    expect(destinationsFor(routes, 'alert', [])).toEqual(['email', 'slack', 'slack:C1']);
  });
  it('patterns', () => {
    expect(topicMatches(['approval.*'], 'approval.closed')).toBe(true);
    expect(topicMatches(['approval.*'], 'alert')).toBe(false);
    expect(nameMatches(['prod-*'], 'prod-db')).toBe(true);
    expect(nameMatches(['prod-*'], 'xprod-db')).toBe(false);
    expect(nameMatches(['a.b'], 'aXb')).toBe(false);
  });
});
