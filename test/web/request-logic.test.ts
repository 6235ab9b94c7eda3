// The Request access page's pure logic (web/src/lib/request.ts): grouping and searching, each
// policy's terms in words, and the explain query and submission built from the form.
import { describe, expect, it } from 'vitest';
import type { EntitlementJson, PolicyTermsJson } from '../../web/src/api/types.js';
import {
  defaultDurationMs,
  explainQuery,
  groupByTarget,
  isoToLocalInput,
  localInputToIso,
  matchesSearch,
  missingInputs,
  offeredPolicies,
  searchCount,
  submitBody,
  termsOf,
  windowText,
  type RequestForm,
} from '../../web/src/lib/request.js';

const MIN = 60_000;
const H = 60 * MIN;

const policy = (over: Partial<PolicyTermsJson> = {}): PolicyTermsJson => ({
  name: 'p',
  breakGlass: false,
  defaultDuration: H,
  maxDuration: 8 * H,
  reason: 'optional',
  ticket: { required: false },
  approvalsRequired: 0,
  approvers: { groups: [], users: [] },
  ...over,
});
const ent = (entitlement: string, description: string | undefined, policies: PolicyTermsJson[] = [policy()]): EntitlementJson => ({
  entitlement,
  target: entitlement.split('/')[0]!,
  kind: 'hourglass',
  credentials: null,
  ...(description ? { description } : {}),
  policies,
});

const LIST = [
  ent('db/read', 'Read-only access to the orders database'),
  ent('app/logs', 'Production logs'),
  ent('db/admin', 'Full access to the orders database', [
    policy({ name: 'admin', defaultDuration: 30 * MIN }),
    policy({ name: 'bg', breakGlass: true, defaultDuration: 10 * MIN }),
  ]),
];
const FORM: RequestForm = { entitlements: ['db/read'], duration: '', startAt: '', reason: '', ticket: '', breakGlass: false };

describe('entitlements on the page', () => {
  it('are grouped by target, both in alphabetical order', () => {
    expect(groupByTarget(LIST).map((g) => [g.target, g.entitlements.map((e) => e.entitlement)])).toEqual([
      ['app', ['app/logs']],
      ['db', ['db/admin', 'db/read']],
    ]);
  });

  it('are found by name, target or description, every word, any case; the count says how many', () => {
    expect(LIST.filter((e) => matchesSearch(e, 'ORDERS')).map((e) => e.entitlement)).toEqual(['db/read', 'db/admin']);
    expect(LIST.filter((e) => matchesSearch(e, 'orders read')).map((e) => e.entitlement)).toEqual(['db/read']);
    expect(LIST.filter((e) => matchesSearch(e, 'app')).map((e) => e.entitlement)).toEqual(['app/logs']);
    expect(LIST.filter((e) => matchesSearch(e, '  ')).length).toBe(3);
    expect(searchCount(3, 3, '')).toBe('3 entitlements');
    expect(searchCount(2, 3, 'orders')).toBe('2 of 3 entitlements match');
    expect(searchCount(0, 3, 'x ')).toBe('No entitlement matches “x”');
  });

  it('offer break-glass policies only when break-glass is asked for; the default duration is the shortest of the first offered', () => {
    const admin = LIST[2]!;
    expect(offeredPolicies(admin, false).map((p) => p.name)).toEqual(['admin']);
    expect(offeredPolicies(admin, true).map((p) => p.name)).toEqual(['bg']);
    expect(defaultDurationMs([LIST[0]!, admin], false)).toBe(30 * MIN);
    expect(defaultDurationMs([LIST[0]!, admin], true)).toBe(10 * MIN);
    expect(defaultDurationMs([LIST[0]!], true)).toBeUndefined();
    expect(defaultDurationMs([], false)).toBeUndefined();
  });
});

describe("a policy's terms in words", () => {
  it('duration, approvals from whom, step-up MFA, ticket format, reason, time window and networks', () => {
    const terms = termsOf(
      policy({
        maxDuration: 4 * H,
        defaultDuration: H,
        minDuration: 5 * MIN,
        approvalsRequired: 2,
        approvers: { groups: ['sre-leads'], users: ['carol'], manager: true },
        mfa: { for: ['request', 'approve'], maxAge: 5 * MIN },
        ticket: { required: true, pattern: '^CHG-[0-9]+$' },
        reason: 'required',
        when: { days: ['mon', 'fri'], hours: { from: 9 * 60, to: 17 * 60 + 30 }, timezone: 'Europe/Berlin', sourceNetworks: ['10.0.0.0/8'] },
      }),
    );
    expect(Object.fromEntries(terms.map((t) => [t.label, t.text]))).toEqual({
      Duration: 'up to 4h (default 1h, at least 5m)',
      Approval: '2 from group sre-leads, carol, your manager',
      'Step-up MFA': 'to request, to approve (or an MFA sign-in within the last 5m)',
      Ticket: 'required, matching ^CHG-[0-9]+$',
      Reason: 'required',
      When: 'only Mon, Fri 09:00-17:30 (Europe/Berlin)',
      From: 'networks 10.0.0.0/8',
    });
  });

  it('self-service, break-glass with its review, an optional ticket with a format', () => {
    const self = Object.fromEntries(termsOf(policy({ ticket: { required: false, pattern: '^INC-' } })).map((t) => [t.label, t.text]));
    expect(self).toMatchObject({ Approval: 'none: active at once', Ticket: 'optional; if given, matching ^INC-', Reason: 'optional' });
    const bg = termsOf(policy({ breakGlass: true, review: { approvers: { groups: ['security'], users: [] }, within: 24 * H } }));
    expect(bg.find((t) => t.label === 'Approval')!.text).toBe('none: break-glass access begins at once; reviewed within 1d by group security');
  });

  it('time windows: days only, hours across midnight', () => {
    expect(windowText({ days: ['sat', 'sun'], timezone: 'UTC' })).toBe('Sat, Sun (UTC)');
    expect(windowText({ hours: { from: 22 * 60, to: 6 * 60 }, timezone: 'UTC' })).toBe('22:00-06:00 (UTC)');
    expect(windowText({ timezone: 'UTC', sourceNetworks: ['10.0.0.0/8'] })).toBeUndefined();
  });
});

describe('the form as the server is asked about it', () => {
  it('explain gets what was typed; an empty reason or ticket is left out (assumed, and `requires` tells)', () => {
    expect(explainQuery({ ...FORM, entitlements: [] })).toBeUndefined();
    expect(explainQuery(FORM)).toBe('entitlement=db%2Fread');
    const q = new URLSearchParams(
      explainQuery({
        ...FORM,
        entitlements: ['db/read', 'app/logs'],
        duration: ' 90m ',
        reason: 'fix',
        ticket: 'CHG-1',
        startAt: '2030-01-05T10:00',
        breakGlass: true,
      }),
    );
    expect(Object.fromEntries(q)).toEqual({
      entitlement: 'app/logs,db/read',
      duration: '90m',
      reason: 'fix',
      ticket: 'CHG-1',
      startAt: new Date(2030, 0, 5, 10, 0).toISOString(),
      breakGlass: 'true',
    });
  });

  it('the submission carries the same values', () => {
    expect(submitBody(FORM)).toEqual({ entitlements: ['db/read'] });
    expect(submitBody({ ...FORM, duration: '1h', reason: ' why ', ticket: 'T', startAt: '2030-01-05T10:00', breakGlass: true })).toEqual({
      entitlements: ['db/read'],
      duration: '1h',
      reason: 'why',
      ticket: 'T',
      startAt: new Date(2030, 0, 5, 10, 0).toISOString(),
      breakGlass: true,
    });
  });

  it('start times are read in the viewer’s zone; anything else is not one', () => {
    expect(localInputToIso('2030-01-05T10:00')).toBe(new Date(2030, 0, 5, 10, 0).toISOString());
    for (const bad of ['', '2030-01-05', '10:00', 'tomorrow']) expect(localInputToIso(bad), bad).toBeUndefined();
    expect(isoToLocalInput(new Date(2030, 0, 5, 9, 7).getTime())).toBe('2030-01-05T09:07');
  });

  it('only obviously empty inputs are the page’s own checks, with what the server says is required', () => {
    expect(missingInputs({ ...FORM, entitlements: [] }, undefined)).toEqual(['choose at least one entitlement']);
    expect(missingInputs(FORM, { reason: true, ticket: { required: true } })).toEqual(['give a reason', 'give a ticket']);
    expect(missingInputs({ ...FORM, reason: 'x', ticket: 'y' }, { reason: true, ticket: { required: true } })).toEqual([]);
    expect(missingInputs({ ...FORM, startAt: '2030-01' }, undefined)).toEqual(['complete the start time or clear it']);
  });
});
