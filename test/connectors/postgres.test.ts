/**
 * The `postgres` connector on a real, throwaway PostgreSQL (scram-sha-256 password auth over
 * TCP): the shared connector contract, then what is particular to PostgreSQL (the password
 * never reaches the server, VALID UNTIL, objects of an ending account, refused roles,
 * membership mode's bookkeeping, scrubbed errors).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, Credentials, GrantOnTarget } from '../../src/app/connectors.js';
import { accountName, postgresConnectorFactory, scramSha256Verifier, setsRole } from '../../src/adapters/connectors/postgres/index.js';
import { parseConfig, parseConfigUnchecked } from '../support/config.js';
import type { TargetConfig } from '../../src/core/types.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { connectorContract, type ProbeResult } from './contract.js';

const execFileP = promisify(execFile);

// ---- one server for the whole file --------------------------------------------------------------

interface Env {
  server: PostgresServer;
  adminPassword: string;
  version: number;
  /** Runs SQL as the superuser in the test database. */
  su<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  target(extraYaml?: string, entitlementsYaml?: string): TargetConfig;
}

let envPromise: Promise<Env> | undefined;
const clients: pg.Client[] = [];

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client({ connectionTimeoutMillis: 5_000, ...config });
  client.on('error', () => {});
  await client.connect();
  return client;
}

function env(): Promise<Env> {
  envPromise ??= (async () => {
    const server = await startPostgres({ settings: { log_statement: 'all' } });
    const su = await connect({ connectionString: server.url });
    clients.push(su);
    const adminPassword = `adm-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const version = Number((await su.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
    const statements = [
      // The least-privilege admin account of docs/targets/postgres.md (its password sent as a verifier too).
      `CREATE ROLE hourglass LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(await scramSha256Verifier(adminPassword))}`,
      `CREATE ROLE app_read NOLOGIN`,
      `CREATE ROLE app_write NOLOGIN`,
      ...(version >= 160000 ? [`GRANT app_read, app_write TO hourglass WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`] : []),
      `CREATE TABLE items (id int, name text)`,
      `INSERT INTO items VALUES (1, 'one'), (2, 'two')`,
      `GRANT SELECT ON items TO app_read`,
      `GRANT INSERT ON items TO app_write`,
      `CREATE SCHEMA scratch`,
      `GRANT USAGE, CREATE ON SCHEMA scratch TO app_write`,
      // Membership mode's bookkeeping lives in this schema.
      `CREATE SCHEMA hourglass AUTHORIZATION hourglass`,
    ];
    for (const sql of statements) await su.query(sql);
    // Unchecked: tests hand targets with semantic problems to validate() and create() themselves.
    const target = (extraYaml = '', entitlementsYaml = '      read: { roles: [app_read] }\n      write: { roles: [app_read, app_write] }\n') =>
      parseConfigUnchecked(
        `credentials:\n  key: \${HG_CREDENTIALS_KEY}\ntargets:\n  app-db:\n    type: postgres\n    url: postgres://hourglass:\${HG_PG_PASSWORD}@127.0.0.1:${server.port}/${server.database}\n${extraYaml}    entitlements:\n${entitlementsYaml}`,
        { HG_PG_PASSWORD: adminPassword, HG_CREDENTIALS_KEY: randomBytes(32).toString('base64') },
      ).targets['app-db']!;
    return {
      server,
      adminPassword,
      version,
      su: async (sql, params) => (await su.query(sql, params)).rows,
      target,
    };
  })();
  return envPromise;
}

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  if (envPromise) await (await envPromise).server.stop();
});

// ---- probes ---------------------------------------------------------------------------------------

const codeOf = (e: unknown) => (e as { code?: string }).code;

async function probeWith(creds: Credentials, sql: string): Promise<ProbeResult> {
  let client: pg.Client;
  try {
    client = await connect({ host: creds.host, port: creds.port, user: creds.username, password: creds.password, database: creds.database });
  } catch (e) {
    if (codeOf(e) === '28P01' || codeOf(e) === '28000') return 'login-refused';
    throw e;
  }
  try {
    await client.query(sql);
    return 'ok';
  } catch (e) {
    if (codeOf(e) === '42501') return 'action-refused';
    throw e;
  } finally {
    await client.end().catch(() => {});
  }
}

async function openSession(creds: Credentials) {
  const client = await connect({ host: creds.host, port: creds.port, user: creds.username, password: creds.password, database: creds.database });
  return {
    client,
    async alive() {
      try {
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    close: () => client.end(),
  };
}

let seq = 0;
function grantOf(target: TargetConfig, entitlement: string, opts: { principal?: string; expiresAt?: number; roles?: string[] } = {}): GrantOnTarget {
  return {
    requestId: `req_pgtest${Date.now().toString(36)}${(seq++).toString(36)}`,
    principal: opts.principal ?? 'alice',
    target,
    entitlements: [{ name: entitlement, config: opts.roles ? { roles: opts.roles } : (target.entitlements[entitlement] as Record<string, unknown>) }],
    expiresAt: opts.expiresAt ?? Date.now() + 3_600_000,
  };
}

const scrubber = (secrets: string[]) => ({ secretsToScrub: (t: string) => secrets.reduce((s, x) => s.split(x).join('***'), t) });

// ---- the shared contract --------------------------------------------------------------------------

connectorContract('postgres', { issuesCredentials: true, endsSessions: true, enforcesExpiry: true, canList: true }, async () => {
  const e = await env();
  return {
    factory: postgresConnectorFactory,
    target: e.target(),
    entitlement: 'read',
    probe: (creds) => probeWith(creds, 'SELECT count(*) FROM items'),
    probeBeyond: (creds) => probeWith(creds, `INSERT INTO items VALUES (99, 'not allowed')`),
    openSession,
    secrets: [e.adminPassword, e.server.password],
    refused: { roles: ['no_such_role_x'] },
    teardown: async () => {},
  };
});

// ---- PostgreSQL specifics: account mode -------------------------------------------------------------

describe('postgres connector: account mode', () => {
  let e: Env;
  let c: Connector;
  beforeAll(async () => {
    e = await env();
    c = postgresConnectorFactory.create(e.target(), scrubber([e.adminPassword]));
  });
  afterAll(async () => {
    await c?.close();
  });

  it('computes the same SCRAM-SHA-256 verifier PostgreSQL does', async () => {
    await e.su(`SET password_encryption = 'scram-sha-256'`);
    await e.su(`CREATE ROLE scram_check PASSWORD 'correct horse battery staple'`);
    const [row] = await e.su<{ rolpassword: string }>(`SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_check'`);
    const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(row!.rolpassword)!;
    const ours = await scramSha256Verifier('correct horse battery staple', { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64') });
    expect(ours).toBe(row!.rolpassword);
    await e.su(`DROP ROLE scram_check`);
  });

  it('names accounts after the request, deterministically and within 63 characters', () => {
    expect(accountName('hg_', 'req_01jabcdefghjkmnpqrstvwxyz0')).toBe('hg_01jabcdefghjkmnpqrstvwxyz0');
    const odd = accountName('hg_', 'req_ABC-def');
    expect(odd).toMatch(/^hg_h[0-9a-f]+$/);
    expect(odd).toBe(accountName('hg_', 'req_ABC-def'));
    expect(accountName('hg_', 'req_abc-def')).not.toBe(odd);
    expect(accountName('averylongprefix_', `req_${'a'.repeat(80)}`).length).toBeLessThanOrEqual(63);
  });

  it('never sends the password to the server: the statement log shows only the SCRAM verifier', async () => {
    const g = grantOf(e.target(), 'read');
    const { credentials } = await c.grant(g);
    expect(await probeWith(credentials!, 'SELECT 1')).toBe('ok');
    // The connection URL works as given.
    const viaUrl = await connect({ connectionString: credentials!.url as string });
    expect((await viaUrl.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u).toBe(credentials!.username);
    await viaUrl.end();
    const marker = `log-marker-${Math.random().toString(36).slice(2)}`;
    await e.su(`SELECT ${pg.escapeLiteral(marker)}`);
    let log = '';
    for (let i = 0; i < 100 && !log.includes(marker); i++) {
      await new Promise((r) => setTimeout(r, 50));
      log = await readFile(e.server.logFile, 'utf8');
    }
    expect(log).toContain(marker);
    expect(log).toContain(`CREATE ROLE "${credentials!.username}"`);
    expect(log).toContain('SCRAM-SHA-256$4096:');
    expect(log).not.toContain(credentials!.password as string);
    expect(log).not.toContain(encodeURIComponent(credentials!.password as string));
    await c.revoke(g);
  });

  it('sets VALID UNTIL to the end of the grant, a connection limit, and moves VALID UNTIL on extend', async () => {
    const expiresAt = Date.now() + 1_800_000;
    const g = grantOf(e.target(), 'read', { expiresAt });
    const { credentials } = await c.grant(g);
    const row = async () =>
      (
        await e.su<{ until: Date; rolconnlimit: number; rolcanlogin: boolean; rolinherit: boolean; rolpassword: string }>(
          `SELECT rolvaliduntil AS until, rolconnlimit, rolcanlogin, rolinherit, rolpassword FROM pg_authid WHERE rolname = $1`,
          [credentials!.username],
        )
      )[0]!;
    const r = await row();
    expect(r.until.getTime()).toBe(expiresAt);
    expect(r.rolconnlimit).toBe(10);
    expect(r.rolcanlogin).toBe(true);
    expect(r.rolinherit).toBe(true);
    expect(r.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    await c.extend({ ...g, expiresAt: expiresAt + 600_000 });
    expect((await row()).until.getTime()).toBe(expiresAt + 600_000);
    // list and expected speak the same words.
    const found = (await c.reconciliation!.list()).find((x) => x.requestId === g.requestId)!;
    expect(found.account).toBe(credentials!.username);
    expect(found.holds.sort()).toEqual(c.reconciliation!.expected(g).sort());
    await c.revoke(g);
    await expect(c.extend(g)).rejects.toThrow(/does not exist/);
  });

  it("at the end, the account's objects go to the owner (in every database) and the role is dropped", async () => {
    await e.su(`CREATE DATABASE otherdb`);
    await e.su(`GRANT CREATE ON DATABASE otherdb TO app_write`);
    const g = grantOf(e.target(), 'write');
    const { credentials } = await c.grant(g);
    const session = await openSession(credentials!);
    await session.client.query(`CREATE TABLE scratch.made_by_temp (x int)`);
    await session.client.query(`INSERT INTO scratch.made_by_temp VALUES (1)`);
    await session.client.query(`INSERT INTO items VALUES (3, 'three')`);
    const other = await connect({
      ...{ host: credentials!.host, port: credentials!.port, user: credentials!.username, password: credentials!.password },
      database: 'otherdb',
    });
    await other.query(`CREATE SCHEMA made_elsewhere`);
    await other.query(`CREATE TABLE made_elsewhere.t (x int)`);
    // Sessions stay open across the revoke: they are terminated.
    await c.revoke(g);
    expect(await session.alive()).toBe(false);
    await other.query('SELECT 1').then(
      () => expect.fail('the session in the other database survived'),
      () => {},
    );
    await other.end().catch(() => {});
    await session.close().catch(() => {});
    expect(await e.su(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [credentials!.username])).toHaveLength(0);
    const [owned] = await e.su<{ owner: string; n: number }>(
      `SELECT tableowner AS owner, (SELECT count(*)::int FROM scratch.made_by_temp) AS n FROM pg_tables WHERE schemaname = 'scratch' AND tablename = 'made_by_temp'`,
    );
    expect(owned).toEqual({ owner: 'hourglass', n: 1 });
    const su2 = await connect({ connectionString: e.server.url.replace(/\/[^/]+$/, '/otherdb') });
    const [elsewhere] = (await su2.query<{ owner: string }>(`SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'made_elsewhere'`)).rows;
    await su2.end();
    expect(elsewhere).toEqual({ owner: 'hourglass' });
    // And again: already gone is success.
    await c.revoke(g);
  });

  it('REASSIGN OWNED goes to the configured owner', async () => {
    await e.su(`CREATE ROLE app_owner NOLOGIN`);
    await e.su(`GRANT app_owner TO hourglass`);
    const owned = postgresConnectorFactory.create(e.target('    owner: app_owner\n'), scrubber([e.adminPassword]));
    try {
      expect(await owned.health()).toMatchObject({ ok: true });
      const g = grantOf(e.target(), 'write');
      const { credentials } = await owned.grant(g);
      expect(await probeWith(credentials!, `CREATE TABLE scratch.for_owner (x int)`)).toBe('ok');
      await owned.revoke(g);
      const [row] = await e.su<{ owner: string }>(`SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'for_owner'`);
      expect(row).toEqual({ owner: 'app_owner' });
    } finally {
      await owned.close();
    }
  });

  it('refuses privileged roles with a clear error, and creates nothing', async () => {
    await e.su(`CREATE ROLE sneaky NOLOGIN`);
    await e.su(`GRANT pg_execute_server_program TO sneaky`);
    await e.su(`CREATE ROLE powerful NOLOGIN CREATEROLE`);
    await e.su(`CREATE ROLE rootlike NOLOGIN SUPERUSER`);
    const cases: [string[], RegExp][] = [
      [['pg_write_server_files'], /"pg_write_server_files" is refused: it is a privileged built-in role.*allowPrivilegedRoles: true/],
      [['app_read', 'sneaky'], /"sneaky" is refused: its membership in "pg_execute_server_program", a privileged built-in role/],
      [['powerful'], /"powerful" is refused: it has CREATEROLE/],
      [['rootlike'], /"rootlike" is refused: it is a superuser role, which Hourglass never grants/],
      [['hourglass'], /Hourglass's own admin role/],
      [['no_such_role'], /role "no_such_role" does not exist/],
    ];
    for (const [roles, message] of cases) {
      const g = grantOf(e.target(), 'read', { roles });
      const err = await c.grant(g).then(
        () => undefined,
        (x: Error & { code?: string }) => x,
      );
      expect(err?.message).toMatch(message);
      expect(err?.code).toBe('HG_TARGET_UNAVAILABLE');
      expect(await e.su(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [accountName('hg_', g.requestId)])).toHaveLength(0);
    }
    // The configuration check says so before any request, and so does health().
    const bad = e.target('', '      ops: { roles: [pg_write_server_files] }\n      danger: { roles: [powerful] }\n');
    expect(postgresConnectorFactory.validate(bad)).toEqual([
      { path: ['entitlements', 'ops', 'roles', 0], message: expect.stringMatching(/privileged built-in role.*allowPrivilegedRoles/) },
    ]);
    const unhealthy = postgresConnectorFactory.create(bad, scrubber([e.adminPassword]));
    try {
      const h = await unhealthy.health();
      expect(h.ok).toBe(false);
      expect(h.detail).toMatch(/pg_write_server_files/);
      expect(h.detail).toMatch(/"powerful" is refused/);
    } finally {
      await unhealthy.close();
    }
    // Explicitly allowed: a privileged built-in role is granted (a superuser role never is).
    const allowTarget = e.target('    allowPrivilegedRoles: true\n', '      ops: { roles: [pg_signal_backend] }\n');
    const allowing = postgresConnectorFactory.create(allowTarget, scrubber([e.adminPassword]));
    try {
      const g = grantOf(allowTarget, 'ops');
      await allowing.grant(g);
      const found = (await allowing.reconciliation!.list()).find((x) => x.requestId === g.requestId);
      expect(found?.holds).toContain('pg_signal_backend');
      await allowing.revoke(g);
      await expect(allowing.grant(grantOf(allowTarget, 'ops', { roles: ['rootlike'] }))).rejects.toThrow(/never grants/);
    } finally {
      await allowing.close();
    }
    expect(postgresConnectorFactory.validate(allowTarget)).toEqual([]);
  });

  it('reports what the configuration gets wrong', () => {
    const t = e.target('    tls: { mode: verify-full, ca: "file:/nonexistent/ca.pem" }\n', '      read: { roles: [hg_sneaky] }\n');
    const problems = postgresConnectorFactory.validate({ ...t, url: 'postgres://127.0.0.1:5432/db?sslmode=require' });
    expect(problems.map((p) => p.path.join('.'))).toEqual(expect.arrayContaining(['url', 'entitlements.read.roles.0', 'tls.ca']));
  });

  it('errors are scrubbed of the admin password and of what secretsToScrub names', async () => {
    // A role named like the admin password: PostgreSQL's message repeats the name.
    const g = grantOf(e.target(), 'read', { roles: [e.adminPassword] });
    const err = await c.grant(g).then(
      () => undefined,
      (x: Error) => x,
    );
    expect(err).toBeDefined();
    expect(err!.message).not.toContain(e.adminPassword);
    expect(err!.message).toContain('***');
    const scrubbing = postgresConnectorFactory.create(e.target(), scrubber(['app_nosuch_marker']));
    try {
      const err2 = await scrubbing.grant(grantOf(e.target(), 'read', { roles: ['app_nosuch_marker'] })).then(
        () => undefined,
        (x: Error) => x,
      );
      expect(err2!.message).not.toContain('app_nosuch_marker');
    } finally {
      await scrubbing.close();
    }
    // A wrong admin password: health says so, without the password (right or wrong).
    const wrong = postgresConnectorFactory.create(
      { ...e.target(), url: `postgres://hourglass:wrong-${e.adminPassword}@127.0.0.1:${e.server.port}/${e.server.database}` },
      scrubber([]),
    );
    try {
      const h = await wrong.health();
      expect(h.ok).toBe(false);
      expect(h.detail).toMatch(/password authentication failed/);
      expect(h.detail).not.toContain(e.adminPassword);
      await expect(wrong.grant(grantOf(e.target(), 'read'))).rejects.toThrow(/password authentication failed/);
    } finally {
      await wrong.close();
    }
  });

  it('health reports the admin role and what it lacks', async () => {
    expect(await c.health()).toEqual({ ok: true });
    await e.su(`CREATE ROLE weak_admin LOGIN PASSWORD ${pg.escapeLiteral(await scramSha256Verifier('weak-admin-pw'))}`);
    const weak = postgresConnectorFactory.create(
      { ...e.target(), url: `postgres://weak_admin:weak-admin-pw@127.0.0.1:${e.server.port}/${e.server.database}` },
      scrubber([]),
    );
    try {
      const h = await weak.health();
      expect(h.ok).toBe(false);
      expect(h.detail).toMatch(/lacks CREATEROLE/);
      expect(h.detail).toMatch(/cannot grant "app_read"/);
    } finally {
      await weak.close();
    }
  });

  it('does not touch an account another target on the same server created', async () => {
    const other = postgresConnectorFactory.create({ ...e.target(), name: 'other-db' }, scrubber([e.adminPassword]));
    try {
      const g = grantOf(e.target(), 'read');
      const { credentials } = await other.grant(g);
      expect((await c.reconciliation!.list()).find((x) => x.requestId === g.requestId)).toBeUndefined();
      await expect(c.revoke(g)).rejects.toThrow(/belongs to target "other-db"/);
      expect(await probeWith(credentials!, 'SELECT 1')).toBe('ok');
      await other.revoke(g);
    } finally {
      await other.close();
    }
  });
});

// ---- membership mode --------------------------------------------------------------------------------

describe('postgres connector: membership mode', () => {
  let e: Env;
  let c: Connector;
  const member = async (user: string, role: string) =>
    (
      await e.su(
        `SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 AND r.rolname = $2`,
        [user, role],
      )
    ).length > 0;
  const userCreds = (user: string): Credentials => ({
    username: user,
    password: `${user}-pw`,
    host: '127.0.0.1',
    port: e.server.port,
    database: e.server.database,
  });

  beforeAll(async () => {
    e = await env();
    for (const user of ['carol', 'dave', 'erin']) {
      await e.su(`CREATE ROLE ${user} LOGIN PASSWORD ${pg.escapeLiteral(await scramSha256Verifier(`${user}-pw`))}`);
    }
    // carol already holds app_read, granted outside Hourglass.
    await e.su(`GRANT app_read TO carol`);
    // To see the last statement of users' sessions and end those that SET ROLE.
    await e.su(`GRANT pg_read_all_stats, pg_signal_backend TO hourglass`);
    c = postgresConnectorFactory.create(e.target('    mode: membership\n'), scrubber([e.adminPassword]));
  });
  afterAll(async () => {
    await c?.close();
  });

  it('declares what it can do, and is healthy', async () => {
    expect(c.capabilities).toEqual({ endsSessions: false, enforcesExpiry: false, canList: true, issuesCredentials: false });
    expect(await c.health()).toEqual({ ok: true });
  });

  it('grants the roles to the existing user and revokes them at the end, but never a membership it did not add', async () => {
    const g = grantOf(e.target(), 'write', { principal: 'carol' });
    expect(await c.grant(g)).toEqual({});
    await c.grant(g); // a retry
    expect(await member('carol', 'app_write')).toBe(true);
    expect(await probeWith(userCreds('carol'), `INSERT INTO items VALUES (10, 'carol')`)).toBe('ok');
    const found = (await c.reconciliation!.list()).find((x) => x.requestId === g.requestId)!;
    expect(found).toMatchObject({ account: 'carol' });
    expect(found.holds.sort()).toEqual(c.reconciliation!.expected(g).sort());
    await c.extend({ ...g, expiresAt: g.expiresAt + 60_000 });
    await c.revoke(g);
    expect(await member('carol', 'app_write')).toBe(false);
    expect(await member('carol', 'app_read')).toBe(true); // pre-existing: kept
    expect(await probeWith(userCreds('carol'), `INSERT INTO items VALUES (11, 'carol')`)).toBe('action-refused');
    expect(await probeWith(userCreds('carol'), `SELECT count(*) FROM items`)).toBe('ok');
    await c.revoke(g); // again: fine
    expect((await c.reconciliation!.list()).find((x) => x.requestId === g.requestId)).toBeUndefined();
  });

  it('counts references: ending one of two overlapping grants keeps the membership', async () => {
    const a = grantOf(e.target(), 'write', { principal: 'dave' });
    const b = grantOf(e.target(), 'write', { principal: 'dave' });
    await c.grant(a);
    await c.grant(b);
    await c.revoke(a);
    expect(await member('dave', 'app_write')).toBe(true);
    expect(await member('dave', 'app_read')).toBe(true);
    await c.revoke(a);
    expect(await member('dave', 'app_write')).toBe(true);
    await c.revoke(b);
    expect(await member('dave', 'app_write')).toBe(false);
    expect(await member('dave', 'app_read')).toBe(false);
  });

  it('a membership added outside Hourglass while a grant is live is left alone only if it was there first', async () => {
    const g = grantOf(e.target(), 'read', { principal: 'dave' });
    await e.su(`GRANT app_read TO dave`);
    await c.grant(g);
    await c.revoke(g);
    expect(await member('dave', 'app_read')).toBe(true);
    await e.su(`REVOKE app_read FROM dave`);
  });

  it('at the end, inherited privileges stop at once; a session that SET ROLE to the role is ended, others are not', async () => {
    const g = grantOf(e.target(), 'write', { principal: 'erin' });
    await c.grant(g);
    const plain = await openSession(userCreds('erin'));
    const switched = await openSession(userCreds('erin'));
    try {
      await plain.client.query(`INSERT INTO items VALUES (20, 'erin')`);
      await switched.client.query(`SET ROLE app_write`);
      await c.revoke(g);
      expect(await switched.alive()).toBe(false);
      expect(await plain.alive()).toBe(true);
      await expect(plain.client.query(`INSERT INTO items VALUES (21, 'erin')`)).rejects.toMatchObject({ code: '42501' });
    } finally {
      await plain.close().catch(() => {});
      await switched.close().catch(() => {});
    }
  });

  it('refuses a user that does not exist, and privileged roles, clearly', async () => {
    await expect(c.grant(grantOf(e.target(), 'read', { principal: 'nobody_here' }))).rejects.toThrow(/database user "nobody_here".*does not exist/);
    await expect(c.grant(grantOf(e.target(), 'read', { principal: 'erin', roles: ['pg_write_server_files'] }))).rejects.toThrow(/privileged built-in role/);
    expect(await member('erin', 'pg_write_server_files')).toBe(false);
  });

  it('removes an orphan found by list', async () => {
    const g = grantOf(e.target(), 'write', { principal: 'erin' });
    await c.grant(g);
    const found = (await c.reconciliation!.list()).find((x) => x.requestId === g.requestId)!;
    await c.reconciliation!.removeOrphan(found);
    expect(await member('erin', 'app_write')).toBe(false);
  });
});

describe('setsRole', () => {
  it('recognises SET ROLE to one of the roles in a statement text', () => {
    const roles = new Set(['app_write', 'Mixed Case']);
    expect(setsRole('SET ROLE app_write', roles)).toBe(true);
    expect(setsRole('set session role APP_WRITE;', roles)).toBe(true);
    expect(setsRole(`SET ROLE 'app_write'`, roles)).toBe(true);
    expect(setsRole('SET ROLE "Mixed Case"; SELECT 1', roles)).toBe(true);
    expect(setsRole('SET ROLE app_read', roles)).toBe(false);
    expect(setsRole('SELECT 1', roles)).toBe(false);
  });
});

// ---- TLS to the target --------------------------------------------------------------------------------

describe('postgres connector: TLS to the target', () => {
  let server: PostgresServer;
  let dir: string;
  let caPem: string;
  let target: (tls: string) => TargetConfig;
  const adminPassword = 'tls-admin-password';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hourglass-pg-tls-'));
    const ssl = (...args: string[]) => execFileP('openssl', args, { cwd: dir });
    await ssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=hourglass test CA',
    );
    await ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=db.test',
    );
    await writeFile(path.join(dir, 'ext'), 'subjectAltName=DNS:db.test,IP:127.0.0.1\n');
    await ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '1',
      '-extfile',
      'ext',
    );
    await chmod(path.join(dir, 'server.key'), 0o600);
    if (process.getuid?.() === 0) await execFileP('chown', ['-R', 'postgres:', dir]);
    await chmod(dir, 0o755);
    caPem = await readFile(path.join(dir, 'ca.crt'), 'utf8');
    server = await startPostgres({
      settings: { ssl: 'on', ssl_cert_file: path.join(dir, 'server.crt'), ssl_key_file: path.join(dir, 'server.key') },
    });
    const su = await connect({ connectionString: server.url });
    await su.query(`CREATE ROLE hourglass LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(await scramSha256Verifier(adminPassword))}`);
    await su.query(`CREATE ROLE app_read NOLOGIN`);
    await su.end();
    target = (tls) =>
      parseConfig(
        `credentials:\n  key: ${randomBytes(32).toString('base64')}\ntargets:\n  tls-db:\n    type: postgres\n    url: postgres://hourglass:\${PW}@127.0.0.1:${server.port}/${server.database}\n    tls: ${tls}\n    entitlements:\n      read: { roles: [app_read] }\n`,
        { PW: adminPassword, CA: caPem },
      ).targets['tls-db']!;
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const healthOf = async (t: TargetConfig) => {
    const c = postgresConnectorFactory.create(t, scrubber([adminPassword]));
    try {
      return await c.health();
    } finally {
      await c.close();
    }
  };

  it('verify-full checks the chain and the name; verify-ca only the chain; require neither', async () => {
    const caFile = `file:${path.join(dir, 'ca.crt')}`;
    expect(postgresConnectorFactory.validate(target(`{ ca: "${caFile}" }`))).toEqual([]);
    expect(await healthOf(target(`{ ca: "${caFile}" }`))).toEqual({ ok: true });
    expect(await healthOf(target(`{ mode: verify-full, ca: "\${CA}", serverName: db.test }`))).toEqual({ ok: true });
    const wrongName = await healthOf(target(`{ mode: verify-full, ca: "${caFile}", serverName: other.test }`));
    expect(wrongName.ok).toBe(false);
    expect(wrongName.detail).toMatch(/other\.test/);
    expect(await healthOf(target(`{ mode: verify-ca, ca: "${caFile}", serverName: other.test }`))).toEqual({ ok: true });
    const noCa = await healthOf(target(`{ mode: verify-full }`));
    expect(noCa.ok).toBe(false);
    expect(noCa.detail).toMatch(/certificate/i);
    expect(await healthOf(target(`{ mode: require }`))).toEqual({ ok: true });
  });

  it('the admin connection really uses TLS, and credentials tell clients to', async () => {
    const c = postgresConnectorFactory.create(target(`{ ca: "file:${path.join(dir, 'ca.crt')}" }`), scrubber([adminPassword]));
    try {
      const g: GrantOnTarget = {
        requestId: `req_tls${Date.now().toString(36)}`,
        principal: 'alice',
        target: target('{ mode: require }'),
        entitlements: [{ name: 'read', config: { roles: ['app_read'] } }],
        expiresAt: Date.now() + 60_000,
      };
      const { credentials } = await c.grant(g);
      expect(credentials!.url).toMatch(/\?sslmode=verify-full$/);
      const su = await connect({ connectionString: server.url });
      const { rows } = await su.query<{ ssl: boolean }>(
        `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.usename = 'hourglass' AND a.application_name = 'hourglass'`,
      );
      await su.end();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.ssl)).toBe(true);
      await c.revoke(g);
    } finally {
      await c.close();
    }
  });
});
