/**
 * The OpenAPI 3.1 document, generated from the route table: the same zod schemas that validate
 * input at run time and that the tests check every response against. Nothing here is written by
 * hand per route, so the document cannot drift from the server.
 */
import { z } from 'zod';
import { ignoreOverride, zodToJsonSchema } from 'zod-to-json-schema';
import type { ErrorCode } from '../core/errors.js';
import { STATUS_OF } from './error-status.js';
import * as responseSchemas from './responses.js';
import type { AnyRouteSpec, RouteTable } from './route.js';

type JsonSchema = Record<string, unknown>;
type Json = Record<string, unknown>;

export const API_VERSION = '1.0';

/** The document's outer shape, as the /openapi.json route documents it. */
export const openApiDocumentResponse = z
  .object({
    openapi: z.string().regex(/^3\.1\.\d+$/),
    info: z.object({ title: z.string(), version: z.string() }).passthrough(),
    paths: z.record(z.record(z.unknown())),
    components: z.record(z.unknown()),
  })
  .passthrough()
  .describe('An OpenAPI 3.1 document');

const TAG_DESCRIPTIONS: Readonly<Record<string, string>> = {
  caller: 'Who the caller is and what they may request',
  requests: 'Requests and their lifecycle: submit, approve, deny, cancel, revoke, release, extend, review',
  grants: 'Live grants and the check API',
  audit: 'The hash-chained audit log',
  emergency: 'Locks and freezes (admin)',
  admin: 'Server administration',
  policies: 'Policies as code',
  webhooks: 'Event webhooks',
  health: 'Liveness and readiness probes (no authentication)',
  operations: 'Metrics and the API description',
};

/** Error statuses every operation may share, with the codes each carries (from error-status.ts). */
const ERROR_RESPONSES: Readonly<Record<number, { name: string; text: string }>> = {
  400: { name: 'BadRequest', text: 'Invalid input: malformed JSON, unknown field, bad value' },
  401: { name: 'Unauthenticated', text: 'No or wrong bearer token (the message is always `authentication required`)' },
  403: { name: 'Forbidden', text: 'Not allowed, or not eligible' },
  404: { name: 'NotFound', text: 'No such object, or one the caller may not see' },
  409: { name: 'Conflict', text: 'The transition is no longer legal (someone else acted first)' },
  413: { name: 'PayloadTooLarge', text: 'Body above `server.bodyLimit`' },
  422: { name: 'UnprocessableContent', text: 'Outside the policy terms, or an invalid configuration on reload' },
  429: {
    name: 'TooManyRequests',
    text: 'Above `server.rateLimit.perMinute` for this principal (or address), or the address is out of its `server.authFailures` budget',
  },
  502: { name: 'BadGateway', text: 'A target is unavailable' },
  503: { name: 'ServiceUnavailable', text: 'The store is unavailable; retry shortly' },
};

function codesFor(status: number): string[] {
  return (Object.entries(STATUS_OF) as [ErrorCode, number][]).filter(([, s]) => s === status).map(([c]) => c);
}

/** The response schemas exported by responses.ts, by export name: they become components. */
const NAMED = new Map<unknown, string>(
  (Object.entries(responseSchemas) as [string, unknown][])
    .filter((e): e is [string, z.ZodTypeAny] => e[1] instanceof z.ZodType)
    .map(([name, schema]) => [schema._def, name]),
);

/**
 * zod -> JSON Schema (draft 7, which OpenAPI 3.1's 2020-12 dialect accepts). Input side for
 * params, query and body (a `.transform`/`.pipe` is described by what the client sends);
 * named response schemas become `$ref`s into components (collected in `used`).
 */
function toJsonSchema(schema: z.ZodTypeAny, side: 'input' | 'output', used?: Set<string>): JsonSchema {
  const top = schema._def;
  const out = zodToJsonSchema(schema, {
    target: 'jsonSchema7',
    $refStrategy: 'none',
    effectStrategy: side === 'input' ? 'input' : 'any',
    pipeStrategy: side,
    removeAdditionalStrategy: 'passthrough',
    override: (def) => {
      const name = used && def !== top ? NAMED.get(def) : undefined;
      if (!name) return ignoreOverride;
      used!.add(name);
      return { $ref: `#/components/schemas/${name}` };
    },
  }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** A response body schema: a named one by reference, any other inline. */
function responseSchema(schema: z.ZodTypeAny, used: Set<string>): JsonSchema {
  const name = NAMED.get(schema._def);
  if (name) {
    used.add(name);
    return { $ref: `#/components/schemas/${name}` };
  }
  return toJsonSchema(schema, 'output', used);
}

/** Every named schema referenced so far, and the ones they reference in turn. */
function componentSchemas(used: Set<string>): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (let pending = [...used]; pending.length;) {
    const name = pending.shift()!;
    if (out[name]) continue;
    const schema = (responseSchemas as Record<string, unknown>)[name] as z.ZodTypeAny;
    const before = new Set(used);
    out[name] = toJsonSchema(schema, 'output', used);
    pending.push(...[...used].filter((n) => !before.has(n)));
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** `/v1/requests/:id/approve` -> `/v1/requests/{id}/approve` */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function operationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((s) => s && s !== 'v1')
    .map((s) => (s.startsWith(':') ? `by-${s.slice(1)}` : s))
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

function parameters(schema: z.ZodTypeAny | undefined, where: 'path' | 'query' | 'header'): Json[] {
  if (!schema) return [];
  const obj = toJsonSchema(schema, 'input');
  const props = (obj.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((obj.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/** Which shared error responses an operation can give, from what it declares. */
function errorStatuses(spec: AnyRouteSpec): number[] {
  const v1 = spec.url.startsWith('/v1/');
  const post = spec.method === 'POST';
  const out = new Set<number>();
  if (spec.body || spec.query || spec.params || post) out.add(400);
  if (spec.auth === 'bearer') [401, 403, 503].forEach((s) => out.add(s));
  if (spec.params) out.add(404);
  if (post) [409, 413, 422, 502].forEach((s) => out.add(s));
  if (v1) out.add(429);
  return [...out].sort((a, b) => a - b);
}

const REQUEST_ID_HEADER = { $ref: '#/components/headers/RequestId' };

function operation(spec: AnyRouteSpec, used: Set<string>): Json {
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(spec.responses).sort(([a], [b]) => Number(a) - Number(b))) {
    if (!r.schema && Number(status) >= 400) {
      responses[status] = {
        description: r.description,
        headers: { 'x-request-id': REQUEST_ID_HEADER },
        content: { 'application/json': { schema: { $ref: '#/components/schemas/errorResponse' } } },
      };
      continue;
    }
    responses[status] = {
      description: r.description,
      headers: { 'x-request-id': REQUEST_ID_HEADER },
      ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: responseSchema(r.schema, used) } } } : {}),
    };
  }
  for (const status of errorStatuses(spec)) {
    if (!(String(status) in responses)) responses[String(status)] = { $ref: `#/components/responses/${ERROR_RESPONSES[status]!.name}` };
  }
  responses.default = { $ref: '#/components/responses/Error' };

  // A route may declare request headers (e.g. Idempotency-Key) as a zod object beside its query.
  const headers = (spec as { headers?: z.ZodTypeAny }).headers;
  const params = [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query'), ...parameters(headers, 'header')];
  const op: Json = {
    operationId: operationId(spec.method, spec.url),
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    security: spec.auth === 'bearer' ? [{ bearer: [] }] : [],
    ...(params.length ? { parameters: params } : {}),
    responses,
  };
  if (spec.body) {
    const schema = toJsonSchema(spec.body, 'input');
    op.requestBody = {
      required: Array.isArray(schema.required) && schema.required.length > 0,
      content: { 'application/json': { schema } },
    };
  }
  return op;
}

/** Builds the document from route specs (pure; `getOpenApiDocument` caches it per server). */
export function buildOpenApiDocument(specs: readonly AnyRouteSpec[]): Json {
  const paths: Record<string, Record<string, unknown>> = {};
  const tags: string[] = [];
  const used = new Set<string>(['errorResponse']);
  for (const spec of specs) {
    const path = openApiPath(spec.url);
    (paths[path] ??= {})[spec.method.toLowerCase()] = operation(spec, used);
    if (!tags.includes(spec.tag)) tags.push(spec.tag);
  }
  const errorSchemaRef = { $ref: '#/components/schemas/errorResponse' };
  const responses: Record<string, unknown> = {
    Error: { description: 'Any other error (500 `HG_INTERNAL` is a bug, logged on the server)', content: { 'application/json': { schema: errorSchemaRef } } },
  };
  for (const [status, { name, text }] of Object.entries(ERROR_RESPONSES)) {
    responses[name] = {
      description: `${text}. Codes: ${codesFor(Number(status))
        .map((c) => `\`${c}\``)
        .join(', ')}`,
      headers: {
        'x-request-id': REQUEST_ID_HEADER,
        ...(status === '401' ? { 'www-authenticate': { description: 'Always `Bearer`', schema: { type: 'string' } } } : {}),
        ...(status === '429' ? { 'retry-after': { description: 'Seconds until a retry may succeed', schema: { type: 'string' } } } : {}),
      },
      content: { 'application/json': { schema: errorSchemaRef } },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hourglass API',
      version: API_VERSION,
      summary: 'Just-in-time privileged access: request, approve, provision, expire, audit.',
      description:
        'Every `/v1` route needs `Authorization: Bearer <token>`. Errors share one shape with a stable code (`HG_...`). ' +
        "Every response carries an `x-request-id` header (the caller's, when it is a short safe token, else a new UUID) that the server logs. " +
        'See docs/api.md for the lifecycle and docs/operations.md for metrics.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: tags.map((name) => ({ name, ...(TAG_DESCRIPTIONS[name] ? { description: TAG_DESCRIPTIONS[name] } : {}) })),
    paths,
    components: {
      schemas: componentSchemas(used),
      responses,
      headers: {
        RequestId: {
          description: 'The request id the server logged this request under',
          schema: { type: 'string' },
        },
      },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token of a principal (the configuration keeps its SHA-256 only)' },
      },
    },
  };
}

const cache = new WeakMap<RouteTable, Json>();

/** Generated on first use, once every route is declared, and cached for the life of the server. */
export function getOpenApiDocument(table: RouteTable): Json {
  let doc = cache.get(table);
  if (!doc) {
    doc = buildOpenApiDocument(table.specs);
    cache.set(table, doc);
  }
  return doc;
}
