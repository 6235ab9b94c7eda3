/**
 * Settings of each kind of target beyond `type` and `entitlements`, validated at load so a bad
 * target never starts a server. The schemas are built from the loader's primitives (passed in,
 * to keep this module free of a circular import) and apply the documented defaults.
 */
import { z } from 'zod';

export interface SchemaPrimitives {
  strictObject: <S extends z.ZodRawShape>(shape: S) => z.ZodTypeAny;
  durationSchema: z.ZodType<number, z.ZodTypeDef, string>;
  nonEmptyString: z.ZodType<string, z.ZodTypeDef, unknown>;
}

/** The access worker's lease (60 s, src/app/access-work.ts) less the 10 s it keeps back to commit. */
export const CALL_TIMEOUT_MAX_MS = 50_000;

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, 'must be a plain SQL identifier (letters, digits, _)');

export function targetKindSchemas(p: SchemaPrimitives): Record<string, z.ZodTypeAny> {
  const urlWith = (schemes: string[]) =>
    z.string().superRefine((text, ctx) => {
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

  const tls = p.strictObject({
    mode: z.enum(['verify-full', 'verify-ca', 'require', 'disable']).default('verify-full'),
    /** CA certificate: PEM text, or `file:PATH`. */
    ca: p.nonEmptyString.optional(),
    cert: p.nonEmptyString.optional(),
    key: p.nonEmptyString.optional(),
    serverName: p.nonEmptyString.optional(),
  });

  const common = {
    type: z.string(),
    name: z.string().optional(),
    description: z.string().optional(),
    provisioningTimeout: p.durationSchema.default('2m'),
    revocationAlertAfter: p.durationSchema.default('5m'),
    /** Connector calls to this target at once (its lane; other targets have their own). */
    concurrency: z.number().int().min(1).max(64).default(8),
    /** A call (waiting for a slot included) that takes longer fails and is retried like any failure. */
    callTimeout: p.durationSchema
      .default('30s')
      .refine((ms) => !Number.isFinite(ms) || (ms >= 1000 && ms <= CALL_TIMEOUT_MAX_MS), `must be between 1s and ${CALL_TIMEOUT_MAX_MS / 1000}s (below the 60s access lease, less time to commit)`),
    accountPrefix: z.string().regex(/^[a-z][a-z0-9_]{0,15}$/, 'must be 1-16 of a-z 0-9 _ starting with a letter').default('hg_'),
    /** Host and port clients are told to use, when they differ from the admin URL's. */
    clientHost: p.nonEmptyString.optional(),
    clientPort: z.number().int().min(1).max(65535).optional(),
    tls: tls.optional(),
    reconcile: p
      .strictObject({
        interval: z.union([z.literal(0), p.durationSchema]).default('5m'),
        removeExtraPrivileges: z.boolean().default(false),
      })
      .default({}),
  };
  const description = z.string().optional();

  return {
    postgres: p.strictObject({
      ...common,
      url: urlWith(['postgres', 'postgresql']),
      mode: z.enum(['account', 'membership']).default('account'),
      /** REASSIGN OWNED target at the end of an account grant (default: the admin user). */
      owner: identifier.optional(),
      /** Permit granting superuser-like built-in roles (pg_write_server_files, ...). */
      allowPrivilegedRoles: z.boolean().default(false),
      /** Membership mode: the existing database user of a principal (`{principal}` is replaced). */
      userTemplate: z.string().default('{principal}'),
      entitlements: z.record(p.strictObject({ description, roles: z.array(identifier).min(1) })),
    }),
    mariadb: p.strictObject({
      ...common,
      url: urlWith(['mysql', 'mariadb']),
      /** Host part of created accounts ('%' = any). */
      userHost: z.string().min(1).max(255).default('%'),
      entitlements: z.record(
        p
          .strictObject({
            description,
            privileges: z.array(z.string().regex(/^[A-Za-z ,_]+ ON [`A-Za-z0-9_*$.-]+$/, 'must look like "SELECT, INSERT ON shop.*"')).optional(),
            roles: z.array(identifier).optional(),
          })
          .refine((e: { privileges?: string[]; roles?: string[] }) => (e.privileges?.length ?? 0) + (e.roles?.length ?? 0) > 0, 'give privileges or roles'),
      ),
    }),
    redis: p.strictObject({
      ...common,
      url: urlWith(['redis', 'rediss']),
      entitlements: z.record(
        p.strictObject({
          description,
          /** ACL rules for the user, e.g. "~app:* +@read"; `on`, `>password`, `nopass` and `allkeys`-like resets are added by Hourglass. */
          acl: z
            .string()
            .min(1)
            .refine((s) => !/(^|\s)(>|<|#|!|nopass|resetpass|on|off|reset)(\s|$|\S)/.test(s.replace(/~\S+|%\S+|&\S+|[+-]\S+/g, '')), 'must hold only key (~), channel (&) and command (+/-) rules'),
        }),
      ),
    }),
  };
}
