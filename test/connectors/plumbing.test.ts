/**
 * The plumbing every connector shares: one target error (shape, scrubbing, a scrubbed cause) and
 * one validator of the `tls` block, which every kind runs the same way.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { targetError, targetRefusal } from '../../src/adapters/connectors/target-error.js';
import { tlsProblems } from '../../src/adapters/connectors/tls.js';
import { HgError } from '../../src/core/errors.js';
import type { TargetConfig } from '../../src/core/types.js';

class DriverError extends Error {
  code = '28P01';
  sql = "ALTER ROLE x PASSWORD 'hunter2-secret'";
  command = { args: ['hunter2-secret'] };
}

describe('targetError', () => {
  it('has one message shape, scrubbed, with details and the driver error (scrubbed) as cause', () => {
    const driver = new DriverError('auth failed for hunter2-secret');
    const e = targetError('postgres', 'app-db', 'granting account "hg_1"', driver, ['hunter2-secret'], { details: { target: 'app-db', pgCode: '28P01' } });
    expect(e).toBeInstanceOf(HgError);
    expect(e.code).toBe('HG_TARGET_UNAVAILABLE');
    expect(e.message).toBe('postgres target "app-db": granting account "hg_1": auth failed for ***');
    expect(e.details).toEqual({ target: 'app-db', pgCode: '28P01' });
    const cause = e.cause as DriverError;
    expect(cause).toBeInstanceOf(DriverError);
    expect(cause.message).toBe('auth failed for ***');
    expect(cause.code).toBe('28P01');
    expect(cause.sql).toBe("ALTER ROLE x PASSWORD '***'");
    expect(cause.stack).not.toContain('hunter2-secret');
    expect(cause).not.toHaveProperty('command');
  });

  it("takes the kind's wording, a scrubbing function, and can leave the cause out", () => {
    const e = targetError('redis', 'cache', 'revoke', new Error('boom'), (t) => t.replace('boom', 'b**m'), { text: 'boom (ERR 1)', withoutCause: true });
    expect(e.message).toBe('redis target "cache": revoke: b**m (ERR 1)');
    expect(e.details).toEqual({ target: 'cache' });
    expect(e).not.toHaveProperty('cause');
  });

  it('passes an HgError through, its message scrubbed again', () => {
    const inner = new HgError('HG_CONFIG_INVALID', 'bad pw s3cr3t!', { details: { x: 1 } });
    const out = targetError('mariadb', 'shop', 'grant', inner, ['s3cr3t!']);
    expect(out).toMatchObject({ code: 'HG_CONFIG_INVALID', message: 'bad pw ***', details: { x: 1 } });
    expect(targetError('mariadb', 'shop', 'grant', inner, [])).toBe(inner);
  });

  it('refusals have the same shape without an action', () => {
    expect(targetRefusal('mariadb', 'shop', 'the connector is closed', []).message).toBe('mariadb target "shop": the connector is closed');
  });
});

describe('the tls block, checked the same for every kind', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hourglass-tls-'));
  writeFileSync(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  writeFileSync(path.join(dir, 'not.pem'), 'hello');
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['a readable PEM file', { mode: 'verify-full', ca: `file:${path.join(dir, 'ca.pem')}` }, []],
    ['a missing file', { mode: 'verify-full', ca: 'file:/nonexistent/ca.pem' }, ['tls.ca']],
    ['a file that is not PEM', { mode: 'verify-ca', ca: `file:${path.join(dir, 'not.pem')}` }, ['tls.ca']],
    ['inline text that is not PEM', { mode: 'require', ca: 'garbage' }, ['tls.ca']],
    ['half a client certificate', { mode: 'verify-full', key: '-----BEGIN PRIVATE KEY-----' }, ['tls']],
    ['certificates with mode disable', { mode: 'disable', ca: `file:${path.join(dir, 'ca.pem')}` }, ['tls.mode']],
  ];
  const urls: Record<string, string> = {
    postgres: 'postgres://admin:pw@127.0.0.1:5432/db',
    mariadb: 'mysql://admin:pw@127.0.0.1:3306',
    redis: 'redis://admin:pw@127.0.0.1:6379',
  };
  const kinds = connectorFactories.filter((f) => urls[f.kind]);

  it('covers every kind that connects over TLS', () => {
    expect(kinds.map((f) => f.kind).sort()).toEqual(Object.keys(urls).sort());
  });

  for (const [what, tls, paths] of cases) {
    it(`${what}: ${paths.join(', ') || 'no problem'}`, () => {
      expect(tlsProblems(tls).map((p) => p.path.join('.'))).toEqual(paths);
      for (const f of kinds) {
        const target = { type: f.kind, name: 't', url: urls[f.kind], accountPrefix: 'hg_', entitlements: {}, tls } as unknown as TargetConfig;
        const tlsPaths = f
          .validate(target)
          .map((p) => p.path.join('.'))
          .filter((p) => p.startsWith('tls'));
        expect(tlsPaths, f.kind).toEqual(paths);
      }
    });
  }
});
