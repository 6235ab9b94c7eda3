import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_ADMIN_ACL_RULES } from '../../src/adapters/connectors/redis/index.js';
import { findRedisServer, rootClient, startRedis, type RedisServer } from './redis-server.js';
import { portAcceptsConnections, processAlive } from './server-process.js';

/** A client that does not log in by itself: tests send AUTH explicitly. */
function bareClient(port: number): Redis {
  const c = new Redis({ host: '127.0.0.1', port, enableReadyCheck: false, disableClientInfo: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  return c;
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => '',
    (e: Error) => e.message,
  );

describe('startRedis', () => {
  const started: RedisServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });

  it('starts a server whose admin user holds exactly the connector rules, default user disabled', async () => {
    const server = await startRedis();
    started.push(server);
    expect(server.url).toBe(`redis://hourglass:${encodeURIComponent(server.adminPassword)}@127.0.0.1:${server.port}`);

    const admin = bareClient(server.port);
    try {
      expect(await admin.call('AUTH', 'hourglass', server.adminPassword)).toBe('OK');
      expect(await admin.call('ACL', 'WHOAMI')).toBe('hourglass');
      expect(await admin.ping()).toBe('PONG');
      // No data access and nothing beyond ACL user management and CLIENT KILL.
      expect(await errorOf(admin.get('app:x'))).toMatch(/^NOPERM/);
      expect(await errorOf(admin.call('CONFIG', 'GET', 'dir'))).toMatch(/^NOPERM/);
      expect(await errorOf(admin.call('CLIENT', 'LIST'))).toMatch(/^NOPERM/);
      expect(await errorOf(admin.call('ACL', 'SAVE'))).toMatch(/^NOPERM/);
    } finally {
      admin.disconnect();
    }

    const anon = bareClient(server.port);
    try {
      expect(await errorOf(anon.get('x'))).toMatch(/^NOAUTH/);
      expect(await errorOf(anon.call('AUTH', 'default', ''))).toMatch(/WRONGPASS/);
    } finally {
      anon.disconnect();
    }

    const root = rootClient(server);
    try {
      expect(await root.set('app:x', 'v')).toBe('OK');
      const lines = (await root.call('ACL', 'LIST')) as string[];
      // Redis reorders rules when it prints them: compare the sets.
      const admin = lines
        .find((l) => l.startsWith('user hourglass '))!
        .split(' ')
        .slice(2);
      expect(admin.filter((t) => !t.startsWith('#')).sort()).toEqual(['on', ...REDIS_ADMIN_ACL_RULES.split(' ').filter((t) => t !== 'resetkeys')].sort());
      expect(lines.find((l) => l.startsWith('user default '))).toMatch(/^user default off /);
      // Nothing persisted, nothing listening beyond loopback.
      expect(await root.call('CONFIG', 'GET', 'save')).toEqual(['save', '']);
      expect(await root.call('CONFIG', 'GET', 'appendonly')).toEqual(['appendonly', 'no']);
      expect(await root.call('CONFIG', 'GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    } finally {
      root.disconnect();
    }
    // The aclfile holds password hashes only.
    const acl = readFileSync(server.aclFile, 'utf8');
    expect(acl).not.toContain(server.adminPassword);
    expect(acl).not.toContain(server.rootPassword);
  });

  it('runs servers side by side and stop() ends the process and removes its directory', async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    started.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(processAlive(a.pid)).toBe(true);
    await a.stop();
    await a.stop(); // idempotent
    expect(processAlive(a.pid)).toBe(false);
    expect(existsSync(a.dir)).toBe(false);
    expect(await portAcceptsConnections(a.port)).toBe(false);
    expect(await portAcceptsConnections(b.port)).toBe(true);
  });

  it('starts a TLS-only server with a throwaway CA', async () => {
    const server = await startRedis({ tls: true });
    started.push(server);
    expect(server.url.startsWith('rediss://')).toBe(true);
    expect(server.caPem).toMatch(/BEGIN CERTIFICATE/);
    const root = rootClient(server);
    try {
      expect(await root.ping()).toBe('PONG');
    } finally {
      root.disconnect();
    }
    // Plain TCP gets no answer a client could use.
    const plain = bareClient(server.port);
    try {
      expect(await errorOf(Promise.race([plain.ping(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 1_000))]))).not.toBe('');
    } finally {
      plain.disconnect();
    }
  });

  it('names the install script when redis-server is missing', () => {
    expect(() => findRedisServer(['/nonexistent/redis-server'])).toThrow(/bash scripts\/install-test-deps\.sh/);
  });
});
