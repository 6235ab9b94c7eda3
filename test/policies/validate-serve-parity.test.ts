// `hourglass policy validate` and `serve` refuse exactly the same files: both load through the
// target kinds' schemas and semantic checks. For every kind, a file with one semantic problem
// (one the kind's own `validate` finds, not its schema) is refused by both with the same text.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { createLogger, startServer } from '../../src/cli/serve.js';
import { isHgError } from '../../src/core/errors.js';
import { runCli } from '../support/spawn-server.js';
import { isolateCredentials } from '../cli/run.js';

isolateCredentials();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hourglass-parity-'));
const KEY = Buffer.alloc(32, 7).toString('base64');

/** Per kind: a target (YAML under `targets:`) whose only problem is semantic, and that problem's line. */
const SEMANTIC_PROBLEM: Record<string, { target: string; problem: RegExp } | 'no semantic checks'> = {
  hourglass: 'no semantic checks',
  postgres: {
    target: '    type: postgres\n    url: postgres://hourglass:pw@127.0.0.1:5432/app\n    entitlements:\n      write: { roles: [pg_write_server_files] }\n',
    problem:
      /^(.*):8: targets\.t\.entitlements\.write\.roles\[0\]: role "pg_write_server_files" is a privileged built-in role; set allowPrivilegedRoles: true to permit it$/m,
  },
  mariadb: {
    target: '    type: mariadb\n    url: mysql://hourglass:pw@127.0.0.1:3306\n    entitlements:\n      all: { privileges: ["SELECT ON *.*"] }\n',
    problem: /^(.*):8: targets\.t\.entitlements\.all\.privileges\[0\]: global privileges \(\*\.\*\) are never granted by Hourglass.*$/m,
  },
  redis: {
    target: '    type: redis\n    url: redis://hg_admin:pw@127.0.0.1:6379\n    entitlements:\n      read: { acl: "~app:* +@read" }\n',
    problem: /^(.*):6: targets\.t\.url: the admin user must not start with the account prefix "hg_".*$/m,
  },
  ssh: {
    target: `    type: ssh\n    ca: { keyFile: ${path.join(os.tmpdir(), 'hourglass-parity-no-such-ca-key')} }\n    entitlements:\n      login: { principals: [root] }\n`,
    problem: /^(.*):6: targets\.t\.ca\.keyFile: .*hourglass-parity-no-such-ca-key does not exist .*$/m,
  },
  token: {
    target: `    type: token\n    issuer: https://hg.example.com\n    audience: api\n    signingKey: not-a-pem-key\n    entitlements:\n      admin: {}\n`,
    problem: /^(.*):8: targets\.t\.signingKey: not a private key in PKCS#8 PEM form.*$/m,
  },
  webhook: {
    target: `    type: webhook\n    url: http://billing.internal/hourglass\n    secret: ${'s'.repeat(32)}\n    entitlements:\n      refunds: {}\n`,
    problem: /^(.*):6: targets\.t\.url: must be https:\/\/ \(plain http:\/\/ only to a loopback address: answers may carry credentials\)$/m,
  },
};

const fileFor = (kind: string, target: string) => {
  const p = path.join(tmp, `${kind}.yaml`);
  writeFileSync(
    p,
    `server: { store: "sqlite:${path.join(tmp, `${kind}.db`)}", listen: "127.0.0.1:0" }\ncredentials: { key: ${KEY} }\ntargets:\n  t:\n${target}`,
  );
  return p;
};

describe('policy validate and serve run the same checks', () => {
  it('every kind of this build has a case here', () => {
    expect(Object.keys(SEMANTIC_PROBLEM).sort()).toEqual(connectorFactories.map((f) => f.kind).sort());
  });

  for (const factory of connectorFactories) {
    const sample = SEMANTIC_PROBLEM[factory.kind];
    if (typeof sample !== 'object') continue;
    it(`${factory.kind}: a semantic problem is refused by both, with its path and line`, async () => {
      const file = fileFor(factory.kind, sample.target);
      const validate = await runCli(['policy', 'validate', file]);
      expect(validate.code).toBe(2);
      const printed = sample.problem.exec(validate.stdout);
      expect(printed, validate.stdout + validate.stderr).not.toBeNull();

      const env = { HOURGLASS_LOG_LEVEL: 'silent' };
      const refused = await startServer(file, env, createLogger(env)).then(
        async (s) => {
          await s.stop();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(isHgError(refused) && refused.code).toBe('HG_CONFIG_INVALID');
      expect((refused as Error).message.split('\n')).toContain(printed![0]);
    });
  }
});
