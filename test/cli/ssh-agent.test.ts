/**
 * `hourglass agent` and `hourglass ssh` as users run them: a real server process, a real sshd
 * whose TrustedUserCAKeys and RevokedKeys the agent keeps, the real ssh client (and ssh-agent).
 * An early revoke is refused by sshd within the agent's long poll; the agent rides out a server
 * restart and never replaces a good revocation list with a corrupt download.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/cli/api-client.js';
import { exitCodeFor } from '../../src/cli/commands/failure.js';
import { tokenHash } from '../fixtures/policies.js';
import { callApi } from '../support/http-api.js';
import { BIN, runCli, spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { sshLogin, startSshd, type SshdServer } from '../support/sshd-server.js';

const run = promisify(execFile);
const user = os.userInfo().username;
const token = (id: string) => `${id}-demo-token`;

const config = `
server: { store: 'sqlite:{{dir}}/hg.db' }
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
  - { id: host-agent, roles: [agent], apiTokens: [{ sha256: ${tokenHash('host-agent')} }] }
targets:
  hosts:
    type: ssh
    ca: { keyFile: '{{dir}}/ssh-ca', generateKey: true }
    entitlements:
      login: { principals: [${user}], extensions: [permit-pty] }
  api:
    type: token
    issuer: https://hourglass.test
    audience: orders-api
    signingKeyFile: '{{dir}}/token-key.pem'
    generateKey: true
    entitlements:
      refund: { claims: { scope: refund } }
policies:
  - { name: dev-ssh, subjects: { groups: [developers] }, entitlements: [hosts/login, api/refund], maxDuration: 8h, reason: optional, approval: { required: 0 } }
`;

let server: SpawnedServer;
let sshd: SshdServer;
let dir: string;
let agent: ChildProcess | undefined;
let agentLog = '';

const sshOpts = () => [
  '-F',
  '/dev/null',
  '-p',
  String(sshd.port),
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'BatchMode=yes',
];
const cliEnv = (who: string, extra: Record<string, string> = {}) => ({ HOURGLASS_URL: server.url, HOURGLASS_TOKEN: token(who), ...extra });

async function activeRequest(): Promise<string> {
  const r = await runCli(['request', 'hosts/login', '--for', '1h', '--wait', '--json'], cliEnv('alice'));
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).id as string;
}

/** A key of the test's own, certified for the request: to try the same certificate again after a revoke. */
async function ownCertificate(id: string, name: string) {
  const file = path.join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const res = await callApi(server.url, 'POST', `/v1/requests/${id}/credentials`, 'alice', { publicKey: readFileSync(`${file}.pub`, 'utf8') });
  expect(res.status).toBe(200);
  writeFileSync(`${file}-cert.pub`, `${(res.body as any).targets.hosts.credentials[0].certificate}\n`);
  return { file, cert: `${file}-cert.pub` };
}

function startAgent(url: string) {
  agentLog = '';
  agent = spawn(
    process.execPath,
    [BIN, 'agent', '--ssh-target', 'hosts', '--ca-file', sshd.caFile, '--krl-file', sshd.krlFile, '--host', 'web-1', '--wait', '20', '--url', url],
    { env: { ...process.env, HOURGLASS_TOKEN: token('host-agent') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agent.stderr!.on('data', (b: Buffer) => (agentLog += b.toString()));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; agent log:\n${agentLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hg-ssh-cli-'));
  server = await spawnServer({ configYaml: config });
  sshd = await startSshd({ caPublicKey: 'placeholder: the agent writes the key\n' });
}, 60_000);

afterAll(async () => {
  agent?.kill('SIGTERM');
  await sshd?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('hourglass agent', () => {
  it('--once writes the CA key and the revocation list sshd reads', async () => {
    const r = await runCli(
      ['agent', '--once', '--ssh-target', 'hosts', '--ca-file', sshd.caFile, '--krl-file', sshd.krlFile, '--host', 'web-1'],
      cliEnv('host-agent'),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('hosts: revocation list version 0 in place');
    const ca = await fetch(`${server.url}/v1/targets/hosts/ssh/ca.pub`).then((res) => res.text());
    expect(readFileSync(sshd.caFile, 'utf8')).toBe(ca);
    const listed = await run('ssh-keygen', ['-Q', '-l', '-f', sshd.krlFile]);
    expect(listed.stdout).toContain('# KRL version 0');
  });

  it('a refused key is invalid input (exit 2), like other bad input', () => {
    expect(exitCodeFor(new ApiError(422, 'HG_KEY_REFUSED', 'RSA keys must have at least 3072 bits'))).toBe(2);
  });

  it('needs the agent role', async () => {
    const r = await runCli(
      ['agent', '--once', '--ssh-target', 'hosts', '--ca-file', path.join(dir, 'x.pub'), '--krl-file', path.join(dir, 'x.krl')],
      cliEnv('alice'),
    );
    expect(r.code).toBe(3);
    expect(existsSync(path.join(dir, 'x.krl'))).toBe(false);
  });
});

describe('hourglass ssh', () => {
  it('logs in with an ephemeral key in a temporary file, removed afterwards', async () => {
    const id = await activeRequest();
    const runtime = mkdtempSync(path.join(dir, 'runtime-'));
    const r = await runCli(
      ['ssh', id, '--no-agent', '--', ...sshOpts(), `${user}@127.0.0.1`, 'echo', 'hourglass-ok'],
      cliEnv('alice', { XDG_RUNTIME_DIR: runtime }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('hourglass-ok');
    expect(r.stderr).toMatch(new RegExp(`certificate for ${user}, valid \\d+ s \\(target hosts\\)`));
    expect(readdirSync(runtime)).toEqual([]);
  });

  it('passes SIGTERM on to ssh and still removes the key files', async () => {
    const id = await activeRequest();
    const runtime = mkdtempSync(path.join(dir, 'runtime-'));
    const child = spawn(process.execPath, [BIN, 'ssh', id, '--no-agent', '--', ...sshOpts(), `${user}@127.0.0.1`, 'sleep', '30'], {
      env: { ...process.env, ...cliEnv('alice', { XDG_RUNTIME_DIR: runtime }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await until('ssh to start', async () => (/valid \d+ s/.test(err) && readdirSync(runtime).length === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(code).not.toBe(0);
    expect(readdirSync(runtime)).toEqual([]);
  });

  it('loads key and certificate into a running ssh-agent with the grant as lifetime, leaving no file', async () => {
    const id = await activeRequest();
    const sock = path.join(dir, 'agent.sock');
    const sshAgent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      await until('ssh-agent socket', async () => (existsSync(sock) ? true : undefined));
      const runtime = mkdtempSync(path.join(dir, 'runtime-'));
      const env = cliEnv('alice', { SSH_AUTH_SOCK: sock, XDG_RUNTIME_DIR: runtime });
      const r = await runCli(['ssh', id, '--', ...sshOpts(), `${user}@127.0.0.1`, 'echo', 'via-agent'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('via-agent');
      expect(r.stderr).toMatch(/loaded into ssh-agent for (\d+) s/);
      const lifetime = Number(/for (\d+) s/.exec(r.stderr)![1]);
      expect(lifetime).toBeGreaterThan(3500);
      expect(lifetime).toBeLessThanOrEqual(3600);
      const listed = await run('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      expect(listed.stdout).toContain('ED25519-CERT');
      expect(readdirSync(runtime)).toEqual([]);
    } finally {
      sshAgent.kill('SIGTERM');
    }
  });

  it('hourglass request --ssh requests, waits and logs in', async () => {
    // --ssh takes a destination only: an ssh on PATH that adds the test server's options stands in for ~/.ssh/config.
    const bin = mkdtempSync(path.join(dir, 'bin-'));
    const real = (await run('sh', ['-c', 'command -v ssh'])).stdout.trim();
    writeFileSync(path.join(bin, 'ssh'), `#!/bin/sh\nexec ${real} ${sshOpts().join(' ')} "$@" echo via-request\n`, { mode: 0o755 });
    const env = cliEnv('alice', { PATH: `${bin}:${process.env.PATH}`, XDG_RUNTIME_DIR: mkdtempSync(path.join(dir, 'runtime-')) });
    const r = await runCli(['request', 'hosts/login', '--for', '30m', '--ssh', `${user}@127.0.0.1`], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('via-request');
    expect(r.stderr).toMatch(/active/);
  });
});

describe('hourglass credentials with a token target', () => {
  it('prints a fresh token per entitlement that verifies against the published JWKS', async () => {
    const r = await runCli(['request', 'api/refund', '--for', '1h', '--wait', '--json'], cliEnv('alice'));
    const id = JSON.parse(r.stdout).id as string;
    const out = await runCli(['credentials', id], cliEnv('alice'));
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('api/refund (token)');
    const jwt = /^\s+token\s+(\S+)$/m.exec(out.stdout)![1]!;
    const { createRemoteJWKSet, jwtVerify } = await import('jose');
    const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)), {
      issuer: 'https://hourglass.test',
      audience: 'orders-api',
    });
    expect(payload).toMatchObject({ sub: 'alice', scope: 'refund', hourglass: { request: id, entitlement: 'api/refund' } });
  });
});

describe('early revoke with a running agent', () => {
  it('is refused by sshd well within the long poll, and the host shows the version it applied', async () => {
    startAgent(server.url);
    const id = await activeRequest();
    const key = await ownCertificate(id, 'k1');
    await until('a first login', async () => ((await sshLogin(sshd, key.file, key.cert)).stdout.includes('hourglass-ok') ? true : undefined));
    const before = (await callApi(server.url, 'GET', '/v1/targets/hosts/ssh/hosts', 'admin')).body as any;
    const revokedAt = Date.now();
    expect((await callApi(server.url, 'POST', `/v1/requests/${id}/revoke`, 'admin', {})).status).toBe(200);
    await until('sshd refusing the certificate', async () => ((await sshLogin(sshd, key.file, key.cert)).code !== 0 ? true : undefined));
    const lag = Date.now() - revokedAt;
    expect(lag).toBeLessThan(5_000);
    const after = await until('the host report', async () => {
      const b = (await callApi(server.url, 'GET', '/v1/targets/hosts/ssh/hosts', 'admin')).body as any;
      return b.hosts[0]?.appliedVersion === b.version && b.version > before.version ? b : undefined;
    });
    expect(after.hosts[0]).toMatchObject({ host: 'web-1', agent: 'host-agent', behind: false });
  });

  it('rides out a server restart and applies the next revocation', async () => {
    await server.restart();
    const id = await activeRequest();
    const key = await ownCertificate(id, 'k2');
    expect((await sshLogin(sshd, key.file, key.cert)).stdout.trim()).toBe('hourglass-ok');
    expect((await callApi(server.url, 'POST', `/v1/requests/${id}/revoke`, 'admin', {})).status).toBe(200);
    await until('sshd refusing after the restart', async () => ((await sshLogin(sshd, key.file, key.cert)).code !== 0 ? true : undefined), 20_000);
    expect(agentLog).toMatch(/working again/);
    agent!.kill('SIGTERM');
    // A stop aborts the long poll in flight: the agent exits at once.
    const stopping = Date.now();
    await new Promise((r) => agent!.once('exit', r));
    expect(Date.now() - stopping).toBeLessThan(3_000);
    agent = undefined;
  }, 40_000);

  it('never replaces a good list with a corrupt download', async () => {
    const good = readFileSync(sshd.krlFile);
    // A proxy in front of the server that cuts the list short.
    const proxy = http.createServer((req, res) => {
      fetch(`${server.url}${req.url}`, { headers: { authorization: req.headers.authorization ?? '' } }).then(async (up) => {
        const body = Buffer.from(await up.arrayBuffer());
        res.writeHead(up.status, { etag: up.headers.get('etag') ?? '', 'hourglass-krl-version': up.headers.get('hourglass-krl-version') ?? '0' });
        res.end(req.url!.includes('/ssh/krl') ? body.subarray(0, body.length - 5) : body);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const r = await runCli(
        ['agent', '--once', '--ssh-target', 'hosts', '--ca-file', sshd.caFile, '--krl-file', sshd.krlFile, '--url', url],
        cliEnv('host-agent'),
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/corrupt/);
      expect(readFileSync(sshd.krlFile).equals(good)).toBe(true);
      expect(readdirSync(path.dirname(sshd.krlFile)).filter((f) => f.includes('.tmp'))).toEqual([]);
    } finally {
      proxy.close();
    }
  });
});
