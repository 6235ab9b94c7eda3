// Unit tests of explain(): the decision the server would make, and everything around it.
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { explain } from '../../src/app/explain.js';
import { parseConfig } from '../support/config.js';
import { explainResponse } from '../../src/http/routes/policies.js';

const DEMO = parseConfig(readFileSync(new URL('../../examples/demo.yaml', import.meta.url), 'utf8'), {}, 'demo.yaml');
const MONDAY_10 = Date.UTC(2026, 0, 5, 10, 0);

const STRICT = parseConfig(
  `
principals:
  - { id: ann, groups: [dev] }
  - { id: ben, groups: [dev, leads] }
  - { id: cat, groups: [leads] }
targets:
  db: { type: hourglass, entitlements: { read: {}, write: {} } }
policies:
  - name: write-office-hours
    subjects: { groups: [dev] }
    entitlements: [db/write]
    maxDuration: 2h
    ticket: { required: true, pattern: "^CHG-[0-9]+$" }
    approval: { required: 2, approvers: { groups: [leads] } }
    when: { days: [mon, tue, wed, thu, fri], hours: "09:00-17:00", timezone: Europe/Berlin, sourceNetworks: [10.0.0.0/8] }
  - name: read
    subjects: { users: [ann, ghost] }
    entitlements: [db/read]
    reason: optional
    approval: { required: 0 }
`,
  {},
  'strict.yaml',
);

describe('explain', () => {
  it('an allowed request: policy, duration, approvals and who could give them (never the requester)', () => {
    const r = explain(DEMO, { principal: 'bob', entitlements: ['demo-db/admin'], duration: '2h', at: MONDAY_10 });
    expect(r).toMatchObject({
      allowed: true,
      code: null,
      policy: 'developers-admin',
      policies: { 'demo-db/admin': 'developers-admin' },
      durationSeconds: 7200,
      selfService: false,
      breakGlass: false,
      approvals: [{ policy: 'developers-admin', required: 1, approvers: { groups: ['sre-leads'], users: [] }, eligibleApprovers: ['carol'] }],
      pendingTimeoutSeconds: 86_400,
      requires: { reason: true, ticket: { required: false, patterns: ['^INC-[0-9]+$'] }, sourceNetworks: null },
      assumed: { reason: true, ticket: false, sourceIp: false },
      warnings: [],
    });
    expect(r.candidates['demo-db/admin']).toEqual([{ policy: 'developers-admin', chosen: true, reasons: [] }]);
    expect(r.notCandidates['demo-db/admin']).toEqual([{ policy: 'break-glass', why: 'bob is not among its subjects (group oncall)' }]);
    expect(explainResponse.safeParse(r).success).toBe(true);
  });

  it('break-glass: no approval, reviewers named; non-members are not eligible', () => {
    const dave = explain(DEMO, { principal: 'dave', entitlements: ['demo-db/admin'], breakGlass: true, at: MONDAY_10 });
    expect(dave).toMatchObject({ allowed: true, breakGlass: true, selfService: true, approvals: [], durationSeconds: 3600 });
    expect(dave.reviews).toEqual([
      { policy: 'break-glass', withinSeconds: 86_400, reviewers: { groups: ['sre-leads'], users: [], manager: false }, eligibleReviewers: ['bob', 'carol'] },
    ]);
    const bob = explain(DEMO, { principal: 'bob', entitlements: ['demo-db/admin'], breakGlass: true, at: MONDAY_10 });
    expect(bob).toMatchObject({ allowed: false, code: 'HG_NOT_ELIGIBLE', policy: null, candidates: { 'demo-db/admin': [] } });
  });

  it("refusals carry the code submission would give, and every candidate's reasons", () => {
    const r = explain(DEMO, { principal: 'alice', entitlements: ['demo-db/admin'], duration: '5h', ticket: 'X-1', reason: '', at: MONDAY_10 });
    expect(r.allowed).toBe(false);
    expect(r.code).toBe('HG_TERMS_NOT_MET');
    expect(r.durationSeconds).toBe(18_000);
    expect(r.candidates['demo-db/admin']![0]!.reasons).toEqual([
      'duration 5h exceeds the maximum 4h',
      'a reason is required',
      'ticket "X-1" does not match ^INC-[0-9]+$',
    ]);
    expect(r.assumed).toEqual({ reason: false, ticket: false, sourceIp: false });
  });

  it('unknown principals are not eligible, even when a policy names them; unknown entitlements are invalid input', () => {
    expect(explain(DEMO, { principal: 'zed', entitlements: ['demo-db/read'], at: MONDAY_10 })).toMatchObject({
      allowed: false,
      code: 'HG_NOT_ELIGIBLE',
      principalKnown: false,
    });
    expect(explain(STRICT, { principal: 'ghost', entitlements: ['db/read'], at: MONDAY_10 })).toMatchObject({ allowed: false, code: 'HG_NOT_ELIGIBLE' });
    expect(explain(DEMO, { principal: 'alice', entitlements: ['demo-db/nope'], at: MONDAY_10 })).toMatchObject({
      allowed: false,
      code: 'HG_INVALID_INPUT',
      message: 'unknown entitlement demo-db/nope (form: target/role)',
    });
    expect(() => explain(DEMO, { principal: 'alice', entitlements: ['demo-db/read'], duration: '5 hours', at: MONDAY_10 })).toThrow(/invalid duration/);
  });

  it('a ticket and a source address left out are assumed; given, they are checked', () => {
    const assumed = explain(STRICT, { principal: 'ann', entitlements: ['db/write'], at: MONDAY_10 });
    expect(assumed).toMatchObject({
      allowed: true,
      requires: { reason: true, ticket: { required: true, patterns: ['^CHG-[0-9]+$'] }, sourceNetworks: ['10.0.0.0/8'] },
      assumed: { reason: true, ticket: true, sourceIp: true },
    });
    const checked = explain(STRICT, { principal: 'ann', entitlements: ['db/write'], ticket: 'INC-1', sourceIp: '192.0.2.1', reason: 'x', at: MONDAY_10 });
    expect(checked.allowed).toBe(false);
    expect(checked.candidates['db/write']![0]!.reasons).toEqual([
      'ticket "INC-1" does not match ^CHG-[0-9]+$',
      'source address 192.0.2.1 is not in 10.0.0.0/8',
    ]);
    const ok = explain(STRICT, { principal: 'ann', entitlements: ['db/write'], ticket: 'CHG-7', sourceIp: '10.1.2.3', reason: 'x', at: MONDAY_10 });
    expect(ok).toMatchObject({ allowed: true, assumed: { reason: false, ticket: false, sourceIp: false } });
  });

  it('time windows are checked at `at`', () => {
    const saturday = Date.UTC(2026, 0, 10, 10, 0);
    const evening = Date.UTC(2026, 0, 5, 18, 30); // 19:30 in Berlin
    expect(explain(STRICT, { principal: 'ann', entitlements: ['db/write'], at: saturday }).candidates['db/write']![0]!.reasons).toEqual([
      'sat is not an allowed day (mon, tue, wed, thu, fri, Europe/Berlin)',
    ]);
    expect(explain(STRICT, { principal: 'ann', entitlements: ['db/write'], at: evening }).candidates['db/write']![0]!.reasons).toEqual([
      '19:30 is outside the allowed hours 09:00-17:00 (Europe/Berlin)',
    ]);
  });

  it('a start time is checked as submission checks it: windows at the start too, and no start in the past', () => {
    const ask = { principal: 'ann', entitlements: ['db/write'], at: MONDAY_10 };
    expect(explain(STRICT, { ...ask, startAt: MONDAY_10 + 3_600_000 })).toMatchObject({ allowed: true });
    const saturday = explain(STRICT, { ...ask, startAt: Date.UTC(2026, 0, 10, 10, 0) });
    expect(saturday).toMatchObject({ allowed: false, code: 'HG_TERMS_NOT_MET' });
    expect(saturday.candidates['db/write']![0]!.reasons).toEqual([
      'at the requested start: sat is not an allowed day (mon, tue, wed, thu, fri, Europe/Berlin)',
    ]);
    expect(explain(STRICT, { ...ask, startAt: MONDAY_10 - 5 * 60_000 })).toMatchObject({
      allowed: false,
      code: 'HG_INVALID_INPUT',
      message: 'startAt must be now or in the future (at most a year ahead)',
    });
  });

  it('warns when a quorum can never be met: an approver who requests cannot approve themselves', () => {
    const ben = explain(STRICT, { principal: 'ben', entitlements: ['db/write'], at: MONDAY_10 });
    expect(ben.allowed).toBe(true);
    expect(ben.approvals[0]!.eligibleApprovers).toEqual(['cat']);
    expect(ben.warnings).toEqual([
      'policy write-office-hours needs 2 approval(s) but only 1 principal(s) other than ben can give them: the request could never be approved',
    ]);
    expect(explain(STRICT, { principal: 'ann', entitlements: ['db/write'], at: MONDAY_10 }).warnings).toEqual([]);
  });

  it('hypothetical principals, locks and freezes', () => {
    expect(explain(DEMO, { principal: { id: 'newcomer', groups: ['developers'] }, entitlements: ['demo-db/read'], at: MONDAY_10 })).toMatchObject({
      allowed: true,
      principalKnown: true,
      policy: 'developers-read',
    });
    expect(explain(DEMO, { principal: 'alice', entitlements: ['demo-db/read'], at: MONDAY_10, locks: { principal: true } })).toMatchObject({
      allowed: false,
      code: 'HG_PRINCIPAL_LOCKED',
      policy: 'developers-read',
    });
    expect(explain(DEMO, { principal: 'alice', entitlements: ['demo-db/read'], at: MONDAY_10, locks: { frozenTargets: ['demo-db'] } })).toMatchObject({
      allowed: false,
      code: 'HG_TARGET_FROZEN',
    });
  });
});
