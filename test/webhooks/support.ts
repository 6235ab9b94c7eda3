/** A real HTTP receiver on 127.0.0.1 and configuration builders for webhook tests. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../../src/app/ports.js';
import { noMetrics } from '../../src/app/ports.js';
import { policiesYaml } from '../fixtures/policies.js';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Status (and headers) to answer, per request; 200 by default; `hang`: never answer. */
  respond: (r: { path: string; n: number }) => number | { status: number; headers?: Record<string, string> } | 'hang';
  on(path: string): Received[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const receiver = {} as Receiver;
  receiver.received = received;
  receiver.respond = () => 200;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const answer = receiver.respond({ path, n: received.filter((r) => r.path === path).length + 1 });
      if (answer === 'hang') {
        received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: 0 });
        return;
      }
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : { headers: {}, ...answer };
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status, headers);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  receiver.port = port;
  receiver.url = `http://127.0.0.1:${port}`;
  receiver.on = (path) => received.filter((r) => r.path === path);
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

export interface HookSpec {
  name: string;
  url: string;
  secret: string;
  events: string[];
  timeout?: string;
}

/** The policy fixture plus `server.allowedHosts` (when given) and a `webhooks:` section. */
export function webhookYaml(hooks: HookSpec[], allowedHosts?: string[]): string {
  let yaml = policiesYaml();
  if (allowedHosts) {
    yaml = yaml.replace('store: "sqlite::memory:"', `store: "sqlite::memory:"\n  allowedHosts: [${allowedHosts.map((h) => JSON.stringify(h)).join(', ')}]`);
  }
  const list = hooks
    .map(
      (h) =>
        `  - name: ${h.name}\n    url: ${JSON.stringify(h.url)}\n    secret: ${JSON.stringify(h.secret)}\n    events: [${h.events.map((e) => JSON.stringify(e)).join(', ')}]\n    timeout: ${h.timeout ?? '2s'}\n`,
    )
    .join('');
  return `${yaml}\nwebhooks:\n${list}`;
}

/** Records webhook outcomes; the rest is a no-op. */
export function recordingMetrics(): Metrics & { deliveries: string[] } {
  const deliveries: string[] = [];
  return { ...noMetrics, deliveries, webhookDelivery: (endpoint, outcome) => deliveries.push(`${endpoint}:${outcome}`) };
}

export const SECRET_A = 'whsec-alpha-0123456789abcdef';
export const SECRET_B = 'whsec-bravo-fedcba9876543210';
