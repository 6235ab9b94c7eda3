import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { findMariadbBinaries, startMariadb, type MariadbServer } from './mariadb-server.js';
import { portAcceptsConnections, processAlive } from './server-process.js';

async function query<T = Record<string, unknown>>(opts: string | mysql.ConnectionOptions, sql: string): Promise<T[]> {
  const conn = await mysql.createConnection(opts as mysql.ConnectionOptions);
  try {
    const [rows] = await conn.query(sql);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

describe('startMariadb', () => {
  const started: MariadbServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });

  it('starts a server quickly; root authenticates with its password over TCP and the socket', async () => {
    const t0 = Date.now();
    const server = await startMariadb();
    started.push(server);
    expect(Date.now() - t0).toBeLessThan(10_000);

    expect(server.url).toBe(`mysql://root:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/hourglass_test`);
    expect(server.rootUrl).toBe(`mysql://root:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}`);
    const [row] = await query<{ u: string; d: string; v: string }>(server.url, 'SELECT CURRENT_USER() AS u, DATABASE() AS d, VERSION() AS v');
    expect(row).toMatchObject({ u: 'root@127.0.0.1', d: 'hourglass_test' });
    expect(row!.v).toMatch(/MariaDB/);

    const viaSocket = await query<{ one: number }>({ socketPath: server.socket, user: 'root', password: server.password }, 'SELECT 1 AS one');
    expect(viaSocket[0]?.one).toBe(1);
    // Only the loopback root accounts are left, each with a password.
    const roots = await query<{ Host: string; pw: number }>(
      server.rootUrl,
      "SELECT Host, authentication_string <> '' AS pw FROM mysql.user WHERE User = 'root' ORDER BY Host",
    );
    expect(roots.map((r) => r.Host).sort()).toEqual(['127.0.0.1', '::1', 'localhost']);
    expect(roots.every((r) => Number(r.pw) === 1)).toBe(true);
  });

  it('refuses a wrong or missing password (TCP and socket)', async () => {
    const server = await startMariadb({ database: 'other_db' });
    started.push(server);
    const url = new URL(server.url);
    url.password = 'not-the-password';
    const err = await query(url.toString(), 'SELECT 1').catch((e: unknown) => e);
    expect((err as { errno?: number }).errno).toBe(1045);
    const noPw = await query({ socketPath: server.socket, user: 'root' }, 'SELECT 1').catch((e: unknown) => e);
    expect((noPw as { errno?: number }).errno).toBe(1045);
    await expect(query(server.url, 'SELECT 1')).resolves.toHaveLength(1);
  });

  it('starts independent servers on repeated calls', async () => {
    const [a, b] = await Promise.all([startMariadb({ database: 'a' }), startMariadb({ database: 'b' })]);
    started.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(a.dir).not.toBe(b.dir);
    await query(a.url, 'CREATE TABLE only_in_a (x int)');
    const inB = await query<{ n: number }>(b.rootUrl, "SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'a'");
    expect(Number(inB[0]?.n)).toBe(0);
  });

  it('stop() shuts the server down and removes its directory, even with a client connected', async () => {
    const server = await startMariadb();
    expect(existsSync(server.dir)).toBe(true);
    expect(processAlive(server.pid)).toBe(true);

    const client = await mysql.createConnection(server.url);
    client.on('error', () => {});

    const t0 = Date.now();
    await server.stop();
    expect(Date.now() - t0).toBeLessThan(4_000); // no SIGKILL fallback needed
    await client.end().catch(() => {});

    expect(existsSync(server.dir)).toBe(false);
    expect(processAlive(server.pid)).toBe(false);
    expect(await portAcceptsConnections(server.port)).toBe(false);
    await server.stop(); // idempotent
  });

  it('fails loudly, pointing at the install script, when the server binaries are missing', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'hourglass-nomariadb-'));
    try {
      const installDb = path.join(root, 'mariadb-install-db');
      writeFileSync(installDb, '');
      expect(() => findMariadbBinaries([path.join(root, 'mariadbd')], [installDb])).toThrow(/scripts\/install-test-deps\.sh/);
      expect(() => findMariadbBinaries([path.join(root, 'mariadbd')], [installDb])).toThrow(/mariadbd/);
      expect(findMariadbBinaries()).toMatchObject({ server: expect.any(String), installDb: expect.any(String) });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
