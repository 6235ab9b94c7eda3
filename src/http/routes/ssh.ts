import { z } from 'zod';
import { MAX_WAIT_MS } from '../../app/issued-credentials.js';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';

const targetParams = z.object({ name: z.string().min(1).max(63) });

const krlQuery = z
  .object({
    wait: z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_WAIT_MS / 1000)
      .default(0)
      .describe(`seconds to wait for a change when If-None-Match names the current list (long poll); at most ${MAX_WAIT_MS / 1000}`),
    host: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, 'must be a host name')
      .optional()
      .describe("the agent's host, recorded with `applied`"),
    applied: z.coerce.number().int().min(0).optional().describe('the list version this host has in place'),
  })
  .strict();

const hostsResponse = z
  .object({
    target: z.string(),
    version: z.number().int(),
    changedAt: z.string().nullable(),
    hosts: z.array(
      z
        .object({
          host: z.string(),
          agent: z.string(),
          appliedVersion: z.number().int(),
          appliedAt: z.string(),
          lastSeenAt: z.string(),
          behind: z.boolean(),
        })
        .strict(),
    ),
  })
  .strict();

const iso = (ms: number) => new Date(ms).toISOString();

/** The certificate authority of ssh targets: its public key, its revocation list, and which hosts applied it. */
export function sshRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/targets/:name/ssh/ca.pub',
    tag: 'ssh',
    auth: 'none',
    summary: "An ssh target's CA public key, for sshd's TrustedUserCAKeys",
    description: 'Public: hosts may fetch it without a credential. One OpenSSH public key line.',
    params: targetParams,
    responses: { 200: { description: 'the key', schema: z.string(), contentType: 'text/plain; charset=utf-8' } },
    handler: async ({ params, reply }) => reply.header('content-type', 'text/plain; charset=utf-8').send(app.issued.caPublicKey(params.name)),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/targets/:name/ssh/krl',
    scope: 'agent',
    tag: 'ssh',
    auth: 'bearer',
    summary: "An ssh target's key revocation list, for sshd's RevokedKeys (roles agent, admin)",
    description:
      'The OpenSSH KRL of the certificates whose grant ended early (until they expire). `ETag` and `hourglass-krl-version` name it; ' +
      'with `If-None-Match` equal to the current ETag the answer is 304, after waiting up to `wait` seconds for a change. ' +
      'An agent passes `host` and `applied` (the version it has in place), which GET /v1/targets/{name}/ssh/hosts shows.',
    params: targetParams,
    query: krlQuery,
    headers: z.object({ 'if-none-match': z.string().optional().describe('the ETag of the list the caller has') }),
    responses: {
      200: { description: 'the list', schema: z.string(), contentType: 'application/octet-stream' },
      304: { description: 'unchanged (after the wait)' },
    },
    handler: async ({ params, query, principal, req, reply }) => {
      const ifNoneMatch = req.headers['if-none-match'];
      const list = await app.issued.revocationList(principal, params.name, {
        ...(typeof ifNoneMatch === 'string' ? { ifNoneMatch } : {}),
        waitMs: query.wait * 1000,
        ...(query.host !== undefined ? { host: query.host } : {}),
        ...(query.applied !== undefined ? { applied: query.applied } : {}),
      });
      reply.header('etag', list.etag).header('hourglass-krl-version', String(list.version)).header('cache-control', 'no-cache');
      if (list.unchanged) return reply.status(304).send();
      return reply.header('content-type', 'application/octet-stream').send(list.body);
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/targets/:name/ssh/hosts',
    tag: 'ssh',
    auth: 'bearer',
    summary: 'Which revocation list each host has applied (roles admin, auditor)',
    description: "`behind`: the host has not applied the current version and it came out more than the target's `agentAlertAfter` ago (alert.agent_behind).",
    params: targetParams,
    responses: { 200: { description: 'hosts, by name', schema: hostsResponse } },
    handler: async ({ params, principal }) => {
      const s = await app.issued.hosts(principal, params.name);
      return {
        target: params.name,
        version: s.version,
        changedAt: s.changedAt ? iso(s.changedAt) : null,
        hosts: s.hosts.map((h) => ({
          host: h.host,
          agent: h.agent,
          appliedVersion: h.version,
          appliedAt: iso(h.appliedAt),
          lastSeenAt: iso(h.seenAt),
          behind: h.behind,
        })),
      };
    },
  });
}
