import type { FastifyInstance } from 'fastify';
import type { ServerOptions } from '../options.js';
import type { RouteTable } from '../route.js';

/** What every route module receives. */
export interface RouteContext {
  server: FastifyInstance;
  table: RouteTable;
  opts: ServerOptions;
}
