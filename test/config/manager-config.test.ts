/**
 * `manager` in the configuration: the principals' key, `approvers.manager` and
 * `review.approvers.manager` in policies (never in subjects), the policy hash, the validate
 * warnings, offline explain and the `policy test` expectations.
 */
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/app/explain.js';
import { describeSubjects } from '../../src/cli/format.js';
import { policyWarnings } from '../../src/cli/offline.js';
import { parsePolicyTests, runPolicyTests, TestsFileInvalid } from '../../src/cli/policy-tests.js';
import type { ConfigProblem } from '../../src/config/types.js';
import { HgError } from '../../src/core/errors.js';
import { parseConfig } from '../support/config.js';

const T = Date.UTC(2026, 0, 5, 10, 0);

const file = (principals: string, policies: string) => `
principals:
${principals}
targets:
  db: { type: hourglass, entitlements: { admin: {}, root: {} } }
policies:
${policies}
`;

const PRINCIPALS = `
  - { id: alice, groups: [developers], manager: mia }
  - { id: sam, groups: [developers] }
  - { id: mia }
  - { id: lead, groups: [sre-leads] }
`;

const managerOnly = `
  - name: manager-only
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    approval: { required: 1, approvers: { manager: true } }
`;

function problems(text: string): ConfigProblem[] {
  try {
    parseConfig(text, {}, 'test.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(HgError);
    expect((e as HgError).code).toBe('HG_CONFIG_INVALID');
    return ((e as HgError).details as { problems: ConfigProblem[] }).problems;
  }
  throw new Error('expected HG_CONFIG_INVALID');
}
const messages = (text: string) => problems(text).map((p) => `${p.path}: ${p.message}`);

describe('principals.manager', () => {
  it('is kept on the principal and is part of the policy hash', () => {
    const c = parseConfig(file(PRINCIPALS, managerOnly));
    expect(c.principals.find((p) => p.id === 'alice')).toMatchObject({ manager: 'mia' });
    expect(c.principals.find((p) => p.id === 'sam')).not.toHaveProperty('manager');
    const other = parseConfig(file(PRINCIPALS.replace('manager: mia', 'manager: lead'), managerOnly));
    expect(other.policyHash).not.toBe(c.policyHash);
  });

  it('must be a principal id, and nobody is their own manager', () => {
    expect(messages(file(`  - { id: alice, manager: alice }\n  - { id: bob, manager: "not an id" }`, managerOnly))).toEqual([
      'principals[0].manager: "alice" cannot be their own manager (nobody approves their own request)',
      'principals[1].manager: must be 1-128 characters: letters, digits and . _ @ - (not first)',
    ]);
  });
});

describe('approvers.manager in policies', () => {
  it('counts as an approver named, alone or beside groups and users; false is left out of the policy', () => {
    const c = parseConfig(
      file(
        PRINCIPALS,
        `${managerOnly}
  - name: both
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    approval: { required: 2, approvers: { groups: [sre-leads], users: [mia], manager: true } }
  - name: glass
    subjects: { groups: [developers] }
    entitlements: [db/root]
    approval: { required: 0, approvers: { manager: false } }
    breakGlass: true
    review: { approvers: { manager: true } }`,
      ),
    );
    expect(c.policies.map((p) => p.approval.approvers)).toEqual([
      { groups: [], users: [], manager: true },
      { groups: ['sre-leads'], users: ['mia'], manager: true },
      { groups: [], users: [] },
    ]);
    expect(c.policies[2]!.review!.approvers).toEqual({ groups: [], users: [], manager: true });
  });

  it('policies that do not name the manager hash as before', () => {
    const plain = `
  - name: p
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    approval: { required: 1, approvers: { groups: [sre-leads] } }`;
    const a = parseConfig(file(PRINCIPALS, plain));
    const b = parseConfig(file(PRINCIPALS, plain.replace('groups: [sre-leads] }', 'groups: [sre-leads], manager: false }')));
    expect(b.policyHash).toBe(a.policyHash);
  });

  it('is refused in subjects, with a clear message', () => {
    const msgs = messages(
      file(
        PRINCIPALS,
        `
  - name: p
    subjects: { groups: [developers], manager: true }
    entitlements: [db/admin]
    approval: { required: 0 }`,
      ),
    );
    expect(msgs).toEqual(['policies[0].subjects.manager: manager names an approver, not who may request: subjects take groups and users only']);
  });

  it('alone cannot give more than one approval; false names nobody; review needs someone', () => {
    const msgs = messages(
      file(
        PRINCIPALS,
        `
  - name: two
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    approval: { required: 2, approvers: { manager: true } }
  - name: none
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    approval: { required: 1, approvers: { manager: false } }
  - name: glass
    subjects: { groups: [developers] }
    entitlements: [db/root]
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { manager: false } }`,
      ),
    );
    expect(msgs).toEqual([
      "policies[0].approval.approvers: 2 approvals required but the requester's manager alone can give only 1: add approvers.groups or approvers.users",
      expect.stringMatching(/^policies\[1\]\.approval\.approvers: 1 approval\(s\) required but no approvers named: .*approvers\.manager: true/),
      'policies[2].review.approvers: review.approvers must name at least one group or user, or manager: true',
    ]);
  });
});

describe('validate warnings', () => {
  it('names the subjects without a manager where only the manager approves; counts the manager toward a quorum', () => {
    const c = parseConfig(
      file(
        PRINCIPALS,
        `${managerOnly}
  - name: quorum
    subjects: { groups: [developers] }
    entitlements: [db/admin]
    approval: { required: 2, approvers: { groups: [sre-leads], manager: true } }
  - name: glass
    subjects: { users: [alice] }
    entitlements: [db/root]
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { manager: true } }`,
      ),
    );
    expect(policyWarnings(c)).toEqual([
      "policy manager-only: only the requester's manager approves, and 1 of its subjects in the file have no manager (sam): their requests are refused",
    ]);
  });
});

describe('offline explain and policy tests', () => {
  const config = parseConfig(file(PRINCIPALS, managerOnly));

  it('explain: the manager is named and eligible; without one, refused with the reason', () => {
    expect(explain(config, { principal: 'alice', entitlements: ['db/admin'], at: T })).toMatchObject({
      allowed: true,
      manager: 'mia',
      approvals: [{ approvers: { groups: [], users: [], manager: true }, eligibleApprovers: ['mia'] }],
    });
    const sam = explain(config, { principal: 'sam', entitlements: ['db/admin'], at: T });
    expect(sam).toMatchObject({ allowed: false, code: 'HG_TERMS_NOT_MET', manager: null });
    expect(sam.message).toMatch(/only the requester's manager may approve, and sam has no manager known to Hourglass/);
    // A manager the directory does not know is no manager.
    const ghost = explain(config, { principal: { id: 'newcomer', groups: ['developers'], manager: 'ghost' }, entitlements: ['db/admin'], at: T });
    expect(ghost).toMatchObject({ allowed: false, code: 'HG_TERMS_NOT_MET', manager: null });
  });

  it('policy test: approvers.manager and a described principal with a manager', () => {
    const tests = parsePolicyTests(
      `
defaults: { at: 2026-01-05T10:00:00Z }
tests:
  - name: alice's manager approves
    principal: alice
    entitlements: db/admin
    expect: { allowed: true, approvers: { manager: true, groups: [] }, eligibleApprovers: [mia] }
  - name: a newcomer with a manager
    principal: { id: newcomer, groups: [developers], manager: lead }
    entitlements: db/admin
    expect: { allowed: true, eligibleApprovers: [lead] }
  - name: sam has none
    principal: sam
    entitlements: db/admin
    expect: { allowed: false, code: HG_TERMS_NOT_MET, reasons: ["has no manager"] }
  - name: wrong on purpose
    principal: alice
    entitlements: db/admin
    expect: { approvers: { manager: false } }
`,
      'tests.yaml',
      config,
      'test.yaml',
    );
    const report = runPolicyTests(config, tests, T, { config: 'test.yaml', tests: 'tests.yaml' });
    expect(report.results.map((r) => [r.name, r.ok])).toEqual([
      ["alice's manager approves", true],
      ['a newcomer with a manager', true],
      ['sam has none', true],
      ['wrong on purpose', false],
    ]);
    expect(report.results[3]!.failures[0]!.message).toBe('expected approvers.manager false, got true');
  });

  it('policy test: a described manager must be a principal of the configuration', () => {
    const bad = () =>
      parsePolicyTests(
        `
tests:
  - name: typo
    principal: { id: newcomer, groups: [developers], manager: leed }
    entitlements: db/admin
    expect: { allowed: true }
`,
        'tests.yaml',
        config,
        'test.yaml',
      );
    expect(bad).toThrow(TestsFileInvalid);
    try {
      bad();
    } catch (e) {
      expect((e as TestsFileInvalid).problems).toEqual([
        { path: 'tests[0].principal.manager', message: 'no principal "leed" in test.yaml (did you mean lead?)', line: 4 },
      ]);
    }
  });
});

describe('the CLI', () => {
  it("describes a policy's manager and a request's frozen one", () => {
    expect(describeSubjects({ groups: ['sre-leads'], users: [], manager: true })).toBe("group sre-leads or the requester's manager");
    expect(describeSubjects({ groups: [], users: [], manager: 'mia' })).toBe('mia (manager)');
    expect(describeSubjects({ groups: [], users: ['bob'], manager: null })).toBe('bob');
  });
});
