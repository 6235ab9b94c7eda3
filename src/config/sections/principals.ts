/** The `principals` section: ids, groups, roles, managers and the SHA-256 of their API tokens. */
import { z } from 'zod';
import type { ConfiguredPrincipal } from '../types.js';
import { nonEmptyString, PRINCIPAL_ID_PATTERN, ROLES, strictObject } from '../primitives.js';
import { parsePasswordHash } from '../../core/password-hash.js';
import { formatPath, isPlainObject, parseFields, shown, type RawProblem } from '../problems.js';

const principalId = z.string().regex(PRINCIPAL_ID_PATTERN, 'must be 1-128 characters: letters, digits and . _ @ - (not first)');

export const principalShape = {
  id: principalId,
  groups: z.array(nonEmptyString).default([]),
  roles: z.array(z.enum(ROLES)).default([]),
  /** Their manager's principal id, for `approvers: { manager: true }`; a principal of the file or of an identity source. */
  manager: principalId.optional(),
  /** A scrypt hash (hourglass hash-password): sign-in with a password, for the embedded demo only. */
  password: z
    .string()
    .superRefine((h, ctx) => {
      const parsed = parsePasswordHash(h);
      if (typeof parsed === 'string') ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed });
    })
    .optional(),
  /** Where notifications reach them (docs/integrations.md). */
  email: z
    .string()
    .max(254)
    .regex(/^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/, 'must be an e-mail address (name@example.com)')
    .optional(),
  displayName: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[^\r\n]*$/, 'must be one line')
    .optional(),
  apiTokens: z
    .array(
      strictObject({
        sha256: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, 'must be the 64 hex digit SHA-256 of the token (printf %s TOKEN | sha256sum)')
          .transform((h) => h.toLowerCase()),
      }),
    )
    .default([]),
};

export function parsePrincipals(raw: unknown, out: RawProblem[]): ConfiguredPrincipal[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    out.push({ path: ['principals'], message: 'must be a list of principals' });
    return [];
  }
  const result: ConfiguredPrincipal[] = [];
  const idAt = new Map<string, number>();
  const tokenAt = new Map<string, string>();
  raw.forEach((item, i) => {
    const path = ['principals', i];
    if (!isPlainObject(item)) {
      out.push({ path, message: 'must be a mapping with at least an id' });
      return;
    }
    const { values: v, ok } = parseFields(principalShape, item, path, out);
    if (v.id !== undefined) {
      const first = idAt.get(v.id);
      if (first !== undefined) {
        out.push({ path: [...path, 'id'], message: `duplicate principal id ${shown(v.id)} (also principals[${first}])` });
      } else idAt.set(v.id, i);
    }
    const ownManager = v.manager !== undefined && v.manager === v.id;
    if (ownManager) {
      out.push({ path: [...path, 'manager'], message: `${shown(v.id)} cannot be their own manager (nobody approves their own request)` });
    }
    v.apiTokens?.forEach((t, j) => {
      const first = tokenAt.get(t.sha256);
      const here = formatPath([...path, 'apiTokens', j]);
      if (first !== undefined) {
        out.push({
          path: [...path, 'apiTokens', j, 'sha256'],
          message: `duplicate token hash (also ${first}): every token must be unique`,
        });
      } else tokenAt.set(t.sha256, here);
    });
    if (!ok || ownManager) return;
    result.push({
      id: v.id!,
      groups: [...new Set(v.groups!)],
      roles: [...new Set(v.roles!)],
      ...(v.manager !== undefined ? { manager: v.manager } : {}),
      apiTokens: v.apiTokens!.map((t) => t.sha256),
      ...(v.password !== undefined ? { passwordHash: v.password } : {}),
      ...(v.email !== undefined ? { email: v.email } : {}),
      ...(v.displayName !== undefined ? { displayName: v.displayName } : {}),
    });
  });
  return result;
}
