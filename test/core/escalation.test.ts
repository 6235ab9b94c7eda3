/** Escalation tiers in the pure core: due times, who may approve after each tier, and what is recorded. */
import { describe, expect, it } from 'vitest';
import { approve, approverFor, approvesOrReviews, dueAt, needsReview, open, review, tick, type Facts } from '../../src/core/lifecycle.js';
import type { Policy } from '../../src/core/types.js';
import { HOUR, MINUTE, T0, policy, principal, requestUnder, subjects } from '../support/builders.js';

const leads = principal('bob', ['leads']);
const manager = principal('erin', ['managers']);
const director = principal('dana', ['directors']);
const facts = (now: number): Facts => ({ now, inline: true });

function escalating(): Policy {
  const p = policy({ name: 'write', approval: { required: 1, approvers: { groups: ['leads'] } }, pendingTimeout: 4 * HOUR });
  p.approval.escalation = [
    { afterMs: 30 * MINUTE, approvers: subjects({ groups: ['managers'] }) },
    { afterMs: HOUR, approvers: subjects({ groups: ['directors'] }) },
  ];
  return p;
}

const submitted = () => open(requestUnder([escalating()]), facts(T0)).request;

describe('escalation', () => {
  it('is due at each tier in turn, measured from submission', () => {
    const req = submitted();
    expect(req.escalation).toEqual({ tiers: {}, nextAt: T0 + 30 * MINUTE });
    expect(dueAt(req)).toBe(T0 + 30 * MINUTE);
    expect(tick(req, facts(T0 + 30 * MINUTE - 1))).toBeUndefined();

    const first = tick(req, facts(T0 + 30 * MINUTE))!;
    expect(first.events).toEqual([
      expect.objectContaining({
        type: 'request.escalated',
        actor: 'system',
        details: { tiers: { write: 1 }, approvers: { write: subjects({ groups: ['managers'] }) }, approvals: 0 },
      }),
    ]);
    expect(first.request.escalation).toEqual({ tiers: { write: 1 }, nextAt: T0 + HOUR });
    const second = tick(first.request, facts(T0 + HOUR))!;
    expect(second.request.escalation).toEqual({ tiers: { write: 2 } });
    expect(dueAt(second.request)).toBe(second.request.pendingUntil);
  });

  it('adds each tier to the approvers, never taking the earlier ones away', () => {
    const req = submitted();
    expect(() => approverFor(req, manager)).toThrow(expect.objectContaining({ code: 'HG_NOT_APPROVER' }));
    expect(approvesOrReviews(req, manager)).toBe(false);
    const first = tick(req, facts(T0 + 30 * MINUTE))!.request;
    expect(approverFor(first, manager)).toEqual(['write']);
    expect(approverFor(first, leads)).toEqual(['write']);
    expect(() => approverFor(first, director)).toThrow(expect.objectContaining({ code: 'HG_NOT_APPROVER' }));
    expect(approvesOrReviews(first, manager)).toBe(true);
    const approved = approve(first, manager, undefined, facts(T0 + 31 * MINUTE));
    expect(approved.request.status).toBe('active');
  });

  it('never lets an escalation tier approve for the requester', () => {
    const first = tick(submitted(), facts(T0 + 30 * MINUTE))!.request;
    expect(() => approverFor({ ...first, requester: 'erin' }, manager)).toThrow(expect.objectContaining({ code: 'HG_SELF_APPROVAL' }));
  });

  it('stops once the request is decided', () => {
    const decided = approve(submitted(), leads, undefined, facts(T0 + MINUTE)).request;
    expect(decided.status).toBe('active');
    expect(dueAt(decided)).toBe(decided.expiresAt);
    expect(tick(decided, facts(T0 + 30 * MINUTE))).toBeUndefined();
  });

  it('does nothing for policies without tiers', () => {
    const req = open(requestUnder([policy({ approval: { required: 1, approvers: { groups: ['leads'] } } })]), facts(T0)).request;
    expect(req.escalation).toBeUndefined();
  });
});

describe('on call', () => {
  const onCallPolicy = () => {
    const p = policy({ name: 'oc', approval: { required: 2, approvers: { groups: ['leads'] } } });
    p.approval.onCall = 'primary';
    p.review = { approvers: subjects({ groups: ['leads'] }), within: HOUR };
    return p;
  };

  it('needs no approver for a requester on call now, and the grant must be reviewed', () => {
    const out = open(requestUnder([onCallPolicy()]), { ...facts(T0), onCall: { primary: ['alice'] } });
    expect(out.request.status).toBe('active');
    expect(out.request.approvals).toEqual([{ by: 'oncall:primary', at: T0, for: ['oc'], auto: 'oncall' }]);
    expect(out.request.reviewDueAt).toBe(T0 + HOUR);
    expect(out.events.map((e) => e.type)).toEqual(['request.submitted', 'request.auto_approved', 'grant.activated']);
    expect(needsReview(out.request)).toBe(true);
    expect(review(out.request, leads, 'ok', { now: T0 + MINUTE }).request.review).toMatchObject({ by: 'bob' });
  });

  it('waits for approvers when the requester is not on call (or nobody could be read)', () => {
    for (const onCall of [{ primary: ['carol'] }, { primary: [] }, undefined]) {
      const out = open(requestUnder([onCallPolicy()]), { ...facts(T0), ...(onCall ? { onCall } : {}) });
      expect(out.request.status).toBe('pending');
      expect(needsReview(out.request)).toBe(false);
    }
  });

  it('freezes whoever is on call when an on-call tier is reached, never the requester', () => {
    const p = policy({ name: 'write', approval: { required: 1, approvers: { groups: ['leads'] } }, pendingTimeout: 4 * HOUR });
    p.approval.escalation = [{ afterMs: 30 * MINUTE, onCall: 'primary' }];
    const req = open(requestUnder([p]), facts(T0)).request;
    const up = tick(req, { ...facts(T0 + 30 * MINUTE), onCall: { primary: ['dana', 'alice'] } })!;
    expect(up.request.escalation).toEqual({ tiers: { write: 1 }, onCall: { write: { 0: ['dana'] } } });
    expect(approverFor(up.request, director)).toEqual(['write']);
    expect(() => approverFor(up.request, manager)).toThrow(expect.objectContaining({ code: 'HG_NOT_APPROVER' }));
  });
});
