import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { getOpenApiDocument, openApiDocumentResponse } from '../openapi.js';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';

/**
 * GET /openapi.json (the generated document) and GET /docs (Swagger UI). Neither needs a token:
 * they describe the API and reveal no data. Swagger UI is served from the `swagger-ui-dist`
 * package, so it works offline; the page loads nothing from elsewhere.
 */
export function docsRoutes({ server, table }: RouteContext): void {
  let documentText: string | undefined;
  defineRoute(server, table, {
    method: 'GET',
    url: '/openapi.json',
    tag: 'operations',
    auth: 'none',
    summary: 'This API described in OpenAPI 3.1 (no authentication)',
    description: 'Generated from the same schemas the server validates input with and checks its responses against.',
    responses: { 200: { description: 'the OpenAPI document', schema: openApiDocumentResponse } },
    handler: async ({ reply }) => {
      documentText ??= JSON.stringify(getOpenApiDocument(table));
      return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(documentText);
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/docs',
    tag: 'operations',
    auth: 'none',
    summary: 'Interactive API documentation (Swagger UI; no authentication)',
    responses: { 200: { description: 'an HTML page that loads /openapi.json', schema: z.string(), contentType: 'text/html' } },
    handler: async ({ reply }) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .send(PAGE),
  });

  // The page's own assets: not API routes, so not in the document.
  for (const [name, type] of Object.entries(ASSETS)) {
    server.get(`/docs/${name}`, async (req, reply) => {
      server.requestLog.begin(req, reply);
      return reply.header('content-type', type).header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff').send(asset(name));
    });
  }
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// Relative links: the page keeps working behind a reverse proxy that mounts Hourglass under a prefix.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Hourglass API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: new URL('openapi.json', document.baseURI).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  validatorUrl: null,
  persistAuthorization: false,
});
`;

const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'init.js': 'text/javascript; charset=utf-8',
};

const loaded = new Map<string, Buffer>();
function asset(name: string): Buffer {
  let body = loaded.get(name);
  if (!body) {
    if (name === 'init.js') body = Buffer.from(INIT);
    else {
      const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
      // The bundle's source map is not served; drop the comment so browsers do not ask for it.
      body = Buffer.from(readFileSync(join(dir, name), 'utf8').replace(/\n\/[/*]# sourceMappingURL=\S+\s*(\*\/)?\s*$/, '\n'));
    }
    loaded.set(name, body);
  }
  return body;
}
