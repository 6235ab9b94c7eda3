/** The `credentials` section: the key that seals connector credentials at rest. */
import { z } from 'zod';
import type { TargetCapabilities } from '../../core/types.js';
import type { HourglassConfig } from '../types.js';
import { nonEmptyString } from '../primitives.js';
import { isPlainObject, parseFields, type RawProblem } from '../problems.js';

export const credentialsShape = {
  key: z
    .string()
    .refine((k) => Buffer.from(k, 'base64').length === 32, 'must be base64 of 32 random bytes (openssl rand -base64 32)')
    .optional(),
  keyFile: nonEmptyString.optional(),
  generateKey: z.boolean().default(false),
};

export function parseCredentials(raw: unknown, capabilities: Record<string, TargetCapabilities>, out: RawProblem[]): HourglassConfig['credentials'] {
  const input = raw === undefined || raw === null ? {} : raw;
  if (!isPlainObject(input)) {
    out.push({ path: ['credentials'], message: 'must be a mapping' });
    return { generateKey: false };
  }
  const { values: v } = parseFields(credentialsShape, input, ['credentials'], out);
  const result: HourglassConfig['credentials'] = { generateKey: v.generateKey ?? false };
  if (v.key !== undefined) result.key = v.key;
  if (v.keyFile !== undefined) result.keyFile = v.keyFile;
  if (result.generateKey && !result.keyFile) out.push({ path: ['credentials', 'generateKey'], message: 'needs keyFile to write the key to' });
  const needing = Object.entries(capabilities)
    .filter(([, c]) => c.issuesCredentials)
    .map(([name]) => name);
  if (needing.length && !result.key && !result.keyFile) {
    out.push({
      path: ['credentials'],
      message: `targets ${needing.join(', ')} issue credentials, which are kept encrypted: set credentials.key (\${ENV}) or credentials.keyFile`,
    });
  }
  return result;
}
