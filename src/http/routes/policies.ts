/**
 * Policies as code: `GET /v1/policies` lists the policies in force (admins, auditors) and
 * `GET /v1/policies/explain` answers "would this request be allowed, and why".
 */
import { z } from 'zod';
import { listPolicies } from '../../app/policy-list.js';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';
import { bool, isoTime, text } from '../schemas.js';

/** `entitlement=a&entitlement=b` or `entitlement=a,b` (or both). */
const entitlementList = z
  .union([text(2000), z.array(text(2000)).max(20)])
  .transform((v) =>
    (Array.isArray(v) ? v : [v])
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().min(3).max(200)).min(1, 'give at least one entitlement').max(20));

export const explainQuery = z
  .object({
    principal: text(200, 1).optional().describe('whose request to explain; default the caller'),
    entitlement: entitlementList.describe('target/role; repeat the parameter or separate with commas'),
    duration: text(32).optional().describe('90s, 15m, 1h30m, 2d or PT1H; default the policy default'),
    at: isoTime.optional().describe('when the request would be made; default now'),
    startAt: isoTime.optional().describe('when the access would begin, as startAt on submission; time windows are checked then too'),
    breakGlass: bool.optional(),
    policy: text(200).optional().describe('restrict the candidates to this policy'),
    reason: text(2000).optional().describe('omitted: assumed given; empty: none given'),
    ticket: text(200).optional().describe('omitted: assumed given and matching; empty: none given'),
    sourceIp: text(64).optional().describe("omitted: assumed inside the policy's source networks"),
  })
  .strict();

const subjects = z
  .object({ groups: z.array(z.string()), users: z.array(z.string()), manager: z.boolean().describe("the requester's manager is among them") })
  .strict();

export const explainResponse = z
  .object({
    principal: z.string(),
    principalKnown: z.boolean(),
    groups: z.array(z.string()),
    manager: z.string().nullable().describe("the requester's manager, as approvers.manager would name them; null: none"),
    entitlements: z.array(z.string()),
    at: z.string().datetime(),
    allowed: z.boolean(),
    code: z.string().nullable().describe('the error code a submission would get; null when allowed'),
    message: z.string().nullable(),
    policy: z.string().nullable(),
    policies: z.record(z.string()).describe('entitlement -> deciding policy'),
    durationSeconds: z.number().int().nullable(),
    selfService: z.boolean().describe("access would begin without anyone's approval"),
    breakGlass: z.boolean(),
    approvals: z.array(z.object({ policy: z.string(), required: z.number().int(), approvers: subjects, eligibleApprovers: z.array(z.string()) }).strict()),
    reviews: z.array(z.object({ policy: z.string(), withinSeconds: z.number().int(), reviewers: subjects, eligibleReviewers: z.array(z.string()) }).strict()),
    pendingTimeoutSeconds: z.number().int().nullable(),
    requires: z
      .object({
        reason: z.boolean(),
        ticket: z.object({ required: z.boolean(), patterns: z.array(z.string()) }).strict(),
        sourceNetworks: z.array(z.string()).nullable(),
        mfa: z
          .object({ request: z.number().int().nullable(), approve: z.number().int().nullable(), credentials: z.number().int().nullable() })
          .strict()
          .nullable()
          .describe('step-up MFA per action: the max age in seconds of an IdP sign-in with MFA that counts instead of a proof; null: not needed'),
      })
      .strict(),
    assumed: z.object({ reason: z.boolean(), ticket: z.boolean(), sourceIp: z.boolean() }).strict(),
    warnings: z.array(z.string()),
    candidates: z.record(z.array(z.object({ policy: z.string(), chosen: z.boolean(), reasons: z.array(z.string()) }).strict())),
    notCandidates: z.record(z.array(z.object({ policy: z.string(), why: z.string() }).strict())),
  })
  .strict()
  .describe('Would this request be allowed, under which policy, with what approvals from whom, and why not otherwise');

const ms = z.number().int().describe('milliseconds');
const approverSet = z
  .object({ groups: z.array(z.string()), users: z.array(z.string()), manager: z.literal(true).optional().describe("the requester's manager approves") })
  .strict();

export const policyListResponse = z
  .object({
    policyHash: z.string().describe('the hash of the configuration in force, recorded with every decision'),
    policies: z.array(
      z
        .object({
          name: z.string(),
          subjects: z.object({ groups: z.array(z.string()), users: z.array(z.string()) }).strict(),
          entitlements: z.array(z.string()),
          defaultDuration: ms,
          minDuration: ms,
          maxDuration: ms,
          reason: z.enum(['required', 'optional']),
          ticket: z
            .object({
              required: z.boolean(),
              pattern: z.string().optional(),
              system: z.string().optional().describe('the ticket system the ticket is checked in'),
              states: z.array(z.string()).optional(),
              endsWithTicket: z.literal(true).optional(),
              comment: z.literal(true).optional(),
            })
            .strict(),
          approval: z
            .object({
              required: z.number().int(),
              approvers: approverSet,
              fromChat: z.literal(true).optional().describe('approvers may decide with Slack buttons'),
              escalation: z
                .array(z.object({ after: ms, approvers: approverSet.optional(), onCall: z.string().optional() }).strict())
                .optional()
                .describe('tiers asked when nobody decided `after` the submission'),
              onCall: z.string().optional().describe('a requester on call now on this schedule needs no approver'),
            })
            .strict(),
          pendingTimeout: ms,
          extension: z.object({ allowed: z.boolean(), maxTotal: ms, requiresApproval: z.boolean() }).strict(),
          when: z
            .object({
              days: z.array(z.enum(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'])).optional(),
              hours: z
                .object({ from: z.number().int(), to: z.number().int() })
                .strict()
                .optional()
                .describe('minutes after local midnight; to < from: across midnight'),
              timezone: z.string(),
              sourceNetworks: z.array(z.string()).optional(),
            })
            .strict()
            .optional(),
          breakGlass: z.boolean(),
          review: z.object({ approvers: approverSet, within: ms }).strict().optional(),
          mfa: z
            .object({ for: z.array(z.enum(['request', 'approve', 'credentials'])), maxAge: ms })
            .strict()
            .optional()
            .describe('step-up MFA for these calls; maxAge: how old an MFA sign-in may be to count instead of a proof'),
        })
        .strict(),
    ),
  })
  .strict()
  .describe('The policies in force, in file order, with the defaults filled in');

export function policyRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/policies',
    tag: 'policies',
    auth: 'bearer',
    summary: 'The policies in force, read-only (roles admin, auditor)',
    description:
      'Every policy of the configuration in force, in file order (the order candidates are tried in), as the loader ' +
      'normalised it: defaults filled in, durations in milliseconds, `when.hours` in minutes after local midnight.',
    responses: { 200: { description: 'the policies', schema: policyListResponse } },
    handler: ({ principal }) => listPolicies(app.deps.config.current(), principal),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/policies/explain',
    tag: 'policies',
    auth: 'bearer',
    summary: 'Would this request be allowed? (roles admin, auditor; anyone for themselves)',
    description:
      'Evaluates the policies in force for a hypothetical request, without recording anything. A reason, ticket or source ' +
      'address left out is assumed to be supplied correctly (`assumed` says so, `requires` tells the rules); an empty value ' +
      'means "none given". Locks and freezes in force are taken into account. An unknown principal is answered as not eligible.',
    query: explainQuery,
    responses: { 200: { description: 'the explanation (allowed or not)', schema: explainResponse } },
    handler: async ({ query: q, principal: caller }) =>
      app.explain(caller, {
        entitlements: q.entitlement,
        ...(q.principal !== undefined ? { principal: q.principal } : {}),
        ...(q.at !== undefined ? { at: q.at } : {}),
        ...(q.startAt !== undefined ? { startAt: q.startAt } : {}),
        ...(q.duration !== undefined ? { duration: q.duration } : {}),
        ...(q.breakGlass !== undefined ? { breakGlass: q.breakGlass } : {}),
        ...(q.policy !== undefined ? { policy: q.policy } : {}),
        ...(q.reason !== undefined ? { reason: q.reason } : {}),
        ...(q.ticket !== undefined ? { ticket: q.ticket } : {}),
        ...(q.sourceIp !== undefined ? { sourceIp: q.sourceIp } : {}),
      }),
  });
}
