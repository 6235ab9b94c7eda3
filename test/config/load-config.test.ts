import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../support/config.js';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import type { ConfigProblem } from '../../src/config/types.js';
import { sha256Hex } from '../../src/core/audit-chain.js';
import { HgError } from '../../src/core/errors.js';

const DEMO = fileURLToPath(new URL('../../examples/demo.yaml', import.meta.url));
const HOUR = 3_600_000;
const MINUTE = 60_000;
const hex = (s: string) => sha256Hex(s);

/** A small valid file; tests add or break one thing at a time. */
const BASE = `
principals:
  - id: alice
    groups: [developers]
  - id: carol
    groups: [sre-leads]
targets:
  demo-db:
    type: hourglass
    entitlements:
      read: { description: Read-only }
policies:
  - name: p
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
`;

function failure(text: string, env: Record<string, string | undefined> = {}, source = 'test.yaml') {
  try {
    parseConfig(text, env, source);
  } catch (e) {
    expect(e).toBeInstanceOf(HgError);
    const err = e as HgError;
    expect(err.code).toBe('HG_CONFIG_INVALID');
    const problems = (err.details as { problems: ConfigProblem[] }).problems;
    return { message: err.message, problems, lines: err.message.split('\n') };
  }
  throw new Error('expected HG_CONFIG_INVALID');
}

function policyFile(policyYaml: string, extra = ''): string {
  return `${BASE.replace(/policies:[\s\S]*$/, '')}${extra}policies:\n${policyYaml}`;
}

describe('examples/demo.yaml', () => {
  it('loads with the documented principals, targets and policies', () => {
    const c = loadConfigFile(DEMO, {});
    expect(c.server).toEqual({
      listen: { host: '127.0.0.1', port: 8420 },
      publicUrl: 'http://127.0.0.1:8420',
      store: 'sqlite:.hourglass/hourglass.db',
      bodyLimit: 65536,
      rateLimitPerMinute: 600,
      checkRateLimitPerMinute: 0,
      trustedProxies: [],
      schedulerIntervalMs: 250,
      checkIndex: { pollIntervalMs: 1000, staleAfterMs: 2000 },
      allowedHosts: [],
      timeouts: { requestMs: 30_000, headersMs: 10_000, keepAliveMs: 72_000 },
      maxRequestsPerSocket: 0,
      maxConnections: 10_000,
      maxConnectionsPerAddress: 256,
      authFailures: { burst: 20, perMinute: 30 },
    });
    expect(c.principals.map((p) => p.id)).toEqual(['alice', 'bob', 'carol', 'dave', 'sec-admin', 'auditor', 'app', 'prometheus', 'host-agent']);
    for (const p of c.principals) expect(p.apiTokens).toEqual([hex(`${p.id}-demo-token`)]);
    expect(c.principals.find((p) => p.id === 'sec-admin')?.roles).toEqual(['admin', 'auditor']);
    expect(c.principals.find((p) => p.id === 'bob')?.groups).toEqual(['developers', 'sre-leads']);
    expect(Object.keys(c.targets)).toEqual(['demo-db', 'ops-console', 'hosts', 'demo-api']);
    expect(c.targets['demo-db']).toMatchObject({ name: 'demo-db', type: 'hourglass' });
    expect(Object.keys(c.targets['demo-db']!.entitlements)).toEqual(['read', 'admin']);

    const [read, admin, glass] = c.policies;
    expect(read).toMatchObject({
      name: 'developers-read',
      entitlements: ['demo-db/read', 'ops-console/view'],
      maxDuration: 8 * HOUR,
      defaultDuration: HOUR,
      reason: 'optional',
      approval: { required: 0 },
      breakGlass: false,
    });
    expect(admin).toMatchObject({
      name: 'developers-admin',
      maxDuration: 4 * HOUR,
      ticket: { required: false, pattern: '^INC-[0-9]+$' },
      approval: { required: 1, approvers: { groups: ['sre-leads'], users: [] } },
      extension: { allowed: true, maxTotal: 8 * HOUR, requiresApproval: false },
    });
    expect(glass).toMatchObject({
      name: 'break-glass',
      subjects: { groups: ['oncall'], users: [] },
      breakGlass: true,
      maxDuration: HOUR,
      review: { approvers: { groups: ['sre-leads'], users: [] }, within: 24 * HOUR },
    });
    expect(c.policyHash).toMatch(/^[0-9a-f]{64}$/);
    // SSO with the bundled demo IdP (npm run demo:idp); test/identity/demo-idp.test.ts signs in with it.
    expect(c.identity.roles).toEqual([{ group: 'hourglass-admins', roles: ['admin'] }]);
    expect(c.identity.oidc).toEqual([expect.objectContaining({ name: 'demo', issuer: 'http://127.0.0.1:8421', clientId: 'hourglass-demo' })]);
    expect(loadConfigFile(DEMO, { HOURGLASS_DEMO_IDP_PORT: '9421' }).identity.oidc[0]?.issuer).toBe('http://127.0.0.1:9421');
  });
});

describe('defaults', () => {
  it('fill every omitted key and fail closed', () => {
    const c = parseConfig(
      `${BASE.replace(/policies:[\s\S]*$/, '')}policies:
  - name: p
    subjects: { users: [alice] }
    entitlements: [demo-db/read]
    approval: { approvers: { groups: [sre-leads] } }
`,
      {},
    );
    expect(c.server).toEqual({
      listen: { host: '127.0.0.1', port: 8420 },
      store: 'sqlite:.hourglass/hourglass.db',
      bodyLimit: 64 * 1024,
      rateLimitPerMinute: 600,
      checkRateLimitPerMinute: 0,
      trustedProxies: [],
      schedulerIntervalMs: 250,
      checkIndex: { pollIntervalMs: 1000, staleAfterMs: 2000 },
      allowedHosts: [],
      timeouts: { requestMs: 30_000, headersMs: 10_000, keepAliveMs: 72_000 },
      maxRequestsPerSocket: 0,
      maxConnections: 10_000,
      maxConnectionsPerAddress: 256,
      authFailures: { burst: 20, perMinute: 30 },
    });
    expect(c.principals[0]).toEqual({ id: 'alice', groups: ['developers'], roles: [], apiTokens: [] });
    expect(c.policies[0]).toEqual({
      name: 'p',
      subjects: { groups: [], users: ['alice'] },
      entitlements: ['demo-db/read'],
      defaultDuration: HOUR,
      minDuration: MINUTE,
      maxDuration: HOUR,
      reason: 'required',
      ticket: { required: false },
      approval: { required: 1, approvers: { groups: ['sre-leads'], users: [] } },
      pendingTimeout: 24 * HOUR,
      extension: { allowed: false, maxTotal: HOUR, requiresApproval: true },
      breakGlass: false,
    });
  });

  it('derive durations from maxDuration', () => {
    const c = parseConfig(
      policyFile(`  - name: short
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    maxDuration: 30s
  - name: long
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    maxDuration: 8h
    when: { days: [mon] }
`),
      {},
    );
    expect(c.policies[0]).toMatchObject({ maxDuration: 30_000, minDuration: 1000, defaultDuration: 30_000 });
    expect(c.policies[0]!.extension.maxTotal).toBe(30_000);
    expect(c.policies[1]).toMatchObject({ maxDuration: 8 * HOUR, minDuration: MINUTE, defaultDuration: HOUR });
    expect(c.policies[1]!.when).toEqual({ days: ['mon'], timezone: 'UTC' });
  });

  it('parse server settings', () => {
    const c = parseConfig(
      `server:
  listen: "[::1]:9000"
  store: postgres://hg:pw@db.internal:5432/hourglass
  bodyLimit: 1mb
  rateLimit: { perMinute: 0, checkPerMinute: 6000 }
  trustedProxies: [10.0.0.0/8, "fd00::/8"]
  schedulerInterval: 1s
  checkIndex: { pollInterval: 200ms, staleAfter: 5s }
  timeouts: { request: 1m, headers: 5s, keepAlive: 4s }
  maxRequestsPerSocket: 1000
  maxConnections: 0
  maxConnectionsPerAddress: 2000
  authFailures: { burst: 5, perMinute: 0 }
${BASE}`,
      {},
    );
    expect(c.server).toEqual({
      listen: { host: '::1', port: 9000 },
      store: 'postgres://hg:pw@db.internal:5432/hourglass',
      bodyLimit: 1024 * 1024,
      rateLimitPerMinute: 0,
      checkRateLimitPerMinute: 6000,
      trustedProxies: ['10.0.0.0/8', 'fd00::/8'],
      schedulerIntervalMs: 1000,
      checkIndex: { pollIntervalMs: 200, staleAfterMs: 5000 },
      allowedHosts: [],
      timeouts: { requestMs: 60_000, headersMs: 5_000, keepAliveMs: 4_000 },
      maxRequestsPerSocket: 1000,
      maxConnections: 0,
      maxConnectionsPerAddress: 2000,
      authFailures: { burst: 5, perMinute: 0 },
    });
    expect(parseConfig(`server: { bodyLimit: 2048, schedulerInterval: 10ms }\n${BASE}`, {}).server).toMatchObject({
      bodyLimit: 2048,
      schedulerIntervalMs: 10,
    });
    for (const [index, message] of [
      ['{ pollInterval: 2s }', 'must be between 50ms and 1s'],
      ['{ staleAfter: 100ms }', 'must be between 500ms and 60s'],
      ['{ pollInterval: 1s, staleAfter: 1s }', 'must be longer than checkIndex.pollInterval'],
    ] as const) {
      expect(() => parseConfig(`server: { checkIndex: ${index} }\n${BASE}`, {}), index).toThrow(message);
    }
  });

  it('parse when: days, hours (24:00 as end), timezone, networks', () => {
    const c = parseConfig(
      policyFile(`  - name: p
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    when: { days: [mon, fri], hours: "08:30-24:00", timezone: Europe/Berlin, sourceNetworks: [10.0.0.0/8] }
`),
      {},
    );
    expect(c.policies[0]!.when).toEqual({
      days: ['mon', 'fri'],
      hours: { from: 510, to: 1440 },
      timezone: 'Europe/Berlin',
      sourceNetworks: ['10.0.0.0/8'],
    });
  });

  it('lower-case token hashes and keep passthrough keys of targets and entitlements', () => {
    const c = parseConfig(
      `principals:
  - id: alice
    apiTokens: [{ sha256: ${hex('t').toUpperCase()} }]
targets:
  demo-db:
    type: hourglass
    region: eu
    entitlements:
      read: { description: Read, grants: [SELECT] }
      write:
`,
      {},
    );
    expect(c.principals[0]!.apiTokens).toEqual([hex('t')]);
    expect(c.targets['demo-db']).toEqual({
      name: 'demo-db',
      type: 'hourglass',
      region: 'eu',
      entitlements: { read: { description: 'Read', grants: ['SELECT'] }, write: {} },
    });
  });

  it('exports the set of known target types', () => {
    const KNOWN_TARGET_TYPES = new Set(connectorFactories.map((f) => f.kind));
    expect(KNOWN_TARGET_TYPES.has('hourglass')).toBe(true);
    expect(KNOWN_TARGET_TYPES.has('nonsense')).toBe(false);
  });
});

describe('problems', () => {
  it('reports every problem with path and line, one per line', () => {
    const text = `server:
  listen: 127.0.0.1:8420
principals:
  - id: alice
    groups: [developers]
targets:
  demo-db:
    type: hourglass
    entitlements: { read: {} }
policies:
  - name: p
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    maxDuration: 8x
    reason: maybe
  - name: q
    subjects: { groups: [developers] }
    entitlements: [demo-db/write]
    approval: { required: 0 }
`;
    const { lines, problems } = failure(text);
    expect(lines).toEqual([
      'test.yaml:15: policies[0].maxDuration: "8x" is not a duration: use a duration such as 90s, 15m, 1h30m, 2d or PT1H',
      'test.yaml:16: policies[0].reason: must be one of: required, optional',
      'test.yaml:19: policies[1].entitlements[0]: "demo-db/write": target "demo-db" has no such entitlement',
    ]);
    expect(problems.map((p) => [p.path, p.line])).toEqual([
      ['policies[0].maxDuration', 15],
      ['policies[0].reason', 16],
      ['policies[1].entitlements[0]', 19],
    ]);
  });

  it('reports YAML syntax errors with the other problems', () => {
    const { lines } = failure(`server:\n  listen: nope\n  listen: 127.0.0.1:1\n  store: nope\n${BASE}`);
    expect(lines.some((l) => /^test\.yaml:3: \(syntax\): .*unique/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('test.yaml:4: server.store: must be sqlite:PATH'))).toBe(true);
  });

  it('explains unquoted ${...} inside flow collections', () => {
    const { message } = failure(`principals:\n  - id: a\n    apiTokens: [{ sha256: \${TOKEN_HASH} }]\n`, {
      TOKEN_HASH: hex('x'),
    });
    expect(message).toContain('(syntax)');
    expect(message).toContain('put ${...} references in quotes');
  });

  it('catches unknown keys (typos) at every strict level, with a suggestion', () => {
    const { lines } = failure(
      `servr: {}
server: { listen: 127.0.0.1:1, rateLimit: { perMinit: 5 } }
principals:
  - id: alice
    group: [developers]
targets:
  demo-db:
    type: hourglass
    anything: goes
    entitlements: { read: { also: fine } }
policies:
  - name: p
    subject: { groups: [developers] }
    subjects: { groups: [developers], user: [] }
    entitlements: [demo-db/read]
    approval: { required: 0, approver: {} }
    extension: { allowd: true }
    when: { tz: UTC }
    ticket: { requird: true }
`,
    );
    expect(lines).toEqual([
      'test.yaml:1: servr: unknown key "servr"; did you mean "server"?',
      'test.yaml:2: server.rateLimit.perMinit: unknown key "perMinit"; did you mean "perMinute"?',
      'test.yaml:5: principals[0].group: unknown key "group"; did you mean "groups"?',
      'test.yaml:13: policies[0].subject: unknown key "subject"; did you mean "subjects"?',
      'test.yaml:14: policies[0].subjects.user: unknown key "user"; did you mean "users"?',
      'test.yaml:16: policies[0].approval.approver: unknown key "approver"; did you mean "approvers"?',
      'test.yaml:17: policies[0].extension.allowd: unknown key "allowd"; did you mean "allowed"?',
      'test.yaml:18: policies[0].when.tz: unknown key "tz"; allowed keys: days, hours, timezone, sourceNetworks',
      'test.yaml:19: policies[0].ticket.requird: unknown key "requird"; did you mean "required"?',
    ]);
  });

  it('reports dangling entitlement references', () => {
    const { lines } = failure(
      policyFile(`  - name: p
    subjects: { groups: [developers] }
    entitlements: [demo-db/read, demo-db/admin, prod-db/read, not-a-ref]
    approval: { required: 0 }
`),
    );
    expect(lines).toEqual([
      expect.stringMatching(/policies\[0\]\.entitlements\[1\]: "demo-db\/admin": target "demo-db" has no such entitlement$/),
      expect.stringMatching(/policies\[0\]\.entitlements\[2\]: "prod-db\/read": no target named "prod-db" is configured$/),
      expect.stringMatching(/policies\[0\]\.entitlements\[3\]: must be "target\/entitlement"/),
    ]);
  });

  it('refuses approval.required > 0 without approvers (including the default of 1)', () => {
    const { problems } = failure(
      policyFile(`  - name: implicit
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
  - name: explicit
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 2, approvers: { groups: [], users: [] } }
`),
    );
    expect(problems.map((p) => p.path)).toEqual(['policies[0].approval.approvers', 'policies[1].approval.approvers']);
    expect(problems[0]!.message).toMatch(/no approvers named.*required: 0 for self-service/);
    expect(problems[0]!.line).toBe(13); // the policy's line: the key is absent
    expect(problems[1]!.line).toBe(19);
  });

  it('refuses timeouts and limits out of range', () => {
    const range = failure(`server:
  timeouts: { request: 2h, headers: 500, keepAlive: 0s }
  maxConnectionsPerAddress: -1
  authFailures: { burst: 1.5, perMinut: 3 }
${BASE}`);
    expect(range.problems.map((p) => [p.path, p.message])).toEqual([
      ['server.timeouts.request', 'must be between 1s and 1h'],
      ['server.timeouts.headers', expect.stringContaining('must be a duration string')],
      ['server.timeouts.keepAlive', expect.stringContaining('is not a duration')],
      ['server.maxConnectionsPerAddress', 'must be at least 0'],
      ['server.authFailures.burst', 'must be a whole number'],
      ['server.authFailures.perMinut', expect.stringContaining('did you mean "perMinute"?')],
    ]);
    const order = failure(`server:\n  timeouts: { request: 5s, headers: 10s }\n${BASE}`);
    expect(order.problems.map((p) => [p.path, p.message])).toEqual([['server.timeouts.headers', 'must not be longer than timeouts.request']]);
  });

  it('refuses break-glass without review, and review without break-glass', () => {
    const { problems } = failure(
      policyFile(`  - name: glass
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    breakGlass: true
  - name: normal
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    review: { approvers: { groups: [sre-leads] } }
  - name: empty-review
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: {} }
`),
    );
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['policies[0].review', expect.stringContaining('a break-glass policy must be reviewed')],
      ['policies[1].review', expect.stringContaining('review applies only to break-glass policies')],
      ['policies[2].review.approvers', 'review.approvers must name at least one group or user, or manager: true'],
    ]);
  });

  it('refuses bad time zones, hours, CIDRs, days and regular expressions', () => {
    const { problems } = failure(
      policyFile(
        `  - name: p
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    ticket: { pattern: "^INC-(" }
    when:
      days: [mon, fun]
      hours: "09:00-25:00"
      timezone: Mars/Olympus_Mons
      sourceNetworks: [10.0.0.0/33, 10.1.2.3]
  - name: q
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    when: { hours: "9am-5pm" }
  - name: r
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    when: { hours: "08:00-08:00" }
`,
        'server: { trustedProxies: [not-a-cidr] }\n',
      ),
    );
    expect(problems.map((p) => [p.path, p.line, p.message])).toEqual([
      ['server.trustedProxies[0]', 12, expect.stringContaining('"not-a-cidr" is not a CIDR block')],
      ['policies[0].ticket.pattern', 18, expect.stringContaining('"^INC-(" is not a valid regular expression')],
      ['policies[0].when.days[1]', 20, 'must be one of: sun, mon, tue, wed, thu, fri, sat'],
      ['policies[0].when.hours', 21, expect.stringContaining('the end must be between 00:00 and 24:00')],
      ['policies[0].when.timezone', 22, expect.stringContaining('"Mars/Olympus_Mons" is not a known IANA time zone')],
      ['policies[0].when.sourceNetworks[0]', 23, expect.stringContaining('"10.0.0.0/33" is not a CIDR block')],
      ['policies[0].when.sourceNetworks[1]', 23, expect.stringContaining('"10.1.2.3" is not a CIDR block')],
      ['policies[1].when.hours', 28, expect.stringContaining('is not an hours range')],
      ['policies[2].when.hours', 33, expect.stringContaining('empty window')],
    ]);
  });

  it('refuses inconsistent durations', () => {
    const { problems } = failure(
      policyFile(`  - name: a
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    minDuration: 2h
    maxDuration: 1h
  - name: b
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    defaultDuration: 9h
    maxDuration: 8h
  - name: c
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    minDuration: 30m
    extension: { allowed: true, maxTotal: 10m }
  - name: d
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    maxDuration: 3600
`),
    );
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['policies[0].minDuration', 'minDuration (2h) must not be longer than maxDuration (1h)'],
      ['policies[1].defaultDuration', 'defaultDuration (9h) must be within minDuration (1m) and maxDuration (8h)'],
      ['policies[2].extension.maxTotal', 'extension.maxTotal must not be shorter than minDuration'],
      ['policies[3].maxDuration', expect.stringContaining('a bare number has no unit')],
    ]);
  });

  it('refuses duplicate principal ids, duplicate token hashes and duplicate policy names', () => {
    const { problems } = failure(
      `principals:
  - id: alice
    apiTokens: [{ sha256: ${hex('one')} }]
  - id: bob
    apiTokens: [{ sha256: ${hex('two')} }, { sha256: ${hex('one').toUpperCase()} }]
  - id: alice
  - id: "bad id!"
    roles: [root]
targets:
  demo-db:
    type: hourglass
    entitlements: { read: {} }
policies:
  - { name: p, subjects: { users: [bob] }, entitlements: [demo-db/read], approval: { required: 0 } }
  - { name: p, subjects: { users: [bob] }, entitlements: [demo-db/read], approval: { required: 0 } }
`,
    );
    expect(problems.map((p) => [p.path, p.line, p.message])).toEqual([
      ['principals[1].apiTokens[1].sha256', 5, 'duplicate token hash (also principals[0].apiTokens[0]): every token must be unique'],
      ['principals[2].id', 6, 'duplicate principal id "alice" (also principals[0])'],
      ['principals[3].id', 7, expect.stringContaining('must be 1-128 characters')],
      ['principals[3].roles[0]', 8, 'must be one of: admin, auditor, checker, metrics, agent'],
      ['policies[1].name', 15, 'duplicate policy name "p" (also policies[0])'],
    ]);
  });

  it('refuses unknown target types and targets without entitlements', () => {
    const { problems } = failure(`targets:
  prod-db:
    type: postgress
    entitlements: { read: {} }
  empty:
    type: hourglass
    entitlements: {}
  notype:
    entitlements: { read: {} }
  Bad_Name:
    type: hourglass
    entitlements: { Read: {} }
`);
    expect(problems.map((p) => [p.path, p.line, p.message])).toEqual([
      ['targets.prod-db.type', 3, expect.stringContaining('unknown target type "postgress"; known types: hourglass')],
      ['targets.empty.entitlements', 7, 'must name at least one entitlement'],
      ['targets.notype.type', 8, 'is required'],
      ['targets.Bad_Name', 10, expect.stringContaining('target name "Bad_Name" must be')],
      ['targets.Bad_Name.entitlements.Read', 12, expect.stringContaining('entitlement names are')],
    ]);
  });

  it('refuses bad server settings', () => {
    const { problems } = failure(`server:
  listen: 127.0.0.1
  store: mysql://root:hunter2@db/x
  bodyLimit: 1gb
  rateLimit: { perMinute: -1 }
  schedulerInterval: 5ms
${BASE}`);
    expect(problems.map((p) => [p.path, p.line])).toEqual([
      ['server.listen', 2],
      ['server.store', 3],
      ['server.bodyLimit', 4],
      ['server.rateLimit.perMinute', 5],
      ['server.schedulerInterval', 6],
    ]);
    expect(problems.map((p) => p.message).join('\n')).not.toContain('hunter2');
    expect(failure(`server: { schedulerInterval: 2s }\n${BASE}`).problems[0]!.message).toBe('must be between 10ms and 1s');
  });

  it('refuses an empty file or a file that is not a mapping', () => {
    expect(failure('').lines).toEqual([expect.stringMatching(/^test\.yaml: \(document\): the configuration is empty/)]);
    expect(failure('- a\n- b\n').lines).toEqual([expect.stringMatching(/^test\.yaml:1: \(document\): the configuration must be a mapping/)]);
  });

  it('reports a missing file as HG_CONFIG_INVALID', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hg-config-')), 'nope.yaml');
    try {
      loadConfigFile(path, {});
      expect.unreachable();
    } catch (e) {
      expect((e as HgError).code).toBe('HG_CONFIG_INVALID');
      expect((e as HgError).message).toBe(`${path}: (file): configuration file not found`);
    }
  });

  it('uses the file path as the source in messages', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hg-config-')), 'bad.yaml');
    writeFileSync(path, 'server:\n  listen: nope\n');
    expect(() => loadConfigFile(path, {})).toThrow(new RegExp(`^${path.replace(/[.\\/]/g, '\\$&')}:2: server\\.listen: `));
  });
});

describe('environment interpolation', () => {
  it('substitutes ${VAR}, ${VAR:-default} and $${ escapes', () => {
    const c = parseConfig(
      `server:
  listen: \${HG_HOST:-127.0.0.1}:\${HG_PORT}
  store: "postgres://hg:\${PGPASS}@db:5432/hg"
  rateLimit:
    perMinute: \${RATE}
${BASE.replace('description: Read-only', () => 'description: "costs $${HOME} and ${EMPTY:-fallback}"')}`,
      { HG_PORT: '9001', PGPASS: 's3cr3t-pass', RATE: '42', EMPTY: '' },
    );
    expect(c.server.listen).toEqual({ host: '127.0.0.1', port: 9001 });
    expect(c.server.store).toBe('postgres://hg:s3cr3t-pass@db:5432/hg');
    expect(c.server.rateLimitPerMinute).toBe(42);
    expect(c.targets['demo-db']!.entitlements.read!.description).toBe('costs ${HOME} and fallback');
  });

  it('reports unset variables by name, all of them', () => {
    const { problems } = failure(`server:\n  store: \${DB_URL}\n  listen: \${HOST}:\${PORT:-1}\n${BASE}`);
    expect(problems.map((p) => [p.path, p.line, p.message])).toEqual([
      ['server.store', 2, expect.stringContaining('environment variable DB_URL is not set')],
      ['server.listen', 3, expect.stringContaining('environment variable HOST is not set')],
    ]);
  });

  it('reports malformed references', () => {
    const { problems } = failure(`server:\n  store: "\${not valid}"\n  listen: "\${OPEN"\n${BASE}`);
    expect(problems.map((p) => p.path)).toEqual(['server.store', 'server.listen']);
    expect(problems[0]!.message).toContain('invalid ${...} reference');
    expect(problems[1]!.message).toContain('unterminated ${');
  });

  it('never shows an interpolated value in a message', () => {
    const secret = 'Sup3r-Secret-Value';
    const env = { SECRET: secret, SHORT: 'x1', TOKEN: 'not-a-hash-but-secret' };
    const { message, problems } = failure(
      `server:
  listen: "\${SECRET}"
  store: "mysql://u:\${SECRET}@h/db"
  bodyLimit: "\${SECRET}"
principals:
  - id: "\${SECRET}!"
    apiTokens: [{ sha256: "\${TOKEN}" }]
targets:
  demo-db:
    type: "\${SHORT}"
    entitlements: { read: {} }
policies:
  - name: p
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    maxDuration: "\${SECRET}"
    when: { timezone: "\${SECRET}", hours: "\${SECRET}", sourceNetworks: ["\${SECRET}"] }
    ticket: { pattern: "(\${SECRET}" }
`,
      env,
    );
    expect(problems).toHaveLength(11);
    for (const value of Object.values(env)) {
      expect(message).not.toContain(value);
      expect(JSON.stringify(problems)).not.toContain(value);
    }
    expect(message).toContain('targets.demo-db.type: unknown target type (value from the environment, not shown)');
  });
});

describe('policyHash', () => {
  const a = `principals:
  - id: alice
    groups: [developers]
    roles: [admin]
    apiTokens: [{ sha256: ${hex('one')} }]
targets:
  demo-db:
    type: hourglass
    entitlements: { read: { description: R } }
policies:
  - name: p
    subjects: { groups: [developers] }
    entitlements: [demo-db/read]
    approval: { required: 0 }
    maxDuration: 2h
`;
  const reordered = `policies:
  - maxDuration: 2h
    approval: { required: 0 }
    entitlements: [demo-db/read]
    subjects: { groups: [developers] }
    name: p
targets:
  demo-db:
    entitlements: { read: { description: R } }
    type: hourglass
server: { listen: 0.0.0.0:1 }
principals:
  - apiTokens: [{ sha256: ${hex('two')} }]
    roles: [admin]
    groups: [developers]
    id: alice
`;

  it('is stable across key order, server settings and tokens', () => {
    expect(parseConfig(reordered, {}).policyHash).toBe(parseConfig(a, {}).policyHash);
  });

  it('equals the same terms written out with their defaults', () => {
    const explicit = a.replace(
      '    maxDuration: 2h\n',
      '    maxDuration: 2h\n    minDuration: 1m\n    defaultDuration: 1h\n    reason: required\n    pendingTimeout: 24h\n',
    );
    expect(parseConfig(explicit, {}).policyHash).toBe(parseConfig(a, {}).policyHash);
  });

  it('changes when a policy, target or principal changes', () => {
    const base = parseConfig(a, {}).policyHash;
    expect(parseConfig(a.replace('maxDuration: 2h', 'maxDuration: 3h'), {}).policyHash).not.toBe(base);
    expect(parseConfig(a.replace('description: R', 'description: S'), {}).policyHash).not.toBe(base);
    expect(parseConfig(a.replace('roles: [admin]', 'roles: [auditor]'), {}).policyHash).not.toBe(base);
  });
});

describe('policy hash and secrets', () => {
  it('does not cover target passwords: rotating one is not a policy change', () => {
    const yaml = (pw: string) => `
credentials:
  key: ${Buffer.alloc(32, 1).toString('base64')}
targets:
  db:
    type: postgres
    url: postgres://hourglass:${pw}@db.internal:5432/app
    entitlements:
      read: { roles: [app_read] }
`;
    const a = parseConfig(yaml('first-secret-pw'), {});
    const b = parseConfig(yaml('second-secret-pw'), {});
    expect(a.policyHash).toBe(b.policyHash);
    const c = parseConfig(yaml('first-secret-pw').replace('app_read', 'app_write'), {});
    expect(c.policyHash).not.toBe(a.policyHash);
  });

  it("does not cover a kind's own secrets (an SSH CA key given inline): rotating it is not a policy change", async () => {
    const { generateEd25519, openSshPrivateKey } = await import('../../src/adapters/connectors/ssh/private-key.js');
    const yaml = `
targets:
  hosts:
    type: ssh
    ca: { key: "\${SSH_CA_KEY}" }
    entitlements:
      login: { principals: [root] }
`;
    const key = () => openSshPrivateKey(generateEd25519(), 'ca');
    const a = parseConfig(yaml, { SSH_CA_KEY: key() });
    const b = parseConfig(yaml, { SSH_CA_KEY: key() });
    expect(a.policyHash).toBe(b.policyHash);
    expect(parseConfig(yaml.replace('[root]', '[deploy]'), { SSH_CA_KEY: key() }).policyHash).not.toBe(a.policyHash);
  });
});
