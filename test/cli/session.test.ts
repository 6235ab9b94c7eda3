// End-to-end tests of `hourglass login`/`logout`, shell completion, and `--json` on every
// command: the real binary against a real server started from examples/demo.yaml.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { BIN, runCli, spawnServer, type CliResult, type SpawnedServer } from '../support/spawn-server.js';
import { cliAs, isolateCredentials, json, runCliInput } from './run.js';

const home = isolateCredentials();
let server: SpawnedServer;

beforeAll(async () => {
  server = await spawnServer();
});

afterAll(async () => {
  await server?.stop();
});

const as = cliAs(() => server);

/** A fresh config directory: the stored login lives in XDG_CONFIG_HOME/hourglass. */
function freshXdg(): { env: Record<string, string>; file: string } {
  const dir = mkdtempSync(path.join(home, 'xdg-'));
  return { env: { XDG_CONFIG_HOME: dir }, file: path.join(dir, 'hourglass', 'credentials.json') };
}

describe('hourglass login / logout', () => {
  it('stores the URL and token with mode 0600 (directory 0700), uses them afterwards, and never prints the token', async () => {
    const { env, file } = freshXdg();
    const login = await runCliInput(['login', '--url', server.url, '--token-stdin'], env, 'alice-demo-token\n');
    expect(login.code).toBe(0);
    expect(login.stdout).toContain(`logged in to ${server.url} as alice`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url: server.url, token: 'alice-demo-token' });

    // Later commands use it when neither options nor HOURGLASS_* say otherwise.
    const [me, request] = await Promise.all([runCli(['whoami', '--json'], env), runCli(['request', 'demo-db/read', '--json'], env)]);
    expect(me.code).toBe(0);
    expect(json(me)).toMatchObject({ id: 'alice', locked: false });
    expect(request.code).toBe(0);
    expect(json(request)).toMatchObject({ requester: 'alice', status: 'active' });

    // The environment wins over the stored login.
    const bob = await runCli(['whoami', '--json'], { ...env, HOURGLASS_TOKEN: 'bob-demo-token' });
    expect(json(bob).id).toBe('bob');

    // The stored token is never sent to another URL.
    const elsewhere = await runCli(['whoami', '--url', 'http://127.0.0.1:9'], env);
    expect(elsewhere.code).toBe(3);
    expect(elsewhere.stderr).toContain('no API token for http://127.0.0.1:9');

    for (const r of [login, me, request, bob, elsewhere]) expect(r.stdout + r.stderr).not.toContain('alice-demo-token');

    const out = await runCli(['logout', '--json'], env);
    expect(out.code).toBe(0);
    expect(json(out)).toEqual({ removed: true, credentials: file });
    expect(existsSync(file)).toBe(false);
    const after = await runCli(['whoami'], env);
    expect(after.code).toBe(3);
    expect(after.stderr).toContain('hourglass login');
    expect(json(await runCli(['logout', '--json'], env))).toEqual({ removed: false, credentials: file });
  });

  it('--json login answers {url, credentials, principal}; a refused token stores nothing', async () => {
    const { env, file } = freshXdg();
    const bad = await runCliInput(['login', '--url', server.url, '--token-stdin'], env, 'wrong-token-8d2f');
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('(HG_UNAUTHENTICATED)');
    expect(bad.stdout + bad.stderr).not.toContain('wrong-token-8d2f');
    expect(existsSync(file)).toBe(false);

    const ok = await runCli(['login', '--url', server.url, '--token', 'sec-admin-demo-token', '--json'], env);
    expect(ok.code).toBe(0);
    expect(json(ok)).toMatchObject({ url: server.url, credentials: file, principal: { id: 'sec-admin', roles: ['admin', 'auditor'] } });
    expect(ok.stdout).not.toContain('sec-admin-demo-token');
  });

  it('without XDG_CONFIG_HOME the login goes to ~/.config/hourglass; without a token and a terminal it says what to do', async () => {
    const dir = mkdtempSync(path.join(home, 'home-'));
    const env = { XDG_CONFIG_HOME: undefined, HOME: dir };
    const r = await runCliInput(['login', '--url', server.url, '--token-stdin'], env, 'carol-demo-token');
    expect(r.code).toBe(0);
    const file = path.join(dir, '.config', 'hourglass', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(json(await runCli(['whoami', '--json'], env)).id).toBe('carol');

    const none = await runCli(['login', '--url', server.url], freshXdg().env);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('--token-stdin');
  });
});

describe('hourglass completion', () => {
  it('bash sources the script cleanly and completes commands, subcommands and option values', () => {
    const script = `
      source <(node ${JSON.stringify(BIN)} completion bash) || exit 1
      complete -p hourglass || exit 1
      t() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _hourglass; echo "\${COMPREPLY[*]}"; }
      t hourglass au
      t hourglass audit ""
      t hourglass audit export --format ""
      t hourglass policy ""
      t hourglass request --for 2h --rea
    `;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'complete -o filenames -F _hourglass hourglass',
      'audit',
      'verify head list export',
      'jsonl csv',
      'validate explain test',
      '--reason',
      '',
    ]);
  });

  // zsh is installed by scripts/install-test-deps.sh; a missing zsh fails here, loudly.
  it('zsh -n accepts the zsh script', () => {
    const script = execFileSync(process.execPath, [BIN, 'completion', 'zsh'], { encoding: 'utf8' });
    const r = spawnSync('zsh', ['-n'], { input: script, encoding: 'utf8' });
    expect(r.error, 'zsh is missing: run bash scripts/install-test-deps.sh').toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the zsh script names every command, and --json wraps a script; an unknown shell is a usage error', async () => {
    const [zsh, asJson, bad] = await Promise.all([runCli(['completion', 'zsh']), runCli(['completion', 'bash', '--json']), runCli(['completion', 'fish'])]);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef hourglass/);
    for (const c of ['login', 'policy', 'completion', 'audit']) expect(zsh.stdout).toContain(`'${c}:`);
    expect(json(asJson)).toMatchObject({ shell: 'bash' });
    expect(json(asJson).script).toContain('complete -o filenames -F _hourglass hourglass');
    expect(bad.code).toBe(2);
  });
});

describe('--json on every command', () => {
  it('prints one JSON document on stdout, with the documented shape', async () => {
    const keys = (r: CliResult) => Object.keys(json(r));

    const [me, ents, reqs, grants, locks, head, list, verify, explained] = await Promise.all([
      as('alice', 'whoami', '--json'),
      as('alice', 'entitlements', '--json'),
      as('alice', 'requests', '--json'),
      as('alice', 'grants', '--json'),
      as('auditor', 'locks', '--json'),
      as('auditor', 'audit', 'head', '--json'),
      as('auditor', 'audit', 'list', '--limit', '5', '--json'),
      as('auditor', 'audit', 'verify', '--json'),
      as('alice', 'policy', 'explain', '--entitlement', 'demo-db/admin', '--json'),
    ]);
    for (const r of [me, ents, reqs, grants, locks, head, list, verify, explained]) expect(r.code, r.stderr).toBe(0);
    expect(keys(me)).toEqual(['id', 'groups', 'roles', 'locked']);
    expect(json(ents).entitlements.map((e: { entitlement: string }) => e.entitlement)).toContain('demo-db/admin');
    expect(keys(reqs)).toEqual(['requests', 'nextCursor']);
    expect(keys(grants)).toEqual(['grants', 'nextCursor']);
    expect(keys(locks)).toEqual(['principals', 'targets']);
    expect(keys(head)).toEqual(['seq', 'hash', 'head']);
    expect(keys(list)).toEqual(['events', 'nextCursor']);
    expect(json(verify)).toMatchObject({ ok: true });
    expect(json(explained)).toMatchObject({ principal: 'alice', allowed: true, policy: 'developers-admin' });

    // The request lifecycle, each step with --json.
    const pending = json(await as('alice', 'request', 'demo-db/admin', '--reason', 'json', '--json'));
    expect(pending).toMatchObject({ status: 'pending', requester: 'alice' });
    const shown = await as('alice', 'show', pending.id, '--json');
    expect(json(shown).id).toBe(pending.id);
    const approved = json(await as('bob', 'approve', pending.id, '--json'));
    expect(approved).toMatchObject({ id: pending.id, status: 'active' });
    const extended = json(await as('alice', 'extend', pending.id, '--for', '30m', '--json'));
    expect(extended.extensions).toHaveLength(1);
    const checked = await as('app', 'check', 'alice', 'demo-db/admin', '--json');
    expect(json(checked)).toMatchObject({ allowed: true, requestId: pending.id });
    const released = json(await as('alice', 'release', pending.id, '--json'));
    expect(released.status).toBe('revoked');

    const second = json(await as('alice', 'request', 'demo-db/admin', '--reason', 'json', '--json'));
    expect(json(await as('carol', 'deny', second.id, '--comment', 'no', '--json')).status).toBe('denied');
    const third = json(await as('alice', 'request', 'demo-db/admin', '--reason', 'json', '--json'));
    expect(json(await as('alice', 'cancel', third.id, '--json')).status).toBe('cancelled');
    const read = json(await as('alice', 'request', 'demo-db/read', '--json'));
    expect(json(await as('sec-admin', 'revoke', read.id, '--json')).status).toBe('revoked');
    const glass = json(await as('dave', 'request', 'demo-db/admin', '--break-glass', '--reason', 'down', '--json'));
    expect(json(await as('bob', 'review', glass.id, '--comment', 'ok', '--json')).review).toMatchObject({ by: 'bob' });

    const [lock, freeze] = await Promise.all([as('sec-admin', 'lock', 'dave', '--json'), as('sec-admin', 'freeze', 'ops-console', '--json')]);
    expect(json(lock)).toMatchObject({ locked: true, changed: true });
    expect(json(freeze)).toMatchObject({ frozen: true, changed: true });
    const [unlock, unfreeze] = await Promise.all([as('sec-admin', 'unlock', 'dave', '--json'), as('sec-admin', 'unfreeze', 'ops-console', '--json')]);
    expect(json(unlock)).toMatchObject({ locked: false, changed: true });
    expect(json(unfreeze)).toMatchObject({ frozen: false, changed: true });

    const reload = await as('sec-admin', 'reload', '--json');
    expect(keys(reload)).toEqual(['policyHash', 'previousPolicyHash', 'revoked', 'cancelled']);

    const [validate, test] = await Promise.all([
      runCli(['policy', 'validate', 'examples/demo.yaml', '--json']),
      runCli(['policy', 'test', 'examples/demo.yaml', 'examples/policy-tests.yaml', '--json']),
    ]);
    expect(json(validate)).toMatchObject({ valid: true, file: 'examples/demo.yaml', policies: 4 });
    expect(json(test)).toMatchObject({ ok: true, failed: 0 });
  });

  it('errors leave stdout empty, except where the answer is the result', async () => {
    const [refused, notFound, explainRefused] = await Promise.all([
      as('dave', 'request', 'demo-db/read', '--json'),
      as('alice', 'show', 'req_nope', '--json'),
      as('alice', 'policy', 'explain', '--entitlement', 'demo-db/admin', '--for', '9h', '--json'),
    ]);
    expect(refused.code).toBe(6);
    expect(refused.stdout).toBe('');
    expect(notFound.code).toBe(4);
    expect(notFound.stdout).toBe('');
    expect(explainRefused.code).toBe(6);
    expect(json(explainRefused)).toMatchObject({ allowed: false, code: 'HG_TERMS_NOT_MET' });
  });
});
