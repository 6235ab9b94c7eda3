/**
 * Every target kind's docs page names every setting its schema accepts: the kind's own keys (and
 * their nested keys, as `parent.key`) and each entitlement key in docs/targets/KIND.md, the
 * settings every kind shares in docs/targets.md. A key added to a schema without its docs fails.
 */
import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { commonTargetShape } from '../../src/config/schema.js';

/** The object schema inside defaults, optionals, effects and preprocessing, if there is one. */
function objectOf(schema: z.ZodTypeAny): z.AnyZodObject | undefined {
  let s: z.ZodTypeAny = schema;
  for (let i = 0; i < 10; i++) {
    if (s instanceof z.ZodObject) return s;
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else return undefined;
  }
  return undefined;
}

function recordValue(schema: z.ZodTypeAny): z.ZodTypeAny | undefined {
  let s: z.ZodTypeAny = schema;
  for (let i = 0; i < 10; i++) {
    if (s instanceof z.ZodRecord) return s._def.valueType;
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodOptional) s = s.unwrap();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else return undefined;
  }
  return undefined;
}

/** `key` and `parent.key` paths of an object schema (one level of nesting, as the pages document them). */
function keyPaths(shape: z.ZodRawShape, skip: Set<string>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(shape)) {
    if (skip.has(key)) continue;
    const nested = objectOf(value as z.ZodTypeAny);
    if (nested) for (const k of Object.keys(nested.shape)) out.push(`${key}.${k}`);
    else out.push(key);
  }
  return out;
}

const COMMON = new Set([...Object.keys(commonTargetShape), 'entitlements']);
const documented = (page: string, path: string) =>
  [path, path.split('.').pop(), `entitlements.NAME.${path}`].some((form) => page.includes(`\`${form}\``));

describe('target docs pages', () => {
  for (const factory of connectorFactories.filter((f) => f.kind !== 'hourglass')) {
    it(`docs/targets/${factory.kind}.md names every setting of the ${factory.kind} kind`, () => {
      const file = new URL(`../../docs/targets/${factory.kind}.md`, import.meta.url);
      expect(existsSync(file), `docs/targets/${factory.kind}.md`).toBe(true);
      const page = readFileSync(file, 'utf8');
      const settings = objectOf(factory.settings);
      expect(settings, 'the kind schema is an object').toBeDefined();
      const own = keyPaths(settings!.shape, COMMON);
      const entitlement = objectOf(recordValue(settings!.shape.entitlements as z.ZodTypeAny)!);
      // An entitlement's `description` is every kind's, documented once in docs/targets.md.
      const perEntitlement = entitlement ? keyPaths(entitlement.shape, new Set(['description'])) : [];
      const missing = [...own, ...perEntitlement].filter((p) => !documented(page, p));
      expect(missing, `settings of ${factory.kind} not named in its page`).toEqual([]);
      expect(readFileSync(new URL('../../docs/targets.md', import.meta.url), 'utf8')).toContain(`targets/${factory.kind}.md`);
    });
  }

  it('docs/targets.md names every setting the kinds share', () => {
    const page = readFileSync(new URL('../../docs/targets.md', import.meta.url), 'utf8');
    const missing = keyPaths(commonTargetShape, new Set(['type', 'name', 'description'])).filter((p) => !documented(page, p));
    expect(missing).toEqual([]);
    expect(page).toMatch(/`entitlements\.NAME\.description`/);
  });
});
