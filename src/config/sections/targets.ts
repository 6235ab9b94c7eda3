/**
 * The `targets` section. What a target may hold beyond `type` and `entitlements` belongs to its
 * kind (src/adapters/connectors/KIND/): the loader is handed the kinds, runs the kind's schema
 * and then its semantic checks, so `policy validate` and `serve` refuse exactly the same files.
 * Kinds build their schema with `targetSettings`, which adds the settings common to every kind
 * that calls a target.
 */
import { z } from 'zod';
import type { TargetCapabilities, TargetConfig } from '../../core/types.js';
import { durationSchema, ENTITLEMENT_NAME_PATTERN, nameMap, nonEmptyString, strictObject, TARGET_NAME_PATTERN } from '../primitives.js';
import { configErrorMap, isPlainObject, issuesToProblems, shown, type RawProblem } from '../problems.js';
import type { TargetKind, TargetKinds } from '../target-kind.js';

/** The access worker's lease (60 s, src/app/access-work.ts) less the 10 s it keeps back to commit. */
export const CALL_TIMEOUT_MAX_MS = 50_000;

/** A plain SQL identifier (role and owner names). */
export const sqlIdentifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, 'must be a plain SQL identifier (letters, digits, _)');

/** A URL with one of these schemes (the value is never echoed: it may carry a password). */
export function urlWith(schemes: string[]) {
  return z.string().superRefine((text, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      // reported below
    }
    if (!url || !schemes.includes(url.protocol.replace(/:$/, ''))) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a ${schemes.map((s) => `${s}://`).join(' or ')} URL` });
    }
  });
}

/** TLS to the target; every connector reads it the same way (src/adapters/connectors/tls.ts). */
export const tlsSettingsSchema = strictObject({
  mode: z.enum(['verify-full', 'verify-ca', 'require', 'disable']).default('verify-full').describe('verify-full, verify-ca, require or disable'),
  ca: nonEmptyString.optional().describe('CA certificate: PEM text, or file:PATH'),
  cert: nonEmptyString.optional().describe('client certificate: PEM text, or file:PATH'),
  key: nonEmptyString.optional().describe('client key: PEM text, or file:PATH'),
  serverName: nonEmptyString.optional().describe('name the server certificate must carry, when it differs from the URL host'),
});

/** An entitlement's `description`, offered by every kind. */
export const entitlementDescription = z.string().optional().describe('what the entitlement gives, for people choosing one');

/** Settings every kind that calls a target has, with their defaults (docs/targets.md#common-settings). */
export const callingTargetShape = {
  type: z.string().describe('the kind of target'),
  name: z.string().optional().describe('the target key, if given at all'),
  description: z.string().optional().describe('what the target is, for people choosing one'),
  provisioningTimeout: durationSchema.default('2m').describe('a grant still provisioning after this fails'),
  revocationAlertAfter: durationSchema.default('5m').describe('a removal not confirmed after this raises alert.revocation_overdue'),
  concurrency: z.number().int().min(1).max(64).default(8).describe('connector calls to this target at once (its lane; other targets have their own)'),
  callTimeout: durationSchema
    .default('30s')
    .refine(
      (ms) => !Number.isFinite(ms) || (ms >= 1000 && ms <= CALL_TIMEOUT_MAX_MS),
      `must be between 1s and ${CALL_TIMEOUT_MAX_MS / 1000}s (below the 60s access lease, less time to commit)`,
    )
    .describe('a call (waiting for a slot included) that takes longer fails and is retried like any failure'),
};

/** Settings of the kinds that create accounts on a server they reach over the network (databases). */
export const accountTargetShape = {
  accountPrefix: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,15}$/, 'must be 1-16 of a-z 0-9 _ starting with a letter')
    .default('hg_')
    .describe("prefix of the accounts Hourglass creates; what carries it is Hourglass's"),
  clientHost: nonEmptyString.optional().describe("host clients are told to use, when it differs from the admin URL's"),
  clientPort: z.number().int().min(1).max(65535).optional().describe("port clients are told to use, when it differs from the admin URL's"),
  tls: tlsSettingsSchema.optional().describe('TLS to the target (mode, ca, cert, key, serverName)'),
  reconcile: strictObject({
    interval: z
      .union([z.literal(0), durationSchema])
      .default('5m')
      .describe('how often drift is looked for; 0 turns it off'),
    removeExtraPrivileges: z.boolean().default(false).describe('take away privileges an account holds beyond its grant'),
  })
    .default({})
    .describe('drift reconciliation (interval, removeExtraPrivileges)'),
};

export const commonTargetShape = { ...callingTargetShape, ...accountTargetShape };

/**
 * A kind's settings schema: the common settings, the kind's own keys, and `entitlements` (the
 * kind's schema for one entitlement). Unknown keys are problems with a did-you-mean. Kinds that
 * create no accounts on a server (`accounts: false`: certificates, tokens, calls) leave out
 * accountPrefix, clientHost, clientPort, tls and reconcile.
 */
export function targetSettings<S extends z.ZodRawShape>(shape: S, entitlement: z.ZodTypeAny, opts: { accounts?: boolean } = {}) {
  const common = opts.accounts === false ? callingTargetShape : commonTargetShape;
  return strictObject({ ...common, ...shape, entitlements: z.record(entitlement).describe('entitlement name → what it grants') });
}

const entitlementSchema = z.preprocess((v) => (v === null ? {} : v), z.object({ description: z.string().optional() }).passthrough());

const entitlementsSchema = z
  .record(z.string().regex(ENTITLEMENT_NAME_PATTERN, 'entitlement names are 1-63 of a-z 0-9 _ - (not first)'), entitlementSchema)
  .superRefine((rec, ctx) => {
    if (Object.keys(rec).length === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must name at least one entitlement' });
    }
  });

/** What any target has: a type and at least one entitlement; the rest is passed on to its kind. */
export const baseTargetSchema = z
  .object({ type: z.string().describe('the kind of target'), entitlements: entitlementsSchema.describe('entitlement name → what it grants') })
  .passthrough();

function targetSchemaFor(kinds: TargetKinds) {
  const names = kinds.map((k) => k.kind);
  return baseTargetSchema.extend({
    type: z.string().superRefine((type, ctx) => {
      if (!names.includes(type)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown target type ${shown(type)}; known types: ${names.join(', ')}` });
      }
    }),
  });
}

/** A parsed target whose entitlements mapping has no prototype (see nameMap). */
function withNameMaps(data: object, name: string): TargetConfig {
  const t = { ...data, name } as TargetConfig;
  return { ...t, entitlements: nameMap(Object.entries(t.entitlements)) };
}

/** One target through its kind: the schema, then (when that passed) the kind's own checks. */
function parseTarget(
  kind: TargetKind,
  value: Record<string, unknown>,
  name: string,
  out: RawProblem[],
): { target: TargetConfig; capabilities: TargetCapabilities } | undefined {
  const path = ['targets', name];
  const k = kind.settings.safeParse(value, { errorMap: configErrorMap, path });
  if (!k.success) {
    issuesToProblems(k.error.issues, out);
    return undefined;
  }
  const target = withNameMaps(k.data as object, name);
  for (const p of kind.validate(target)) out.push({ path: [...path, ...p.path], message: p.message });
  const capabilities = kind.capabilities(target);
  // A usage line only where a grant hands something over (PostgreSQL's membership mode does not).
  const delivers = capabilities.issuesCredentials || capabilities.issuesOnDemand === true;
  return { target, capabilities: kind.usage && delivers ? { ...capabilities, usage: kind.usage } : capabilities };
}

/**
 * The targets, and every `target/entitlement` the file names (policies resolve against these even
 * when a target has problems). A target with semantic problems is kept, so checks that span
 * targets (credentials) still see it; the file is refused all the same. `capabilities` are the
 * kinds' word on each target.
 */
export function parseTargets(raw: unknown, kinds: TargetKinds, out: RawProblem[]): ParsedTargets {
  const parsed: ParsedTargets = { targets: nameMap(), capabilities: nameMap(), refs: new Set() };
  const { targets, capabilities, refs } = parsed;
  if (raw === undefined || raw === null) return parsed;
  if (!isPlainObject(raw)) {
    out.push({ path: ['targets'], message: 'must be a mapping of target name to target' });
    return parsed;
  }
  const schema = targetSchemaFor(kinds);
  for (const [name, value] of Object.entries(raw)) {
    const path = ['targets', name];
    if (isPlainObject(value) && isPlainObject(value.entitlements)) {
      for (const e of Object.keys(value.entitlements)) refs.add(`${name}/${e}`);
    }
    let ok = true;
    if (!TARGET_NAME_PATTERN.test(name)) {
      out.push({ path, message: `target name ${shown(name)} must be 1-63 of a-z 0-9 _ - (not first)` });
      ok = false;
    }
    if (!isPlainObject(value)) {
      out.push({ path, message: 'must be a mapping with type and entitlements' });
      continue;
    }
    if (value.name !== undefined && value.name !== name) {
      out.push({ path: [...path, 'name'], message: 'must match the target key (or be left out)' });
      ok = false;
    }
    const r = schema.safeParse(value, { errorMap: configErrorMap, path });
    if (!r.success) {
      issuesToProblems(r.error.issues, out);
      continue;
    }
    const target = parseTarget(
      kinds.find((k) => k.kind === r.data.type)!,
      value,
      name,
      out,
    );
    if (target && ok) {
      targets[name] = target.target;
      capabilities[name] = target.capabilities;
    }
  }
  return parsed;
}

export interface ParsedTargets {
  targets: Record<string, TargetConfig>;
  capabilities: Record<string, TargetCapabilities>;
  refs: Set<string>;
}
