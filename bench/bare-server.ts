/**
 * The baseline for bench/check-throughput.ts: a bare Fastify route in its own process, with the
 * same Fastify version and no logger, hooks or database.
 */
import Fastify from 'fastify';

const server = Fastify({ logger: false });
server.get('/bare', async () => ({ ok: true }));
const url = await server.listen({ host: '127.0.0.1', port: 0 });
process.stderr.write(`bare listening on ${url}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
