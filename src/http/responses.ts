/**
 * Response shapes of API v1 as zod schemas. They document the API (OpenAPI) and tests check
 * real responses against them, so the serialisers in serialize.ts and these cannot drift.
 * Fields may be added, never removed.
 */
import { z } from 'zod';
import { REQUEST_STATUSES } from '../core/types.js';

const time = z.string().datetime().describe('ISO-8601 UTC');
const nullableTime = time.nullable();
const subjectSet = z.object({ groups: z.array(z.string()), users: z.array(z.string()) });

export const errorResponse = z
  .object({
    error: z.object({
      code: z
        .string()
        .regex(/^HG_[A-Z_]+$/)
        .describe('stable error code, see docs/api.md'),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .describe('Every error');

const approval = z.object({ by: z.string(), at: time, comment: z.string().nullable(), for: z.array(z.string()) });

export const requestResponse = z
  .object({
    id: z.string(),
    status: z.enum(REQUEST_STATUSES),
    access: z.enum(['none', 'provisioning', 'present', 'removing', 'removed']),
    requester: z.string(),
    entitlements: z.array(z.string()),
    reason: z.string().nullable(),
    ticket: z.string().nullable(),
    ticketInfo: z
      .object({ system: z.string(), summary: z.string(), state: z.string(), url: z.string().nullable(), checkedAt: time })
      .strict()
      .nullable()
      .describe('the ticket as its system (`ticket.system`) told it when last checked: what approvers see'),
    durationSeconds: z.number().int(),
    requestedAt: time,
    startAt: nullableTime,
    activatedAt: nullableTime,
    expiresAt: nullableTime,
    endedAt: nullableTime,
    pendingUntil: nullableTime,
    approvals: z.array(approval),
    approvalsRequired: z.record(z.number().int()).describe('policy name -> approvals it requires'),
    awaiting: z
      .array(
        z.object({
          policy: z.string(),
          remaining: z.number().int(),
          approvers: subjectSet.extend({
            manager: z.string().nullable().describe("the requester's manager at submission, when the policy names the manager; else null"),
          }),
          mfaMaxAgeSeconds: z
            .number()
            .nullable()
            .describe('the approval needs step-up MFA: a proof, or an MFA sign-in at most this old (docs/identity.md); null: no MFA needed'),
        }),
      )
      .describe('who still has to approve'),
    decision: z.object({ by: z.string(), at: time, comment: z.string().nullable() }).nullable(),
    policy: z.string(),
    policies: z.record(z.string()).describe('entitlement -> policy used'),
    policyHash: z.string(),
    breakGlass: z.boolean(),
    review: z.object({ by: z.string(), at: time, comment: z.string() }).nullable(),
    reviewDueAt: nullableTime,
    extensions: z.array(z.object({ by: z.string(), at: time, durationSeconds: z.number().int(), reason: z.string().nullable() })),
    pendingExtension: z
      .object({ by: z.string(), at: time, durationSeconds: z.number().int(), reason: z.string().nullable(), approvals: z.array(approval) })
      .nullable(),
    endedBy: z.string().nullable(),
    endReason: z.string().nullable(),
    error: z.string().nullable(),
    version: z.number().int(),
  })
  .strict()
  .describe('A request and, once approved, its grant');

export const requestListResponse = z.object({ requests: z.array(requestResponse), nextCursor: z.string().nullable() }).strict();

export const requestContextResponse = z
  .object({
    requestId: z.string(),
    entitlements: z.array(
      z
        .object({
          entitlement: z.string(),
          target: z.string(),
          kind: z.string().nullable().describe("the target's kind; null when the target is no longer configured"),
          description: z.string().nullable(),
          grants: z
            .record(z.unknown())
            .describe("what it gives on the target: the entitlement's settings in the file (roles, privileges, principals, claims, ...), secrets left out"),
        })
        .strict(),
    ),
    history: z
      .array(
        z
          .object({
            id: z.string(),
            entitlements: z.array(z.string()),
            status: z.enum(REQUEST_STATUSES),
            policy: z.string(),
            breakGlass: z.boolean(),
            durationSeconds: z.number().int(),
            requestedAt: time,
            activatedAt: nullableTime,
            endedAt: nullableTime,
            endReason: z.string().nullable(),
          })
          .strict(),
      )
      .describe("the requester's latest other requests sharing an entitlement with this one, newest first"),
    hints: z.array(
      z
        .object({
          code: z.enum(['break_glass', 'first_time', 'outside_hours', 'long_duration']),
          message: z.string(),
          entitlement: z.string().nullable(),
        })
        .strict(),
    ),
    usualHours: z
      .object({ days: z.array(z.string()), from: z.string(), to: z.string(), timezone: z.string() })
      .strict()
      .describe('the hours outside which `outside_hours` is hinted'),
  })
  .strict()
  .describe('What an approver or reviewer needs to decide a request');

export const grantResponse = z.object({ requestId: z.string(), principal: z.string(), entitlement: z.string(), expiresAt: time }).strict();
export const grantListResponse = z.object({ grants: z.array(grantResponse), nextCursor: z.string().nullable() }).strict();

/** Present only when a check was refused because the server could not confirm its grant index is current. */
const staleFields = {
  reason: z.literal('stale_index').optional(),
  detail: z.string().optional(),
};
export const checkResponse = z.object({ allowed: z.boolean(), requestId: z.string().optional(), expiresAt: time.optional(), ...staleFields }).strict();
export const checkBatchResponse = z
  .object({
    results: z
      .array(
        z
          .object({
            principal: z.string(),
            entitlement: z.string(),
            allowed: z.boolean(),
            requestId: z.string().optional(),
            expiresAt: time.optional(),
            ...staleFields,
          })
          .strict(),
      )
      .describe('one answer per pair asked, in the same order'),
  })
  .strict();

export const auditEventResponse = z
  .object({
    id: z.string(),
    seq: z.number().int().nullable().describe('null only for a row not written by the server (verification then fails)'),
    at: time,
    type: z.string(),
    actor: z.string(),
    requestId: z.string().nullable(),
    details: z.unknown(),
    policyHash: z.string().nullable(),
    prevHash: z.string().nullable(),
    hash: z.string().nullable(),
  })
  .strict();
export const auditListResponse = z.object({ events: z.array(auditEventResponse), nextCursor: z.string().nullable() }).strict();

export const verifyResponse = z
  .object({
    ok: z.boolean(),
    count: z.number().int(),
    head: z.string().nullable().describe('SEQ:HASH of the last good link'),
    firstBadSeq: z.number().int().optional(),
    problem: z.string().optional(),
    unchained: z.number().int().describe('rows without a seq: the server never writes one, so any is foreign and fails the check'),
    firstUnchained: z.object({ pos: z.number().int(), id: z.string() }).optional().describe('the first such row, by insertion position'),
  })
  .passthrough();

export const headResponse = z.object({ seq: z.number().int(), hash: z.string(), head: z.string().nullable() }).strict();

export const checkpointResponse = z
  .object({
    seq: z.number().int(),
    hash: z.string(),
    at: z.string().datetime(),
    keyId: z.string(),
    signature: z.string().describe('base64 Ed25519 over the canonical JSON of {at, hash, keyId, seq}'),
    publicKey: z.string().nullable().describe('PEM of the signing key, when it is the key configured now'),
    shipped: z.record(z.string().datetime()).describe('target (file, webhook) -> when it was shipped there'),
  })
  .strict();
export const checkpointListResponse = z.object({ checkpoints: z.array(checkpointResponse), nextCursor: z.string().nullable() }).strict();
export const latestCheckpointResponse = z
  .object({
    configured: z.boolean().describe('whether audit.checkpoints is configured'),
    keyId: z.string().nullable().describe('the key signing now; null when not configured or the key cannot be loaded'),
    checkpoint: checkpointResponse.nullable().describe('the newest checkpoint; null before the first is signed'),
  })
  .strict();

export const meResponse = z.object({ id: z.string(), groups: z.array(z.string()), roles: z.array(z.string()), locked: z.boolean() }).strict();

export const entitlementsResponse = z
  .object({
    entitlements: z.array(
      z.object({
        entitlement: z.string(),
        target: z.string(),
        kind: z.string().describe("the target's kind (type in the file)"),
        description: z.string().optional(),
        credentials: z
          .enum(['kept', 'on-demand'])
          .nullable()
          .describe('what a grant hands over: credentials kept until fetched, issued when fetched (certificates, tokens), or nothing'),
        usage: z.string().optional().describe('the command that uses a grant, {id} standing for the request id (hourglass connect {id})'),
        policies: z.array(z.record(z.unknown())),
      }),
    ),
  })
  .strict();

export const emergencyResponse = z
  .object({
    locked: z.boolean().optional(),
    frozen: z.boolean().optional(),
    changed: z.boolean(),
    revoked: z.array(z.string()),
    cancelled: z.array(z.string()),
  })
  .strict();

const lock = z.object({ subject: z.string(), by: z.string(), at: time, reason: z.string().nullable() }).strict();
export const locksResponse = z.object({ principals: z.array(lock), targets: z.array(lock) }).strict();

export const reloadResponse = z
  .object({
    policyHash: z.string(),
    previousPolicyHash: z.string(),
    revoked: z.array(z.string()).describe('grants revoked because their principal is no longer in the file'),
    cancelled: z.array(z.string()).describe('pending requests cancelled because their principal is no longer in the file'),
  })
  .strict();

export const healthResponse = z.object({ ok: z.literal(true) }).strict();
export const readyResponse = z
  .object({
    ready: z.boolean(),
    server: z.string().optional().describe("this server's presence id, named in the leases it holds on target work"),
    writable: z.boolean(),
    checks: z.record(z.unknown()),
    store: z.object({ ok: z.boolean(), error: z.string().optional() }),
    scheduler: z.record(z.unknown()),
    audit: z.record(z.unknown()),
  })
  .passthrough();

export const credentialsResponse = z
  .object({
    requestId: z.string(),
    expiresAt: time,
    targets: z.record(
      z
        .object({
          username: z.string().optional(),
          password: z.string().optional(),
          host: z.string().optional(),
          port: z.number().int().optional(),
          database: z.string().optional(),
          url: z.string().optional(),
          kind: z.string().optional().describe('targets that issue on request (ssh, token): their kind, with `credentials`'),
          credentials: z
            .array(z.record(z.unknown()))
            .optional()
            .describe('issued now, one per entitlement: a certificate (ssh) or a token (token), see docs/targets/*.md'),
        })
        .passthrough(),
    ),
  })
  .strict();
