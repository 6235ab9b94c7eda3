/**
 * GET /v1/live: server-sent events that tell the caller which of the requests it may see changed
 * (src/app/live-feed.ts), so the web UI updates without reloading. Each message names a request
 * and an event type only; the page reads the request through the API.
 *
 * The stream re-checks its credential every keep-alive (25 s): a session that was signed out or
 * ran out gets an `end` event and the stream closes.
 */
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { LiveFeed, type LiveMessage } from '../../app/live-feed.js';
import type { Principal } from '../../core/types.js';
import { isThenable } from '../authenticate.js';
import { defineRoute } from '../route.js';
import type { RouteContext } from './context.js';

export const LIVE_LIMITS = { maxSubscribers: 1000, maxPerPrincipal: 5 };
/** How often the feed reads the chain for changes other servers committed. */
export const LIVE_POLL_MS = 1000;
export const LIVE_KEEPALIVE_MS = 25_000;

const liveMessage = z
  .object({ topic: z.enum(['mine', 'approvals']), requestId: z.string(), type: z.string(), at: z.string().datetime() })
  .strict()
  .describe('The data of a `change` event');

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function liveRoutes({ server, table, opts }: RouteContext): void {
  const feed = new LiveFeed(opts.app.deps, LIVE_LIMITS);
  const poll = setInterval(() => void feed.tick().catch(() => {}), LIVE_POLL_MS);
  poll.unref();
  // Before the server waits for open connections to finish: an open stream never would.
  const open = new Set<(reason: string) => void>();
  server.addHook('preClose', async () => {
    clearInterval(poll);
    for (const close of [...open]) close('server stopping');
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/live',
    tag: 'caller',
    auth: 'bearer',
    summary: 'Live updates: which of your requests, and of those you may approve or review, changed (server-sent events)',
    description:
      '`text/event-stream`. First `event: hello` with `{principal}`, then `event: change` with `{topic, requestId, type, at}` ' +
      '(`topic` is `mine` for your own requests, `approvals` for those you may approve or review), a `: keep-alive` comment ' +
      'every 25 s, and `event: end` with `{reason}` before the server closes the stream (signed out, or the server stops). ' +
      `At most ${LIVE_LIMITS.maxPerPrincipal} streams per principal and ${LIVE_LIMITS.maxSubscribers} per server (429 beyond). ` +
      'Events missed while disconnected are not replayed: read the lists again after reconnecting.',
    responses: { 200: { description: 'the event stream', schema: liveMessage, contentType: 'text/event-stream' } },
    handler: async ({ principal, req, reply }) => {
      const stream = new PassThrough();
      const unsubscribe = await feed.subscribe(principal, (m: LiveMessage) => stream.write(frame('change', m)));
      let closed = false;
      const close = (reason?: string) => {
        if (closed) return;
        closed = true;
        open.delete(close);
        clearInterval(keepAlive);
        unsubscribe();
        if (reason) stream.end(frame('end', { reason }));
        else stream.end();
      };
      const stillSignedIn = (p: Principal | undefined) => {
        if (!p) close('signed out');
        else stream.write(': keep-alive\n\n');
      };
      const keepAlive = setInterval(() => {
        // Ask again, as a new request would: a session signed out meanwhile ends the stream.
        req.principal = null;
        req.authChecked = false;
        try {
          const p = server.authenticate(req);
          if (isThenable(p)) p.then(stillSignedIn, () => close('signed out'));
          else stillSignedIn(p);
        } catch {
          close('signed out');
        }
      }, opts.liveKeepAliveMs ?? LIVE_KEEPALIVE_MS);
      keepAlive.unref();
      // The response's close, not the request's: a GET's request is complete at once.
      reply.raw.once('close', () => close());
      open.add(close);
      stream.write(`retry: 3000\n\n${frame('hello', { principal: principal.id })}`);
      void reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('x-accel-buffering', 'no')
        // A stream ended by the server (sign-out, shutdown) takes its connection with it: no idle
        // keep-alive socket is left for the server's close to wait on.
        .header('connection', 'close')
        .send(stream);
      return reply;
    },
  });
}
