// Policies as code, end to end: `hourglass policy validate|explain|test` offline (the real
// binary, no server), and GET /v1/policies/explain with `policy explain` against a real server.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { explainResponse } from '../../src/http/routes/policies.js';
import { runCli, spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { cliAs, isolateCredentials, json } from '../cli/run.js';

isolateCredentials();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hourglass-policy-cli-'));
const DEMO = 'examples/demo.yaml';
const TESTS = 'examples/policy-tests.yaml';

function file(name: string, text: string): string {
  const p = path.join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const BAD_CONFIG = `principals:
  - id: alice
    groups: [developers]
    rolez: [admin]
targets:
  db:
    type: hourglass
    entitlements: { read: {} }
policies:
  - name: p
    subjects: { groups: [developers] }
    entitlements: [db/write]
    maxDuration: 4x
    approval: { required: 2 }
`;

describe('hourglass policy validate', () => {
  it('a valid file: exit 0, counts and policy hash; --json', async () => {
    const [text, asJson] = await Promise.all([runCli(['policy', 'validate', DEMO]), runCli(['policy', 'validate', DEMO, '--json'])]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^examples\/demo\.yaml: valid \(9 principal\(s\), 4 target\(s\), 4 policies; policy hash [0-9a-f]{64}\)\n$/);
    expect(json(asJson)).toMatchObject({ valid: true, file: DEMO, principals: 9, targets: 4, policies: 4, warnings: [] });
  });

  it('an invalid file: every problem exactly as `hourglass serve` prints it, exit 2', async () => {
    const bad = file('bad.yaml', BAD_CONFIG);
    const [validate, asJson, serve] = await Promise.all([
      runCli(['policy', 'validate', bad]),
      runCli(['policy', 'validate', bad, '--json']),
      runCli(['serve', '--config', bad]),
    ]);
    expect(validate.code).toBe(2);
    expect(serve.code).toBe(78);
    const served = serve.stderr.replace(/^hourglass serve: /, '');
    expect(validate.stdout).toBe(served);
    expect(validate.stdout.trimEnd().split('\n')).toEqual([
      `${bad}:4: principals[0].rolez: unknown key "rolez"; did you mean "roles"?`,
      `${bad}:12: policies[0].entitlements[0]: "db/write": target "db" has no such entitlement`,
      `${bad}:13: policies[0].maxDuration: "4x" is not a duration: use a duration such as 90s, 15m, 1h30m, 2d or PT1H`,
      expect.stringMatching(new RegExp(`^${bad}:14: policies\\[0\\]\\.approval\\.approvers: 2 approval\\(s\\) required but no approvers named`)),
    ]);
    expect(validate.stderr).toContain('4 problems (HG_CONFIG_INVALID)');
    expect(asJson.code).toBe(2);
    expect(json(asJson)).toMatchObject({ valid: false, file: bad, problems: [{ path: 'principals[0].rolez', line: 4 }, {}, {}, {}] });
  });

  it('a missing file, and warnings for quorums nobody can meet', async () => {
    const lonely = file(
      'lonely.yaml',
      `principals: [{ id: ann, groups: [dev, leads] }]
targets: { db: { type: hourglass, entitlements: { write: {} } } }
policies:
  - { name: w, subjects: { groups: [dev] }, entitlements: [db/write], approval: { required: 1, approvers: { groups: [leads] } } }
`,
    );
    const [missing, warned] = await Promise.all([runCli(['policy', 'validate', path.join(tmp, 'nope.yaml')]), runCli(['policy', 'validate', lonely])]);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('(file): configuration file not found');
    expect(warned.code).toBe(0);
    expect(warned.stdout).toContain('warning: policy w: an approver who requests can never get 1 approval(s)');
  });
});

describe('hourglass policy test', () => {
  it('examples/policy-tests.yaml passes against examples/demo.yaml', async () => {
    const [text, asJson] = await Promise.all([runCli(['policy', 'test', DEMO, TESTS]), runCli(['policy', 'test', DEMO, TESTS, '--json'])]);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^PASS alice may request demo-db\/admin for 2h with 1 approval from sre-leads$/m);
    expect(text.stdout).toMatch(/\n\d+ passed, 0 failed\n$/);
    const report = json(asJson);
    expect(report).toMatchObject({ ok: true, failed: 0, config: DEMO, tests: TESTS });
    expect(report.passed).toBe(report.results.length);
    expect(report.results[0]).toMatchObject({ ok: true, failures: [], explanation: { allowed: true, policy: 'developers-admin' } });
  });

  it('failing expectations: FAIL name: expected X, got Y; exit 1', async () => {
    const tests = file(
      'failing.yaml',
      `tests:
  - name: wrong policy and approvals
    principal: alice
    entitlements: [demo-db/admin]
    duration: 2h
    expect: { allowed: true, policy: break-glass, approvals: 2, approvers: { groups: [oncall] } }
  - name: refused unexpectedly
    principal: alice
    entitlements: [demo-db/admin]
    duration: 9h
    expect: { allowed: true }
  - name: this one passes
    principal: bob
    entitlements: [demo-db/admin]
    breakGlass: true
    expect: { allowed: false, code: HG_NOT_ELIGIBLE }
  - name: expected refusal, allowed
    principal: dave
    entitlements: [demo-db/admin]
    breakGlass: true
    expect: { allowed: false, reasons: ["nope"] }
`,
    );
    const [text, asJson] = await Promise.all([runCli(['policy', 'test', DEMO, tests]), runCli(['policy', 'test', DEMO, tests, '--json'])]);
    expect(text.code).toBe(1);
    const lines = text.stdout.split('\n');
    expect(lines).toContain(
      'FAIL wrong policy and approvals: expected policy break-glass, got developers-admin; expected approvals 2, got 1; expected approvers.groups [oncall], got [sre-leads]',
    );
    expect(lines.find((l) => l.startsWith('FAIL refused unexpectedly: '))).toMatch(
      /expected allowed, got refused \(HG_TERMS_NOT_MET: .*9h exceeds the maximum 4h/,
    );
    expect(lines).toContain('PASS this one passes');
    expect(lines.find((l) => l.startsWith('FAIL expected refusal, allowed: '))).toContain('expected refused, got allowed under break-glass');
    expect(text.stdout).toMatch(/\n1 passed, 3 failed\n$/);
    expect(asJson.code).toBe(1);
    const report = json(asJson);
    expect(report).toMatchObject({ ok: false, passed: 1, failed: 3 });
    expect(report.results[0].failures.map((f: { field: string }) => f.field)).toEqual(['policy', 'approvals', 'approvers.groups']);
  });

  it('an invalid tests file: every problem with file and line, exit 2', async () => {
    const tests = file(
      'invalid.yaml',
      `defaults:
  at: yesterday
tests:
  - name: typo
    principal: bbo
    entitlements: [demo-db/admn]
    durration: 2h
    expect: { alowed: true }
  - name: typo
    principal: alice
    entitlements: demo-db/read
    breakGlass: yes
    expect: { policy: nope }
`,
    );
    const [text, asJson, notYaml, missing, badConfig] = await Promise.all([
      runCli(['policy', 'test', DEMO, tests]),
      runCli(['policy', 'test', DEMO, tests, '--json']),
      runCli(['policy', 'test', DEMO, file('syntax.yaml', 'tests: [\n')]),
      runCli(['policy', 'test', DEMO, path.join(tmp, 'none.yaml')]),
      runCli(['policy', 'test', file('bad2.yaml', BAD_CONFIG), TESTS]),
    ]);
    expect(text.code).toBe(2);
    expect(text.stdout.trimEnd().split('\n')).toEqual([
      `${tests}:2: defaults.at: must be an ISO-8601 date-time such as 2026-01-05T10:00:00Z`,
      `${tests}:5: tests[0].principal: no principal "bbo" in examples/demo.yaml (did you mean bob?); describe one not in the file as {id, groups}`,
      `${tests}:6: tests[0].entitlements[0]: no entitlement "demo-db/admn" in examples/demo.yaml (did you mean demo-db/admin?)`,
      `${tests}:7: tests[0].durration: unknown key (did you mean duration?)`,
      `${tests}:8: tests[0].expect.alowed: unknown key (did you mean allowed?)`,
      `${tests}:9: tests[1].name: duplicate test name (also tests[0])`,
      `${tests}:12: tests[1].breakGlass: expected true or false, got a string (YAML 1.2: yes/no/on/off are strings)`,
      `${tests}:13: tests[1].expect.policy: no policy "nope" in examples/demo.yaml`,
    ]);
    expect(text.stderr).toContain('8 problems');
    expect(json(asJson)).toMatchObject({
      valid: false,
      file: tests,
      problems: expect.arrayContaining([{ path: 'tests[0].durration', line: 7, message: expect.any(String) }]),
    });
    expect(notYaml.code).toBe(2);
    expect(notYaml.stdout).toMatch(/syntax\.yaml:\d+: \(syntax\): /);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('(file): tests file not found');
    expect(badConfig.code).toBe(2);
    expect(badConfig.stdout).toContain('policies[0].maxDuration');
  });
});

describe('hourglass policy explain --config (offline)', () => {
  it('allowed: exit 0 with the policy, approvals and approvers; refused: exit 6 with reasons', async () => {
    const [ok, refused, asJson, unknown, noPrincipal] = await Promise.all([
      runCli(['policy', 'explain', '--config', DEMO, '--principal', 'alice', '--entitlement', 'demo-db/admin', '--for', '2h']),
      runCli(['policy', 'explain', '--config', DEMO, '--principal', 'alice', '--entitlement', 'demo-db/admin', '--for', '5h']),
      runCli([
        'policy',
        'explain',
        '--config',
        DEMO,
        '--principal',
        'bob',
        '--entitlement',
        'demo-db/admin',
        '--break-glass',
        '--at',
        '2026-01-05T10:00:00Z',
        '--json',
      ]),
      runCli(['policy', 'explain', '--config', DEMO, '--principal', 'alice', '--entitlement', 'demo-db/nope']),
      runCli(['policy', 'explain', '--config', DEMO, '--entitlement', 'demo-db/read']),
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ALLOWED: alice may request demo-db\/admin for 2h \(policy developers-admin\)\n/);
    expect(ok.stdout).toContain('needs 1 approval from group sre-leads (policy developers-admin); could approve: bob, carol');
    expect(refused.code).toBe(6);
    expect(refused.stdout).toMatch(/^REFUSED: alice may not request demo-db\/admin for 5h: .*\(HG_TERMS_NOT_MET\)/);
    expect(refused.stdout).toContain('developers-admin: duration 5h exceeds the maximum 4h');
    expect(asJson.code).toBe(6);
    const body = json(asJson);
    expect(explainResponse.safeParse(body).success).toBe(true);
    expect(body).toMatchObject({ principal: 'bob', allowed: false, code: 'HG_NOT_ELIGIBLE', at: '2026-01-05T10:00:00.000Z' });
    expect(unknown.code).toBe(2);
    expect(noPrincipal.code).toBe(2);
    expect(noPrincipal.stderr).toContain('--principal is required with --config');
  });
});

describe('GET /v1/policies/explain and `policy explain` against a server', () => {
  let server: SpawnedServer;
  beforeAll(async () => {
    server = await spawnServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const get = async (token: string, query: string) => {
    const res = await fetch(`${server.url}/v1/policies/explain?${query}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  };
  const as = cliAs(() => server);

  it("anyone may explain their own request; admins and auditors anyone's", async () => {
    const [own, other, auditor, repeated, comma] = await Promise.all([
      get('alice-demo-token', 'entitlement=demo-db/admin&duration=2h'),
      get('alice-demo-token', 'principal=bob&entitlement=demo-db/admin'),
      get('auditor-demo-token', 'principal=dave&entitlement=demo-db/admin&breakGlass=true&at=2026-01-05T10:00:00Z'),
      get('sec-admin-demo-token', 'principal=alice&entitlement=demo-db/admin&entitlement=demo-db/read&at=2026-01-05T10:00:00Z'),
      get('sec-admin-demo-token', 'principal=alice&entitlement=demo-db/admin,demo-db/read&at=2026-01-05T10:00:00Z'),
    ]);
    expect(own.status).toBe(200);
    expect(explainResponse.parse(own.body)).toMatchObject({ principal: 'alice', allowed: true, policy: 'developers-admin', durationSeconds: 7200 });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('HG_FORBIDDEN');
    expect(auditor.status).toBe(200);
    expect(auditor.body).toMatchObject({ principal: 'dave', allowed: true, breakGlass: true, at: '2026-01-05T10:00:00.000Z' });
    expect(repeated.body.policies).toEqual({ 'demo-db/admin': 'developers-admin', 'demo-db/read': 'developers-read' });
    expect(comma.body).toEqual(repeated.body);
  });

  it('bad input is a 400; an unknown principal is not eligible; a reason or ticket sent empty counts as none', async () => {
    const [noEnt, badDuration, unknownKey, ghost, emptyReason] = await Promise.all([
      get('alice-demo-token', ''),
      get('alice-demo-token', 'entitlement=demo-db/read&duration=soon'),
      get('alice-demo-token', 'entitlement=demo-db/read&color=red'),
      get('auditor-demo-token', 'principal=ghost&entitlement=demo-db/read'),
      get('alice-demo-token', 'entitlement=demo-db/admin&reason='),
    ]);
    expect([noEnt.status, badDuration.status, unknownKey.status]).toEqual([400, 400, 400]);
    expect(badDuration.body.error.code).toBe('HG_INVALID_INPUT');
    expect(ghost.body).toMatchObject({ allowed: false, code: 'HG_NOT_ELIGIBLE', principalKnown: false });
    expect(emptyReason.body).toMatchObject({ allowed: false, code: 'HG_TERMS_NOT_MET' });
    expect(emptyReason.body.candidates['demo-db/admin'][0].reasons).toEqual(['a reason is required']);
  });

  it('locks and freezes in force are taken into account', async () => {
    expect((await as('sec-admin', 'lock', 'alice')).code).toBe(0);
    const locked = await get('sec-admin-demo-token', 'principal=alice&entitlement=demo-db/read');
    expect(locked.body).toMatchObject({ allowed: false, code: 'HG_PRINCIPAL_LOCKED', policy: 'developers-read' });
    expect((await as('sec-admin', 'unlock', 'alice')).code).toBe(0);
    expect((await as('sec-admin', 'freeze', 'ops-console')).code).toBe(0);
    const frozen = await as('alice', 'policy', 'explain', '--entitlement', 'ops-console/view', '--json');
    expect(frozen.code).toBe(6);
    expect(json(frozen)).toMatchObject({ allowed: false, code: 'HG_TARGET_FROZEN' });
    expect((await as('sec-admin', 'unfreeze', 'ops-console')).code).toBe(0);
  });

  it('the CLI asks the server without --config: text, --json, and the same answer as offline', async () => {
    const args = ['policy', 'explain', '--principal', 'alice', '--entitlement', 'demo-db/admin', '--for', '2h', '--at', '2026-01-05T10:00:00Z'];
    const [text, online, offline, forbidden] = await Promise.all([
      as('alice', ...args),
      as('auditor', ...args, '--json'),
      runCli([...args, '--config', DEMO, '--json']),
      as('bob', ...args),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('ALLOWED: alice may request demo-db/admin for 2h (policy developers-admin)');
    expect(online.code).toBe(0);
    expect(json(online)).toEqual(json(offline));
    expect(forbidden.code).toBe(3);
  });
});
