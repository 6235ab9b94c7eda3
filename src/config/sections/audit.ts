/** The `audit` section: signed checkpoints of the audit chain. */
import { z } from 'zod';
import type { AuditSettings, CheckpointSettings } from '../types.js';
import { httpUrlSchema, nonEmptyString, optionalDuration, secretSchema, strictObject } from '../primitives.js';
import { isPlainObject, parseFields, unknownKeys, type RawProblem } from '../problems.js';

export const checkpointShape = {
  every: z.number().int().min(0).default(1000),
  interval: optionalDuration.default('5m'),
  signingKey: z.string().optional(),
  keyFile: nonEmptyString.optional(),
  generateKey: z.boolean().default(false),
  file: nonEmptyString.optional(),
  webhook: strictObject({ url: httpUrlSchema, secret: secretSchema }).optional(),
};

export function parseAudit(raw: unknown, out: RawProblem[]): AuditSettings {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    out.push({ path: ['audit'], message: 'must be a mapping' });
    return {};
  }
  unknownKeys(raw, ['checkpoints'], ['audit'], out);
  const cp = raw.checkpoints;
  if (cp === undefined || cp === null) return {};
  const path = ['audit', 'checkpoints'];
  if (!isPlainObject(cp)) {
    out.push({ path, message: 'must be a mapping' });
    return {};
  }
  const before = out.length;
  const { values: v, ok } = parseFields(checkpointShape, cp, path, out);
  if (!ok) return {};
  if (v.signingKey === undefined && v.keyFile === undefined) {
    out.push({ path, message: 'name the Ed25519 signing key: signingKey (PEM, e.g. from ${ENV}) or keyFile' });
  }
  if (v.signingKey !== undefined && !/-----BEGIN PRIVATE KEY-----/.test(v.signingKey)) {
    out.push({ path: [...path, 'signingKey'], message: 'must be an Ed25519 private key in PEM (PKCS#8) form' });
  }
  if (v.generateKey && v.keyFile === undefined) out.push({ path: [...path, 'generateKey'], message: 'needs keyFile to write the key to' });
  if (v.every === 0 && v.interval === 0) out.push({ path, message: 'set every (events) or interval (time), or remove checkpoints' });
  if (out.length !== before) return {};
  const checkpoints: CheckpointSettings = { everyEvents: v.every!, intervalMs: v.interval!, generateKey: v.generateKey! };
  if (v.signingKey !== undefined) checkpoints.signingKeyPem = v.signingKey;
  if (v.keyFile !== undefined) checkpoints.keyFile = v.keyFile;
  if (v.file !== undefined) checkpoints.file = v.file;
  if (v.webhook !== undefined) checkpoints.webhook = v.webhook;
  return { checkpoints };
}
