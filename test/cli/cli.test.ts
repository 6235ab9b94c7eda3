// End-to-end tests of the `hourglass` client commands: the real binary (node bin/hourglass.js,
// built by `npx tsup`) against a real server started from examples/demo.yaml.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runCli, spawnServer, type CliResult, type SpawnedServer } from '../support/spawn-server.js';
import { cliAs, isolateCredentials, json } from './run.js';
import { freePort } from '../support/server-process.js';

isolateCredentials();
let server: SpawnedServer;

beforeAll(async () => {
  server = await spawnServer();
});

afterAll(async () => {
  await server?.stop();
});

const as = cliAs(() => server);

/** The id a human `request` prints first. */
function idOf(r: CliResult): string {
  const m = /^(req_\S+)\s/.exec(r.stdout);
  if (!m) throw new Error(`no request id in (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return m[1]!;
}

/** Polls `requests --approvable` as `approver` until a request of `requester` other than `known` shows up. */
async function waitForApprovable(approver: string, requester: string, known: Set<string>): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const page = json<{ requests: { id: string; requester: string }[] }>(await as(approver, 'requests', '--approvable', '--json'));
    const found = page.requests.find((r) => r.requester === requester && !known.has(r.id));
    if (found) return found.id;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no new approvable request of ${requester} for ${approver}`);
}

describe('hourglass --help', () => {
  it('lists every client command, and the audit subcommands', async () => {
    const [r, audit, request] = await Promise.all([runCli(['--help']), runCli(['audit', '--help']), runCli(['request', '--help'])]);
    expect(r.code).toBe(0);
    const commands = [
      'serve',
      'login',
      'logout',
      'request',
      'requests',
      'show',
      'approve',
      'deny',
      'cancel',
      'release',
      'revoke',
      'extend',
      'review',
      'check',
      'grants',
      'audit',
      'lock',
      'unlock',
      'freeze',
      'unfreeze',
      'locks',
      'whoami',
      'entitlements',
      'reload',
      'policy',
      'completion',
      'credentials',
      'connect',
    ];
    for (const c of commands) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(audit.code).toBe(0);
    for (const c of ['verify', 'head', 'list', 'export']) expect(audit.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const policy = await runCli(['policy', '--help']);
    for (const c of ['validate', 'explain', 'test']) expect(policy.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    for (const o of ['--for', '--reason', '--ticket', '--at', '--break-glass', '--policy', '--wait', '--idempotency-key', '--url', '--token', '--json']) {
      expect(request.stdout).toContain(o);
    }
  });

  it('a usage error exits 2', async () => {
    const results = await Promise.all([
      runCli(['request']),
      runCli(['requests', '--limit', '0']),
      runCli(['request', 'demo-db/read', '--at', 'tomorrow']),
      runCli(['no-such-command']),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2]);
  });
});

describe('hourglass client against a real server', () => {
  let adminRequest = '';

  it('self-service request is active at once; --json prints the API answer exactly', async () => {
    const r = await as('alice', 'request', 'demo-db/read', '--for', '30m', '--reason', 'look at a slow query', '--json');
    expect(r.code).toBe(0);
    const body = json(r);
    expect(body).toMatchObject({ status: 'active', access: 'present', requester: 'alice', entitlements: ['demo-db/read'], durationSeconds: 1800 });

    const shown = await as('alice', 'show', body.id, '--json');
    expect(shown.code).toBe(0);
    const api = await fetch(`${server.url}/v1/requests/${body.id}`, { headers: { authorization: 'Bearer alice-demo-token' } });
    expect(json(shown)).toEqual(await api.json());
    expect(shown.stdout).toBe(`${JSON.stringify(json(shown), null, 2)}\n`);

    const human = await as('alice', 'request', 'ops-console/view', '--for', '1h');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^req_\S+\s+active\s+ops-console\/view\n\s+active until \d{4}-/);
  });

  it('check: exit 0 when allowed, 8 when not', async () => {
    const [yes, no, noJson, notChecker] = await Promise.all([
      as('app', 'check', 'alice', 'demo-db/read'),
      as('app', 'check', 'bob', 'demo-db/read'),
      as('app', 'check', 'bob', 'demo-db/read', '--json'),
      as('alice', 'check', 'alice', 'demo-db/read'),
    ]);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/^allowed: alice holds demo-db\/read until/);
    expect(no.code).toBe(8);
    expect(no.stdout).toContain('not allowed');
    expect(noJson.code).toBe(8);
    expect(json(noJson)).toEqual({ allowed: false });
    // Only checkers and admins may call check.
    expect(notChecker.code).toBe(3);
  });

  it('a request needing approval is pending and says from whom', async () => {
    const r = await as('alice', 'request', 'demo-db/admin', '--for', '1h', '--reason', 'fix index', '--ticket', 'INC-42');
    expect(r.code).toBe(0);
    adminRequest = idOf(r);
    expect(r.stdout).toMatch(/pending/);
    expect(r.stdout).toContain('waiting for 1 approval from group sre-leads (policy developers-admin)');

    const listed = await as('bob', 'requests', '--approvable');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+STATUS\s+REQUESTER\s+ENTITLEMENTS\s+UNTIL/);
    expect(listed.stdout).toMatch(new RegExp(`^${adminRequest}\\s+pending\\s+alice\\s+demo-db/admin\\s+pending until `, 'm'));
    const own = await as('alice', 'requests', '--approvable', '--json');
    expect(json(own).requests).toEqual([]);
    const mine = json(await as('alice', 'requests', '--mine', '--status', 'pending', '--json'));
    expect(mine.requests.map((x: { id: string }) => x.id)).toEqual([adminRequest]);
  });

  it('approving your own request exits 3; an approver makes it active; a second approval is a conflict', async () => {
    const self = await as('alice', 'approve', adminRequest);
    expect(self.code).toBe(3);
    expect(self.stderr).toMatch(/^hourglass: .*\(HG_SELF_APPROVAL\)$/m);
    expect(self.stderr).toMatch(/^hint: /m);

    const ok = await as('bob', 'approve', adminRequest, '--comment', 'go ahead');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^${adminRequest}\\s+active`));
    expect(ok.stdout).toContain('active until');

    const again = await as('carol', 'approve', adminRequest);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('(HG_INVALID_TRANSITION)');
    expect(again.stderr).toContain(`hourglass show ${adminRequest}`);

    const shown = await as('alice', 'show', adminRequest);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/approved by\s+bob at .*: go ahead/);
  });

  it('extend within the policy, and refused beyond it (exit 6 with reasons)', async () => {
    const ok = await as('alice', 'extend', adminRequest, '--for', '1h', '--reason', 'not done');
    expect(ok.code).toBe(0);
    expect(json(await as('alice', 'show', adminRequest, '--json')).extensions).toHaveLength(1);
    const tooLong = await as('alice', 'extend', adminRequest, '--for', '10h');
    expect(tooLong.code).toBe(6);
    expect(tooLong.stderr).toContain('(HG_TERMS_NOT_MET)');
    expect(tooLong.stderr).toMatch(/above the maximum/);
  });

  it('release ends your own grant; releasing again is a conflict', async () => {
    const r = await as('alice', 'release', adminRequest);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/revoked/);
    expect((await as('alice', 'release', adminRequest)).code).toBe(5);
    expect((await as('app', 'check', 'alice', 'demo-db/admin')).code).toBe(8);
  });

  it('request --wait exits 0 once an approver approves', async () => {
    const known = new Set([adminRequest]);
    const waiting = as('alice', 'request', 'demo-db/admin', '--for', '30m', '--reason', 'deploy', '--wait', '--timeout', '30s');
    const id = await waitForApprovable('bob', 'alice', known);
    expect((await as('bob', 'approve', id)).code).toBe(0);
    const r = await waiting;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(id);
    expect(r.stderr).toContain('pending -> active');
    expect((await as('app', 'check', 'alice', 'demo-db/admin')).code).toBe(0);
    expect((await as('alice', 'release', id)).code).toBe(0);
  });

  it('request --wait exits 9 when the request is denied, and when it times out', async () => {
    const known = new Set<string>(json(await as('bob', 'requests', '--approvable', '--json')).requests.map((x: { id: string }) => x.id));
    const waiting = as('alice', 'request', 'demo-db/admin', '--for', '30m', '--reason', 'deploy', '--wait', '--json');
    const id = await waitForApprovable('bob', 'alice', known);
    const denied = await as('bob', 'deny', id, '--comment', 'not today');
    expect(denied.code).toBe(0);
    expect(denied.stdout).toMatch(/denied/);
    const r = await waiting;
    expect(r.code).toBe(9);
    expect(json(r)).toMatchObject({ id, status: 'denied' });

    const timedOut = await as('alice', 'request', 'demo-db/admin', '--reason', 'later', '--wait', '--timeout', '1s');
    expect(timedOut.code).toBe(9);
    expect(timedOut.stderr).toMatch(/gave up waiting after 1s/);
    const cancelled = await as('alice', 'cancel', idOf(timedOut), '--reason', 'changed my mind');
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(/cancelled/);
  });

  it('an admin revokes a grant', async () => {
    const id = json(await as('alice', 'request', 'demo-db/read', '--for', '1h', '--json')).id as string;
    expect((await as('alice', 'revoke', id)).code).toBe(3);
    const r = await as('sec-admin', 'revoke', id, '--reason', 'no longer needed', '--json');
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ id, status: 'revoked', endedBy: 'sec-admin', endReason: 'no longer needed' });
  });

  it('break-glass access and its review', async () => {
    const r = await as('dave', 'request', 'demo-db/admin', '--break-glass', '--for', '30m', '--reason', 'prod down', '--json');
    expect(r.code).toBe(0);
    const body = json(r);
    expect(body).toMatchObject({ status: 'active', breakGlass: true });
    expect((await as('dave', 'review', body.id, '--comment', 'fine')).code).toBe(3);
    expect((await as('bob', 'review', body.id, '--comment', 'justified')).code).toBe(0);
    expect((await as('bob', 'review', body.id, '--comment', 'again')).code).toBe(5);
  });

  it('idempotency key: a retry returns the same request', async () => {
    const a = json(await as('alice', 'request', 'ops-console/view', '--idempotency-key', 'k-1', '--json'));
    const b = await as('alice', 'request', 'ops-console/view', '--idempotency-key', 'k-1', '--json');
    expect(b.code).toBe(0);
    expect(json(b).id).toBe(a.id);
    expect(b.stderr).toContain('used before');
    expect((await as('alice', 'request', 'demo-db/read', '--idempotency-key', 'k-1')).code).toBe(5);
  });

  it("policy refusals exit 6 and print each candidate policy's reasons", async () => {
    const terms = await as('alice', 'request', 'demo-db/admin', '--for', '5h', '--reason', 'x', '--ticket', 'BAD-1');
    expect(terms.code).toBe(6);
    expect(terms.stderr).toMatch(/^hourglass: .*\(HG_TERMS_NOT_MET\)$/m);
    expect(terms.stderr).toMatch(/^\s+policy developers-admin: duration 5h exceeds the maximum 4h; ticket "BAD-1" does not match/m);
    expect(terms.stdout).toBe('');

    const notEligible = await as('dave', 'request', 'demo-db/read');
    expect(notEligible.code).toBe(6);
    expect(notEligible.stderr).toContain('(HG_NOT_ELIGIBLE)');
    expect(notEligible.stderr).toContain('hourglass entitlements');

    const invalid = await as('alice', 'request', 'no-such/thing');
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('(HG_INVALID_INPUT)');
  });

  it('lock and unlock a principal', async () => {
    const [activeRun, notAdmin, nobody] = await Promise.all([
      as('alice', 'request', 'demo-db/read', '--json'),
      as('alice', 'lock', 'bob'),
      as('sec-admin', 'lock', 'nobody'),
    ]);
    const active = json(activeRun);
    expect(notAdmin.code).toBe(3);
    expect(nobody.code).toBe(4);
    const locked = await as('sec-admin', 'lock', 'alice', '--reason', 'incident 7');
    expect(locked.code).toBe(0);
    expect(locked.stdout).toMatch(/^locked alice; revoked .*req_/);
    expect(locked.stdout).toContain(active.id);
    const [me, refused, locks] = await Promise.all([as('alice', 'whoami', '--json'), as('alice', 'request', 'demo-db/read'), as('auditor', 'locks')]);
    expect(json(me)).toMatchObject({ id: 'alice', locked: true });
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('(HG_PRINCIPAL_LOCKED)');
    expect(locks.stdout).toMatch(/principal\s+alice\s+sec-admin/);
    expect((await as('sec-admin', 'unlock', 'alice')).code).toBe(0);
    expect((await as('sec-admin', 'unlock', 'alice')).stdout).toContain('was not locked');
    expect((await as('alice', 'request', 'demo-db/read')).code).toBe(0);
  });

  it('freeze and unfreeze a target', async () => {
    const [notAdmin, unknown] = await Promise.all([as('bob', 'freeze', 'demo-db'), as('sec-admin', 'freeze', 'no-such-target')]);
    expect(notAdmin.code).toBe(3);
    expect(unknown.code).toBe(4);
    const frozen = await as('sec-admin', 'freeze', 'demo-db', '--reason', 'suspicious', '--json');
    expect(frozen.code).toBe(0);
    expect(json(frozen)).toMatchObject({ frozen: true, changed: true });
    const [check, refused] = await Promise.all([as('app', 'check', 'alice', 'demo-db/read'), as('alice', 'request', 'demo-db/read')]);
    expect(check.code).toBe(8);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('(HG_TARGET_FROZEN)');
    expect((await as('sec-admin', 'unfreeze', 'demo-db')).code).toBe(0);
    expect((await as('alice', 'request', 'demo-db/read')).code).toBe(0);
  });

  it('audit verify, head, and verify --expect-head', async () => {
    const [ok, head] = await Promise.all([as('auditor', 'audit', 'verify'), as('auditor', 'audit', 'head')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^audit chain ok: \d+ event\(s\)/);

    expect(head.code).toBe(0);
    const pinned = head.stdout.trim();
    expect(pinned).toMatch(/^\d+:[0-9a-f]{64}$/);
    const seq = pinned.split(':')[0]!;
    const [pinnedOk, bogus, bogusJson, malformed, notAuditor, list] = await Promise.all([
      as('sec-admin', 'audit', 'verify', '--expect-head', pinned),
      as('auditor', 'audit', 'verify', '--expect-head', `${seq}:${'0'.repeat(64)}`),
      as('auditor', 'audit', 'verify', '--expect-head', `${seq}:${'0'.repeat(64)}`, '--json'),
      as('auditor', 'audit', 'verify', '--expect-head', 'not-a-head'),
      as('alice', 'audit', 'verify'),
      as('auditor', 'audit', 'list', '--type', 'principal.locked', '--since', '-1h'),
    ]);
    expect(pinnedOk.code).toBe(0);
    expect(bogus.code).toBe(10);
    expect(bogus.stdout).toContain('AUDIT CHAIN BROKEN');
    expect(bogusJson.code).toBe(10);
    expect(json(bogusJson)).toMatchObject({ ok: false });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('(HG_INVALID_INPUT)');
    expect(notAuditor.code).toBe(3);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/principal\.locked\s+sec-admin/);
  });

  it('whoami, entitlements, grants, reload', async () => {
    const [me, ents, grants, notAdmin, reload, missing] = await Promise.all([
      as('bob', 'whoami'),
      as('alice', 'entitlements'),
      as('app', 'grants', '--principal', 'alice', '--json'),
      as('alice', 'reload'),
      as('sec-admin', 'reload'),
      as('alice', 'show', 'req_does_not_exist'),
    ]);
    expect(me.code).toBe(0);
    expect(me.stdout).toMatch(/^bob\n\s+groups: developers, sre-leads/);
    expect(ents.code).toBe(0);
    expect(ents.stdout).toMatch(/demo-db\/admin\s+developers-admin\s+.*1 approval\(s\) from group sre-leads/);
    expect(grants.code).toBe(0);
    expect(json(grants).grants.every((g: { principal: string }) => g.principal === 'alice')).toBe(true);
    expect(notAdmin.code).toBe(3);
    expect(reload.code).toBe(0);
    expect(reload.stdout).toContain('configuration reloaded');
    expect(missing.code).toBe(4);
  });

  it('a bad token exits 3 and is never printed', async () => {
    const secret = 'not-a-real-token-5f1e2d';
    const [viaEnv, viaFlag, noToken, unsendable] = await Promise.all([
      runCli(['requests'], { HOURGLASS_URL: server.url, HOURGLASS_TOKEN: secret }),
      runCli(['whoami', '--url', server.url, '--token', secret, '--json']),
      runCli(['whoami', '--url', server.url]),
      runCli(['whoami', '--url', server.url, '--token', `${secret}\nx`]),
    ]);
    expect(viaEnv.code).toBe(3);
    expect(viaEnv.stderr).toContain('(HG_UNAUTHENTICATED)');
    expect(viaEnv.stderr).toContain('HOURGLASS_TOKEN');
    expect(viaFlag.code).toBe(3);
    expect(noToken.code).toBe(3);
    expect(unsendable.code).toBe(3);
    for (const r of [viaEnv, viaFlag, unsendable]) {
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });

  it('an unreachable server exits 7', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const r = await runCli(['requests'], { HOURGLASS_URL: url, HOURGLASS_TOKEN: 'alice-demo-token' });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`hourglass: cannot reach Hourglass at ${url}: `);
    expect(r.stderr).not.toContain('alice-demo-token');
  });
});
