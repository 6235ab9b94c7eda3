/**
 * The ssh kind end to end on a real OpenSSH sshd that trusts Hourglass's CA: a certificate for
 * the requester's key, read back field by field with `ssh-keygen -L`; a real login; refused
 * after expiry; refused after an early revoke once the revocation list is in place (and
 * `ssh-keygen -Q` agrees); weak and malformed keys refused; every issue audited.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshWriter } from '../../src/adapters/connectors/ssh/wire.js';
import { createHttpHarness, freshStoreUrl, token, type StoreHandle } from '../support/app-harness.js';
import { tokenHash } from '../fixtures/policies.js';
import { sshLogin, startSshd, type SshdServer } from '../support/sshd-server.js';

const run = promisify(execFile);

const yaml = (caFile: string, user: string) => `
server: { listen: 127.0.0.1:0 }
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: mallory, groups: [developers], apiTokens: [{ sha256: ${tokenHash('mallory')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
  - { id: web-agent, roles: [agent], apiTokens: [{ sha256: ${tokenHash('web-agent')} }] }
targets:
  hosts:
    type: ssh
    ca: { keyFile: ${caFile}, generateKey: true }
    entitlements:
      login: { principals: [${user}], extensions: [permit-pty, permit-port-forwarding] }
      restricted: { principals: [${user}, deploy], forceCommand: echo forced, sourceAddress: [10.0.0.0/8, 192.168.1.7] }
policies:
  - name: dev-ssh
    subjects: { groups: [developers] }
    entitlements: [hosts/login, hosts/restricted]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
    extension: { allowed: true, maxTotal: 8h, requiresApproval: false }
`;

let dir: string;
let handle: StoreHandle;
let sshd: SshdServer;
let h: Awaited<ReturnType<typeof createHttpHarness>>;

async function keyPair(name: string, type: string[] = ['-t', 'ed25519']) {
  const file = join(dir, name);
  await run('ssh-keygen', ['-q', ...type, '-N', '', '-C', name, '-f', file]);
  return { file, pub: readFileSync(`${file}.pub`, 'utf8'), cert: `${file}-cert.pub` };
}

async function activeRequest(who: string, entitlement: string) {
  const r = await h.call('POST', '/v1/requests', token(who), { entitlements: [entitlement], duration: '1h' });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  await work();
  const got = await h.call('GET', `/v1/requests/${r.body.id}`, token(who));
  expect(got.body).toMatchObject({ status: 'active', access: 'present' });
  return got.body as { id: string; expiresAt: string };
}

/** One pass of the access worker, waited for (the composed worker runs its work detached). */
async function work() {
  await h.system.access.runOnce();
  await h.system.access.idle();
}

async function certify(who: string, id: string, publicKey: string) {
  return h.call('POST', `/v1/requests/${id}/credentials`, token(who), { publicKey });
}

/** `ssh-keygen -L` of a certificate, as a map of its fields. */
async function certFields(certFile: string) {
  // ssh-keygen prints validity in local time: UTC here, whatever the machine's zone.
  const { stdout } = await run('ssh-keygen', ['-L', '-f', certFile], { env: { ...process.env, TZ: 'UTC' } });
  const section = (name: string) => {
    const m = new RegExp(`${name}:\\s*\\n((?:\\s{16}.*\\n?)*)`).exec(stdout);
    if (m)
      return m[1]!
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
    const none = new RegExp(`${name}: \\(none\\)`).test(stdout);
    return none ? [] : undefined;
  };
  return {
    text: stdout,
    serial: /Serial: (\d+)/.exec(stdout)?.[1],
    keyId: /Key ID: "(.*)"/.exec(stdout)?.[1],
    valid: /Valid: from (\S+) to (\S+)/.exec(stdout)?.slice(1),
    principals: section('Principals'),
    critical: section('Critical Options'),
    extensions: section('Extensions'),
  };
}

async function installKrl() {
  const res = await h.server.inject({ method: 'GET', url: '/v1/targets/hosts/ssh/krl', headers: { authorization: `Bearer ${token('web-agent')}` } });
  expect(res.statusCode).toBe(200);
  writeFileSync(sshd.krlFile, res.rawPayload);
  return res;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hg-ssh-'));
  handle = await freshStoreUrl('sqlite');
  const caFile = join(dir, 'ca', 'hourglass-ssh-ca');
  h = await createHttpHarness({ yaml: yaml(caFile, (await import('node:os')).userInfo().username), storeUrl: handle.url, now: Date.now() });
  const pub = await h.server.inject({ method: 'GET', url: '/v1/targets/hosts/ssh/ca.pub' });
  expect(pub.statusCode).toBe(200);
  sshd = await startSshd({ caPublicKey: pub.body });
}, 60_000);

afterAll(async () => {
  await h?.close();
  await sshd?.stop();
  await handle?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('ssh certificates on a real sshd', () => {
  it('publishes the generated CA key (0600 on disk) that sshd trusts', async () => {
    const res = await h.server.inject({ method: 'GET', url: '/v1/targets/hosts/ssh/ca.pub' });
    expect(res.body).toMatch(/^ssh-ed25519 AAAA\S+ hourglass-ca:hosts\n$/);
    const { stdout } = await run('ssh-keygen', ['-l', '-f', join(dir, 'ca', 'hourglass-ssh-ca')]);
    expect(stdout).toContain(readFileSync(sshd.caFile, 'utf8').split(' ')[0] === 'ssh-ed25519' ? 'ED25519' : '?');
    expect((await import('node:fs')).statSync(join(dir, 'ca', 'hourglass-ssh-ca')).mode & 0o777).toBe(0o600);
    expect((await h.server.inject({ method: 'GET', url: '/v1/targets/nope/ssh/ca.pub' })).statusCode).toBe(404);
  });

  it('certifies the key with exactly the expected fields, and the login works', async () => {
    const req = await activeRequest('alice', 'hosts/login');
    const key = await keyPair('alice1');
    const res = await certify('alice', req.id, key.pub);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const issued = res.body.targets.hosts;
    expect(issued.kind).toBe('ssh');
    expect(issued.credentials).toHaveLength(1);
    const c = issued.credentials[0];
    writeFileSync(key.cert, `${c.certificate}\n`);
    const f = await certFields(key.cert);
    expect(f.serial).toBe(String(c.serial));
    expect(f.keyId).toBe(`hourglass request=${req.id} principal=alice entitlement=hosts/login`);
    expect(f.principals).toEqual([sshd.user]);
    expect(f.critical).toEqual([]);
    expect(f.extensions).toEqual(['permit-port-forwarding', 'permit-pty']);
    expect(f.text).toContain('user certificate');
    // Valid from a minute before now (clockSkew) to the grant's end, never longer.
    const end = Math.floor(Date.parse(req.expiresAt) / 1000) * 1000;
    expect(Date.parse(c.validBefore)).toBe(end);
    expect(Date.parse(c.validAfter)).toBe(Math.floor((h.clock.now() - 60_000) / 1000) * 1000);
    expect(c.keyFingerprint).toMatch(/^SHA256:/);
    const login = await sshLogin(sshd, key.file, key.cert);
    expect(login.stdout.trim(), login.stderr).toBe('hourglass-ok');
    // sshd logs the key id and serial of the certificate it accepted.
    expect(sshd.log()).toContain(`ID hourglass request=${req.id} principal=alice entitlement=hosts/login (serial ${c.serial})`);
    // Audited, with what explains the certificate but not the certificate itself.
    const audit = await h.call('GET', `/v1/audit?requestId=${req.id}&type=credentials.issued`, token('admin'));
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0].details).toMatchObject({ target: 'hosts', entitlement: 'login', serial: c.serial, keyFingerprint: c.keyFingerprint });
    expect(JSON.stringify(audit.body.events[0])).not.toContain(c.certificate.split(' ')[1]);
  });

  it('puts critical options in and refuses a login from outside source-address', async () => {
    const req = await activeRequest('alice', 'hosts/restricted');
    const key = await keyPair('alice2', ['-t', 'ecdsa', '-b', '384']);
    const res = await certify('alice', req.id, key.pub);
    expect(res.status).toBe(200);
    writeFileSync(key.cert, `${res.body.targets.hosts.credentials[0].certificate}\n`);
    const f = await certFields(key.cert);
    expect(f.text).toContain('ecdsa-sha2-nistp384-cert-v01@openssh.com');
    expect(f.principals).toEqual([sshd.user, 'deploy']);
    expect(f.critical).toEqual(['force-command echo forced', 'source-address 10.0.0.0/8,192.168.1.7']);
    expect(f.extensions).toEqual([]);
    const login = await sshLogin(sshd, key.file, key.cert);
    expect(login.code).not.toBe(0);
    expect(login.stdout).not.toContain('hourglass-ok');
  });

  it('refuses weak, malformed and foreign keys with HG_KEY_REFUSED, and issues nothing', async () => {
    const req = await activeRequest('alice', 'hosts/login');
    const rsa2k = await keyPair('rsa2k', ['-t', 'rsa', '-b', '2048']);
    const dss = `ssh-dss ${new SshWriter().string('ssh-dss').string(Buffer.alloc(128, 1)).toBuffer().toString('base64')}`;
    const ed = readFileSync(`${(await keyPair('ed')).file}.pub`, 'utf8').split(' ');
    const trailing = `ssh-ed25519 ${Buffer.concat([Buffer.from(ed[1]!, 'base64'), Buffer.from([0])]).toString('base64')}`;
    const offCurve = `ecdsa-sha2-nistp256 ${new SshWriter()
      .string('ecdsa-sha2-nistp256')
      .string('nistp256')
      .string(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]))
      .toBuffer()
      .toString('base64')}`;
    const cases: [string, RegExp][] = [
      [rsa2k.pub, /at least 3072 bits \(this one has 2048\)/],
      [dss, /DSA keys are refused/],
      [trailing, /malformed \(trailing data\)/],
      [offCurve, /malformed/],
      [`ssh-rsa ${ed[1]}`, /says it is "ssh-ed25519" but is labelled "ssh-rsa"/],
      ['ssh-ed25519 !!!notbase64', /not base64/],
      ['hello', /must look like/],
      [readFileSync(sshd.caFile, 'utf8'), /the CA key itself/],
    ];
    for (const [publicKey, message] of cases) {
      const res = await certify('alice', req.id, publicKey);
      expect(res.status, publicKey).toBe(422);
      expect(res.body.error.code).toBe('HG_KEY_REFUSED');
      expect(res.body.error.message).toMatch(message);
    }
    const missing = await h.call('POST', `/v1/requests/${req.id}/credentials`, token('alice'), { target: 'hosts' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/send publicKey/);
    // Without a key and without naming the target, a retrieval leaves the ssh target out.
    const plain = await h.call('POST', `/v1/requests/${req.id}/credentials`, token('alice'));
    expect(plain.status).toBe(200);
    expect(plain.body.targets).toEqual({});
    const audit = await h.call('GET', `/v1/audit?requestId=${req.id}&type=credentials.issued`, token('admin'));
    expect(audit.body.events).toHaveLength(0);
  });

  it('after an extension, a new certificate runs to the new end; the first keeps its own', async () => {
    const req = await activeRequest('alice', 'hosts/login');
    const key = await keyPair('alice5');
    const first = (await certify('alice', req.id, key.pub)).body.targets.hosts.credentials[0];
    const extended = await h.call('POST', `/v1/requests/${req.id}/extend`, token('alice'), { duration: '2h' });
    expect(extended.status, JSON.stringify(extended.body)).toBe(200);
    await work();
    const end = Date.parse(extended.body.expiresAt);
    expect(end).toBeGreaterThan(Date.parse(req.expiresAt));
    const second = (await certify('alice', req.id, key.pub)).body.targets.hosts.credentials[0];
    expect(Date.parse(second.validBefore)).toBe(Math.floor(end / 1000) * 1000);
    expect(Date.parse(first.validBefore)).toBe(Math.floor(Date.parse(req.expiresAt) / 1000) * 1000);
    expect(second.serial).toBeGreaterThan(first.serial);
    writeFileSync(key.cert, `${second.certificate}\n`);
    expect((await certFields(key.cert)).valid![1]).toBe(new Date(Math.floor(end / 1000) * 1000).toISOString().slice(0, 19));
  });

  it('gives certificates to the requester only', async () => {
    const req = await activeRequest('alice', 'hosts/login');
    const key = await keyPair('mallory1');
    expect((await certify('mallory', req.id, key.pub)).status).toBe(404);
    expect((await certify('admin', req.id, key.pub)).status).toBe(404);
  });

  it('refuses the certificate once the grant is revoked early and the revocation list is in place', async () => {
    const req = await activeRequest('alice', 'hosts/login');
    const key = await keyPair('alice3');
    const res = await certify('alice', req.id, key.pub);
    writeFileSync(key.cert, `${res.body.targets.hosts.credentials[0].certificate}\n`);
    const serial = res.body.targets.hosts.credentials[0].serial as number;
    expect((await sshLogin(sshd, key.file, key.cert)).stdout.trim()).toBe('hourglass-ok');
    const before = await installKrl();

    expect((await h.call('POST', `/v1/requests/${req.id}/revoke`, token('admin'), { reason: 'done' })).status).toBe(200);
    await work();
    const after = await installKrl();
    expect(Number(after.headers['hourglass-krl-version'])).toBe(Number(before.headers['hourglass-krl-version']) + 1);
    const q = await run('ssh-keygen', ['-Q', '-f', sshd.krlFile, key.cert]).catch((e: { stdout: string }) => e);
    expect(q.stdout).toContain('REVOKED');
    const listed = await run('ssh-keygen', ['-Q', '-l', '-f', sshd.krlFile]);
    expect(listed.stdout).toMatch(new RegExp(`serial: (${serial}\\b|\\d+-\\d+)`));
    const login = await sshLogin(sshd, key.file, key.cert);
    expect(login.stdout).not.toContain('hourglass-ok');
    expect(sshd.log()).toMatch(/revoked/i);
    // No new certificate once the grant has ended.
    expect((await certify('alice', req.id, key.pub)).status).toBe(409);
  });

  it('answers 304 for an unchanged list, records the host, and wakes a waiting agent when a grant is revoked', async () => {
    const first = await installKrl();
    const etag = first.headers.etag as string;
    const version = Number(first.headers['hourglass-krl-version']);
    const headers = { authorization: `Bearer ${token('web-agent')}`, 'if-none-match': etag };
    const same = await h.server.inject({ method: 'GET', url: `/v1/targets/hosts/ssh/krl?host=web-1&applied=${version}`, headers });
    expect(same.statusCode).toBe(304);
    const hosts = await h.call('GET', '/v1/targets/hosts/ssh/hosts', token('admin'));
    expect(hosts.body.hosts).toMatchObject([{ host: 'web-1', agent: 'web-agent', appliedVersion: version, behind: false }]);

    const req = await activeRequest('alice', 'hosts/login');
    const key = await keyPair('alice4');
    await certify('alice', req.id, key.pub);
    const started = Date.now();
    const waiting = h.server.inject({ method: 'GET', url: '/v1/targets/hosts/ssh/krl?wait=20', headers });
    await new Promise((r) => setTimeout(r, 300));
    await h.call('POST', `/v1/requests/${req.id}/revoke`, token('admin'), {});
    await work();
    const changed = await waiting;
    expect(changed.statusCode).toBe(200);
    expect(Number(changed.headers['hourglass-krl-version'])).toBe(version + 1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('lets only agents and admins read the list', async () => {
    for (const who of ['alice', 'mallory']) {
      const res = await h.server.inject({ method: 'GET', url: '/v1/targets/hosts/ssh/krl', headers: { authorization: `Bearer ${token(who)}` } });
      expect(res.statusCode).toBe(403);
    }
    expect((await h.server.inject({ method: 'GET', url: '/v1/targets/hosts/ssh/krl' })).statusCode).toBe(401);
    expect((await h.call('GET', '/v1/targets/hosts/ssh/hosts', token('web-agent'))).status).toBe(403);
  });
});
