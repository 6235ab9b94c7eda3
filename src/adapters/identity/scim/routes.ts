/**
 * The SCIM 2.0 endpoints under /scim/v2 (RFC 7644), for the IdP's provisioning client. They speak
 * SCIM, not the /v1 API: a bearer token of `identity.scim.tokens` (never a principal's token),
 * `application/scim+json` bodies, SCIM error bodies, ETags and If-Match. They are not in the
 * OpenAPI document (SCIM is its own specification); docs/identity.md lists them.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isHgError } from '../../../core/errors.js';
import type { Principal } from '../../../core/types.js';
import type { AppDeps } from '../../../app/context.js';
import { sameSecret } from '../../../app/identity/secrets.js';
import type { RouteContext } from '../../../http/routes/context.js';
import { resourceTypeById, resourceTypes, schemaById, schemas, serviceProviderConfig } from './discovery.js';
import { parseListQuery, project } from './list.js';
import { etagOf, matchesIfMatch } from './resources.js';
import { badRequest, ScimError, scimErrorBody } from './scim-error.js';
import { ScimService, type ScimAnswer, type ScimCall } from './service.js';

export const SCIM_PREFIX = '/scim/v2';
const CONTENT_TYPE = 'application/scim+json; charset=utf-8';
/** A Group PUT with 10,000 members is about 600 KiB. */
export const SCIM_BODY_LIMIT = 4 * 1024 * 1024;
const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/i;

declare module 'fastify' {
  interface FastifyRequest {
    scimActor?: Principal;
  }
}

type Params = { id: string };

export function scimRoutes(deps: AppDeps) {
  const baseUrl = () => `${deps.config.current().server.publicUrl ?? ''}${SCIM_PREFIX}`;
  const service = new ScimService(deps, baseUrl);

  /** The token's name when the request presents one of identity.scim.tokens; every configured digest is compared. */
  function tokenName(req: FastifyRequest): string | undefined {
    const m = BEARER.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const digest = createHash('sha256').update(m[1]!).digest('hex');
    let found: string | undefined;
    for (const t of deps.config.current().identity.scim?.tokens ?? []) if (sameSecret(digest, t.sha256) && found === undefined) found = t.name;
    return found;
  }

  return ({ server }: RouteContext) => {
    void server.register(
      async (scim: FastifyInstance) => {
        scim.removeAllContentTypeParsers(); // SCIM bodies are JSON only (a form or text is a 415)
        scim.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string', bodyLimit: SCIM_BODY_LIMIT }, (_req, body, done) => {
          try {
            done(null, body === '' ? undefined : JSON.parse(body as string));
          } catch {
            done(badRequest('invalidSyntax', 'The body is not valid JSON.'));
          }
        });

        // Before the body is read: a stranger's body is never parsed.
        scim.addHook('onRequest', async (req, reply) => {
          server.requestLog.begin(req, reply);
          const limiter = server.authFailures;
          const wait = limiter.refusedFor(req.ip);
          if (wait > 0) {
            reply.header('retry-after', String(wait));
            throw new ScimError(429, undefined, 'Too many failed authentications from this address; retry later.');
          }
          const name = tokenName(req);
          if (name === undefined) {
            if (req.headers.authorization !== undefined) limiter.fail(req.ip);
            reply.header('www-authenticate', 'Bearer realm="hourglass-scim"');
            const enabled = deps.config.current().identity.scim !== undefined;
            throw new ScimError(
              401,
              undefined,
              enabled ? 'A valid bearer token of identity.scim.tokens is required.' : 'SCIM provisioning is not enabled (identity.scim).',
            );
          }
          req.scimActor = Object.freeze({ id: `scim:${name}`, groups: [], roles: [] }) as unknown as Principal;
        });

        scim.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
          let e: ScimError;
          if (err instanceof ScimError) e = err;
          else if (isHgError(err) && err.code === 'HG_CONCURRENT_UPDATE') e = new ScimError(409, undefined, 'The resource changed meanwhile; retry.');
          else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new ScimError(413, undefined, `The body is larger than ${SCIM_BODY_LIMIT} bytes.`);
          else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) e = new ScimError(415, undefined, 'Send application/scim+json.');
          else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) e = badRequest('invalidSyntax', 'The request is malformed.');
          else {
            server.requestLog.for(req)?.error({ err }, 'unexpected error in a SCIM call');
            e = new ScimError(500, undefined, 'Internal error; the server log has the details.');
          }
          return reply.status(e.status).type(CONTENT_TYPE).send(scimErrorBody(e));
        });
        // The onRequest hook above runs first: a stranger learns nothing, not even which paths exist.
        scim.setNotFoundHandler((req, reply) =>
          reply
            .status(404)
            .type(CONTENT_TYPE)
            .send(scimErrorBody(new ScimError(404, undefined, `No SCIM endpoint ${req.method} ${req.url.split('?')[0]}.`))),
        );

        const call = (req: FastifyRequest): ScimCall => ({ actor: req.scimActor!, method: req.method, path: req.url.split('?')[0]!, requestId: req.id });
        const send = (reply: FastifyReply, body: unknown, status = 200) => reply.status(status).type(CONTENT_TYPE).send(body);
        const sendAnswer = (req: FastifyRequest, reply: FastifyReply, a: ScimAnswer, status = 200) => {
          reply.header('etag', etagOf(a.version));
          if (status === 201) reply.header('location', (a.resource.meta as { location: string }).location);
          const q = parseListQuery((req.query ?? {}) as Record<string, unknown>);
          return send(reply, project(a.resource, q.attributes, q.excludedAttributes), status);
        };
        const ifMatch = (req: FastifyRequest) => {
          const v = req.headers['if-match'];
          return Array.isArray(v) ? v.join(',') : v;
        };
        const query = (req: FastifyRequest) => parseListQuery((req.query ?? {}) as Record<string, unknown>);

        scim.get('/ServiceProviderConfig', (_req, reply) => send(reply, serviceProviderConfig(baseUrl())));
        scim.get('/Schemas', (_req, reply) => send(reply, schemas(baseUrl())));
        scim.get<{ Params: Params }>('/Schemas/:id', (req, reply) => {
          const found = schemaById(baseUrl(), req.params.id);
          if (!found) throw new ScimError(404, undefined, 'No such schema.');
          return send(reply, found);
        });
        scim.get('/ResourceTypes', (_req, reply) => send(reply, resourceTypes(baseUrl())));
        scim.get<{ Params: Params }>('/ResourceTypes/:id', (req, reply) => {
          const found = resourceTypeById(baseUrl(), req.params.id);
          if (!found) throw new ScimError(404, undefined, 'No such resource type.');
          return send(reply, found);
        });

        for (const [path, ops] of [
          [
            '/Users',
            {
              list: service.listUsers,
              get: service.getUser,
              create: service.createUser,
              replace: service.replaceUser,
              patch: service.patchUser,
              remove: service.deleteUser,
            },
          ],
          [
            '/Groups',
            {
              list: service.listGroups,
              get: service.getGroup,
              create: service.createGroup,
              replace: service.replaceGroup,
              patch: service.patchGroup,
              remove: service.deleteGroup,
            },
          ],
        ] as const) {
          scim.get(path, async (req, reply) => send(reply, await ops.list.call(service, query(req))));
          scim.post(path, async (req, reply) => sendAnswer(req, reply, await ops.create.call(service, req.body, call(req)), 201));
          scim.get<{ Params: Params }>(`${path}/:id`, async (req, reply) => {
            const answer = await ops.get.call(service, req.params.id);
            const inm = req.headers['if-none-match'];
            if (typeof inm === 'string' && matchesIfMatch(inm, answer.version)) return reply.status(304).header('etag', etagOf(answer.version)).send();
            return sendAnswer(req, reply, answer);
          });
          scim.put<{ Params: Params }>(`${path}/:id`, async (req, reply) =>
            sendAnswer(req, reply, await ops.replace.call(service, req.params.id, req.body, ifMatch(req), call(req))),
          );
          scim.patch<{ Params: Params }>(`${path}/:id`, async (req, reply) =>
            sendAnswer(req, reply, await ops.patch.call(service, req.params.id, req.body, ifMatch(req), call(req))),
          );
          scim.delete<{ Params: Params }>(`${path}/:id`, async (req, reply) => {
            await ops.remove.call(service, req.params.id, ifMatch(req), call(req));
            return reply.status(204).send();
          });
        }
      },
      { prefix: SCIM_PREFIX },
    );
  };
}
