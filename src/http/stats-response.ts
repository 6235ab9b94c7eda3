/**
 * The answer of GET /v1/stats (routes/stats.ts). Apart from the route so that the web UI can take
 * its type without the server's code: this module imports nothing but zod.
 */
import { z } from 'zod';

const time = z.string().describe('ISO-8601 UTC');
const daily = {
  activations: z.number().int().describe('grant.activated events'),
  submitted: z.number().int().describe('request.submitted events'),
  denied: z.number().int().describe('request.denied events'),
  breakGlass: z.number().int().describe('alert.break_glass_used events'),
};

export const statsResponse = z
  .object({
    period: z
      .object({
        days: z.number().int(),
        timeZone: z.string(),
        since: time.describe("the first day's start"),
        until: time.describe("the end of today (the next day's start)"),
      })
      .strict(),
    perDay: z.array(z.object({ date: z.string().describe('YYYY-MM-DD in timeZone'), start: time, ...daily }).strict()).describe('oldest first'),
    totals: z.object(daily).strict().describe('the sums over the period'),
    timeToApprove: z
      .object({
        requests: z.number().int().describe('requests that needed approval and were approved in the period'),
        medianMs: z.number().int().nullable().describe('from request.submitted to the approval that completed the quorum'),
        p90Ms: z.number().int().nullable(),
      })
      .strict(),
    topEntitlements: z.array(z.object({ entitlement: z.string(), activations: z.number().int() }).strict()).describe('at most 10, most activated first'),
    breakGlass: z
      .object({
        count: z.number().int(),
        latest: z.array(
          z
            .object({
              requestId: z.string().nullable(),
              requester: z.string(),
              entitlements: z.array(z.string()),
              reason: z.string().nullable(),
              at: time,
              review: z
                .object({
                  state: z.enum(['reviewed', 'pending', 'overdue', 'not-required']),
                  by: z.string().nullable(),
                  at: time.nullable(),
                  dueAt: time.nullable(),
                })
                .strict(),
            })
            .strict(),
        ),
      })
      .strict()
      .describe('uses in the period; the latest 10, newest first'),
    expiringSoon: z
      .object({
        withinMs: z.number().int(),
        count: z.number().int(),
        grants: z.array(z.object({ requestId: z.string(), principal: z.string(), entitlement: z.string(), expiresAt: time }).strict()),
      })
      .strict()
      .describe('live grants (one per entitlement) ending within withinMs from now, soonest first; at most 50 listed'),
    revocationsOverdue: z
      .object({
        count: z.number().int(),
        requests: z.array(
          z
            .object({
              requestId: z.string(),
              requester: z.string(),
              entitlements: z.array(z.string()),
              status: z.string(),
              removingSince: time.nullable(),
              attempts: z.number().int(),
              lastError: z.string().nullable(),
              alerted: z.boolean().describe('alert.revocation_overdue was raised'),
            })
            .strict(),
        ),
      })
      .strict()
      .describe('ended grants whose removal from the target is late, oldest first'),
  })
  .strict()
  .describe("The dashboard's figures");
