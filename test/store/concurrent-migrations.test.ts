/**
 * Several servers starting at once on one fresh PostgreSQL database: each runs the migrations on
 * open, and all of them must come up on the same, complete schema (none fails on a table another
 * is creating, none applies a migration twice).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/adapters/store/open-store.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';

describe('migrations with concurrent starts (PostgreSQL)', () => {
  let pg: PostgresServer;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('five stores opened at once on an empty database all succeed, each migration applied once', async () => {
    const opened = await Promise.allSettled(Array.from({ length: 5 }, () => openStore(pg.url, { cwd: '.' })));
    try {
      const failures = opened.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
      expect(failures).toEqual([]);
      const first = opened[0]!.status === 'fulfilled' ? opened[0]!.value : undefined;
      const { rows } = await sql<{ name: string }>`SELECT name FROM hg_migrations`.execute(first!.store.db);
      const names = rows.map((r) => r.name);
      expect(new Set(names).size).toBe(names.length);
      expect(names.length).toBeGreaterThanOrEqual(13);
    } finally {
      for (const r of opened) if (r.status === 'fulfilled') await r.value.close();
    }
  });
});
