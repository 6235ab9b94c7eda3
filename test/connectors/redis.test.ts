/**
 * The redis connector against a real Redis 7 server (test/support/redis-server.ts): the shared
 * connector contract, then what is particular to Redis ACL users.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, Credentials, GrantOnTarget } from '../../src/app/connectors.js';
import { decodeRequestId, encodeRequestId, normaliseLocally } from '../../src/adapters/connectors/redis/acl-rules.js';
import { redisConnectorFactory } from '../../src/adapters/connectors/redis/index.js';
import { parseConfig } from '../support/config.js';
import { HgError } from '../../src/core/errors.js';
import type { TargetConfig } from '../../src/core/types.js';
import { bareClient, rootClient, startRedis, type RedisServer } from '../support/redis-server.js';
import { connectorContract, type ProbeResult } from './contract.js';

// ---- one server for the file ----------------------------------------------------------------------

let serverP: Promise<RedisServer> | undefined;
const server = () => (serverP ??= startRedis());
afterAll(async () => {
  if (serverP) await (await serverP).stop();
});

const ENTITLEMENTS = `
      read: { acl: "~app:* +@read" }
      write: { acl: "~app:* +@read +@write -del" }
      queue: { acl: "~q:* +blpop +lpush +ping" }
      reworded: { acl: "+@read +GET -@dangerous ~app:* %RW~b:*" }`;

/** A redis target as the config loader makes it; `extra` is YAML indented for the target body. */
function targetFor(s: RedisServer, opts: { url?: string; extra?: string; password?: string } = {}): TargetConfig {
  const url = opts.url ?? `${s.url.split('://')[0]}://hourglass:\${CACHE_ADMIN_PASSWORD}@127.0.0.1:${s.port}`;
  const yaml = `
credentials:
  key: \${HG_CREDENTIALS_KEY}
targets:
  cache:
    type: redis
    url: ${url}
${opts.extra ?? ''}
    entitlements:${ENTITLEMENTS}
`;
  const config = parseConfig(yaml, { CACHE_ADMIN_PASSWORD: opts.password ?? s.adminPassword, HG_CREDENTIALS_KEY: CREDENTIALS_KEY });
  return config.targets.cache!;
}

const CREDENTIALS_KEY = randomBytes(32).toString('base64');
const scrubberFor = (secrets: string[]) => (t: string) => secrets.reduce((acc, x) => acc.split(x).join('***'), t);

let seq = 0;
function grantOf(target: TargetConfig, names: string[] = ['read']): GrantOnTarget {
  return {
    requestId: `req_redis${Date.now().toString(36)}${(seq++).toString(36)}`,
    principal: 'alice',
    target,
    entitlements: names.map((name) => ({ name, config: target.entitlements[name] as Record<string, unknown> })),
    expiresAt: Date.now() + 3_600_000,
  };
}

// ---- real clients -----------------------------------------------------------------------------------

const clientFor = (creds: Credentials, ca?: string): Redis => bareClient(String(creds.host), Number(creds.port), ca);

async function loggedIn(creds: Credentials, ca?: string): Promise<{ c: Redis; refused?: string }> {
  const c = clientFor(creds, ca);
  await c.connect();
  try {
    await c.call('AUTH', String(creds.username), String(creds.password));
    return { c };
  } catch (e) {
    const m = (e as Error).message;
    if (/WRONGPASS|NOAUTH/.test(m)) return { c, refused: m };
    c.disconnect();
    throw e;
  }
}

async function attempt(creds: Credentials, action: (c: Redis) => Promise<unknown>, ca?: string): Promise<ProbeResult> {
  const { c, refused } = await loggedIn(creds, ca);
  try {
    if (refused) return 'login-refused';
    try {
      await action(c);
      return 'ok';
    } catch (e) {
      if (/^NOPERM/.test((e as Error).message)) return 'action-refused';
      throw e;
    }
  } finally {
    c.disconnect();
  }
}

const readApp = (c: Redis) => c.get('app:x');
const writeApp = (c: Redis) => c.set('app:x', 'changed');

async function seed(s: RedisServer): Promise<void> {
  const root = rootClient(s);
  try {
    await root.set('app:x', 'hello');
    await root.set('other:x', 'secret');
  } finally {
    root.disconnect();
  }
}

async function withRoot<T>(s: RedisServer, fn: (root: Redis) => Promise<T>): Promise<T> {
  const root = rootClient(s);
  try {
    return await fn(root);
  } finally {
    root.disconnect();
  }
}

const errorOf = (p: Promise<unknown>): Promise<Error | undefined> =>
  p.then(
    () => undefined,
    (e: Error) => e,
  );

// ---- the shared contract ------------------------------------------------------------------------------

connectorContract('redis', { issuesCredentials: true, endsSessions: true, enforcesExpiry: false, canList: true }, async () => {
  const s = await server();
  await seed(s);
  return {
    factory: redisConnectorFactory,
    target: targetFor(s),
    entitlement: 'read',
    probe: (creds) => attempt(creds, readApp),
    probeBeyond: (creds) => attempt(creds, writeApp),
    async openSession(creds) {
      const { c, refused } = await loggedIn(creds);
      if (refused) throw new Error(`session refused: ${refused}`);
      return {
        // The session is alive while the server answers on it; NOPERM (PING is not in @read)
        // is an answer. A killed connection rejects.
        async alive() {
          try {
            await c.ping();
            return true;
          } catch (e) {
            return /^NOPERM/.test((e as Error).message);
          }
        },
        async close() {
          c.disconnect();
        },
      };
    },
    secrets: [s.adminPassword, s.rootPassword],
    refused: { acl: '+nosuchcommand' },
    async teardown() {},
  };
});

// ---- Redis specifics -------------------------------------------------------------------------------------

describe('redis connector', () => {
  let s: RedisServer;
  let target: TargetConfig;
  let c: Connector;
  const opened: Connector[] = [];
  const make = (t: TargetConfig, secrets: string[] = []) => {
    const conn = redisConnectorFactory.create(t, { secretsToScrub: scrubberFor([s.adminPassword, s.rootPassword, ...secrets]) });
    opened.push(conn);
    return conn;
  };

  beforeAll(async () => {
    s = await server();
    await seed(s);
    target = targetFor(s);
    c = make(target);
  });
  afterAll(async () => {
    await Promise.all(opened.map((x) => x.close()));
  });

  it('hands out credentials for a user named after the request, on the client host and port', async () => {
    const t = targetFor(s, { extra: '    clientHost: cache.example.internal\n    clientPort: 7000' });
    const conn = make(t);
    const g = { ...grantOf(t), requestId: 'req_ünïcode/1' };
    const { credentials } = await conn.grant(g);
    expect(credentials).toMatchObject({ username: 'hg_req_.c3.bcn.c3.afcode.2f1', host: 'cache.example.internal', port: 7000, tls: false });
    expect(credentials!.url).toBe(`redis://hg_req_.c3.bcn.c3.afcode.2f1:${credentials!.password}@cache.example.internal:7000`);
    expect(String(credentials!.password)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const found = (await conn.reconciliation!.list()).find((f) => f.account === credentials!.username);
    expect(found?.requestId).toBe('req_ünïcode/1');
    await conn.revoke(g);
  });

  it('sends the password only as its SHA-256: not on the wire, not in MONITOR, not in ACL LIST', async () => {
    // A recording TCP proxy between the connector and Redis sees every byte the connector sends.
    const sent: Buffer[] = [];
    const proxy = net.createServer((down) => {
      const up = net.connect(s.port, '127.0.0.1');
      down.on('data', (d: Buffer) => {
        sent.push(d);
        up.write(d);
      });
      up.pipe(down);
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
      down.on('close', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as net.AddressInfo).port;
    const monitor = await rootClient(s).monitor();
    const monitored: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => monitored.push(args.join(' ')));
    try {
      const t = targetFor(s, { url: `redis://hourglass:\${CACHE_ADMIN_PASSWORD}@127.0.0.1:${proxyPort}` });
      const conn = make(t);
      const g = grantOf(t);
      const { credentials } = await conn.grant(g);
      const password = String(credentials!.password);
      const hash = createHash('sha256').update(password).digest('hex');
      // Everything the connector sent (the probe below logs in through the proxy as well).
      const wire = Buffer.concat(sent).toString('latin1');
      expect(wire).toContain(`#${hash}`);
      expect(wire).not.toContain(password);
      expect(await attempt(credentials!, readApp)).toBe('ok');
      await new Promise((r) => setTimeout(r, 50));
      expect(monitored.join('\n')).not.toContain(password);

      await withRoot(s, async (root) => {
        const lines = ((await root.call('ACL', 'LIST')) as string[]).join('\n');
        expect(lines).not.toContain(password);
        expect(lines).toMatch(new RegExp(`^user ${credentials!.username} on (\\S+ )?#${hash} `, 'm'));
      });
      await conn.revoke(g);
    } finally {
      monitor.disconnect();
      proxy.close();
    }
  });

  it('key patterns and command rules hold: read only app:*, no writes, nothing elsewhere', async () => {
    const g = grantOf(target, ['read']);
    const { credentials } = await c.grant(g);
    expect(await attempt(credentials!, readApp)).toBe('ok');
    expect(await attempt(credentials!, (r) => r.get('other:x'))).toBe('action-refused');
    expect(await attempt(credentials!, writeApp)).toBe('action-refused');
    expect(await attempt(credentials!, (r) => r.call('ACL', 'LIST'))).toBe('action-refused');
    await c.revoke(g);

    const w = grantOf(target, ['write']);
    const wc = (await c.grant(w)).credentials!;
    expect(await attempt(wc, (r) => r.set('app:y', '1'))).toBe('ok');
    expect(await attempt(wc, (r) => r.del('app:y'))).toBe('action-refused');
    expect(await attempt(wc, (r) => r.set('other:y', '1'))).toBe('action-refused');
    await c.revoke(w);
  });

  it('two entitlements in one request each keep to their own keys (one selector per extra entitlement)', async () => {
    const g = grantOf(target, ['read', 'queue']);
    const { credentials } = await c.grant(g);
    expect(await attempt(credentials!, readApp)).toBe('ok');
    expect(await attempt(credentials!, (r) => r.lpush('q:1', 'job'))).toBe('ok');
    // A flat union of the rules ("~app:* ~q:* +@read +lpush ...") would allow both of these.
    expect(await attempt(credentials!, (r) => r.lpush('app:x', 'job'))).toBe('action-refused');
    expect(await attempt(credentials!, (r) => r.get('q:1'))).toBe('action-refused');

    const found = (await c.reconciliation!.list()).find((f) => f.requestId === g.requestId)!;
    const want = c.reconciliation!.expected(g);
    // Entitlements in name order: `queue` is the root rule set, `read` a selector.
    expect(want[0]).toBe('on');
    expect(want.slice(1, 2)).toEqual(['~q:*']);
    expect(want.slice(2, -1).sort()).toEqual(['+blpop', '+lpush', '+ping']);
    expect(want.at(-1)).toBe('(~app:* +@read)');
    expect([...found.holds].sort()).toEqual([...want].sort());
    await c.revoke(g);
    expect(await attempt(credentials!, readApp)).toBe('login-refused');
  });

  it('list and expected describe rules in the server’s own words, even when Redis rewrites them', async () => {
    const fresh = make(target);
    const g = grantOf(target, ['reworded']);
    await fresh.grant(g);
    const found = (await fresh.reconciliation!.list()).find((f) => f.requestId === g.requestId)!;
    // Redis prints "+@read +GET -@dangerous" as "+@read -keys -sort_ro" and "%RW~b:*" as "~b:*".
    expect(found.holds).toEqual(expect.arrayContaining(['on', '~app:*', '~b:*', '+@read', '-keys']));
    expect([...fresh.reconciliation!.expected(g)].sort()).toEqual([...found.holds].sort());
    await fresh.revoke(g);
  });

  it('list reports changes made behind Hourglass’s back, and only prefixed accounts', async () => {
    const g = grantOf(target, ['read']);
    const { credentials } = await c.grant(g);
    await withRoot(s, (root) => root.call('ACL', 'SETUSER', String(credentials!.username), 'off', '+set', '&news'));
    const all = await c.reconciliation!.list();
    expect(all.map((f) => f.account).every((a) => a.startsWith('hg_'))).toBe(true);
    expect(all.map((f) => f.account)).not.toContain('hourglass');
    const found = all.find((f) => f.requestId === g.requestId)!;
    const want = c.reconciliation!.expected(g);
    expect(want.filter((x) => !found.holds.includes(x))).toEqual(['on']); // missing: the user was disabled
    expect(found.holds.filter((x) => !want.includes(x)).sort()).toEqual(['&news', '+set', 'off']); // extra
    await c.revoke(g);
  });

  it('revoke ends a client blocked in BLPOP, and leaves no connection of the user', async () => {
    const g = grantOf(target, ['queue']);
    const { credentials } = await c.grant(g);
    const { c: session, refused } = await loggedIn(credentials!);
    expect(refused).toBeUndefined();
    const blocked = errorOf(session.blpop('q:never', 0));
    await new Promise((r) => setTimeout(r, 50));
    await withRoot(s, async (root) => {
      expect(String(await root.call('CLIENT', 'LIST'))).toContain(`user=${credentials!.username} `);
    });
    const started = Date.now();
    await c.revoke(g);
    const err = await Promise.race([blocked, new Promise<string>((r) => setTimeout(() => r('still blocked'), 2_000))]);
    expect(err).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(1_000);
    await withRoot(s, async (root) => {
      expect(String(await root.call('CLIENT', 'LIST'))).not.toContain(`user=${credentials!.username} `);
    });
    session.disconnect();
  });

  it('Redis 7 behaviour the end relies on: reset strips an open session at once, DELUSER closes it, CLIENT KILL USER of a deleted user is an error', async () => {
    await withRoot(s, async (root) => {
      await root.call('ACL', 'SETUSER', 'probe_user', 'on', '>pw-probe', '+ping');
      const { c: session } = await loggedIn({ host: '127.0.0.1', port: s.port, username: 'probe_user', password: 'pw-probe' });
      expect(await session.ping()).toBe('PONG');
      await root.call('ACL', 'SETUSER', 'probe_user', 'reset');
      // Still connected (neither off nor reset disconnects), but every command is refused.
      expect((await errorOf(session.ping()))?.message).toMatch(/^NOPERM/);
      expect(await root.call('ACL', 'DELUSER', 'probe_user')).toBe(1);
      expect(await errorOf(session.ping())).toBeInstanceOf(Error);
      session.disconnect();
      expect((await errorOf(root.call('CLIENT', 'KILL', 'USER', 'probe_user')))?.message).toMatch(/No such user/);
    });
  });

  it('revoking what is not there succeeds and leaves nothing: never granted, or dropped by ACL LOAD', async () => {
    const never = grantOf(target);
    await c.revoke(never);
    await withRoot(s, async (root) => {
      expect((await root.call('ACL', 'USERS')) as string[]).not.toContain(`hg_${never.requestId}`);
    });

    const g = grantOf(target);
    const { credentials } = await c.grant(g);
    // An operator reloads the aclfile: temporary users are not in it and vanish.
    await withRoot(s, (root) => root.call('ACL', 'LOAD'));
    expect((await c.reconciliation!.list()).find((f) => f.requestId === g.requestId)).toBeUndefined();
    expect(await attempt(credentials!, readApp)).toBe('login-refused');
    await c.revoke(g);
  });

  it('removeOrphan refuses accounts that are not Hourglass’s', async () => {
    const err = await errorOf(c.reconciliation!.removeOrphan({ account: 'root', holds: [] }));
    expect(err).toBeInstanceOf(HgError);
    const adminNamed = await errorOf(c.reconciliation!.removeOrphan({ account: 'hourglass', holds: [] }));
    expect(adminNamed).toBeInstanceOf(HgError);
    await withRoot(s, async (root) => {
      expect((await root.call('ACL', 'USERS')) as string[]).toEqual(expect.arrayContaining(['root', 'hourglass']));
    });
  });

  it('errors carry no secrets: a wrong admin password, a rule the server refuses', async () => {
    const wrong = 'Wr0ng-admin-Secret-value';
    const bad = make(targetFor(s, { password: wrong }), [wrong]);
    const health = await bad.health();
    expect(health.ok).toBe(false);
    expect(health.detail).toMatch(/WRONGPASS/);
    expect(health.detail).not.toContain(wrong);
    const err = await errorOf(bad.grant(grantOf(target)));
    expect(err).toBeInstanceOf(HgError);
    expect((err as HgError).code).toBe('HG_TARGET_UNAVAILABLE');
    expect(err!.message).not.toContain(wrong);
    expect(err).not.toHaveProperty('command');
    expect(err).not.toHaveProperty('cause');

    const refused = await errorOf(c.grant({ ...grantOf(target), entitlements: [{ name: 'nope', config: { acl: '~app:* +nosuchcommand' } }] }));
    expect(refused).toBeInstanceOf(HgError);
    expect(refused!.message).toMatch(/nosuchcommand/);
    expect(refused!.message).not.toMatch(/[0-9a-f]{64}/);
    expect(refused).not.toHaveProperty('command');
    for (const secret of [s.adminPassword, s.rootPassword]) expect(refused!.message).not.toContain(secret);
  });

  it('an unreachable server is reported at once, and revoke fails loudly (to be retried) rather than passing', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const conn = make(targetFor(s, { url: `redis://hourglass:\${CACHE_ADMIN_PASSWORD}@127.0.0.1:${closed}` }));
    const started = Date.now();
    const h = await conn.health();
    expect(h).toMatchObject({ ok: false, detail: expect.stringMatching(/ECONNREFUSED/) });
    expect(h.detail).not.toContain(s.adminPassword);
    const err = await errorOf(conn.revoke(grantOf(target)));
    expect((err as HgError).code).toBe('HG_TARGET_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses rules that touch passwords, user state or selectors, at validation and again at grant', async () => {
    const hand = (acl: string): TargetConfig => ({ ...target, entitlements: { x: { acl } } });
    for (const acl of [
      '~app:* nopass',
      '>secret +get',
      '#' + 'a'.repeat(64),
      '<x',
      '!abc',
      'on +get',
      'OFF',
      'reset +get',
      'ReSetKeys',
      '(~q:* +get)',
      'clearselectors',
      'skip-sanitize-payload',
      'what?',
      '',
    ]) {
      const problems = redisConnectorFactory.validate(hand(acl));
      expect(problems.length, acl).toBeGreaterThan(0);
      expect(problems[0]!.path).toEqual(['entitlements', 'x', 'acl']);
      const err = await errorOf(c.grant({ ...grantOf(target), entitlements: [{ name: 'x', config: { acl } }] }));
      expect((err as HgError).code, acl).toBe('HG_CONFIG_INVALID');
      if (acl.startsWith('>')) expect(err!.message).not.toContain('secret');
    }
    for (const acl of ['~app:* +@read', 'allkeys allcommands', '%R~a:* &chan:* +client|list -@dangerous +json.get']) {
      expect(redisConnectorFactory.validate(hand(acl)), acl).toEqual([]);
    }
  });

  it('validate: the admin user must not carry the account prefix; rediss:// with tls mode disable is a contradiction', () => {
    const prefixed = { ...target, url: `redis://hg_admin:x@127.0.0.1:${s.port}` };
    expect(redisConnectorFactory.validate(prefixed)).toEqual([{ path: ['url'], message: expect.stringContaining('account prefix') }]);
    const contradiction = { ...target, url: `rediss://hourglass:x@127.0.0.1:${s.port}`, tls: { mode: 'disable' } };
    expect(redisConnectorFactory.validate(contradiction)).toEqual([{ path: ['tls', 'mode'], message: expect.stringContaining('rediss') }]);
    const halfCert = { ...target, tls: { mode: 'verify-full', cert: 'file:/nonexistent/cert.pem' } };
    expect(redisConnectorFactory.validate(halfCert).map((p) => p.path.join('.'))).toEqual(['tls.cert', 'tls']);
  });

  it('health checks the admin account’s permissions with ACL DRYRUN and the entitlements against the server', async () => {
    expect(await c.health()).toEqual({ ok: true });
    await withRoot(s, (root) =>
      root.call(
        'ACL',
        'SETUSER',
        'weak',
        'reset',
        'on',
        '>weak-pw',
        '+ping',
        '+acl|whoami',
        '+acl|users',
        '+acl|getuser',
        '+acl|setuser',
        '+acl|deluser',
        '+acl|dryrun',
      ),
    );
    const weak = make(targetFor(s, { url: `redis://weak:weak-pw@127.0.0.1:${s.port}` }));
    const h = await weak.health();
    expect(h.ok).toBe(false);
    expect(h.detail).toMatch(/may not run: client\|kill/);

    const badRules: TargetConfig = { ...target, entitlements: { ...target.entitlements, broken: { acl: '~x +nosuchcommand' } } };
    const h2 = await make(badRules).health();
    expect(h2).toMatchObject({ ok: false, detail: expect.stringMatching(/entitlement broken: .*nosuchcommand/) });
  });

  it('close() ends the admin connection; the connector refuses work afterwards', async () => {
    const conn = make(target);
    expect((await conn.health()).ok).toBe(true);
    await conn.close();
    const err = await errorOf(conn.grant(grantOf(target)));
    expect((err as HgError).code).toBe('HG_TARGET_UNAVAILABLE');
  });
});

describe('redis connector over TLS', () => {
  let s: RedisServer;
  const opened: Connector[] = [];
  const make = (t: TargetConfig) => {
    const conn = redisConnectorFactory.create(t, { secretsToScrub: scrubberFor([s.adminPassword, s.rootPassword]) });
    opened.push(conn);
    return conn;
  };
  beforeAll(async () => {
    s = await startRedis({ tls: true });
    await seed(s);
  });
  afterAll(async () => {
    await Promise.all(opened.map((x) => x.close()));
    await s?.stop();
  });

  const tlsBlock = (lines: string[]) => `    tls:\n${lines.map((l) => `      ${l}`).join('\n')}`;
  const caLines = () => [
    'ca: |',
    ...s
      .caPem!.trim()
      .split('\n')
      .map((l) => `  ${l}`),
  ];

  it('verify-full with the CA: grants over TLS, hands out a rediss:// URL', async () => {
    const t = targetFor(s, { extra: tlsBlock(caLines()) });
    expect(redisConnectorFactory.validate(t)).toEqual([]);
    const conn = make(t);
    expect(await conn.health()).toEqual({ ok: true });
    const g = grantOf(t);
    const { credentials } = await conn.grant(g);
    expect(credentials!.url).toMatch(/^rediss:\/\//);
    expect(credentials!.tls).toBe(true);
    expect(await attempt(credentials!, readApp, s.caPem)).toBe('ok');
    await conn.revoke(g);
    expect(await attempt(credentials!, readApp, s.caPem)).toBe('login-refused');
  });

  it('verify-full refuses a certificate for another name or from an unknown CA; verify-ca and require do not check the name', async () => {
    const caFile = path.join(s.dir, 'ca-copy.pem');
    writeFileSync(caFile, s.caPem!);
    const wrongName = make(targetFor(s, { extra: tlsBlock([`ca: file:${caFile}`, 'serverName: cache.example.com']) }));
    const h = await wrongName.health();
    expect(h.ok).toBe(false);
    expect(h.detail).toMatch(/cache\.example\.com|altnames|certificate/i);

    const systemCas = make(targetFor(s, { extra: tlsBlock(['mode: verify-full']) }));
    expect((await systemCas.health()).ok).toBe(false);

    const verifyCa = make(targetFor(s, { extra: tlsBlock([`ca: file:${caFile}`, 'serverName: cache.example.com', 'mode: verify-ca']) }));
    expect(await verifyCa.health()).toEqual({ ok: true });

    const requireOnly = make(targetFor(s, { extra: tlsBlock(['mode: require']) }));
    expect(await requireOnly.health()).toEqual({ ok: true });
  });
});

describe('redis ACL rule helpers (no server)', () => {
  it('account names encode request ids reversibly and never yield spaces', () => {
    for (const id of ['req_01jc9zabcdef', 'req_ünïcode/1', 'a b\tc', 'x.y', '..', 'req-1_2']) {
      const enc = encodeRequestId(id);
      expect(enc).toMatch(/^(?:[A-Za-z0-9_-]|\.[0-9a-f]{2})+$/);
      expect(decodeRequestId(enc)).toBe(id);
    }
    expect(decodeRequestId('!canonical.ab12')).toBeUndefined();
    expect(decodeRequestId('.C3')).toBeUndefined(); // not what encodeRequestId writes
  });

  it('the local fallback wording: aliases, %RW~, lowercase commands, implied -@all, later rules win', () => {
    expect(normaliseLocally(['allkeys', 'allchannels', 'allcommands'])).toEqual(['~*', '&*', '+@all']);
    expect(normaliseLocally(['%RW~a', '%r~b', '+GET', '+@READ', '-get'])).toEqual(['~a', '%R~b', '+@read', '-get']);
    expect(normaliseLocally(['+get', '-@all', '+set'])).toEqual(['+set']);
    expect(normaliseLocally(['~a', '~a', '+client|list', '+client'])).toEqual(['~a', '+client']);
  });
});
