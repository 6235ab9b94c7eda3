/**
 * Caps on open connections, in all and per socket address, so that clients that hold sockets
 * open (slow bodies, idle connections) cannot use up the process's file descriptors. The
 * timeouts that close such sockets are Node's (build-server.ts sets them); this bounds how many
 * can be open meanwhile. Counted per connection, never per request.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export type RefusedConnection = 'connections_total' | 'connections_per_address';

export function limitConnections(
  server: Server,
  limits: { maxConnections: number; maxConnectionsPerAddress: number },
  onRefused: (reason: RefusedConnection) => void = () => {},
): void {
  if (limits.maxConnections > 0) {
    // net.Server closes connections beyond this before anything reads them.
    server.maxConnections = limits.maxConnections;
    server.on('drop', () => onRefused('connections_total'));
  }
  const cap = limits.maxConnectionsPerAddress;
  if (cap <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined) return; // already gone
    const n = open.get(address) ?? 0;
    if (n >= cap) {
      socket.destroy();
      onRefused('connections_per_address');
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => {
      const left = open.get(address)! - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/**
 * Sockets that never carried a request (browsers and HTTP clients open them ahead of use) are
 * not idle to Node, so closing the server would wait for their headers timeout. They hold
 * nothing: at shutdown they go at once.
 */
export function dropUnusedAtClose(server: Server): () => void {
  const unused = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  server.on('request', (req: { socket: Socket }) => unused.delete(req.socket));
  return () => {
    for (const socket of unused) socket.destroy();
  };
}
