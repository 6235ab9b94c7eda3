// Every target kind documents its settings in its schema: each key has a one-line description
// (what docs and `policy validate` readers see), and the kinds' names are unique.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectorFactories } from '../../src/adapters/connectors/index.js';

/** The object shape under a kind's settings schema (strictObject wraps it in a preprocess). */
function shapeOf(schema: z.ZodTypeAny): z.ZodRawShape {
  let s: z.ZodTypeAny = schema;
  while (s instanceof z.ZodEffects) s = s.innerType();
  expect(s).toBeInstanceOf(z.ZodObject);
  return (s as z.AnyZodObject).shape;
}

describe('target kinds', () => {
  it('have unique names', () => {
    const kinds = connectorFactories.map((f) => f.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
  });

  for (const factory of connectorFactories) {
    it(`${factory.kind}: every settings key has a one-line description`, () => {
      const undescribed = Object.entries(shapeOf(factory.settings))
        .filter(([, v]) => !v.description || v.description.includes('\n'))
        .map(([k]) => k);
      expect(undescribed).toEqual([]);
    });
  }
});
