/**
 * The ssh kind against a real OpenSSH sshd (test/support/sshd-server.ts): the shared connector
 * contract (certificates issued through the kind's issuer; revocation through the list sshd
 * reads, installed as the agent would), then the certificate and revocation-list encodings read
 * back by OpenSSH's own ssh-keygen.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { sshConnectorFactory } from '../../src/adapters/connectors/ssh/index.js';
import { SshConnector } from '../../src/adapters/connectors/ssh/connector.js';
import { buildKrl, checkKrl } from '../../src/adapters/connectors/ssh/krl.js';
import { generateEd25519, openSshPrivateKey, readEd25519PrivateKey } from '../../src/adapters/connectors/ssh/private-key.js';
import { publicKeyLine } from '../../src/adapters/connectors/ssh/public-key.js';
import type { Credentials } from '../../src/app/connectors.js';
import { parseConfig } from '../support/config.js';
import { sshLogin, startSshd, type SshdServer } from '../support/sshd-server.js';
import { connectorContract, type ProbeResult } from './contract.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(os.tmpdir(), 'hg-ssh-kind-'));
const user = os.userInfo().username;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function targetWith(caFile: string) {
  const yaml = `
targets:
  hosts:
    type: ssh
    ca: { keyFile: ${caFile}, generateKey: true }
    entitlements:
      login: { principals: [${user}] }
`;
  return parseConfig(yaml, {}).targets.hosts!;
}

/** The requester's key, written once; each probe writes the certificate it is given beside it. */
const userKey = generateEd25519();
const keyFile = path.join(dir, 'user_key');
writeFileSync(keyFile, openSshPrivateKey(userKey, 'contract'), { mode: 0o600 });
let probes = 0;

async function login(sshd: SshdServer, creds: Credentials, as = sshd.user): Promise<ProbeResult> {
  const issued = (creds.issued as { certificate: string }[] | undefined) ?? [];
  if (issued.length === 0) return 'login-refused';
  const cert = path.join(dir, `probe-${probes++}-cert.pub`);
  writeFileSync(cert, `${issued[0]!.certificate}\n`);
  const r = await sshLogin(sshd, keyFile, cert, 'echo hourglass-ok', as);
  return r.stdout.includes('hourglass-ok') ? 'ok' : 'login-refused';
}

connectorContract('ssh', { issuesCredentials: false, issuesOnDemand: true, endsSessions: false, enforcesExpiry: true, canList: false }, async () => {
  const target = targetWith(path.join(dir, 'ca'));
  const ca = new SshConnector(target);
  const sshd = await startSshd({ caPublicKey: ca.authority.publicKey() });
  let version = 0;
  return {
    factory: sshConnectorFactory,
    target,
    entitlement: 'login',
    probe: (creds) => login(sshd, creds),
    // The certificate names one login only: another account stays closed.
    probeBeyond: (creds) => login(sshd, creds, user === 'daemon' ? 'bin' : 'daemon'),
    openSession: async () => {
      throw new Error('ssh certificates do not end sessions: not asked');
    },
    secrets: [],
    refused: { principals: [user] },
    onDemand: {
      input: { publicKey: publicKeyLine(userKey.publicBlob, 'contract') },
      revoked: async (serials) => {
        writeFileSync(sshd.krlFile, ca.authority.revocationList(serials, ++version, Date.now()));
      },
    },
    teardown: () => sshd.stop(),
  };
});

describe('revocation lists as ssh-keygen reads them', () => {
  const ca = readEd25519PrivateKey(openSshPrivateKey(generateEd25519(), 'ca'));
  /** The serials `ssh-keygen -Q -l` lists, ranges expanded. */
  async function listed(krl: Buffer): Promise<number[]> {
    const file = path.join(dir, `list-${probes++}.krl`);
    writeFileSync(file, krl);
    const { stdout } = await run('ssh-keygen', ['-Q', '-l', '-f', file]);
    const out: number[] = [];
    for (const m of stdout.matchAll(/^serial: (\d+)(?:-(\d+))?$/gm)) {
      const lo = Number(m[1]);
      const hi = m[2] ? Number(m[2]) : lo;
      for (let s = lo; s <= hi; s++) out.push(s);
    }
    return out;
  }

  it('holds exactly the serials given, in every encoding (list, range, bitmap), with its version', async () => {
    const sets: number[][] = [
      [],
      [1],
      [1, 2, 3, 10, 11, 50, 1000, 1001, 1002, 1003],
      Array.from({ length: 500 }, (_, i) => 5 + i * 3), // dense singles: bitmaps
      Array.from({ length: 300 }, (_, i) => 1 + i * 1000), // sparse: a list
      Array.from({ length: 40_000 }, (_, i) => 7 + i * 2), // bitmaps split at their size limit
      [2 ** 40, 2 ** 40 + 1, 2 ** 40 + 2, Number.MAX_SAFE_INTEGER],
    ];
    for (let i = 0; i < 20; i++) sets.push([...new Set(Array.from({ length: 200 }, () => 1 + Math.floor(Math.random() * 5000)))]);
    for (const serials of sets) {
      const krl = buildKrl({ caBlob: ca.publicBlob, serials, version: serials.length, generatedAt: 1_700_000_000 });
      expect(await listed(krl)).toEqual([...serials].sort((a, b) => a - b));
      expect(checkKrl(krl).version).toBe(serials.length);
    }
  });

  it('checkKrl refuses truncated, garbled and foreign files', () => {
    const krl = buildKrl({ caBlob: ca.publicBlob, serials: [1, 5, 9, 10, 11], version: 3, generatedAt: 1 });
    expect(() => checkKrl(krl.subarray(0, krl.length - 3))).toThrow();
    expect(() => checkKrl(Buffer.from('not a krl'))).toThrow(/not an OpenSSH KRL/);
    const garbled = Buffer.from(krl);
    garbled[garbled.length - 20] = 0xff;
    expect(() => checkKrl(garbled)).toThrow();
  });
});

describe('CA keys', () => {
  it('reads OpenSSH and PKCS#8 keys, and refuses encrypted or non-Ed25519 ones with a reason', async () => {
    const ossh = path.join(dir, 'ca-ossh');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ossh]);
    const pub = (await run('ssh-keygen', ['-y', '-f', ossh])).stdout.trim();
    expect(publicKeyLine(readEd25519PrivateKey(readFileSync(ossh, 'utf8')).publicBlob, '')).toBe(pub.split(' ').slice(0, 2).join(' '));
    const pkcs8 = path.join(dir, 'ca.pem');
    await run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', pkcs8]);
    expect(readEd25519PrivateKey(readFileSync(pkcs8, 'utf8')).publicBlob.length).toBe(51);
    const enc = path.join(dir, 'ca-enc');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-pass', '-f', enc]);
    expect(() => readEd25519PrivateKey(readFileSync(enc, 'utf8'))).toThrow(/encrypted with a passphrase/);
    const rsa = path.join(dir, 'ca-rsa');
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '3072', '-N', '', '-f', rsa]);
    expect(() => readEd25519PrivateKey(readFileSync(rsa, 'utf8'))).toThrow(/Ed25519 key is needed/);
    // The key hourglass ssh writes is one ssh-keygen reads back.
    const mine = path.join(dir, 'ephemeral');
    const key = generateEd25519();
    writeFileSync(mine, openSshPrivateKey(key, 'eph'), { mode: 0o600 });
    expect((await run('ssh-keygen', ['-y', '-f', mine])).stdout.trim()).toBe(publicKeyLine(key.publicBlob, 'eph'));
  });

  it('policy validate names a missing or unusable CA key', () => {
    const yaml = (ca: string) => `
targets:
  hosts:
    type: ssh
    ca: ${ca}
    entitlements:
      login: { principals: [root] }
`;
    expect(() => parseConfig(yaml(`{ keyFile: ${path.join(dir, 'absent')} }`), {})).toThrow(/targets\.hosts\.ca\.keyFile.*does not exist/s);
    expect(() => parseConfig(yaml('{ key: not-a-key }'), {})).toThrow(/targets\.hosts\.ca\.key.*not a private key/s);
    expect(() => parseConfig(yaml('{}'), {})).toThrow(/exactly one of key and keyFile/);
  });
});
