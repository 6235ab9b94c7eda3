import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { findPostgresBinDir, startPostgres, type PostgresServer } from './postgres-server.js';
import { portAcceptsConnections, processAlive } from './server-process.js';

async function query<T extends pg.QueryResultRow>(connectionString: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('startPostgres', () => {
  const started: PostgresServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });

  it('starts a server and authenticates with the password over TCP', async () => {
    const server = await startPostgres();
    started.push(server);

    expect(server.url).toBe(`postgres://postgres:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/hourglass_test`);
    expect(server.adminUrl).toMatch(new RegExp(`@127\\.0\\.0\\.1:${server.port}/postgres$`));

    const [row] = await query<{ current_user: string; db: string; enc: string }>(
      server.url,
      'SELECT current_user, current_database() AS db, pg_encoding_to_char(encoding) AS enc FROM pg_database WHERE datname = current_database()',
    );
    expect(row).toEqual({ current_user: 'postgres', db: 'hourglass_test', enc: 'UTF8' });

    const [admin] = await query<{ db: string }>(server.adminUrl, 'SELECT current_database() AS db');
    expect(admin?.db).toBe('postgres');
  });

  it('refuses a wrong password', async () => {
    const server = await startPostgres({ database: 'wrong_pw_db' });
    started.push(server);
    const url = new URL(server.url);
    url.password = 'not-the-password';
    const err = await query(url.toString(), 'SELECT 1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('28P01'); // invalid_password
    // The right password still works on that server.
    await expect(query(server.url, 'SELECT 1')).resolves.toHaveLength(1);
  });

  it('starts independent servers on repeated calls', async () => {
    const [a, b] = await Promise.all([startPostgres({ database: 'a' }), startPostgres({ database: 'b' })]);
    started.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(a.dir).not.toBe(b.dir);
    await query(a.url, 'CREATE TABLE only_in_a (x int)');
    const inB = await query<{ n: string }>(b.adminUrl, "SELECT count(*) AS n FROM pg_database WHERE datname = 'a'");
    expect(inB[0]?.n).toBe('0');
  });

  it('stop() shuts the server down and removes its directory, even with a client connected', async () => {
    const server = await startPostgres();
    expect(existsSync(server.dir)).toBe(true);
    expect(processAlive(server.pid)).toBe(true);

    const client = new pg.Client({ connectionString: server.url });
    client.on('error', () => {}); // the fast shutdown terminates this session
    await client.connect();

    const t0 = Date.now();
    await server.stop();
    expect(Date.now() - t0).toBeLessThan(4_000); // no SIGKILL fallback needed
    await client.end().catch(() => {});

    expect(existsSync(server.dir)).toBe(false);
    expect(processAlive(server.pid)).toBe(false);
    expect(await portAcceptsConnections(server.port)).toBe(false);
    await server.stop(); // idempotent
  });

  it('fails loudly, pointing at the install script, when no server binaries exist', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'hourglass-nopg-'));
    try {
      mkdirSync(path.join(root, '15', 'bin'), { recursive: true });
      writeFileSync(path.join(root, '15', 'bin', 'psql'), '');
      expect(() => findPostgresBinDir(root)).toThrow(/scripts\/install-test-deps\.sh/);
      expect(() => findPostgresBinDir(path.join(root, 'missing'))).toThrow(/not found/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('picks the highest installed major version', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'hourglass-pgver-'));
    try {
      for (const v of ['9.6', '15', '16', 'notaversion']) {
        mkdirSync(path.join(root, v, 'bin'), { recursive: true });
        writeFileSync(path.join(root, v, 'bin', 'initdb'), '');
        writeFileSync(path.join(root, v, 'bin', 'postgres'), '');
      }
      expect(findPostgresBinDir(root)).toBe(path.join(root, '16', 'bin'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
