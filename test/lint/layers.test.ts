// The layering rules of eslint.config.js, proved on small snippets linted as if they sat in
// each layer: losing or loosening a rule fails here, not silently in review.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: root, overrideConfigFile: path.join(root, 'eslint.config.js') });
});

/** The rule ids reported for `code` linted as the file `file` (relative to the repository). */
async function rulesHit(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

async function messages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.map((m) => m.message);
}

describe('src/core is pure', () => {
  const file = 'src/core/fixture.ts';

  it.each([
    ['an adapter', "import { x } from '../adapters/store/kysely-store.js';\nexport const y = x;\n"],
    ['a use case', "import type { Store } from '../app/ports.js';\nexport type Y = Store;\n"],
    ['the HTTP shell', "export { buildServer } from '../http/build-server.js';\n"],
    ['the CLI', "export * from '../cli/serve.js';\n"],
    ['the configuration', "import type { HourglassConfig } from '../config/types.js';\nexport type Y = HourglassConfig;\n"],
  ])('may not import %s', async (_what, code) => {
    expect(await rulesHit(file, code)).toEqual(['no-restricted-imports']);
  });

  it.each(['node:fs', 'fs', 'node:net', 'node:http', 'node:child_process', 'pg', 'better-sqlite3', 'fastify', 'ioredis', 'mysql2'])(
    'does no I/O: %s is refused',
    async (mod) => {
      expect(await rulesHit(file, `import * as m from '${mod}';\nexport const y = m;\n`)).toEqual(['no-restricted-imports']);
    },
  );

  it('may hash with node:crypto and import its own modules', async () => {
    const code = "import { createHash } from 'node:crypto';\nimport { HgError } from './errors.js';\nexport const y = [createHash, HgError];\n";
    expect(await rulesHit(file, code)).toEqual([]);
  });

  it('reads no clock and draws no random number', async () => {
    expect(await rulesHit(file, 'export const t = Date.now();\n')).toEqual(['no-restricted-properties']);
    expect(await rulesHit(file, 'export const r = Math.random();\n')).toEqual(['no-restricted-properties']);
    expect(await rulesHit(file, 'export const d = new Date();\n')).toEqual(['no-restricted-syntax']);
  });
});

describe('src/app takes time and randomness through ports', () => {
  const file = 'src/app/fixture.ts';

  it('refuses Date.now(), new Date(), Date() and Math.random()', async () => {
    expect(await rulesHit(file, 'export const t = Date.now();\n')).toEqual(['no-restricted-properties']);
    expect(await rulesHit(file, 'export const now = Date.now;\n')).toEqual(['no-restricted-properties']);
    expect(await rulesHit(file, 'export const d = new Date();\n')).toEqual(['no-restricted-syntax']);
    expect(await rulesHit(file, 'export const s = Date();\n')).toEqual(['no-restricted-syntax']);
    expect(await rulesHit(file, 'export const r = Math.random();\n')).toEqual(['no-restricted-properties']);
    expect((await messages(file, 'export const t = Date.now();\n'))[0]).toMatch(/Clock port/);
  });

  it('may build a date from a given time', async () => {
    expect(await rulesHit(file, 'export const iso = (now: number) => new Date(now).toISOString();\n')).toEqual([]);
  });

  it.each([
    ['an adapter', "import { Scheduler } from '../adapters/scheduler.js';\nexport const y = Scheduler;\n"],
    ['the HTTP shell', "import { buildServer } from '../http/build-server.js';\nexport const y = buildServer;\n"],
    ['the CLI', "import { serveCommand } from '../cli/serve.js';\nexport const y = serveCommand;\n"],
  ])('may not import %s', async (_what, code) => {
    expect(await rulesHit(file, code)).toEqual(['no-restricted-imports']);
  });

  it('may import core, the configuration types and its own ports', async () => {
    const code =
      "import { HgError } from '../core/errors.js';\nimport type { HourglassConfig } from '../config/types.js';\nimport type { Clock } from './ports.js';\n" +
      'export const y = (c: Clock, h: HourglassConfig) => [HgError, c, h];\n';
    expect(await rulesHit(file, code)).toEqual([]);
  });
});

describe('src/http imports no adapters', () => {
  const file = 'src/http/routes/fixture.ts';

  it('not even a type', async () => {
    const code = "import type { SchedulerStatus } from '../../adapters/scheduler.js';\nexport type Y = SchedulerStatus;\n";
    expect(await rulesHit(file, code)).toEqual(['no-restricted-imports']);
    expect((await messages(file, code))[0]).toMatch(/src\/http is a thin shell/);
  });

  it('neither through import() nor an import type', async () => {
    expect(await rulesHit(file, "export const m = () => import('../../adapters/scheduler.js');\n")).toEqual(['no-restricted-syntax']);
    expect(await rulesHit(file, "export type S = import('../../adapters/scheduler.js').SchedulerStatus;\n")).toEqual(['no-restricted-syntax']);
  });

  it('imports no CLI, and may import the use cases and ports', async () => {
    expect(await rulesHit(file, "export { serveCommand } from '../../cli/serve.js';\n")).toEqual(['no-restricted-imports']);
    const code = "import type { SchedulerStatus } from '../../app/ports.js';\nexport type Y = SchedulerStatus;\n";
    expect(await rulesHit(file, code)).toEqual([]);
  });
});

describe('src/config', () => {
  const file = 'src/config/fixture.ts';

  it.each([
    ['an adapter', "import { x } from '../adapters/connectors/registry.js';\nexport const y = x;\n"],
    ['a use case', "import type { Store } from '../app/ports.js';\nexport type Y = Store;\n"],
    ['the HTTP shell', "import { x } from '../http/route.js';\nexport const y = x;\n"],
    ['the CLI', "import { x } from '../cli/serve.js';\nexport const y = x;\n"],
  ])('may not import %s', async (_what, code) => {
    expect(await rulesHit(file, code)).toEqual(['no-restricted-imports']);
  });
});

describe('the edges', () => {
  it('adapters may read the clock and import app', async () => {
    const code = "import type { Clock } from '../app/ports.js';\nexport const clock: Clock = { now: () => Date.now() };\n";
    expect(await rulesHit('src/adapters/fixture.ts', code)).toEqual([]);
  });
});

describe('npm test', () => {
  it('runs the linter after the typecheck and before the tests', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.lint).toMatch(/^eslint /);
    for (const dir of ['src', 'test', 'bench', 'scripts']) expect(pkg.scripts.lint!.split(' ')).toContain(dir);
    expect(pkg.scripts.test).toMatch(/npm run typecheck && npm run lint && npm run format:check && node scripts\/run-tests\.mjs/);
  });
});

describe('web/src speaks the public API only', () => {
  const file = 'web/src/pages/fixture.tsx';

  it("may import the server's types, never its code", async () => {
    expect(await rulesHit(file, "import type { requestResponse } from '../../../src/http/responses.js';\nexport type Y = typeof requestResponse;\n")).toEqual(
      [],
    );
    expect(await rulesHit(file, "import { requestResponse } from '../../../src/http/responses.js';\nexport const y = requestResponse;\n")).toEqual([
      'no-restricted-imports',
    ]);
  });

  it("checks React's hook rules", async () => {
    const code = "import { useState } from 'react';\nexport function F({ on }: { on: boolean }) {\n  if (on) useState(0);\n  return null;\n}\n";
    expect(await rulesHit(file, code)).toEqual(['react-hooks/rules-of-hooks']);
  });
});
