/**
 * Replies written at the end of the event-loop turn (src/http/end-of-turn-replies.ts): a route
 * that opts in answers every synchronous reply of a turn after that turn's handlers ran, in the
 * order they were made; other answers (promises, replies the handler sent itself, errors) take
 * Fastify's usual path, and one failing send does not hold up the others.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HgError } from '../../src/core/errors.js';
import { replyAtEndOfTurn } from '../../src/http/end-of-turn-replies.js';
import { RequestLog } from '../../src/http/request-log.js';
import { defineRoute, RouteTable } from '../../src/http/route.js';

async function serverWith(endOfTurnReply: boolean, events: string[]): Promise<FastifyInstance> {
  const server = Fastify({ logger: false });
  server.decorate('requestLog', new RequestLog(pino({ level: 'silent' })));
  server.decorate('authenticate', () => undefined);
  server.decorateRequest('principal', null);
  server.decorateReply('logBegun', false);
  server.setErrorHandler((err, _req, reply) => reply.status(err instanceof HgError ? 404 : 500).send({ error: { code: (err as HgError).code } }));
  const table = new RouteTable();
  const route = (url: string, handler: (n: string, reply: FastifyReply) => unknown) =>
    defineRoute(server, table, {
      method: 'GET',
      url,
      tag: 'test',
      auth: 'none',
      summary: 'test route',
      params: z.object({ n: z.string() }),
      responses: { 200: { description: 'n' } },
      endOfTurnReply,
      handler: ({ params, reply }) => {
        events.push(`handled ${params.n}`);
        return handler(params.n, reply);
      },
    });
  route('/sync/:n', (n) => ({ n }));
  route('/async/:n', async (n) => ({ n, async: true }));
  route('/self/:n', (n, reply) => reply.send({ n, self: true }));
  route('/fail/:n', () => {
    throw new HgError('HG_NOT_FOUND', 'no such thing');
  });
  server.addHook('onSend', (req, _reply, payload, done) => {
    events.push(`sent ${req.url.split('/').pop()}`);
    done(null, payload);
  });
  await server.ready();
  return server;
}

describe('end-of-turn replies', () => {
  it('sends the synchronous answers of one turn after all of its handlers ran, in order', async () => {
    const events: string[] = [];
    const server = await serverWith(true, events);
    const [a, b, c] = await Promise.all(['1', '2', '3'].map((n) => server.inject(`/sync/${n}`)));
    expect([a!.json(), b!.json(), c!.json()]).toEqual([{ n: '1' }, { n: '2' }, { n: '3' }]);
    expect(events).toEqual(['handled 1', 'handled 2', 'handled 3', 'sent 1', 'sent 2', 'sent 3']);
    await server.close();
  });

  it('without the option each answer is sent as soon as it is made (the difference the option makes)', async () => {
    const events: string[] = [];
    const server = await serverWith(false, events);
    await Promise.all(['1', '2'].map((n) => server.inject(`/sync/${n}`)));
    expect(events).toEqual(['handled 1', 'sent 1', 'handled 2', 'sent 2']);
    await server.close();
  });

  it('leaves promises, replies sent by the handler and thrown errors to Fastify', async () => {
    const events: string[] = [];
    const server = await serverWith(true, events);
    expect((await server.inject('/async/1')).json()).toEqual({ n: '1', async: true });
    expect((await server.inject('/self/2')).json()).toEqual({ n: '2', self: true });
    const failed = await server.inject('/fail/3');
    expect(failed.statusCode).toBe(404);
    expect(failed.json().error.code).toBe('HG_NOT_FOUND');
    expect(events).toEqual(['handled 1', 'sent 1', 'handled 2', 'sent 2', 'handled 3', 'sent 3']);
    await server.close();
  });

  it('a send that throws ends its own connection and the rest of the batch is still sent', async () => {
    const sent: unknown[] = [];
    const destroyed: Error[] = [];
    const reply = (fail: boolean) =>
      ({
        send: (payload: unknown) => {
          if (fail) throw new Error('socket gone');
          sent.push(payload);
        },
        raw: { destroy: (err: Error) => destroyed.push(err) },
      }) as unknown as FastifyReply;
    replyAtEndOfTurn(reply(false), 1);
    replyAtEndOfTurn(reply(true), 2);
    replyAtEndOfTurn(reply(false), 3);
    expect(sent).toEqual([]); // nothing before the turn ends
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([1, 3]);
    expect(destroyed.map((e) => e.message)).toEqual(['socket gone']);
  });
});
