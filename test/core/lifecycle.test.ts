import { describe, expect, it } from 'vitest';
import { HgError, type ErrorCode } from '../../src/core/errors.js';
import {
  accessAttemptFailed,
  activate,
  approve,
  approverFor,
  cancel,
  deny,
  dueAt,
  extend,
  fail,
  isFinal,
  lease,
  mayRevoke,
  needsApproval,
  open,
  provisioned,
  quorumMet,
  release,
  removed,
  review,
  revoke,
  tick,
  type Facts,
  type Outcome,
} from '../../src/core/lifecycle.js';
import { termsOf } from '../../src/core/policy.js';
import { FINAL_STATUSES, type AccessRequest, type Policy, type RequestStatus } from '../../src/core/types.js';
import { DAY, HOUR, MINUTE, SECOND, T0, breakGlassPolicy, policy, principal, request, requestUnder } from '../support/builders.js';

// ---- cast -------------------------------------------------------------------------------------------

const alice = principal('alice', ['developers', 'oncall']); // the requester
const bob = principal('bob', ['leads']);
const carol = principal('carol', ['leads']);
const dave = principal('dave', ['security']);
const erin = principal('erin', ['leads', 'security']);
const sam = principal('sam', ['sre-leads']); // break-glass reviewer
const eve = principal('eve', ['developers']); // a stranger to every approval
const root = principal('root', [], ['admin']);

const selfService = policy({ name: 'self-service' });
const oneLead = policy({ name: 'one-lead', approval: { required: 1, approvers: { groups: ['leads'] } } });
const twoOfThree = policy({ name: 'two-of-three', approval: { required: 2, approvers: { users: ['bob', 'carol', 'dave'] } } });
const security = policy({
  name: 'security',
  entitlements: ['vault/admin'],
  approval: { required: 1, approvers: { groups: ['security'] } },
});
const breakGlass = breakGlassPolicy({ subjects: { groups: ['oncall'] }, review: { approvers: { groups: ['sre-leads'], users: [] }, within: 4 * HOUR } });

const at = (now: number, inline = true): Facts => ({ now, inline });

function codeOf(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (e) {
    if (e instanceof HgError) return e.code;
    throw e;
  }
  throw new Error('expected an HgError, but nothing was thrown');
}

function types(out: Outcome): string[] {
  return out.events.map((e) => e.type);
}

/** An active grant under `policies`, activated at T0 for one hour. */
function activeUnder(policies: Policy[], overrides: Partial<AccessRequest> = {}): AccessRequest {
  return requestUnder(policies, {
    status: 'active',
    access: 'present',
    activatedAt: T0,
    expiresAt: T0 + HOUR,
    version: 2,
    ...overrides,
  });
}

/** Applies an outcome after checking the version moved by exactly one. */
function step(before: AccessRequest, out: Outcome): AccessRequest {
  expect(out.request.version).toBe(before.version + 1);
  for (const e of out.events) expect(e.requestId).toBe(before.id);
  return out.request;
}

// ---- open -------------------------------------------------------------------------------------------

describe('open', () => {
  it('leaves a request that needs approval pending, unchanged, with one submitted event', () => {
    const req = requestUnder([oneLead], { reason: 'debug', ticket: 'INC-1', sourceIp: '10.0.0.1' });
    const out = open(req, at(T0));
    expect(out.request).toEqual(req);
    expect(out.events).toEqual([
      {
        type: 'request.submitted',
        actor: 'alice',
        requestId: 'req-1',
        details: {
          entitlements: ['db/read'],
          durationMs: HOUR,
          reason: 'debug',
          ticket: 'INC-1',
          startAt: undefined,
          policies: { 'db/read': 'one-lead' },
          breakGlass: false,
          sourceIp: '10.0.0.1',
        },
      },
    ]);
  });

  it('activates a self-service request at once when access is inline', () => {
    const req = requestUnder([selfService]);
    const out = open(req, at(T0));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'active', access: 'present', activatedAt: T0, expiresAt: T0 + HOUR });
    expect(types(out)).toEqual(['request.submitted', 'grant.activated']);
    expect(out.events[1]).toMatchObject({ actor: 'alice', details: { expiresAt: T0 + HOUR, entitlements: ['db/read'] } });
  });

  it('starts provisioning a self-service request when access goes through a connector', () => {
    const req = requestUnder([selfService]);
    const out = open(req, at(T0, false));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'scheduled', access: 'provisioning', expiresAt: T0 + HOUR });
    expect(r.activatedAt).toBeUndefined();
    expect(types(out)).toEqual(['request.submitted', 'grant.provisioning']);

    const done = provisioned(r, { now: T0 + 5 * SECOND });
    const a = step(r, done);
    expect(a).toMatchObject({ status: 'active', access: 'present', activatedAt: T0 + 5 * SECOND, expiresAt: T0 + HOUR });
    expect(done.events).toEqual([
      { type: 'grant.activated', actor: 'system', requestId: 'req-1', details: { expiresAt: T0 + HOUR, entitlements: ['db/read'] } },
    ]);
  });

  it('schedules a request whose start is in the future, and tick activates it at the start', () => {
    const startAt = T0 + 3 * HOUR;
    const req = requestUnder([selfService], { startAt });
    const out = open(req, at(T0));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'scheduled', access: 'none' });
    expect(r.expiresAt).toBeUndefined();
    expect(types(out)).toEqual(['request.submitted', 'request.scheduled']);
    expect(out.events[1]?.details).toEqual({ startAt });
    expect(dueAt(r)).toBe(startAt);
    expect(tick(r, at(startAt - 1))).toBeUndefined();

    const started = tick(r, at(startAt))!;
    const a = step(r, started);
    expect(a).toMatchObject({ status: 'active', access: 'present', activatedAt: startAt, expiresAt: startAt + HOUR });
    expect(started.events).toMatchObject([{ type: 'grant.activated', actor: 'system' }]);
  });

  it('a late tick activates a scheduled request and counts the duration from activation', () => {
    const startAt = T0 + HOUR;
    const r = open(requestUnder([selfService], { startAt }), at(T0)).request;
    const a = tick(r, at(startAt + 10 * MINUTE, false))!.request;
    expect(a).toMatchObject({ status: 'scheduled', access: 'provisioning', expiresAt: startAt + 10 * MINUTE + HOUR });
  });

  it('a start that is now or past does not wait', () => {
    expect(open(requestUnder([selfService], { startAt: T0 }), at(T0)).request.status).toBe('active');
    expect(open(requestUnder([selfService], { startAt: T0 - MINUTE }), at(T0)).request.status).toBe('active');
  });

  it('break-glass never waits for approval, raises an alert and sets the review deadline', () => {
    const bgNeedingApproval = { ...breakGlass, approval: { required: 1, approvers: { groups: ['leads'], users: [] } } };
    const req = requestUnder([bgNeedingApproval], { reason: 'prod down' });
    expect(req.breakGlass).toBe(true);
    const out = open(req, at(T0));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'active', access: 'present', reviewDueAt: T0 + 4 * HOUR, reviewAlerted: false });
    expect(types(out)).toEqual(['request.submitted', 'grant.activated', 'alert.break_glass_used']);
    expect(out.events[2]).toEqual({
      type: 'alert.break_glass_used',
      actor: 'alice',
      requestId: 'req-1',
      details: { entitlements: ['db/read'], reason: 'prod down', reviewDueAt: T0 + 4 * HOUR },
    });
  });

  it('with several break-glass policies the review is due by the shortest deadline', () => {
    // As with pending timeouts and default durations, the strictest of the chosen policies applies.
    const dayReview = breakGlassPolicy({ name: 'bg-day', entitlements: ['vault/admin'], subjects: { groups: ['oncall'] } });
    const hourReview = breakGlassPolicy({
      name: 'bg-hour',
      subjects: { groups: ['oncall'] },
      review: { approvers: { groups: ['sre-leads'], users: [] }, within: HOUR },
    });
    const r = open(requestUnder([dayReview, hourReview]), at(T0)).request;
    expect(r.status).toBe('active');
    expect(r.reviewDueAt).toBe(T0 + HOUR);
  });

  it('break-glass through a connector alerts when provisioning starts', () => {
    const out = open(requestUnder([breakGlass]), at(T0, false));
    expect(out.request).toMatchObject({ status: 'scheduled', access: 'provisioning', reviewDueAt: T0 + 4 * HOUR });
    expect(types(out)).toEqual(['request.submitted', 'grant.provisioning', 'alert.break_glass_used']);
  });

  it('needsApproval is true when any policy requires approvals', () => {
    expect(needsApproval([termsOf(selfService)])).toBe(false);
    expect(needsApproval([termsOf(selfService), termsOf(oneLead)])).toBe(true);
    expect(needsApproval([])).toBe(false);
  });
});

// ---- approve ------------------------------------------------------------------------------------------

describe('approve', () => {
  it('one approval from an eligible approver activates a 1-of-N request', () => {
    const req = open(requestUnder([oneLead]), at(T0)).request;
    const out = approve(req, bob, 'looks fine', at(T0 + MINUTE));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'active', access: 'present', activatedAt: T0 + MINUTE, expiresAt: T0 + MINUTE + HOUR });
    expect(r.approvals).toEqual([{ by: 'bob', at: T0 + MINUTE, for: ['one-lead'], comment: 'looks fine' }]);
    expect(types(out)).toEqual(['request.approved', 'grant.activated']);
    expect(out.events[0]).toMatchObject({ actor: 'bob', details: { comment: 'looks fine', for: ['one-lead'], count: 1 } });
    expect(out.events[1]).toMatchObject({ actor: 'bob' });
  });

  it('approval through a connector starts provisioning', () => {
    const req = requestUnder([oneLead]);
    const r = approve(req, bob, undefined, at(T0, false)).request;
    expect(r).toMatchObject({ status: 'scheduled', access: 'provisioning' });
    expect(r.approvals[0]).not.toHaveProperty('comment');
  });

  it('approval of a request with a future start schedules it', () => {
    const req = requestUnder([oneLead], { startAt: T0 + DAY });
    const out = approve(req, bob, undefined, at(T0));
    expect(step(req, out)).toMatchObject({ status: 'scheduled', access: 'none' });
    expect(types(out)).toEqual(['request.approved', 'request.scheduled']);
  });

  it('an approver may be named by user id', () => {
    const byUser = policy({ name: 'by-user', approval: { required: 1, approvers: { users: ['eve'] } } });
    expect(approve(requestUnder([byUser]), eve, undefined, at(T0)).request.status).toBe('active');
  });

  it('refuses self-approval with HG_SELF_APPROVAL, even when the requester is in the approver group', () => {
    const selfish = policy({ name: 'selfish', approval: { required: 1, approvers: { groups: ['developers'] } } });
    const req = requestUnder([selfish]);
    expect(codeOf(() => approve(req, alice, undefined, at(T0)))).toBe('HG_SELF_APPROVAL');
    expect(codeOf(() => approve(req, principal('alice', [], ['admin']), undefined, at(T0)))).toBe('HG_SELF_APPROVAL');
  });

  it('refuses a non-approver with HG_NOT_APPROVER, admins included', () => {
    const req = requestUnder([oneLead]);
    expect(codeOf(() => approve(req, eve, undefined, at(T0)))).toBe('HG_NOT_APPROVER');
    expect(codeOf(() => approve(req, dave, undefined, at(T0)))).toBe('HG_NOT_APPROVER');
    expect(codeOf(() => approve(req, root, undefined, at(T0)))).toBe('HG_NOT_APPROVER');
  });

  it('refuses the same approver twice with HG_ALREADY_APPROVED', () => {
    const req = requestUnder([twoOfThree]);
    const once = approve(req, bob, undefined, at(T0)).request;
    expect(once.status).toBe('pending');
    expect(codeOf(() => approve(once, bob, undefined, at(T0 + MINUTE)))).toBe('HG_ALREADY_APPROVED');
  });

  it('N of M needs N distinct eligible approvers', () => {
    const req = requestUnder([twoOfThree]);
    const first = approve(req, bob, undefined, at(T0 + MINUTE));
    const r1 = step(req, first);
    expect(r1.status).toBe('pending');
    expect(r1.approvals).toHaveLength(1);
    expect(types(first)).toEqual(['request.approved']);
    expect(first.events[0]?.details).toMatchObject({ count: 1 });

    const second = approve(r1, dave, 'ok', at(T0 + 2 * MINUTE));
    const r2 = step(r1, second);
    expect(r2.status).toBe('active');
    expect(r2.approvals.map((a) => a.by)).toEqual(['bob', 'dave']);
    expect(types(second)).toEqual(['request.approved', 'grant.activated']);
    expect(second.events[0]?.details).toMatchObject({ count: 2 });
  });

  it('3 of 3 stays pending until the last approver', () => {
    const all3 = policy({ name: 'all3', approval: { required: 3, approvers: { users: ['bob', 'carol', 'dave'] } } });
    let r = requestUnder([all3]);
    for (const [i, who] of [bob, carol].entries()) {
      r = step(r, approve(r, who, undefined, at(T0 + i)));
      expect(r.status).toBe('pending');
    }
    r = step(r, approve(r, dave, undefined, at(T0 + 5)));
    expect(r.status).toBe('active');
  });

  it('with several policies, each policy needs its own quorum', () => {
    const req = requestUnder([oneLead, security]);
    expect(req.entitlements).toEqual(['db/read', 'vault/admin']);
    const byLead = approve(req, bob, undefined, at(T0));
    const r1 = step(req, byLead);
    expect(r1.status).toBe('pending');
    expect(r1.approvals[0]).toMatchObject({ by: 'bob', for: ['one-lead'] });
    // A second lead adds nothing for the security policy.
    const r2 = step(r1, approve(r1, carol, undefined, at(T0 + 1)));
    expect(r2.status).toBe('pending');
    const r3 = step(r2, approve(r2, dave, undefined, at(T0 + 2)));
    expect(r3.status).toBe('active');
    expect(r3.approvals[2]).toMatchObject({ by: 'dave', for: ['security'] });
  });

  it('one approver eligible for several policies counts once for each of them', () => {
    const req = requestUnder([oneLead, security]);
    const out = approve(req, erin, undefined, at(T0));
    expect(step(req, out).status).toBe('active');
    expect(out.request.approvals[0]).toMatchObject({ by: 'erin', for: ['one-lead', 'security'] });
  });

  it('one approver in both policies does not count twice towards either quorum', () => {
    const twoLeads = policy({ name: 'two-leads', approval: { required: 2, approvers: { groups: ['leads'] } } });
    const twoSec = policy({ name: 'two-sec', entitlements: ['vault/admin'], approval: { required: 2, approvers: { groups: ['security'] } } });
    let r = requestUnder([twoLeads, twoSec]);
    r = step(r, approve(r, erin, undefined, at(T0)));
    expect(r.status).toBe('pending');
    r = step(r, approve(r, bob, undefined, at(T0 + 1)));
    expect(r.status).toBe('pending'); // two-leads met (erin, bob), two-sec has only erin
    r = step(r, approve(r, dave, undefined, at(T0 + 2)));
    expect(r.status).toBe('active');
  });

  it('a policy without approvals in the mix needs none', () => {
    const r = requestUnder([selfService, security], { entitlements: ['db/read', 'vault/admin'] });
    const pending = open(r, at(T0)).request;
    expect(pending.status).toBe('pending');
    expect(approverFor(pending, dave)).toEqual(['security']);
    expect(approve(pending, dave, undefined, at(T0)).request.status).toBe('active');
  });

  it.each(['scheduled', 'active', ...FINAL_STATUSES] as RequestStatus[])('refuses to approve a %s request', (status) => {
    const req = requestUnder([oneLead], { status });
    expect(codeOf(() => approve(req, bob, undefined, at(T0)))).toBe('HG_INVALID_TRANSITION');
  });

  it('quorumMet ignores approvals not recorded for the policy', () => {
    const terms = [termsOf(twoOfThree)];
    expect(
      quorumMet(terms, [
        { by: 'bob', for: ['two-of-three'] },
        { by: 'carol', for: ['two-of-three'] },
      ]),
    ).toBe(true);
    expect(
      quorumMet(terms, [
        { by: 'bob', for: ['two-of-three'] },
        { by: 'bob', for: ['two-of-three'] },
      ]),
    ).toBe(false);
    expect(
      quorumMet(terms, [
        { by: 'bob', for: ['two-of-three'] },
        { by: 'carol', for: ['other'] },
      ]),
    ).toBe(false);
    expect(quorumMet(terms, [{ by: 'bob' }, { by: 'carol' }])).toBe(false);
    expect(quorumMet([termsOf(selfService)], [])).toBe(true);
  });

  it('refuses to approve a request whose pending timeout has passed but has not been ticked yet', () => {
    // Time ran out at pendingUntil; a scheduler that is a little late must not let an approval revive it.
    const req = requestUnder([oneLead]);
    expect(req.pendingUntil).toBe(T0 + DAY);
    expect(codeOf(() => approve(req, bob, undefined, at(T0 + DAY + MINUTE)))).toBe('HG_INVALID_TRANSITION');
  });
});

// ---- deny ------------------------------------------------------------------------------------------------

describe('deny', () => {
  it('an approver ends a pending request as denied', () => {
    const req = requestUnder([twoOfThree]);
    const r1 = approve(req, bob, undefined, at(T0)).request;
    const out = deny(r1, carol, 'not today', at(T0 + MINUTE));
    const r = step(r1, out);
    expect(r).toMatchObject({
      status: 'denied',
      access: 'none',
      endedAt: T0 + MINUTE,
      endedBy: 'carol',
      decision: { by: 'carol', at: T0 + MINUTE, comment: 'not today' },
    });
    expect(out.events).toEqual([{ type: 'request.denied', actor: 'carol', requestId: 'req-1', details: { comment: 'not today' } }]);
    expect(isFinal(r)).toBe(true);
    expect(dueAt(r)).toBeUndefined();
  });

  it('refuses the requester and non-approvers', () => {
    const req = requestUnder([oneLead]);
    expect(codeOf(() => deny(req, alice, undefined, at(T0)))).toBe('HG_SELF_APPROVAL');
    expect(codeOf(() => deny(req, eve, undefined, at(T0)))).toBe('HG_NOT_APPROVER');
    expect(codeOf(() => deny(req, root, undefined, at(T0)))).toBe('HG_NOT_APPROVER');
  });

  it.each(['scheduled', 'active', ...FINAL_STATUSES] as RequestStatus[])('refuses to deny a %s request', (status) => {
    expect(codeOf(() => deny(requestUnder([oneLead], { status }), bob, undefined, at(T0)))).toBe('HG_INVALID_TRANSITION');
  });
});

// ---- cancel ------------------------------------------------------------------------------------------------

describe('cancel', () => {
  it('the requester cancels a pending request', () => {
    const req = requestUnder([oneLead]);
    const out = cancel(req, alice, 'not needed', at(T0 + MINUTE));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'cancelled', access: 'none', endedAt: T0 + MINUTE, endedBy: 'alice', endReason: 'not needed' });
    expect(out.events).toEqual([{ type: 'request.cancelled', actor: 'alice', requestId: 'req-1', details: { reason: 'not needed' } }]);
  });

  it('the requester cancels a scheduled request before it starts', () => {
    const req = open(requestUnder([selfService], { startAt: T0 + DAY }), at(T0)).request;
    const r = step(req, cancel(req, alice, undefined, at(T0 + HOUR)));
    expect(r).toMatchObject({ status: 'cancelled', access: 'none' });
    expect(r).not.toHaveProperty('endReason');
    expect(dueAt(r)).toBeUndefined();
  });

  it('cancelling while access is being provisioned takes the access away', () => {
    const req = open(requestUnder([selfService]), at(T0, false)).request;
    expect(req.access).toBe('provisioning');
    expect(cancel(req, alice, undefined, at(T0, false)).request.access).toBe('removing');
    expect(cancel(req, alice, undefined, at(T0, true)).request.access).toBe('removed');
  });

  it('only the requester may cancel (approvers deny, admins revoke)', () => {
    const req = requestUnder([oneLead]);
    expect(codeOf(() => cancel(req, bob, undefined, at(T0)))).toBe('HG_FORBIDDEN');
    expect(codeOf(() => cancel(req, root, undefined, at(T0)))).toBe('HG_FORBIDDEN');
    expect(codeOf(() => cancel(req, eve, undefined, at(T0)))).toBe('HG_FORBIDDEN');
  });

  it('an emergency cancel on behalf of the requester is allowed', () => {
    const r = cancel(requestUnder([oneLead]), root, 'principal locked', at(T0), true).request;
    expect(r).toMatchObject({ status: 'cancelled', endedBy: 'root' });
  });

  it.each(['active', ...FINAL_STATUSES] as RequestStatus[])('refuses to cancel a %s request', (status) => {
    expect(codeOf(() => cancel(requestUnder([oneLead], { status }), alice, undefined, at(T0)))).toBe('HG_INVALID_TRANSITION');
  });
});

// ---- revoke and release --------------------------------------------------------------------------------------

describe('revoke', () => {
  it('an admin revokes an active grant; inline access is removed at once', () => {
    const req = activeUnder([oneLead]);
    const out = revoke(req, root, 'incident', at(T0 + MINUTE));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'revoked', access: 'removed', endedAt: T0 + MINUTE, endedBy: 'root', endReason: 'incident' });
    expect(out.events).toEqual([{ type: 'grant.revoked', actor: 'root', requestId: 'req-1', details: { reason: 'incident' } }]);
  });

  it('through a connector the status is final at once and access follows', () => {
    const req = activeUnder([oneLead]);
    const r = step(req, revoke(req, root, undefined, at(T0 + MINUTE, false)));
    expect(r).toMatchObject({ status: 'revoked', access: 'removing' });
    expect(isFinal(r)).toBe(true);
    const gone = removed(r);
    expect(step(r, gone)).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(gone.events).toEqual([{ type: 'grant.access_removed', actor: 'system', requestId: 'req-1' }]);
  });

  it('an approver of the request may revoke it', () => {
    expect(revoke(activeUnder([oneLead]), carol, undefined, at(T0)).request.status).toBe('revoked');
    expect(mayRevoke(activeUnder([oneLead]), bob)).toBe(true);
  });

  it('a break-glass reviewer may revoke it', () => {
    expect(mayRevoke(activeUnder([breakGlass]), sam)).toBe(true);
    expect(revoke(activeUnder([breakGlass]), sam, undefined, at(T0)).request.status).toBe('revoked');
  });

  it('neither the requester nor a stranger may revoke', () => {
    const req = activeUnder([oneLead]);
    expect(codeOf(() => revoke(req, alice, undefined, at(T0)))).toBe('HG_FORBIDDEN');
    expect(codeOf(() => revoke(req, eve, undefined, at(T0)))).toBe('HG_FORBIDDEN');
    expect(codeOf(() => revoke(req, dave, undefined, at(T0)))).toBe('HG_FORBIDDEN');
    expect(mayRevoke(req, alice)).toBe(false);
  });

  it('revokes a scheduled request, with or without access in progress', () => {
    const waiting = open(requestUnder([selfService], { startAt: T0 + DAY }), at(T0)).request;
    expect(revoke(waiting, root, undefined, at(T0)).request).toMatchObject({ status: 'revoked', access: 'none' });
    const provisioning = open(requestUnder([selfService]), at(T0, false)).request;
    expect(revoke(provisioning, root, undefined, at(T0, false)).request).toMatchObject({ status: 'revoked', access: 'removing' });
  });

  it('drops a pending extension', () => {
    const ext = { by: 'alice', at: T0, durationMs: HOUR, approvals: [] };
    const r = revoke(activeUnder([oneLead], { pendingExtension: ext }), root, undefined, at(T0)).request;
    expect(r).not.toHaveProperty('pendingExtension');
  });

  it.each(['pending', ...FINAL_STATUSES] as RequestStatus[])('refuses to revoke a %s request', (status) => {
    expect(codeOf(() => revoke(requestUnder([oneLead], { status }), root, undefined, at(T0)))).toBe('HG_INVALID_TRANSITION');
  });
});

describe('release', () => {
  it('the requester ends their own active grant', () => {
    const req = activeUnder([oneLead]);
    const out = release(req, alice, undefined, at(T0 + 10 * MINUTE));
    const r = step(req, out);
    expect(r).toMatchObject({
      status: 'revoked',
      access: 'removed',
      endedAt: T0 + 10 * MINUTE,
      endedBy: 'alice',
      endReason: 'released by requester',
    });
    expect(types(out)).toEqual(['grant.released']);
    expect(release(req, alice, undefined, at(T0, false)).request.access).toBe('removing');
  });

  it('only the requester may release', () => {
    const req = activeUnder([oneLead]);
    for (const who of [bob, root, eve]) expect(codeOf(() => release(req, who, undefined, at(T0)))).toBe('HG_FORBIDDEN');
  });

  it.each(['pending', 'scheduled', ...FINAL_STATUSES] as RequestStatus[])('refuses to release a %s request', (status) => {
    expect(codeOf(() => release(requestUnder([oneLead], { status }), alice, undefined, at(T0)))).toBe('HG_INVALID_TRANSITION');
  });
});

// ---- extensions ---------------------------------------------------------------------------------------------------

describe('extend', () => {
  const free = policy({ name: 'free', extension: { allowed: true, maxTotal: 3 * HOUR, requiresApproval: false } });
  const guarded = policy({
    name: 'guarded',
    approval: { required: 1, approvers: { groups: ['leads'] } },
    extension: { allowed: true, maxTotal: 4 * HOUR, requiresApproval: true },
  });

  it('refuses when the policy does not allow extensions', () => {
    const req = activeUnder([oneLead]);
    let err: unknown;
    try {
      extend(req, alice, HOUR, undefined, at(T0 + MINUTE));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HgError);
    expect((err as HgError).code).toBe('HG_TERMS_NOT_MET');
    expect((err as HgError).details).toEqual({ reasons: ['policy one-lead does not allow extensions'] });
  });

  it('refuses when any of several policies does not allow extensions', () => {
    const req = activeUnder([free, security]);
    expect(codeOf(() => extend(req, alice, MINUTE, undefined, at(T0)))).toBe('HG_TERMS_NOT_MET');
  });

  it('extends at once when no approval is needed', () => {
    const req = activeUnder([free]);
    const out = extend(req, alice, HOUR, 'more work', at(T0 + 50 * MINUTE));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'active', expiresAt: T0 + 2 * HOUR });
    expect(r.extensions).toEqual([{ by: 'alice', at: T0 + 50 * MINUTE, durationMs: HOUR, approvals: [], reason: 'more work' }]);
    expect(out.events).toEqual([
      {
        type: 'grant.extended',
        actor: 'alice',
        requestId: 'req-1',
        details: { durationMs: HOUR, expiresAt: T0 + 2 * HOUR, reason: 'more work' },
      },
    ]);
    expect(dueAt(r)).toBe(T0 + 2 * HOUR);
  });

  it('up to maxTotal including earlier extensions, and not a second beyond', () => {
    let r = activeUnder([free]); // 1h granted, 3h total allowed
    r = step(r, extend(r, alice, HOUR, undefined, at(T0 + MINUTE)));
    r = step(r, extend(r, alice, HOUR, undefined, at(T0 + 2 * MINUTE)));
    expect(r.expiresAt).toBe(T0 + 3 * HOUR);
    let err: HgError | undefined;
    try {
      extend(r, alice, SECOND, undefined, at(T0 + 3 * MINUTE));
    } catch (e) {
      err = e as HgError;
    }
    expect(err?.code).toBe('HG_TERMS_NOT_MET');
    expect(err?.message).toBe('total duration would be 3h1s, above the maximum 3h (extension.maxTotal)');
  });

  it('uses the smallest maxTotal of the policies', () => {
    const roomy = policy({ name: 'roomy', entitlements: ['x/y'], extension: { allowed: true, maxTotal: DAY, requiresApproval: false } });
    const req = activeUnder([roomy, free]);
    expect(codeOf(() => extend(req, alice, 2 * HOUR + SECOND, undefined, at(T0)))).toBe('HG_TERMS_NOT_MET');
    expect(extend(req, alice, 2 * HOUR, undefined, at(T0)).request.expiresAt).toBe(T0 + 3 * HOUR);
  });

  it('with requiresApproval it waits for the quorum', () => {
    const req = activeUnder([guarded]);
    const asked = extend(req, alice, HOUR, 'migration slow', at(T0 + 30 * MINUTE));
    const r1 = step(req, asked);
    expect(r1.expiresAt).toBe(T0 + HOUR);
    expect(r1.pendingExtension).toEqual({ by: 'alice', at: T0 + 30 * MINUTE, durationMs: HOUR, approvals: [], reason: 'migration slow' });
    expect(types(asked)).toEqual(['grant.extension_requested']);
    expect(codeOf(() => extend(r1, alice, HOUR, undefined, at(T0 + 31 * MINUTE)))).toBe('HG_INVALID_TRANSITION');

    expect(codeOf(() => approve(r1, alice, undefined, at(T0 + 32 * MINUTE)))).toBe('HG_SELF_APPROVAL');
    expect(codeOf(() => approve(r1, eve, undefined, at(T0 + 32 * MINUTE)))).toBe('HG_NOT_APPROVER');

    const ok = approve(r1, bob, 'fine', at(T0 + 35 * MINUTE));
    const r2 = step(r1, ok);
    expect(r2.pendingExtension).toBeUndefined();
    expect(r2).not.toHaveProperty('pendingExtension');
    expect(r2.expiresAt).toBe(T0 + 2 * HOUR);
    expect(r2.extensions).toHaveLength(1);
    expect(r2.extensions[0]?.approvals).toMatchObject([{ by: 'bob', at: T0 + 35 * MINUTE, comment: 'fine' }]);
    expect(types(ok)).toEqual(['grant.extension_approved', 'grant.extended']);
    expect(r2.status).toBe('active');
  });

  it('an extension under a 2-of-3 policy needs two distinct approvers', () => {
    const strict = { ...twoOfThree, extension: { allowed: true, maxTotal: 4 * HOUR, requiresApproval: true } };
    let r = activeUnder([strict]);
    r = step(r, extend(r, alice, HOUR, undefined, at(T0 + MINUTE)));
    r = step(r, approve(r, bob, undefined, at(T0 + 2 * MINUTE)));
    expect(r.pendingExtension?.approvals).toHaveLength(1);
    expect(r.expiresAt).toBe(T0 + HOUR);
    expect(codeOf(() => approve(r, bob, undefined, at(T0 + 3 * MINUTE)))).toBe('HG_ALREADY_APPROVED');
    r = step(r, approve(r, carol, undefined, at(T0 + 4 * MINUTE)));
    expect(r.pendingExtension).toBeUndefined();
    expect(r.expiresAt).toBe(T0 + 2 * HOUR);
  });

  it('earlier approvals of the request do not count for the extension', () => {
    const req = activeUnder([guarded], { approvals: [{ by: 'bob', at: T0, for: ['guarded'] } as AccessRequest['approvals'][number]] });
    const r = extend(req, alice, HOUR, undefined, at(T0 + MINUTE)).request;
    expect(r.pendingExtension).toBeDefined();
    expect(approve(r, bob, undefined, at(T0 + 2 * MINUTE)).request.expiresAt).toBe(T0 + 2 * HOUR);
  });

  it('requiresApproval under a self-service policy extends at once', () => {
    const self = policy({ name: 'self', extension: { allowed: true, maxTotal: 4 * HOUR, requiresApproval: true } });
    const r = extend(activeUnder([self]), alice, HOUR, undefined, at(T0)).request;
    expect(r.pendingExtension).toBeUndefined();
    expect(r.expiresAt).toBe(T0 + 2 * HOUR);
  });

  it('an approver denies a pending extension; the grant runs on unchanged', () => {
    const r1 = extend(activeUnder([guarded]), alice, HOUR, undefined, at(T0 + MINUTE)).request;
    const out = deny(r1, carol, 'no', at(T0 + 2 * MINUTE));
    const r2 = step(r1, out);
    expect(r2).toMatchObject({ status: 'active', access: 'present', expiresAt: T0 + HOUR, extensions: [] });
    expect(r2).not.toHaveProperty('pendingExtension');
    expect(out.events).toEqual([{ type: 'grant.extension_denied', actor: 'carol', requestId: 'req-1', details: { comment: 'no', durationMs: HOUR } }]);
    // A new extension may be asked for afterwards.
    expect(extend(r2, alice, HOUR, undefined, at(T0 + 3 * MINUTE)).request.pendingExtension).toBeDefined();
  });

  it('the requester cannot deny their own extension', () => {
    const r1 = extend(activeUnder([guarded]), alice, HOUR, undefined, at(T0 + MINUTE)).request;
    expect(codeOf(() => deny(r1, alice, undefined, at(T0 + 2 * MINUTE)))).toBe('HG_SELF_APPROVAL');
    expect(codeOf(() => deny(r1, eve, undefined, at(T0 + 2 * MINUTE)))).toBe('HG_NOT_APPROVER');
  });

  it('only the requester may extend', () => {
    for (const who of [bob, root, eve]) {
      expect(codeOf(() => extend(activeUnder([free]), who, HOUR, undefined, at(T0)))).toBe('HG_FORBIDDEN');
    }
  });

  it('refuses once the grant has run out, even before tick expires it', () => {
    expect(codeOf(() => extend(activeUnder([free]), alice, HOUR, undefined, at(T0 + HOUR)))).toBe('HG_INVALID_TRANSITION');
  });

  it.each(['pending', 'scheduled', ...FINAL_STATUSES] as RequestStatus[])('refuses to extend a %s request', (status) => {
    expect(codeOf(() => extend(requestUnder([free], { status }), alice, HOUR, undefined, at(T0)))).toBe('HG_INVALID_TRANSITION');
  });

  it('refuses to approve a pending extension once the grant has run out', () => {
    // extend() refuses after expiresAt; approving a pending extension late must not revive the grant either.
    const r1 = extend(activeUnder([guarded]), alice, HOUR, undefined, at(T0 + 50 * MINUTE)).request;
    expect(codeOf(() => approve(r1, bob, undefined, at(T0 + HOUR + 10 * MINUTE)))).toBe('HG_INVALID_TRANSITION');
  });
});

// ---- break-glass review ----------------------------------------------------------------------------------------------

describe('review', () => {
  const bgActive = () => open(requestUnder([breakGlass], { reason: 'prod down' }), at(T0)).request;

  it('a reviewer records the review of a break-glass grant', () => {
    const req = bgActive();
    const out = review(req, sam, 'justified', { now: T0 + HOUR });
    const r = step(req, out);
    expect(r.review).toEqual({ by: 'sam', at: T0 + HOUR, comment: 'justified' });
    expect(r.status).toBe('active');
    expect(out.events).toEqual([{ type: 'breakglass.reviewed', actor: 'sam', requestId: 'req-1', details: { comment: 'justified' } }]);
  });

  it('needs a reviewer: approvers of other policies, admins and strangers are refused', () => {
    const req = bgActive();
    for (const who of [bob, eve, root]) expect(codeOf(() => review(req, who, 'x', { now: T0 }))).toBe('HG_NOT_APPROVER');
  });

  it('the requester cannot review their own break-glass use', () => {
    const selfReviewed = breakGlassPolicy({ subjects: { groups: ['oncall'] }, review: { approvers: { groups: ['oncall'], users: [] }, within: HOUR } });
    const req = open(requestUnder([selfReviewed]), at(T0)).request;
    expect(codeOf(() => review(req, alice, 'all good', { now: T0 }))).toBe('HG_SELF_APPROVAL');
  });

  it('happens once only', () => {
    const r = review(bgActive(), sam, 'ok', { now: T0 }).request;
    expect(codeOf(() => review(r, principal('sue', ['sre-leads']), 'again', { now: T0 + 1 }))).toBe('HG_INVALID_TRANSITION');
  });

  it('is possible after the grant ended', () => {
    const ended = tick(bgActive(), at(T0 + HOUR))!.request;
    expect(ended.status).toBe('expired');
    expect(review(ended, sam, 'ok', { now: T0 + 2 * HOUR }).request.review?.by).toBe('sam');
  });

  it('refuses a grant that is not break-glass or was never activated', () => {
    expect(codeOf(() => review(activeUnder([oneLead]), sam, 'x', { now: T0 }))).toBe('HG_INVALID_TRANSITION');
    const provisioning = open(requestUnder([breakGlass]), at(T0, false)).request;
    expect(provisioning.activatedAt).toBeUndefined();
    expect(codeOf(() => review(provisioning, sam, 'x', { now: T0 }))).toBe('HG_INVALID_TRANSITION');
  });

  it('a reviewed grant raises no overdue alert', () => {
    const r = review(bgActive(), sam, 'ok', { now: T0 + MINUTE }).request;
    expect(dueAt(r)).toBe(T0 + HOUR); // only the expiry is left
    const ended = tick(r, at(T0 + 10 * HOUR))!.request;
    expect(ended.status).toBe('expired');
    expect(dueAt(ended)).toBeUndefined();
    expect(tick(ended, at(T0 + 10 * HOUR))).toBeUndefined();
  });
});

// ---- provisioning outcomes -----------------------------------------------------------------------------------------

describe('provisioned, removed and fail', () => {
  it('provisioned is only for a scheduled request whose access is being created', () => {
    expect(codeOf(() => provisioned(requestUnder([oneLead]), { now: T0 }))).toBe('HG_INVALID_TRANSITION');
    expect(codeOf(() => provisioned(activeUnder([oneLead]), { now: T0 }))).toBe('HG_INVALID_TRANSITION');
    const waiting = open(requestUnder([selfService], { startAt: T0 + HOUR }), at(T0)).request;
    expect(codeOf(() => provisioned(waiting, { now: T0 }))).toBe('HG_INVALID_TRANSITION');
  });

  it('removed is only for access being removed', () => {
    expect(codeOf(() => removed(activeUnder([oneLead])))).toBe('HG_INVALID_TRANSITION');
    expect(codeOf(() => removed(requestUnder([oneLead], { status: 'revoked', access: 'removed' })))).toBe('HG_INVALID_TRANSITION');
  });

  it('provisioning that fails for good ends the request as failed and takes back partial access', () => {
    const req = open(requestUnder([selfService]), at(T0, false)).request;
    const out = fail(req, 'connection refused', at(T0 + MINUTE, false));
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'failed', access: 'removing', endedAt: T0 + MINUTE, endedBy: 'system', error: 'connection refused' });
    expect(out.events).toEqual([{ type: 'request.failed', actor: 'system', requestId: 'req-1', details: { error: 'connection refused' } }]);
    expect(fail(req, 'x', at(T0, true)).request.access).toBe('removed');
  });

  it('a failure before any access was created leaves access none', () => {
    const waiting = open(requestUnder([selfService], { startAt: T0 + HOUR }), at(T0)).request;
    expect(fail(waiting, 'x', at(T0, false)).request).toMatchObject({ status: 'failed', access: 'none' });
  });

  it.each(['pending', 'active', ...FINAL_STATUSES] as RequestStatus[])('refuses to fail a %s request', (status) => {
    expect(codeOf(() => fail(requestUnder([selfService], { status }), 'x', at(T0)))).toBe('HG_INVALID_TRANSITION');
  });
});

describe('the access lease and removal', () => {
  const OWNER = 'srv_test';
  const provisioning = () => open(requestUnder([selfService]), at(T0, false)).request;
  const failedAttempt = (r: AccessRequest, now: number, keepLease?: boolean) =>
    accessAttemptFailed(r, 'boom', { ...at(now, false), jitter: 0.5, alertAfterMs: 5 * MINUTE, ...(keepLease !== undefined ? { keepLease } : {}) }).request;

  it('a claim leases the request: accessNextAt and leaseUntil move past the lease, the version moves', () => {
    const req = provisioning();
    const leased = step(req, { request: lease(req, T0, MINUTE, OWNER), events: [] });
    expect(leased).toMatchObject({ accessNextAt: T0 + MINUTE, leaseUntil: T0 + MINUTE, leaseOwner: OWNER });
  });

  it('a revoke while a server holds the provisioning lease schedules removal for the end of the lease', () => {
    const leased = lease(provisioning(), T0, MINUTE, OWNER);
    const r = revoke(leased, root, undefined, at(T0 + 5 * SECOND, false)).request;
    expect(r).toMatchObject({ status: 'revoked', access: 'removing', removingSince: T0 + 5 * SECOND, accessNextAt: T0 + MINUTE });
    // Expiry and cancellation take the same path.
    expect(cancel(leased, alice, undefined, at(T0 + SECOND, false)).request.accessNextAt).toBe(T0 + MINUTE);
  });

  it("a revoke during a provisioning retry's backoff removes at once: the lease ended with the attempt", () => {
    const attempt = lease(provisioning(), T0, MINUTE, OWNER);
    const backingOff = failedAttempt(attempt, T0 + SECOND);
    expect(backingOff.leaseUntil).toBeUndefined();
    expect(backingOff.accessNextAt).toBeGreaterThan(T0 + SECOND);
    const r = revoke(backingOff, root, undefined, at(T0 + 2 * SECOND, false)).request;
    expect(r.accessNextAt).toBe(T0 + 2 * SECOND);
  });

  it('a lease that ran out (a crashed server) does not delay removal', () => {
    const leased = lease(provisioning(), T0, MINUTE, OWNER);
    expect(revoke(leased, root, undefined, at(T0 + 2 * MINUTE, false)).request.accessNextAt).toBe(T0 + 2 * MINUTE);
  });

  it('a removal lease never delays anything: only a grant can commit behind a removal', () => {
    const removing = revoke(activeUnder([oneLead]), root, undefined, at(T0, false)).request;
    expect(removing.accessNextAt).toBe(T0);
  });

  it('a grant that timed out keeps the lease: neither its retry nor a removal starts before the lease ends', () => {
    const attempt = lease(provisioning(), T0, MINUTE, OWNER);
    const kept = failedAttempt(attempt, T0 + 30 * SECOND, true);
    expect(kept).toMatchObject({ leaseUntil: T0 + MINUTE, accessNextAt: T0 + MINUTE, accessAttempts: 1 });
    expect(revoke(kept, root, undefined, at(T0 + 31 * SECOND, false)).request.accessNextAt).toBe(T0 + MINUTE);
    // Past the provisioning deadline it fails; removal of what it may have created still waits for the lease.
    const late = lease({ ...provisioning(), provisioningDeadline: T0 }, T0, MINUTE, OWNER);
    expect(failedAttempt(late, T0 + SECOND, true)).toMatchObject({ status: 'failed', access: 'removing', accessNextAt: T0 + MINUTE });
    expect(failedAttempt(late, T0 + SECOND, false)).toMatchObject({ status: 'failed', access: 'removing', accessNextAt: T0 + SECOND });
  });

  it('confirmed work ends the lease', () => {
    const leased = lease(provisioning(), T0, MINUTE, OWNER);
    expect(provisioned(leased, { now: T0 + SECOND }).request.leaseUntil).toBeUndefined();
    const removing = lease(revoke(activeUnder([oneLead]), root, undefined, at(T0, false)).request, T0, MINUTE, OWNER);
    expect(removed(removing).request.leaseUntil).toBeUndefined();
  });

  it('keeps the handles connectors returned, the latest per target, while provisioning only', () => {
    const attempt = lease(provisioning(), T0, MINUTE, OWNER);
    const handles = (r: AccessRequest) => r.handles;
    // A failed attempt keeps the handles of the targets that granted (a removal after it gets them).
    const partly = accessAttemptFailed(attempt, 'boom', { ...at(T0 + SECOND, false), jitter: 0.5, alertAfterMs: MINUTE, handles: { a: 'h1' } }).request;
    expect(handles(partly)).toEqual({ a: 'h1' });
    const done = provisioned(lease(partly, T0 + 2 * SECOND, MINUTE, OWNER), { now: T0 + 3 * SECOND }, { a: 'h2', b: 'h3' }).request;
    expect(handles(done)).toEqual({ a: 'h2', b: 'h3' });
    // No handles returned: none recorded, and what was kept stays.
    expect('handles' in provisioned(attempt, { now: T0 + SECOND }, {}).request).toBe(false);
    const removing = lease(revoke(done, root, undefined, at(T0 + 4 * SECOND, false)).request, T0 + 4 * SECOND, MINUTE, OWNER);
    const retried = accessAttemptFailed(removing, 'boom', {
      ...at(T0 + 5 * SECOND, false),
      jitter: 0.5,
      alertAfterMs: MINUTE,
      handles: { a: 'other' },
    }).request;
    expect(handles(retried)).toEqual({ a: 'h2', b: 'h3' });
    expect(handles(removed(removing).request)).toEqual({ a: 'h2', b: 'h3' });
  });
});

// ---- tick -----------------------------------------------------------------------------------------------------------

describe('tick', () => {
  it('does nothing before anything is due', () => {
    expect(tick(requestUnder([oneLead]), at(T0 + HOUR))).toBeUndefined();
    expect(tick(activeUnder([oneLead]), at(T0 + HOUR - 1))).toBeUndefined();
  });

  it('expires a pending request at its pending timeout', () => {
    const req = requestUnder([oneLead]);
    expect(dueAt(req)).toBe(T0 + DAY);
    expect(tick(req, at(T0 + DAY - 1))).toBeUndefined();
    const out = tick(req, at(T0 + DAY))!;
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'expired', access: 'none', endedAt: T0 + DAY, endedBy: 'system', endReason: 'pending timeout' });
    expect(out.events).toEqual([{ type: 'request.expired', actor: 'system', requestId: 'req-1', details: { reason: 'pending timeout' } }]);
    expect(dueAt(r)).toBeUndefined();
  });

  it('expires an active grant at expiresAt, removing inline access at once', () => {
    const req = activeUnder([oneLead]);
    expect(dueAt(req)).toBe(T0 + HOUR);
    const out = tick(req, at(T0 + HOUR))!;
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'expired', access: 'removed', endedAt: T0 + HOUR, endedBy: 'system' });
    expect(r).not.toHaveProperty('endReason');
    expect(out.events).toEqual([{ type: 'grant.expired', actor: 'system', requestId: 'req-1' }]);
  });

  it('expires an active grant through a connector as removing, then removed', () => {
    const req = activeUnder([oneLead]);
    const r = step(req, tick(req, at(T0 + HOUR + 5, false))!);
    expect(r).toMatchObject({ status: 'expired', access: 'removing' });
    expect(dueAt(r)).toBeUndefined();
    expect(tick(r, at(T0 + 2 * HOUR, false))).toBeUndefined();
    expect(step(r, removed(r))).toMatchObject({ status: 'expired', access: 'removed' });
  });

  it('expires a grant whose provisioning has not finished when its time is up', () => {
    const req = open(requestUnder([selfService]), at(T0, false)).request;
    expect(dueAt(req)).toBe(T0 + HOUR);
    expect(tick(req, at(T0 + HOUR, false))!.request).toMatchObject({ status: 'expired', access: 'removing' });
  });

  it('expiry drops a pending extension', () => {
    const ext = { by: 'alice', at: T0, durationMs: HOUR, approvals: [] };
    const r = tick(activeUnder([oneLead], { pendingExtension: ext }), at(T0 + HOUR))!.request;
    expect(r.status).toBe('expired');
    expect(r).not.toHaveProperty('pendingExtension');
  });

  it('raises alert.review_overdue once for an unreviewed break-glass grant', () => {
    const longBg = { ...breakGlass, maxDuration: DAY };
    const req = open(requestUnder([longBg], { durationMs: 8 * HOUR }), at(T0)).request;
    expect(req.reviewDueAt).toBe(T0 + 4 * HOUR);
    expect(dueAt(req)).toBe(T0 + 4 * HOUR);
    expect(tick(req, at(T0 + 4 * HOUR - 1))).toBeUndefined();
    const out = tick(req, at(T0 + 4 * HOUR))!;
    const r = step(req, out);
    expect(r).toMatchObject({ status: 'active', reviewAlerted: true });
    expect(out.events).toEqual([{ type: 'alert.review_overdue', actor: 'system', requestId: 'req-1', details: { reviewDueAt: T0 + 4 * HOUR } }]);
    expect(dueAt(r)).toBe(T0 + 8 * HOUR);
    expect(tick(r, at(T0 + 5 * HOUR))).toBeUndefined();
    const ended = tick(r, at(T0 + 8 * HOUR))!.request;
    expect(ended.status).toBe('expired');
    expect(tick(ended, at(T0 + 9 * HOUR))).toBeUndefined();
  });

  it('raises the overdue alert after the grant expired, if still unreviewed', () => {
    let r = open(requestUnder([breakGlass]), at(T0)).request; // 1h grant, review due in 4h
    r = step(r, tick(r, at(T0 + HOUR))!);
    expect(r.status).toBe('expired');
    expect(dueAt(r)).toBe(T0 + 4 * HOUR);
    const out = tick(r, at(T0 + 4 * HOUR))!;
    expect(types(out)).toEqual(['alert.review_overdue']);
    expect(step(r, out).status).toBe('expired');
  });

  describe('time window checked again at activation', () => {
    const weekdays = policy({
      name: 'weekdays',
      when: { timezone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], hours: { from: 8 * 60, to: 18 * 60 } },
    });
    const saturday = Date.UTC(2026, 0, 10, 10, 0);

    it('a scheduled start that falls outside the window fails', () => {
      const req = open(requestUnder([weekdays], { startAt: saturday }), at(T0)).request;
      expect(req.status).toBe('scheduled');
      const out = tick(req, at(saturday))!;
      const r = step(req, out);
      expect(r).toMatchObject({ status: 'failed', access: 'none', endedAt: saturday, endedBy: 'system' });
      expect(r.error).toBe('outside the policy time window at activation: sat is not an allowed day (mon, tue, wed, thu, fri, Europe/Berlin)');
      expect(out.events).toEqual([{ type: 'request.failed', actor: 'system', requestId: 'req-1', details: { error: r.error } }]);
      expect(dueAt(r)).toBeUndefined();
    });

    it('an approval that comes after hours fails', () => {
      const strict = { ...weekdays, approval: { required: 1, approvers: { groups: ['leads'], users: [] } } };
      const req = requestUnder([strict]);
      const evening = Date.UTC(2026, 0, 5, 19, 0); // Monday 20:00 in Berlin
      const out = approve(req, bob, undefined, at(evening));
      expect(step(req, out)).toMatchObject({ status: 'failed', access: 'none' });
      expect(types(out)).toEqual(['request.approved', 'request.failed']);
      expect(out.request.error).toContain('20:00 is outside the allowed hours 08:00-18:00 (Europe/Berlin)');
    });

    it('inside the window it activates', () => {
      const tuesday = Date.UTC(2026, 0, 6, 9, 0);
      const req = open(requestUnder([weekdays], { startAt: tuesday }), at(T0)).request;
      expect(tick(req, at(tuesday))!.request.status).toBe('active');
    });

    it('a window closing later never shortens a running grant', () => {
      const late = Date.UTC(2026, 0, 5, 16, 30); // Monday 17:30 in Berlin
      const r = open(requestUnder([weekdays], { durationMs: 4 * HOUR }), at(late)).request;
      expect(r.status).toBe('active');
      expect(tick(r, at(late + 3 * HOUR))).toBeUndefined();
      expect(tick(r, at(late + 4 * HOUR))!.request.status).toBe('expired');
    });

    it('activate checks every policy window', () => {
      const sundays = policy({ name: 'sundays', entitlements: ['x/y'], when: { timezone: 'UTC', days: ['sun'] } });
      const req = requestUnder([selfService, sundays]);
      expect(activate(req, at(T0)).request.status).toBe('failed');
    });
  });
});

// ---- final states and versions -----------------------------------------------------------------------------------------

describe('ended requests are final', () => {
  const guarded = policy({
    name: 'guarded',
    approval: { required: 1, approvers: { groups: ['leads'] } },
    extension: { allowed: true, maxTotal: DAY, requiresApproval: false },
  });

  it.each(FINAL_STATUSES)('every transition on a %s request throws HG_INVALID_TRANSITION', (status) => {
    const req = requestUnder([guarded], {
      status,
      access: 'removed',
      activatedAt: T0,
      expiresAt: T0 + HOUR,
      endedAt: T0 + 30 * MINUTE,
      endedBy: 'system',
    });
    const now = at(T0 + 10 * MINUTE);
    const attempts: Record<string, () => unknown> = {
      approve: () => approve(req, bob, undefined, now),
      deny: () => deny(req, bob, undefined, now),
      cancel: () => cancel(req, alice, undefined, now),
      revoke: () => revoke(req, root, undefined, now),
      release: () => release(req, alice, undefined, now),
      extend: () => extend(req, alice, HOUR, undefined, now),
      provisioned: () => provisioned(req, now),
      fail: () => fail(req, 'x', now),
      removed: () => removed(req),
      review: () => review(req, sam, 'x', now),
    };
    for (const [name, attempt] of Object.entries(attempts)) {
      expect([name, codeOf(attempt)]).toEqual([name, 'HG_INVALID_TRANSITION']);
    }
    expect(isFinal(req)).toBe(true);
    expect(dueAt(req)).toBeUndefined();
    for (const later of [T0, T0 + HOUR, T0 + 30 * DAY]) expect(tick(req, at(later))).toBeUndefined();
  });

  it('isFinal knows exactly the final statuses', () => {
    for (const status of ['pending', 'scheduled', 'active'] as const) expect(isFinal(request({ status }))).toBe(false);
    for (const status of FINAL_STATUSES) expect(isFinal(request({ status }))).toBe(true);
  });
});

describe('version', () => {
  it('increments by exactly one per transition along a whole journey', () => {
    const p = policy({
      name: 'journey',
      approval: { required: 2, approvers: { groups: ['leads', 'security'] } },
      extension: { allowed: true, maxTotal: 4 * HOUR, requiresApproval: true },
    });
    let r = open(requestUnder([p], { startAt: T0 + HOUR }), at(T0)).request;
    expect(r.version).toBe(1);
    r = step(r, approve(r, bob, undefined, at(T0 + 1)));
    r = step(r, approve(r, dave, undefined, at(T0 + 2))); // quorum: scheduled
    expect(r.status).toBe('scheduled');
    r = step(r, tick(r, at(T0 + HOUR, false))!); // provisioning
    r = step(r, provisioned(r, { now: T0 + HOUR + 1 })); // active
    r = step(r, extend(r, alice, HOUR, undefined, at(T0 + HOUR + 2)));
    r = step(r, approve(r, carol, undefined, at(T0 + HOUR + 3)));
    expect(r.pendingExtension?.approvals).toHaveLength(1);
    r = step(r, approve(r, erin, undefined, at(T0 + HOUR + 4))); // extension quorum: applied
    expect(r.expiresAt).toBe(T0 + 3 * HOUR);
    r = step(r, tick(r, at(T0 + 3 * HOUR, false))!); // expired, removing
    r = step(r, removed(r));
    expect(r).toMatchObject({ status: 'expired', access: 'removed', version: 10 });
  });
});

// ---- dueAt / tick consistency ----------------------------------------------------------------------------------------------

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

interface Walk {
  seed: number;
  states: { req: AccessRequest; now: number; inline: boolean }[];
}

/** Random but reachable request histories: a random policy, then random actions at advancing times. */
function randomWalk(seed: number): Walk {
  const rand = prng(seed);
  const isBreakGlass = rand() < 0.3;
  const p = policy({
    name: 'gen',
    subjects: { groups: ['developers'] },
    maxDuration: DAY,
    approval: { required: pick(rand, [0, 1, 2]), approvers: { users: ['bob', 'carol', 'dave'] } },
    pendingTimeout: pick(rand, [30 * MINUTE, 2 * HOUR, DAY]),
    extension: { allowed: rand() < 0.7, maxTotal: pick(rand, [2 * HOUR, DAY]), requiresApproval: rand() < 0.5 },
    breakGlass: isBreakGlass,
    review: isBreakGlass ? { approvers: { groups: ['sre-leads'], users: [] }, within: pick(rand, [30 * MINUTE, HOUR, 4 * HOUR]) } : undefined,
    when: rand() < 0.2 ? { timezone: 'Europe/Berlin', hours: { from: 7 * 60, to: 22 * 60 } } : undefined,
  });
  const inline = rand() < 0.5;
  const startAt = rand() < 0.3 ? T0 + pick(rand, [10 * MINUTE, 3 * HOUR, DAY + 7 * HOUR]) : undefined;
  let now = T0 + pick(rand, [0, 13 * HOUR]);
  let req = open(requestUnder([p], { durationMs: pick(rand, [15 * MINUTE, HOUR, 2 * HOUR]), startAt, requestedAt: now }), { now, inline }).request;
  const states: Walk['states'] = [{ req, now, inline }];
  for (let i = 0; i < 14; i++) {
    now += pick(rand, [0, 1, MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, DAY]);
    const f = { now, inline };
    const approver = pick(rand, [bob, carol, dave, alice]);
    const actions: (() => Outcome | undefined)[] = [
      () => tick(req, f),
      () => tick(req, f),
      () => approve(req, approver, undefined, f),
      () => approve(req, approver, undefined, f),
      () => deny(req, approver, undefined, f),
      () => cancel(req, alice, undefined, f),
      () => revoke(req, root, undefined, f),
      () => release(req, alice, undefined, f),
      () => extend(req, alice, pick(rand, [15 * MINUTE, HOUR]), undefined, f),
      () => provisioned(req, f),
      () => removed(req),
      () => review(req, sam, 'ok', f),
      () => fail(req, 'boom', f),
    ];
    let out: Outcome | undefined;
    try {
      out = pick(rand, actions)();
    } catch (e) {
      if (!(e instanceof HgError)) throw e;
    }
    if (out) {
      expect(out.request.version).toBe(req.version + 1);
      if (isFinal(req)) expect(out.request.status).toBe(req.status);
      req = out.request;
      states.push({ req, now, inline });
    }
  }
  return { seed, states };
}

describe('dueAt and tick agree', () => {
  const walks = Array.from({ length: 400 }, (_, seed) => randomWalk(seed + 1));
  const states = walks.flatMap((w) => w.states.map((s) => ({ ...s, seed: w.seed })));

  it('the generator reaches every status', () => {
    const seen = new Set(states.map((s) => s.req.status));
    expect([...seen].sort()).toEqual(['active', 'cancelled', 'denied', 'expired', 'failed', 'pending', 'revoked', 'scheduled']);
    expect(states.some((s) => s.req.breakGlass && s.req.reviewDueAt !== undefined)).toBe(true);
    expect(states.some((s) => s.req.pendingExtension)).toBe(true);
  });

  it('tick does nothing while dueAt is in the future or undefined', () => {
    for (const { req, now, inline, seed } of states) {
      const due = dueAt(req);
      const probes = due === undefined ? [now, now + HOUR, now + 30 * DAY] : [Math.min(now, due - 1), due - 1];
      for (const probe of probes) {
        if (due !== undefined && probe >= due) continue;
        expect({ seed, status: req.status, probe, out: tick(req, { now: probe, inline }) }).toEqual({
          seed,
          status: req.status,
          probe,
          out: undefined,
        });
      }
    }
  });

  it('whenever dueAt <= now, tick returns an outcome and dueAt moves strictly later (or away)', () => {
    for (const { req, inline, seed } of states) {
      const due = dueAt(req);
      if (due === undefined) continue;
      for (const now of [due, due + 1, due + 7 * MINUTE]) {
        let current = req;
        let currentDue: number | undefined = due;
        // Several things can fall due by the same `now` (say expiry and an overdue review); each
        // tick handles one and the request settles after a few, never repeating the same work.
        for (let n = 0; currentDue !== undefined && currentDue <= now; n++) {
          expect(n, `seed ${seed}: tick did not settle`).toBeLessThan(4);
          const out = tick(current, { now, inline });
          expect(out, `seed ${seed}: ${current.status}/${current.access} due ${currentDue} but tick did nothing at ${now}`).toBeDefined();
          expect(out!.request.version).toBe(current.version + 1);
          const after = dueAt(out!.request);
          expect(
            after === undefined || after > currentDue || (after === currentDue && out!.request.status !== current.status),
            `seed ${seed}: dueAt went from ${currentDue} to ${after} after ${out!.events.map((e) => e.type).join(',')}`,
          ).toBe(true);
          current = out!.request;
          currentDue = after;
        }
      }
    }
  });

  it('when exactly one thing is due, dueAt after the tick is strictly later than before', () => {
    let checked = 0;
    for (const { req, inline, seed } of states) {
      const due = dueAt(req);
      if (due === undefined) continue;
      const out = tick(req, { now: due, inline })!;
      const after = dueAt(out.request);
      if (after === due && out.request.status !== req.status) continue; // two things due at the same instant
      checked += 1;
      expect(after === undefined || after > due, `seed ${seed}: ${after} not after ${due}`).toBe(true);
    }
    expect(checked).toBeGreaterThan(100);
  });
});
