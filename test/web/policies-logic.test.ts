// The Policies page's pure logic (web/src/lib/policies.ts): each policy in words, the search,
// the "what would happen if" form as an explain query, and each policy's verdict from the answer.
import { describe, expect, it } from 'vitest';
import type { PolicyJson } from '../../web/src/api/policies.js';
import type { ExplainJson } from '../../web/src/api/request.js';
import {
  assumedText,
  EMPTY_WHAT_IF,
  entitlementsOf,
  knownEntitlements,
  matchesPolicy,
  policyCount,
  policyFacts,
  policyVerdicts,
  whatIfProblems,
  whatIfQuery,
  whoText,
} from '../../web/src/lib/policies.js';

const MIN = 60_000;
const H = 60 * MIN;

const policy = (over: Partial<PolicyJson> = {}): PolicyJson => ({
  name: 'eng-admin',
  subjects: { groups: ['eng'], users: ['bob'] },
  entitlements: ['db/admin'],
  defaultDuration: H,
  minDuration: MIN,
  maxDuration: 4 * H,
  reason: 'required',
  ticket: { required: false },
  approval: { required: 1, approvers: { groups: ['leads'], users: [] } },
  pendingTimeout: 24 * H,
  extension: { allowed: false, maxTotal: 4 * H, requiresApproval: true },
  breakGlass: false,
  ...over,
});

const facts = (p: PolicyJson) => Object.fromEntries(policyFacts(p).map((t) => [t.label, t.text]));

describe('a policy in words', () => {
  it('tells escalation tiers, on-call approval, chat and the ticket check', () => {
    const f = policyFacts(
      policy({
        approval: {
          required: 1,
          approvers: { groups: ['leads'], users: [] },
          fromChat: true,
          onCall: 'primary',
          escalation: [
            { after: 30 * MIN, approvers: { groups: ['managers'], users: [] } },
            { after: 2 * H, onCall: 'primary' },
          ],
        },
        ticket: { required: true, system: 'jira', states: ['In Progress'], endsWithTicket: true, comment: true },
      }),
    );
    const of = (label: string) => f.filter((t) => t.label === label).map((t) => t.text);
    expect(of('Escalation')).toEqual([
      'after 30m without a decision, group managers may approve too',
      'after 2h without a decision, whoever is on call on primary may approve too',
    ]);
    expect(of('On call')).toEqual(['none needed for whoever is on call on primary; reviewed afterwards']);
    expect(of('From chat')).toEqual(['approvers may decide with the buttons of Slack messages']);
    expect(of('Ticket check')).toEqual([
      'in jira, in In Progress, at the request and each approval; the access ends when it leaves that state; commented on when access starts and ends',
    ]);
  });

  it('says who may ask, for what, how long and approved by whom', () => {
    expect(facts(policy())).toEqual({
      'Who may ask': 'group eng, bob',
      For: 'db/admin',
      'How long': 'up to 4h (default 1h, at least 1m)',
      Approval: '1 approval from group leads; waits at most 1d',
      Reason: 'required',
      Extension: 'not allowed',
    });
  });

  it('tells the conditions: MFA, ticket, time window, networks, extension, break-glass review', () => {
    const f = facts(
      policy({
        approval: { required: 2, approvers: { groups: [], users: ['carol'], manager: true } },
        mfa: { for: ['request', 'credentials'], maxAge: 5 * MIN },
        ticket: { required: true, pattern: '^INC-[0-9]+$' },
        when: { days: ['mon', 'fri'], hours: { from: 22 * 60, to: 6 * 60 }, timezone: 'Europe/Berlin', sourceNetworks: ['10.0.0.0/8'] },
        extension: { allowed: true, maxTotal: 8 * H, requiresApproval: true },
      }),
    );
    expect(f.Approval).toBe("2 approvals from carol, the requester's manager; waits at most 1d");
    expect(f['Step-up MFA']).toBe('for requesting, fetching credentials (or an MFA sign-in within the last 5m)');
    expect(f.Ticket).toBe('required, matching ^INC-[0-9]+$');
    expect(f.When).toBe('only Mon, Fri 22:00-06:00 (Europe/Berlin)');
    expect(f.From).toBe('networks 10.0.0.0/8');
    expect(f.Extension).toBe('allowed, up to 8h in all, approved again');

    const glass = facts(
      policy({
        breakGlass: true,
        approval: { required: 0, approvers: { groups: [], users: [] } },
        review: { approvers: { groups: ['leads'], users: [] }, within: 12 * H },
      }),
    );
    expect(glass.Approval).toBe('none: break-glass, access begins at once when asked for as break-glass');
    expect(glass.Review).toBe('within 12h by group leads');
    expect(facts(policy({ approval: { required: 0, approvers: { groups: [], users: [] } } })).Approval).toBe('none: self-service, active at once');
    expect(facts(policy({ ticket: { required: false, pattern: '^X' } })).Ticket).toBe('optional; if given, matching ^X');
    expect(facts(policy({ minDuration: 4 * H, defaultDuration: 4 * H }))['How long']).toBe('up to 4h (default 4h)');
    expect(whoText({ groups: [], users: [] })).toBe('nobody');
  });

  it('is found by name, entitlement, subject, approver or break-glass', () => {
    const glass = policy({ name: 'bg', breakGlass: true, review: { approvers: { groups: ['reviewers'], users: [] }, within: H } });
    expect(matchesPolicy(policy(), 'ENG admin')).toBe(true);
    expect(matchesPolicy(policy(), 'db/admin')).toBe(true);
    expect(matchesPolicy(policy(), 'leads')).toBe(true);
    expect(matchesPolicy(policy(), 'bob')).toBe(true);
    expect(matchesPolicy(policy(), 'break')).toBe(false);
    expect(matchesPolicy(glass, 'break reviewers')).toBe(true);
    expect(policyCount(3, 3, '')).toBe('3 policies, tried in this order');
    expect(policyCount(1, 3, 'x')).toBe('1 of 3 policies matches');
    expect(policyCount(2, 3, 'x')).toBe('2 of 3 policies match');
    expect(policyCount(0, 3, ' x ')).toBe('No policy matches “x”');
    expect(knownEntitlements([policy({ entitlements: ['db/b', 'db/a'] }), policy({ entitlements: ['db/a', 'api/x'] })])).toEqual(['api/x', 'db/a', 'db/b']);
  });
});

describe('what would happen if', () => {
  it('builds the explain query, leaving out what is empty (assumed given)', () => {
    expect(whatIfQuery(EMPTY_WHAT_IF)).toBeUndefined();
    expect(whatIfProblems(EMPTY_WHAT_IF)).toEqual(['name at least one entitlement']);
    expect(whatIfProblems({ ...EMPTY_WHAT_IF, entitlements: 'db/a', at: '2026-01' })).toEqual(['complete the time or clear it']);
    expect(entitlementsOf(' db/a, db/b  db/a ,')).toEqual(['db/a', 'db/b']);
    expect(whatIfQuery({ ...EMPTY_WHAT_IF, entitlements: 'db/a' })).toBe('entitlement=db%2Fa');
    const q = new URLSearchParams(
      whatIfQuery({
        principal: ' alice ',
        entitlements: 'db/a, db/b',
        duration: '2h',
        at: '2026-01-05T10:00',
        reason: 'fix',
        ticket: 'INC-1',
        sourceIp: '10.1.2.3',
        breakGlass: true,
      }),
    );
    expect(Object.fromEntries(q)).toEqual({
      principal: 'alice',
      entitlement: 'db/a,db/b',
      duration: '2h',
      at: new Date('2026-01-05T10:00').toISOString(),
      reason: 'fix',
      ticket: 'INC-1',
      sourceIp: '10.1.2.3',
      breakGlass: 'true',
    });
  });

  it("tells each policy's verdict per entitlement, and what was assumed", () => {
    const x = {
      entitlements: ['db/a', 'db/b'],
      candidates: {
        'db/a': [
          { policy: 'p1', chosen: false, reasons: ['a ticket is required'] },
          { policy: 'p2', chosen: true, reasons: [] },
          { policy: 'p3', chosen: false, reasons: [] },
        ],
        'db/b': [],
      },
      notCandidates: { 'db/b': [{ policy: 'bg', why: 'a break-glass policy' }] },
      assumed: { reason: true, ticket: false, sourceIp: true },
    } as unknown as ExplainJson;
    expect(policyVerdicts(x)).toEqual([
      { entitlement: 'db/a', policy: 'p1', verdict: 'refused', reasons: ['a ticket is required'] },
      { entitlement: 'db/a', policy: 'p2', verdict: 'chosen', reasons: [] },
      { entitlement: 'db/a', policy: 'p3', verdict: 'met', reasons: [] },
      { entitlement: 'db/b', policy: 'bg', verdict: 'not a candidate', reasons: ['a break-glass policy'] },
    ]);
    expect(assumedText(x)).toEqual(['a reason will be given', "the request comes from inside the policy's networks"]);
  });
});
