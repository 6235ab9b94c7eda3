// The mariadb connector on a real MariaDB server (started by test/support/mariadb-server.ts),
// administered by a least-privilege `hourglass` account: the shared contract, then what is
// particular to MariaDB (roles, the general log, KILL, drift, TLS, scrubbed errors).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, Credentials, GrantOnTarget } from '../../src/app/connectors.js';
import {
  accountName,
  adminBaseGrants,
  mariadbConnectorFactory,
  nativePasswordHash,
  parsePrivilege,
  requestIdOf,
} from '../../src/adapters/connectors/mariadb/index.js';
import { parseConfig, parseConfigUnchecked } from '../support/config.js';
import type { TargetConfig } from '../../src/core/types.js';
import { startMariadb, type MariadbServer } from '../support/mariadb-server.js';
import { connectorContract, type ProbeResult } from './contract.js';

/** Targets that issue credentials need a key to keep them encrypted. */
const KEY_ENV = { CREDENTIALS_KEY: randomBytes(32).toString('base64') };
const KEY_YAML = 'credentials:\n  key: ${CREDENTIALS_KEY}\n';

const DOCS = fileURLToPath(new URL('../../docs/targets/mariadb.md', import.meta.url));
const ADMIN = "'hourglass'@'%'";

/** What the tests' admin account is given beyond the base grants (mirrors the docs' example). */
const ADMIN_EXTRA_GRANTS = [
  `GRANT SELECT, INSERT, UPDATE ON shop.* TO ${ADMIN} WITH GRANT OPTION`,
  `GRANT SELECT ON \`my\\_db\`.* TO ${ADMIN} WITH GRANT OPTION`,
  `GRANT app_read TO ${ADMIN} WITH ADMIN OPTION`,
  `GRANT app_write TO ${ADMIN} WITH ADMIN OPTION`,
];

async function rootQuery<T = Record<string, unknown>>(server: MariadbServer, sql: string, values?: unknown[]): Promise<T[]> {
  const conn = await mysql.createConnection({ uri: server.rootUrl, multipleStatements: false });
  try {
    const [rows] = await conn.query(sql, values);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

async function prepareServer(server: MariadbServer, adminPassword: string): Promise<void> {
  const statements = [
    'CREATE DATABASE shop',
    'CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(50))',
    "INSERT INTO shop.items VALUES (1, 'apple'), (2, 'pear')",
    'CREATE DATABASE my_db',
    'CREATE TABLE my_db.t (x INT)',
    'CREATE DATABASE myXdb',
    'CREATE TABLE myXdb.t (x INT)',
    'CREATE ROLE app_read',
    'GRANT SELECT ON shop.* TO app_read',
    'CREATE ROLE app_write',
    'GRANT INSERT, UPDATE ON shop.* TO app_write',
    `CREATE USER ${ADMIN} IDENTIFIED BY '${adminPassword}'`,
    ...adminBaseGrants(ADMIN),
    ...ADMIN_EXTRA_GRANTS,
  ];
  for (const sql of statements) await rootQuery(server, sql);
}

function targetYaml(port: number, extra = ''): string {
  return `${KEY_YAML}
principals:
  - id: alice
    groups: [developers]
targets:
  shop-db:
    type: mariadb
    url: mysql://hourglass:\${SHOP_DB_ADMIN_PASSWORD}@127.0.0.1:${port}/shop
${extra}    entitlements:
      read: { privileges: ["SELECT ON shop.*"] }
      read-items: { privileges: ["SELECT, INSERT ON shop.items"] }
      reporting: { roles: [app_read] }
      writer: { roles: [app_read, app_write] }
      mine: { privileges: ["SELECT ON my_db.*"] }
policies:
  - name: p
    subjects: { groups: [developers] }
    entitlements: [shop-db/read]
    approval: { required: 0 }
`;
}

function loadTarget(port: number, adminPassword: string, extra = ''): TargetConfig {
  const config = parseConfig(targetYaml(port, extra), { SHOP_DB_ADMIN_PASSWORD: adminPassword, ...KEY_ENV }, 'mariadb-test.yaml');
  return config.targets['shop-db']!;
}

function connOptions(creds: Credentials): mysql.ConnectionOptions {
  return {
    host: creds.host,
    port: creds.port,
    user: creds.username,
    password: creds.password,
    ...(creds.database ? { database: creds.database } : {}),
    connectTimeout: 5_000,
  };
}

/** Logs in and runs `sql`: ok, or which kind of refusal. */
async function attempt(creds: Credentials, sql: string): Promise<ProbeResult> {
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection(connOptions(creds));
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    // 1045 wrong password / no such user; 4151 account locked.
    if (errno === 1045 || errno === 4151) return 'login-refused';
    throw e;
  }
  conn.on('error', () => {});
  try {
    await conn.query(sql);
    return 'ok';
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    if (errno === 1142 || errno === 1044 || errno === 1143) return 'action-refused';
    throw e;
  } finally {
    await conn.end().catch(() => {});
  }
}

let seq = 0;
function grantOf(target: TargetConfig, entitlements: string[], requestId = `req_mdb${Date.now().toString(36)}${(seq++).toString(36)}`): GrantOnTarget {
  return {
    requestId,
    principal: 'alice',
    target,
    entitlements: entitlements.map((name) => ({ name, config: target.entitlements[name] as Record<string, unknown> })),
    expiresAt: Date.now() + 3_600_000,
  };
}

// ---- one server for the whole file ---------------------------------------------------------------

let server: MariadbServer;
let adminPassword: string;
let serverReady: Promise<void> | undefined;

function ensureServer(): Promise<void> {
  serverReady ??= (async () => {
    server = await startMariadb({ database: 'hourglass_test' });
    adminPassword = `adm${randomBytes(12).toString('hex')}`;
    await prepareServer(server, adminPassword);
  })();
  return serverReady;
}

afterAll(async () => {
  await server?.stop();
});

connectorContract('mariadb', { issuesCredentials: true, endsSessions: true, enforcesExpiry: false, canList: true }, async () => {
  await ensureServer();
  const target = loadTarget(server.port, adminPassword);
  return {
    factory: mariadbConnectorFactory,
    target,
    entitlement: 'read',
    probe: (creds) => attempt(creds, 'SELECT COUNT(*) FROM shop.items'),
    probeBeyond: (creds) => attempt(creds, "INSERT INTO shop.items VALUES (99, 'beyond')"),
    async openSession(creds) {
      const conn = await mysql.createConnection(connOptions(creds));
      conn.on('error', () => {});
      return {
        async alive() {
          try {
            await conn.query('SELECT 1');
            return true;
          } catch {
            return false;
          }
        },
        close: () => conn.end().catch(() => conn.destroy()),
      };
    },
    secrets: [adminPassword, server.password],
    refused: { privileges: ['SELECT ON no_such_db_x.*'] },
    teardown: async () => {},
  };
});

describe('mariadb connector on MariaDB', () => {
  let target: TargetConfig;
  let c: Connector;

  beforeAll(async () => {
    await ensureServer();
    target = loadTarget(server.port, adminPassword);
    c = mariadbConnectorFactory.create(target, { secretsToScrub: (t) => t });
  });
  afterAll(async () => {
    await c?.close();
  });

  it('hands out credentials with the client-facing host, port, database and a URL', async () => {
    const custom = loadTarget(server.port, adminPassword, '    clientHost: db.example.internal\n    clientPort: 13306\n');
    const cc = mariadbConnectorFactory.create(custom, { secretsToScrub: (t) => t });
    const g = grantOf(custom, ['read']);
    try {
      const { credentials } = await cc.grant(g);
      expect(credentials).toMatchObject({ username: `hg_${g.requestId}`, host: 'db.example.internal', port: 13306, database: 'shop' });
      expect(credentials!.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(credentials!.url).toBe(`mysql://hg_${g.requestId}:${credentials!.password}@db.example.internal:13306/shop`);
    } finally {
      await cc.revoke(g);
      await cc.close();
    }
  });

  it('a one-role entitlement: the role is the default role at login', async () => {
    const g = grantOf(target, ['reporting']);
    const { credentials } = await c.grant(g);
    expect(await attempt(credentials!, 'SELECT COUNT(*) FROM shop.items')).toBe('ok');
    expect(await attempt(credentials!, "INSERT INTO shop.items VALUES (50, 'x')")).toBe('action-refused');
    const found = (await c.reconciliation!.list()).find((x) => x.requestId === g.requestId);
    expect(found?.holds).toEqual(['ROLE `app_read`']);
    expect(c.reconciliation!.expected(g)).toEqual(['ROLE `app_read`']);
    await c.revoke(g);
    expect(await attempt(credentials!, 'SELECT 1')).toBe('login-refused');
  });

  it('several roles: a wrapper role of the grant carries them all, and goes at the end', async () => {
    const g = grantOf(target, ['writer', 'read']);
    const { credentials } = await c.grant(g);
    const name = `hg_${g.requestId}`;
    expect(await attempt(credentials!, 'SELECT COUNT(*) FROM shop.items')).toBe('ok');
    expect(await attempt(credentials!, `INSERT INTO shop.items VALUES (${100 + seq}, 'w')`)).toBe('ok');
    const found = (await c.reconciliation!.list()).filter((x) => x.requestId === g.requestId);
    expect(found).toHaveLength(1);
    expect(found[0]!.account).toBe(`${name}@%`);
    expect(found[0]!.holds).toEqual(c.reconciliation!.expected(g));
    expect(c.reconciliation!.expected(g)).toEqual(['ROLE `app_read`', 'ROLE `app_write`', 'SELECT ON `shop`.*']);
    const [role] = await rootQuery<{ n: number }>(server, "SELECT COUNT(*) AS n FROM mysql.user WHERE User = ? AND is_role = 'Y'", [`${name}+r`]);
    expect(Number(role!.n)).toBe(1);

    await c.revoke(g);
    expect(await attempt(credentials!, 'SELECT 1')).toBe('login-refused');
    const [left] = await rootQuery<{ n: number }>(server, 'SELECT COUNT(*) AS n FROM mysql.user WHERE User IN (?, ?)', [name, `${name}+r`]);
    expect(Number(left!.n)).toBe(0);
  });

  it('default roles: set by the admin when it may, else by one login as the new account', async () => {
    // An account host Hourglass's own connections (from 127.0.0.1) cannot log in from.
    const remoteOnly = '    userHost: 10.9.9.9\n';
    const rootTarget = { ...loadTarget(server.port, adminPassword, remoteOnly), url: `${server.rootUrl}/shop` } as TargetConfig;
    const asRoot = mariadbConnectorFactory.create(rootTarget, { secretsToScrub: (t) => t });
    const g = grantOf(rootTarget, ['writer']);
    try {
      await asRoot.grant(g); // root may SET DEFAULT ROLE ... FOR: no login needed
      const [row] = await rootQuery<{ r: string }>(server, 'SELECT default_role AS r FROM mysql.user WHERE User = ? AND Host = ?', [
        `hg_${g.requestId}`,
        '10.9.9.9',
      ]);
      expect(row?.r).toBe(`hg_${g.requestId}+r`);
    } finally {
      await asRoot.revoke(g);
      await asRoot.close();
    }

    const leastTarget = loadTarget(server.port, adminPassword, remoteOnly);
    const least = mariadbConnectorFactory.create(leastTarget, { secretsToScrub: (t) => t });
    const g2 = grantOf(leastTarget, ['reporting']);
    try {
      const err = (await least.grant(g2).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(/could not set the default role.*userHost/);
      expect((await least.reconciliation!.list()).filter((x) => x.requestId === g2.requestId)).toEqual([]);
      // Privilege-only entitlements need no login as the account.
      const g3 = grantOf(leastTarget, ['read']);
      await least.grant(g3);
      await least.revoke(g3);
    } finally {
      await least.close();
    }
  });

  it('a table-level grant reaches that table only', async () => {
    const g = grantOf(target, ['read-items']);
    const { credentials } = await c.grant(g);
    expect(await attempt(credentials!, "INSERT INTO shop.items VALUES (7000, 'ok')")).toBe('ok');
    expect(await attempt(credentials!, 'UPDATE shop.items SET name = name')).toBe('action-refused');
    const found = (await c.reconciliation!.list()).find((x) => x.requestId === g.requestId);
    expect(found?.holds).toEqual(['INSERT ON `shop`.`items`', 'SELECT ON `shop`.`items`']);
    expect(found?.holds).toEqual(c.reconciliation!.expected(g));
    await c.revoke(g);
  });

  it('an underscore in a database name is literal: my_db does not open myXdb', async () => {
    const g = grantOf(target, ['mine']);
    const { credentials } = await c.grant(g);
    // The URL's database (shop) is out of this grant's reach, so the credentials name my_db.
    expect(credentials!.database).toBe('my_db');
    expect(await attempt(credentials!, 'SELECT * FROM my_db.t')).toBe('ok');
    expect(await attempt(credentials!, 'SELECT * FROM myXdb.t')).toBe('action-refused');
    expect(c.reconciliation!.expected(g)).toEqual(['SELECT ON `my\\_db`.*']);
    expect((await c.reconciliation!.list()).find((x) => x.requestId === g.requestId)?.holds).toEqual(c.reconciliation!.expected(g));
    await c.revoke(g);
  });

  it('the plaintext password never reaches the server: the general log shows only the hash', async () => {
    const logFile = path.join(server.dir, 'general.log');
    await rootQuery(server, 'SET GLOBAL general_log_file = ?', [logFile]);
    await rootQuery(server, 'SET GLOBAL general_log = ON');
    const g = grantOf(target, ['writer']); // roles: the default role is set too
    let password = '';
    try {
      const { credentials } = await c.grant(g);
      password = credentials!.password!;
      expect(await attempt(credentials!, 'SELECT COUNT(*) FROM shop.items')).toBe('ok');
      await c.revoke(g);
    } finally {
      await rootQuery(server, 'SET GLOBAL general_log = OFF');
    }
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain(`hg_${g.requestId}`);
    expect(log).toContain(`USING '${nativePasswordHash(password)}'`);
    expect(log).not.toContain(password);
    expect(log).not.toMatch(/IDENTIFIED BY '/);
  });

  it('revoke kills a session in the middle of a query', async () => {
    const g = grantOf(target, ['read']);
    const { credentials } = await c.grant(g);
    const conn = await mysql.createConnection(connOptions(credentials!));
    conn.on('error', () => {});
    const running = conn.query('SELECT SLEEP(20)').then(
      () => 'finished',
      (e: { errno?: number; code?: string }) => `killed:${e.errno ?? e.code}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await c.revoke(g);
    const outcome = await running;
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(outcome).toMatch(/^killed:/);
    conn.destroy();
    const sessions = await rootQuery(server, 'SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [`hg_${g.requestId}`]);
    expect(sessions).toHaveLength(0);
  });

  it('list reports privileges beyond the grant (drift) in the same words', async () => {
    const g = grantOf(target, ['read']);
    await c.grant(g);
    const name = `hg_${g.requestId}`;
    await rootQuery(server, `GRANT UPDATE ON shop.* TO '${name}'@'%'`);
    await rootQuery(server, `GRANT PROCESS ON *.* TO '${name}'@'%'`);
    await rootQuery(server, `GRANT SELECT (name) ON shop.items TO '${name}'@'%'`);
    const found = (await c.reconciliation!.list()).find((x) => x.requestId === g.requestId)!;
    const extra = found.holds.filter((h) => !c.reconciliation!.expected(g).includes(h));
    expect(extra.sort()).toEqual(['PROCESS ON *.*', 'SELECT (`name`) ON `shop`.`items`', 'UPDATE ON `shop`.*']);
    await c.revoke(g);
  });

  it('a wrapper role left behind without its account is listed and removed as an orphan', async () => {
    const g = grantOf(target, ['writer']);
    await c.grant(g);
    const name = `hg_${g.requestId}`;
    await rootQuery(server, `DROP USER '${name}'@'%'`);
    // A role that merely carries the prefix is not Hourglass's: never listed, never removed.
    await rootQuery(server, 'CREATE ROLE IF NOT EXISTS hg_reader');
    expect((await c.reconciliation!.list()).map((x) => x.account)).not.toContain('hg_reader');
    const found = (await c.reconciliation!.list()).filter((x) => x.requestId === g.requestId);
    expect(found).toEqual([{ account: `${name}+r`, requestId: g.requestId, holds: ['ROLE `app_read`', 'ROLE `app_write`'] }]);
    await c.reconciliation!.removeOrphan(found[0]!);
    expect((await c.reconciliation!.list()).filter((x) => x.requestId === g.requestId)).toEqual([]);
  });

  it('a grant that fails half-way leaves no account behind, and its error names no secret', async () => {
    // The admin's password used as a database name: the server's refusal quotes it back.
    const g: GrantOnTarget = { ...grantOf(target, []), entitlements: [{ name: 'odd', config: { privileges: [`SELECT ON ${adminPassword}.*`] } }] };
    const err = (await c.grant(g).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('HG_TARGET_UNAVAILABLE');
    expect(err.message).toMatch(/Access denied/);
    expect(err.message).toContain('***');
    expect(err.message).not.toContain(adminPassword);
    expect((await c.reconciliation!.list()).filter((x) => x.requestId === g.requestId)).toEqual([]);
    const users = await rootQuery(server, 'SELECT User FROM mysql.user WHERE User = ?', [`hg_${g.requestId}`]);
    expect(users).toHaveLength(0);
  });

  it('errors pass through the configured scrubber; a wrong admin password makes health fail without telling it', async () => {
    const scrubbing = mariadbConnectorFactory.create(target, { secretsToScrub: (t) => t.split('hourglass').join('[admin]') });
    const bad = { ...grantOf(target, []), entitlements: [{ name: 'x', config: { privileges: ['SELECT ON no_such_db_x.*'] } }] };
    const err = (await scrubbing.grant(bad).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('[admin]');
    expect(err.message).not.toContain("'hourglass'");
    await scrubbing.close();

    const wrong = loadTarget(server.port, 'wrongpassword123');
    const cw = mariadbConnectorFactory.create(wrong, { secretsToScrub: (t) => t });
    const h = await cw.health();
    expect(h.ok).toBe(false);
    expect(h.detail).toMatch(/Access denied/);
    expect(h.detail).not.toContain('wrongpassword123');
    const gErr = (await cw.grant(grantOf(wrong, ['read'])).catch((e: unknown) => e)) as Error & { code?: string };
    expect(gErr.code).toBe('HG_TARGET_UNAVAILABLE');
    expect(gErr.message).not.toContain('wrongpassword123');
    await cw.close();
  });

  it('health names what a weaker admin account lacks', async () => {
    const pw = `weak${randomBytes(8).toString('hex')}`;
    await rootQuery(server, `CREATE USER 'weak'@'%' IDENTIFIED BY '${pw}'`);
    await rootQuery(server, "GRANT CREATE USER ON *.* TO 'weak'@'%'");
    await rootQuery(server, "GRANT SELECT ON shop.* TO 'weak'@'%'"); // no GRANT OPTION
    const weak = { ...target, url: `mysql://weak:${pw}@127.0.0.1:${server.port}/shop` } as TargetConfig;
    const cw = mariadbConnectorFactory.create(weak, { secretsToScrub: (t) => t });
    const h = await cw.health();
    await cw.close();
    expect(h.ok).toBe(false);
    expect(h.detail).toContain('CONNECTION ADMIN');
    expect(h.detail).toContain('SELECT ON `shop`.* WITH GRANT OPTION');
    expect(h.detail).toContain('`app_read` WITH ADMIN OPTION');
    expect(h.detail).toContain('SELECT on mysql.db');
    expect(h.detail).not.toContain(pw);
  });

  it('the docs give the exact SQL of the least-privilege admin account the tests use', () => {
    const docs = readFileSync(DOCS, 'utf8');
    for (const sql of adminBaseGrants(ADMIN)) expect(docs).toContain(`${sql};`);
  });
});

describe('mariadb target validation and naming (no server)', () => {
  // Unchecked: the tests hand targets with semantic problems to validate() themselves.
  const base = (extra: string, entitlements = 'read: { privileges: ["SELECT ON shop.*"] }') =>
    parseConfigUnchecked(
      `${KEY_YAML}
targets:
  t:
    type: mariadb
    url: mysql://hg:pw@127.0.0.1:3306
${extra}    entitlements:
      ${entitlements}
`,
      KEY_ENV,
    ).targets.t!;

  it('accepts the documented forms and refuses global, system-database and unknown privileges', () => {
    expect(mariadbConnectorFactory.validate(base(''))).toEqual([]);
    const t = base(
      '',
      'e: { privileges: ["SELECT ON *.*", "SELECT ON mysql.user", "FROB ON shop.*", "LOCK TABLES ON shop.items", "SELECT ON `my-db`.*", "all privileges ON shop.*", "GRANT OPTION ON shop.*"] }',
    );
    const problems = mariadbConnectorFactory.validate(t);
    expect(problems.map((p) => p.path)).toEqual([
      ['entitlements', 'e', 'privileges', 0],
      ['entitlements', 'e', 'privileges', 1],
      ['entitlements', 'e', 'privileges', 2],
      ['entitlements', 'e', 'privileges', 3],
      ['entitlements', 'e', 'privileges', 6],
    ]);
    expect(problems[0]!.message).toMatch(/global/);
    expect(problems[1]!.message).toMatch(/system database/);
    expect(problems[2]!.message).toMatch(/unknown privilege "FROB"/);
  });

  it('refuses an unsafe userHost and half a client certificate', () => {
    const t = base("    userHost: \"x' OR 1\"\n    tls: { mode: verify-full, cert: '-----BEGIN CERTIFICATE-----' }\n");
    expect(mariadbConnectorFactory.validate(t).map((p) => p.path)).toEqual([['userHost'], ['tls']]);
  });

  it('parses privileges into normalised words', () => {
    const r = parsePrivilege('select,  insert ON `my-db`.`t-1`');
    expect(r).toEqual({ ok: true, value: { privileges: ['SELECT', 'INSERT'], database: 'my-db', table: 't-1' } });
    const all = parsePrivilege('ALL PRIVILEGES ON shop.*');
    expect(all.ok && all.value.privileges).toContain('DELETE HISTORY');
  });

  it('account names are deterministic, bounded and map back to their request', () => {
    expect(accountName('hg_', 'req_01abc')).toBe('hg_req_01abc');
    for (const id of ['req_01jb7x2k9q3v4w5y6z7a8b9c0d', 'weird id/ü', 'a.b']) {
      const name = accountName('hg_', id);
      expect(name).toMatch(/^[A-Za-z0-9_.-]+$/);
      expect(requestIdOf('hg_', name)).toBe(id);
      expect(requestIdOf('hg_', `${name}+r`)).toBe(id);
    }
    expect(requestIdOf('hg_', 'hg_bad.zz')).toBeUndefined();
    expect(requestIdOf('hg_', 'other')).toBeUndefined();
    expect(() => accountName('hg_', 'x'.repeat(80))).toThrow(/longer/);
  });

  it("the password hash is MariaDB's PASSWORD()", () => {
    // SELECT PASSWORD('x') on MariaDB 10.11
    expect(nativePasswordHash('x')).toBe('*B69027D44F6E5EDC07F1AEAD1477967B16F28227');
  });
});

// ---- TLS on a second server -------------------------------------------------------------------

describe('mariadb connector over TLS', () => {
  let tlsServer: MariadbServer;
  let dir: string;
  let pw: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hourglass-mdb-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Hourglass test CA');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=db.test');
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:db.test,IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
    tlsServer = await startMariadb({ tls: { certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') } });
    pw = `tls${randomBytes(8).toString('hex')}`;
    const conn = await mysql.createConnection(tlsServer.rootUrl);
    try {
      await conn.query('CREATE DATABASE shop');
      await conn.query('CREATE TABLE shop.items (id INT)');
      // The admin may only connect over TLS.
      await conn.query(`CREATE USER ${ADMIN} IDENTIFIED BY '${pw}' REQUIRE SSL`);
      for (const sql of [...adminBaseGrants(ADMIN), `GRANT SELECT ON shop.* TO ${ADMIN} WITH GRANT OPTION`]) await conn.query(sql);
    } finally {
      await conn.end();
    }
  });
  afterAll(async () => {
    await tlsServer?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tlsTarget = (tls: string) =>
    parseConfig(
      `${KEY_YAML}
targets:
  tls-db:
    type: mariadb
    url: mysql://hourglass:${pw}@127.0.0.1:${tlsServer.port}
    tls: ${tls}
    entitlements:
      read: { privileges: ["SELECT ON shop.*"] }
`,
      KEY_ENV,
    ).targets['tls-db']!;

  it('verify-full with the CA (file:) works; the grant works end to end', async () => {
    const target = tlsTarget(`{ ca: "file:${path.join(dir, 'ca.pem')}" }`);
    expect(mariadbConnectorFactory.validate(target)).toEqual([]);
    const c = mariadbConnectorFactory.create(target, { secretsToScrub: (t) => t });
    try {
      expect(await c.health()).toMatchObject({ ok: true });
      const g = grantOf(target, ['read']);
      const { credentials } = await c.grant(g);
      expect(credentials!.tls).toBe('verify-full');
      expect(await attempt(credentials!, 'SELECT * FROM shop.items')).toBe('ok');
      await c.revoke(g);
    } finally {
      await c.close();
    }
  });

  it('verify-full checks the server name (serverName), verify-ca does not; without TLS the admin is refused', async () => {
    const ca = `file:${path.join(dir, 'ca.pem')}`;
    const check = async (tls: string) => {
      const c = mariadbConnectorFactory.create(tlsTarget(tls), { secretsToScrub: (t) => t });
      try {
        return await c.health();
      } finally {
        await c.close();
      }
    };
    expect(await check(`{ ca: "${ca}", serverName: db.test }`)).toMatchObject({ ok: true });
    const wrongName = await check(`{ ca: "${ca}", serverName: other.test }`);
    expect(wrongName.ok).toBe(false);
    expect(wrongName.detail).toMatch(/other\.test|altnames|does not match/i);
    expect(await check(`{ mode: verify-ca, ca: "${ca}", serverName: other.test }`)).toMatchObject({ ok: true });
    const untrusted = await check('{ mode: verify-full }');
    expect(untrusted.ok).toBe(false);
    expect(await check('{ mode: require }')).toMatchObject({ ok: true });
    const plain = await check('{ mode: disable }');
    expect(plain.ok).toBe(false);
    expect(plain.detail).toMatch(/Access denied/);
  });
});
