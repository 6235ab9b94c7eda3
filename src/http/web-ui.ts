/**
 * The web UI (web/, built into dist/web by `npm run build`): hashed assets under /assets/ with a
 * year's immutable caching, sent pre-compressed (brotli or gzip, by Accept-Encoding), and the
 * page itself for `GET /` and for any other browser navigation outside the API, so the UI's own
 * paths (/request, /approvals, ...) load on a reload or from a link. The page is never cached
 * and carries a strict Content-Security-Policy: scripts and styles only from this server, no
 * inline code, no framing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths that are never the UI's, whatever the browser asks for. */
const NOT_UI = ['/v1/', '/scim/', '/assets/', '/docs', '/metrics', '/openapi.json', '/healthz', '/readyz', '/.well-known/'];

/**
 * Where the build is: next to the bundled server (dist/web beside dist/*.js), or, running from
 * the sources (tests, tsx), dist/web of the checkout.
 */
export function webUiDir(): string | undefined {
  for (const rel of ['./web/', '../../dist/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return undefined;
}

export interface WebUi {
  /** Answers a browser navigation outside the API with the UI's page; false when it is not one. */
  page(req: FastifyRequest, reply: FastifyReply): boolean;
}

function sendPage(reply: FastifyReply, html: string | undefined): FastifyReply {
  reply.header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').header('referrer-policy', 'same-origin');
  if (html === undefined) {
    // A checkout that was not built: say how to fix it rather than show a blank page.
    return reply.code(503).header('content-type', 'text/plain; charset=utf-8').send('The web UI is not built: run `npm run build`.\n');
  }
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', UI_CSP)
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .send(html);
}

export async function registerWebUi(server: FastifyInstance, dir = webUiDir()): Promise<WebUi> {
  const html = dir ? readFileSync(`${dir}index.html`, 'utf8') : undefined;
  if (dir) {
    await server.register(fastifyStatic, {
      root: `${dir}assets`,
      prefix: '/assets/',
      // File names carry a hash of their content: a new build has new names.
      immutable: true,
      maxAge: '365d',
      preCompressed: true,
      index: false,
      list: false,
      dotfiles: 'deny',
      setHeaders: (res) => {
        res.setHeader('x-content-type-options', 'nosniff');
        // The same URL is sent brotli, gzip or plain: caches must keep them apart.
        res.setHeader('vary', 'accept-encoding');
      },
    });
  }
  server.get('/', async (req, reply) => {
    server.requestLog.begin(req, reply);
    return sendPage(reply, html);
  });
  return {
    page(req, reply) {
      if (req.method !== 'GET' || !String(req.headers.accept ?? '').includes('text/html')) return false;
      const path = req.url.split('?')[0]!;
      if (NOT_UI.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p))) return false;
      void sendPage(reply, html);
      return true;
    },
  };
}
