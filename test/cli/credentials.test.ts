// `hourglass credentials` and `hourglass connect`: the real binary against a real server whose
// targets are a real PostgreSQL and a real Redis (started by the test harnesses), with the real
// psql and redis-cli; plus unit tests of the command lines `connect` builds (the password must
// never be on one).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { clientCommands, describeCommand } from '../../src/cli/connect.js';
import { tokenHash } from '../fixtures/policies.js';
import { appReadTargetSql, startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { BIN, ROOT, spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { cliAs, isolateCredentials, json } from './run.js';

const { buildClientCommand, envLines, kindOf } = clientCommands(connectorFactories);

// ---- the command lines, without any server ----------------------------------------------------------

describe('the client command connect builds', () => {
  const pw = 'S3cret pw/with:odd@chars';
  const pgCreds = {
    username: 'hg_abc',
    password: pw,
    host: 'db.internal',
    port: 5433,
    database: 'app',
    url: `postgres://hg_abc:${encodeURIComponent(pw)}@db.internal:5433/app?sslmode=verify-full`,
  };
  const myCreds = {
    username: 'hg_abc',
    password: pw,
    host: 'shop.internal',
    port: 3306,
    database: 'shop',
    tls: 'verify-full',
    url: `mysql://hg_abc:${encodeURIComponent(pw)}@shop.internal:3306/shop`,
  };
  const redisCreds = {
    username: 'hg_abc',
    password: pw,
    host: 'cache',
    port: 6380,
    database: '2',
    tls: true,
    url: `rediss://hg_abc:${encodeURIComponent(pw)}@cache:6380/2`,
  };

  it('knows the kind from the URL scheme', () => {
    expect(kindOf(pgCreds)).toBe('postgres');
    expect(kindOf({ url: 'postgresql://x@h/d' })).toBe('postgres');
    expect(kindOf(myCreds)).toBe('mariadb');
    expect(kindOf({ url: 'mariadb://x@h/d' })).toBe('mariadb');
    expect(kindOf(redisCreds)).toBe('redis');
    expect(kindOf({ url: 'redis://h' })).toBe('redis');
    expect(kindOf({ url: 'ssh://h' })).toBeUndefined();
    expect(kindOf({ username: 'x' })).toBeUndefined();
  });

  it('psql: everything in libpq variables, the password in PGPASSWORD only', () => {
    const cmd = buildClientCommand('app-db', pgCreds, ['-c', 'SELECT 1']);
    expect(cmd.program).toBe('psql');
    expect(cmd.args).toEqual(['-c', 'SELECT 1']);
    expect(cmd.env).toEqual({ PGHOST: 'db.internal', PGPORT: '5433', PGUSER: 'hg_abc', PGDATABASE: 'app', PGPASSWORD: pw, PGSSLMODE: 'verify-full' });
    expect(cmd.secretEnv).toEqual(['PGPASSWORD']);
    expect(cmd.unset).toEqual(expect.arrayContaining(['PGHOSTADDR', 'PGSERVICE']));
    const shown = describeCommand(cmd);
    expect(shown).toContain('PGPASSWORD=***');
    expect(shown).not.toContain(pw);
    expect(shown).toContain("psql -c 'SELECT 1'");
  });

  it('mariadb: host, port, user and database as options, TLS as the credentials say, the password in MYSQL_PWD', () => {
    const cmd = buildClientCommand('shop-db', myCreds, ['-e', 'SELECT 1']);
    expect(cmd.program).toBe('mariadb');
    expect(cmd.args).toEqual([
      '--host=shop.internal',
      '--port=3306',
      '--protocol=TCP',
      '--user=hg_abc',
      '--database=shop',
      '--ssl',
      '--ssl-verify-server-cert',
      '-e',
      'SELECT 1',
    ]);
    expect(cmd.env).toEqual({ MYSQL_PWD: pw });
    expect(buildClientCommand('shop-db', { ...myCreds, tls: 'require' }).args).toContain('--skip-ssl-verify-server-cert');
    // Oracle's mysql client spells TLS differently.
    const mysql = buildClientCommand('shop-db', myCreds, [], { program: 'mysql', flavor: 'mysql', caFile: '/tmp/ca.pem' });
    expect(mysql.args).toEqual(expect.arrayContaining(['--ssl-mode=VERIFY_IDENTITY', '--ssl-ca=/tmp/ca.pem']));
    expect(buildClientCommand('shop-db', { ...myCreds, tls: undefined }).args.some((a) => a.includes('ssl'))).toBe(false);
  });

  it('redis-cli: -h -p --user -n --tls, the password in REDISCLI_AUTH', () => {
    const cmd = buildClientCommand('cache', redisCreds, ['PING'], { caFile: '/tmp/ca.pem' });
    expect(cmd.program).toBe('redis-cli');
    expect(cmd.args).toEqual(['-h', 'cache', '-p', '6380', '--user', 'hg_abc', '-n', '2', '--tls', '--cacert', '/tmp/ca.pem', 'PING']);
    expect(cmd.env).toEqual({ REDISCLI_AUTH: pw });
    // Only the URL: its parts are used.
    const fromUrl = buildClientCommand('cache', { url: `redis://u1:${encodeURIComponent(pw)}@127.0.0.1:6379` });
    expect(fromUrl.args).toEqual(['-h', '127.0.0.1', '-p', '6379', '--user', 'u1']);
    expect(fromUrl.env).toEqual({ REDISCLI_AUTH: pw });
  });

  it('never puts the password (nor the URL holding it) on any command line', () => {
    for (const [name, creds] of [
      ['a', pgCreds],
      ['b', myCreds],
      ['c', redisCreds],
    ] as const) {
      const cmd = buildClientCommand(name, creds, ['x']);
      const argv = [cmd.program, ...cmd.args].join('\0');
      expect(argv).not.toContain(pw);
      expect(argv).not.toContain(encodeURIComponent(pw));
      expect(describeCommand(cmd)).not.toContain(pw);
    }
  });

  it('refuses credentials whose client it cannot tell', () => {
    expect(() => buildClientCommand('x', { username: 'u', password: 'p' })).toThrow(/no connection URL/);
    expect(() => buildClientCommand('x', { url: 'ssh://h' })).toThrow(/scheme/);
  });

  it('env lines for eval, named as each client reads them', () => {
    expect(envLines(pgCreds)).toBe(
      `export PGHOST=db.internal\nexport PGPORT=5433\nexport PGUSER=hg_abc\nexport PGPASSWORD='${pw}'\nexport PGDATABASE=app\nexport PGSSLMODE=verify-full\n`,
    );
    expect(envLines(myCreds)).toContain(`export MYSQL_PWD='${pw}'`);
    expect(envLines(redisCreds)).toMatch(/^export REDISCLI_AUTH='.*'\n# then: redis-cli -h cache -p 6380 --user hg_abc -n 2 --tls\n$/);
    expect(envLines({ token: "it's", expiresIn: 5 })).toBe(`export HOURGLASS_CRED_TOKEN='it'\\''s'\nexport HOURGLASS_CRED_EXPIRES_IN=5\n`);
  });
});

// ---- end to end ------------------------------------------------------------------------------------------

isolateCredentials();

const PG_ADMIN_PW = `adm-${randomBytes(12).toString('hex')}`;
let pgServer: PostgresServer;
let redis: RedisServer;
let server: SpawnedServer;

const yaml = (pgPort: number, db: string, redisPort: number) => `
credentials:
  key: \${HG_KEY}
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: bob, groups: [developers], apiTokens: [{ sha256: ${tokenHash('bob')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
  app-db:
    type: postgres
    url: "postgres://hourglass:\${PG_ADMIN_PW}@127.0.0.1:${pgPort}/${db}"
    provisioningTimeout: 10s
    entitlements:
      read: { roles: [app_read] }
  cache:
    type: redis
    url: "redis://hourglass:\${REDIS_ADMIN_PW}@127.0.0.1:${redisPort}"
    provisioningTimeout: 10s
    entitlements:
      read: { acl: "~app:* +@read +ping" }
policies:
  - name: dev
    subjects: { groups: [developers] }
    entitlements: [app-db/read, cache/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;

beforeAll(async () => {
  [pgServer, redis] = await Promise.all([startPostgres(), startRedis()]);
  const su = new pg.Client({ connectionString: pgServer.url });
  await su.connect();
  try {
    for (const q of appReadTargetSql(PG_ADMIN_PW)) await su.query(q);
  } finally {
    await su.end();
  }
  server = await spawnServer({
    configYaml: yaml(pgServer.port, pgServer.database, redis.port),
    env: { PG_ADMIN_PW, REDIS_ADMIN_PW: redis.adminPassword, HG_KEY: randomBytes(32).toString('base64') },
  });
});

afterAll(async () => {
  await server?.stop();
  await Promise.all([pgServer?.stop(), redis?.stop()]);
});

const as = cliAs(() => server);

/** Requests and waits until active; returns the request id. */
async function activeRequest(principal: string, ...entitlements: string[]): Promise<string> {
  const r = await as(principal, 'request', ...entitlements, '--for', '1h', '--wait', '--timeout', '20s', '--json');
  expect(r.code, r.stderr).toBe(0);
  const req = json<{ id: string; status: string; access: string }>(r);
  expect(req).toMatchObject({ status: 'active', access: 'present' });
  return req.id;
}

interface Creds {
  requestId: string;
  expiresAt: string;
  targets: Record<string, { username: string; password: string; host: string; port: number; database?: string; url: string }>;
}

/** Every process's command line, as /proc shows it to anyone. */
function allCommandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

describe('hourglass credentials and connect (postgres)', () => {
  let id: string;
  let creds: Creds['targets'][string];

  beforeAll(async () => {
    id = await activeRequest('alice', 'app-db/read');
  });

  it('credentials --json: the API answer; text: a block with the password and when the grant ends', async () => {
    const r = await as('alice', 'credentials', id, '--json');
    expect(r.code, r.stderr).toBe(0);
    const body = json<Creds>(r);
    expect(body.requestId).toBe(id);
    creds = body.targets['app-db']!;
    expect(creds).toMatchObject({ host: '127.0.0.1', port: pgServer.port, database: pgServer.database });
    expect(creds.username).toMatch(/^hg_/);
    expect(creds.password.length).toBeGreaterThan(10);
    expect(creds.url).toMatch(/^postgres:\/\//);

    const text = await as('alice', 'credentials', id);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${id}: credentials valid until the grant ends, ${body.expiresAt} (in `);
    expect(text.stdout).toContain('app-db (postgres)');
    expect(text.stdout).toMatch(new RegExp(`^  password +${creds.password.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));

    const url = await as('alice', 'credentials', id, '--format', 'url');
    expect(url).toMatchObject({ code: 0, stdout: `${creds.url}\n` });
    // Every retrieval is in the audit log.
    const audit = json(await as('admin', 'audit', 'list', '--type', 'credentials.retrieved', '--request-id', id, '--json'));
    expect(audit.events.length).toBeGreaterThanOrEqual(3);
  });

  it('credentials --format env: lines a shell can eval, and psql then logs in with them', async () => {
    const r = await as('alice', 'credentials', id, '--format', 'env');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`export PGHOST=127.0.0.1\nexport PGPORT=${pgServer.port}\nexport PGUSER=${creds.username}\n`);
    expect(r.stdout).toContain(`export PGDATABASE=${pgServer.database}\n`);
    expect(r.stdout).toMatch(/^export PGPASSWORD=/m);
    const script = `eval "$(${process.execPath} ${BIN} credentials ${id} --format env)" && psql -X -tA -c 'SELECT current_user'`;
    const sh = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn('bash', ['-c', script], {
        cwd: ROOT,
        env: { ...process.env, HOURGLASS_URL: server.url, HOURGLASS_TOKEN: 'alice-demo-token', PGPASSWORD: '', PGUSER: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => resolve({ code, out, err }));
    });
    expect(sh.code, sh.err).toBe(0);
    expect(sh.out.trim()).toBe(creds.username);
  });

  it('connect runs psql for real with the granted rights, and passes its exit code through', async () => {
    const ok = await as('alice', 'connect', id, '--', '-X', '-tA', '-c', 'SELECT name FROM items');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('one\n');
    expect(ok.stderr).toContain(`connecting to app-db as ${creds.username} with psql; access ends`);
    expect(ok.stderr).not.toContain(creds.password);

    const one = await as('alice', 'connect', id, '--', '-c', 'SELECT 1');
    expect(one.code, one.stderr).toBe(0);

    const refused = await as('alice', 'connect', id, '--', '-X', '-v', 'ON_ERROR_STOP=1', '-c', "INSERT INTO items VALUES (2, 'two')");
    expect(refused.code).toBe(1); // psql's own code
    expect(refused.stderr).toMatch(/permission denied/);
  });

  it('the password is on no command line while psql runs (checked in /proc), and --print hides it', async () => {
    const marker = `hg_marker_${randomBytes(4).toString('hex')}`;
    const running = as('alice', 'connect', id, '--', '-X', '-c', `SELECT pg_sleep(1.5) AS ${marker}`);
    let sawPsql = false;
    const deadline = Date.now() + 10_000;
    let done = false;
    void running.then(() => (done = true));
    while (!done && Date.now() < deadline) {
      const lines = allCommandLines();
      for (const l of lines) expect(l).not.toContain(creds.password);
      if (lines.some((l) => l.includes('psql') && l.includes(marker))) sawPsql = true;
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(sawPsql).toBe(true);

    const shown = await as('alice', 'connect', id, '--print', '--', '-c', 'SELECT 1');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(
      `PGHOST=127.0.0.1 PGPORT=${pgServer.port} PGUSER=${creds.username} PGDATABASE=${pgServer.database} PGPASSWORD=*** psql -c 'SELECT 1'\n`,
    );
    const shownJson = json(await as('alice', 'connect', id, '--print', '--json'));
    expect(shownJson).toMatchObject({ target: 'app-db', kind: 'postgres', program: 'psql', args: [], env: { PGPASSWORD: '***', PGUSER: creds.username } });
    expect(JSON.stringify(shownJson)).not.toContain(creds.password);
  });

  it('--client runs another program with the same arguments and environment (a wrapper sees no password in its argv)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hourglass-wrap-'));
    const wrapper = path.join(dir, 'wrap.sh');
    const seen = path.join(dir, 'seen');
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncat /proc/$$/cmdline | tr '\\0' ' ' > "${seen}"\n[ -n "$PGPASSWORD" ] && echo has-password >> "${seen}"\nexec psql "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    const r = await as('alice', 'connect', id, '--client', wrapper, '--', '-X', '-tA', '-c', 'SELECT 42');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('42\n');
    const text = readFileSync(seen, 'utf8');
    expect(text).toContain('-c SELECT 42');
    expect(text).toContain('has-password');
    expect(text).not.toContain(creds.password);
  });

  it('a missing client is exit 127, with what to install', async () => {
    const missing = await as('alice', 'connect', id, '--client', '/nonexistent/psql');
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('/nonexistent/psql is not installed');
    const noPath = await cliAs(() => server, { PATH: mkdtempSync(path.join(os.tmpdir(), 'hourglass-empty-')) })('alice', 'connect', id);
    expect(noPath.code).toBe(127);
    expect(noPath.stderr).toMatch(/psql is not installed.*\nhint: install it \(Debian: postgresql-client\)/);
  });

  it("someone else's request is not found (exit 4); a grant that is not active has none (exit 5)", async () => {
    for (const cmd of [
      ['credentials', id],
      ['connect', id, '--', '-c', 'SELECT 1'],
      ['credentials', id, '--format', 'env'],
    ]) {
      const r = await as('bob', ...cmd);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stdout).toBe('');
    }
    const later = json<{ id: string; status: string }>(await as('alice', 'request', 'app-db/read', '--at', '+1h', '--for', '1h', '--json'));
    expect(later.status).toBe('scheduled');
    for (const cmd of [
      ['credentials', later.id],
      ['connect', later.id],
    ]) {
      const r = await as('alice', ...cmd);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('credentials exist only while the grant is active');
    }
    const unknown = await as('alice', 'credentials', id, '--target', 'nope');
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('has no credentials for target nope (it has: app-db)');
    const usage = await as('alice', 'credentials', id, '--json', '--format', 'env');
    expect(usage.code).toBe(2);
  });

  it('request --connect waits for the grant, then opens psql (stdin empty here: it ends at once)', async () => {
    const r = await as('alice', 'request', 'app-db/read', '--for', '30m', '--connect', '--timeout', '20s');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^req_\S+ {2}(scheduled|active) {2}app-db\/read/m);
    expect(r.stderr).toContain('connecting to app-db as hg_');
  });
});

describe('hourglass credentials and connect (redis, and several targets)', () => {
  it('connect runs redis-cli for real: PING answers PONG', async () => {
    const id = await activeRequest('alice', 'cache/read');
    const r = await as('alice', 'connect', id, '--', 'PING');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('PONG\n');
    const creds = json<Creds>(await as('alice', 'credentials', id, '--json')).targets.cache!;
    expect(creds.url).toMatch(/^redis:\/\//);
    const env = await as('alice', 'credentials', id, '--format', 'env');
    expect(env.stdout).toBe(
      `export REDISCLI_AUTH=${creds.password.match(/^[A-Za-z0-9_./:@%+=,-]+$/) ? creds.password : `'${creds.password}'`}\n# then: redis-cli -h 127.0.0.1 -p ${redis.port} --user ${creds.username}\n`,
    );
    const shown = await as('alice', 'connect', id, '--print', '--', 'PING');
    expect(shown.stdout).toBe(`REDISCLI_AUTH=*** redis-cli -h 127.0.0.1 -p ${redis.port} --user ${creds.username} PING\n`);
  });

  it('a grant on two targets needs --target for connect and --format, and shows both blocks', async () => {
    const id = await activeRequest('bob', 'app-db/read', 'cache/read');
    const text = await as('bob', 'credentials', id);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('app-db (postgres)');
    expect(text.stdout).toContain('cache (redis)');
    for (const cmd of [
      ['connect', id],
      ['credentials', id, '--format', 'env'],
    ]) {
      const r = await as('bob', ...cmd);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('credentials for 2 targets (app-db, cache)');
    }
    const only = json<Creds>(await as('bob', 'credentials', id, '--target', 'cache', '--json'));
    expect(Object.keys(only.targets)).toEqual(['cache']);
    const [pgOut, redisOut] = await Promise.all([
      as('bob', 'connect', id, '--target', 'app-db', '--', '-X', '-tA', '-c', 'SELECT count(*) FROM items'),
      as('bob', 'connect', id, '--target', 'cache', '--', 'PING'),
    ]);
    expect(pgOut).toMatchObject({ code: 0, stdout: '1\n' });
    expect(redisOut).toMatchObject({ code: 0, stdout: 'PONG\n' });
  });
});
