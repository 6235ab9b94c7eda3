/**
 * A real HTTP receiver for `webhook` targets on a free loopback port: it verifies every call's
 * signature with Hourglass's reference check, keeps grants (a token per request), answers a repeated
 * Idempotency-Key with the answer it gave before, and records every call. Knobs make it fail the
 * next calls, answer with a chosen status or body, or hold an answer back.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../../src/adapters/outbound/verify-signature.js';
import type { WebhookPayload } from '../../src/adapters/connectors/webhook/index.js';
import type { Credentials } from '../../src/app/connectors.js';

export interface ReceivedCall {
  action: string;
  payload: WebhookPayload;
  raw: string;
  headers: http.IncomingHttpHeaders;
  verified: boolean;
  status: number;
}

interface Held {
  principal: string;
  entitlements: string[];
  expiresAt: string;
  token: string;
}

type Answer = { status: number; body: string };

export interface WebhookReceiver {
  readonly url: string;
  readonly port: number;
  readonly calls: ReceivedCall[];
  callsOf(action: string, requestId?: string): ReceivedCall[];
  /** The next `n` calls (of `actions`, all by default) answer `status` with `body`, acting on nothing. */
  answerNext(n: number, status: number, body?: string, actions?: string[]): void;
  /** Drops the answers `answerNext` still had to give: the receiver works again. */
  recover(): void;
  /** Grant answers leave out the credentials (a receiver that returns none). */
  withoutCredentials(on: boolean): void;
  /** What a client with these credentials may do now. */
  use(creds: Credentials, entitlement: string): 'ok' | 'login-refused' | 'action-refused';
  holds(requestId: string): Held | undefined;
  close(): Promise<void>;
}

export async function startWebhookReceiver(opts: { secret: string; entitlements: string[] }): Promise<WebhookReceiver> {
  const calls: ReceivedCall[] = [];
  const grants = new Map<string, Held>();
  const answered = new Map<string, Answer>();
  const scripted: { n: number; answer: Answer; actions?: string[] }[] = [];
  let credentialsOff = false;

  const act = (p: WebhookPayload): Answer => {
    const json = (status: number, body: unknown): Answer => ({ status, body: JSON.stringify(body) });
    if ((p.action as string) === 'health') return json(200, { ok: true });
    if (p.action === 'grant') {
      const unknown = p.entitlements.find((e) => !opts.entitlements.includes(e.name));
      if (unknown) return json(422, { error: `unknown entitlement ${unknown.name}` });
      const held = grants.get(p.requestId) ?? {
        principal: p.principal,
        entitlements: [],
        expiresAt: p.expiresAt,
        token: randomBytes(18).toString('base64url'),
      };
      held.entitlements = p.entitlements.map((e) => e.name);
      grants.set(p.requestId, held);
      return json(200, { handle: `h-${p.requestId}`, ...(credentialsOff ? {} : { credentials: { token: held.token, username: p.principal } }) });
    }
    const held = grants.get(p.requestId);
    if (!held) return json(404, { error: 'no such grant' });
    if (p.action === 'extend') held.expiresAt = p.expiresAt;
    if (p.action === 'revoke') grants.delete(p.requestId);
    return { status: 204, body: '' };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const verified = verifyWebhookSignature(opts.secret, req.headers['hourglass-signature'] as string | undefined, raw, Date.now());
      let payload = {} as WebhookPayload;
      try {
        payload = JSON.parse(raw) as WebhookPayload;
      } catch {
        // recorded as is
      }
      const action = String(payload.action);
      const key = req.headers['idempotency-key'] as string | undefined;
      let answer: Answer;
      const script = scripted.find((s) => s.n > 0 && (!s.actions || s.actions.includes(action)));
      if (!verified) answer = { status: 401, body: '' };
      else if (script) {
        script.n--;
        answer = script.answer;
      } else if (key && answered.has(key)) answer = answered.get(key)!;
      else {
        answer = act(payload);
        if (key && answer.status < 300) answered.set(key, answer);
      }
      calls.push({ action, payload, raw, headers: req.headers, verified, status: answer.status });
      res.writeHead(answer.status, answer.body ? { 'content-type': 'application/json' } : {}).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/hourglass`,
    port,
    calls,
    callsOf: (action, requestId) => calls.filter((c) => c.action === action && (requestId === undefined || c.payload.requestId === requestId)),
    answerNext: (n, status, body = '', actions) => scripted.push({ n, answer: { status, body }, ...(actions ? { actions } : {}) }),
    recover: () => {
      scripted.length = 0;
    },
    withoutCredentials: (on) => {
      credentialsOff = on;
    },
    use(creds, entitlement) {
      const held = [...grants.values()].find((g) => g.token === creds.token);
      if (!held) return 'login-refused';
      return held.entitlements.includes(entitlement) ? 'ok' : 'action-refused';
    },
    holds: (requestId) => grants.get(requestId),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
