/**
 * A stand-in for a Teams Workflows webhook ("When a Teams webhook request is received") on a free
 * loopback port. Like Power Automate it takes POST /workflows/ID/triggers/manual/paths/invoke with
 * `api-version` and a `sig` in the query, refuses a wrong sig with 401, and answers 202 Accepted.
 * It checks the body more strictly than the workflow does (its "Post card in a chat or channel"
 * step is where a bad card would fail, out of our sight): a message with exactly one Adaptive Card
 * attachment whose elements are ones we send; anything else is a 400. Accepted cards are recorded.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TeamsCard {
  $schema?: string;
  type: 'AdaptiveCard';
  version: string;
  body: Record<string, unknown>[];
  actions?: Record<string, unknown>[];
}

export interface TeamsRequest {
  path: string;
  sig: string | null;
  status: number;
  raw: string;
  headers: http.IncomingHttpHeaders;
  /** Why the body was refused (400). */
  problem?: string;
}

export interface TeamsStandin {
  readonly port: number;
  /** The workflow's URL with this `sig` (the right one by default). */
  url(sig?: string): string;
  readonly sig: string;
  /** Cards accepted (202), in order. */
  readonly cards: TeamsCard[];
  /** Every request, with the status it got. */
  readonly requests: TeamsRequest[];
  /** The next `n` valid requests get `status` instead of 202. */
  answerNext(n: number, status: number): void;
  /** While on, requests get no answer at all (a workflow that hangs). */
  hold(on: boolean): void;
  close(): Promise<void>;
}

const ADAPTIVE = 'application/vnd.microsoft.card.adaptive';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';

function elementProblem(el: unknown, at: string): string | undefined {
  if (!isObject(el)) return `${at} is not an object`;
  if (el.type === 'TextBlock') {
    if (!isString(el.text)) return `${at}.text must be a string`;
    if (el.wrap !== undefined && typeof el.wrap !== 'boolean') return `${at}.wrap must be a boolean`;
    return undefined;
  }
  if (el.type === 'FactSet') {
    if (!Array.isArray(el.facts)) return `${at}.facts must be an array`;
    const bad = el.facts.findIndex((f) => !isObject(f) || !isString(f.title) || !isString(f.value));
    return bad >= 0 ? `${at}.facts[${bad}] needs a string title and value` : undefined;
  }
  return `${at}.type ${JSON.stringify(el.type)} is not an element this stand-in knows`;
}

/** Why the body is not a Workflows card message, or undefined when it is one. */
export function cardMessageProblem(body: unknown): string | undefined {
  if (!isObject(body)) return 'the body is not a JSON object';
  if (body.type !== 'message') return 'type must be "message"';
  if (!Array.isArray(body.attachments) || body.attachments.length !== 1) return 'attachments must hold exactly one card';
  const a: unknown = body.attachments[0];
  if (!isObject(a)) return 'attachments[0] is not an object';
  if (a.contentType !== ADAPTIVE) return `attachments[0].contentType must be ${ADAPTIVE}`;
  if (a.contentUrl !== undefined && a.contentUrl !== null) return 'attachments[0].contentUrl must be null';
  const c = a.content;
  if (!isObject(c)) return 'attachments[0].content is not an object';
  if (c.type !== 'AdaptiveCard') return 'content.type must be "AdaptiveCard"';
  if (!isString(c.version) || !/^1\.[0-6]$/.test(c.version)) return 'content.version must be "1.0" to "1.6"';
  if (c.$schema !== undefined && c.$schema !== 'http://adaptivecards.io/schemas/adaptive-card.json') return 'content.$schema is not the Adaptive Card schema';
  if (!Array.isArray(c.body) || c.body.length === 0) return 'content.body must be a non-empty array';
  for (const [i, el] of c.body.entries()) {
    const p = elementProblem(el, `content.body[${i}]`);
    if (p) return p;
  }
  if (c.actions !== undefined) {
    if (!Array.isArray(c.actions)) return 'content.actions must be an array';
    for (const [i, act] of c.actions.entries()) {
      // Workflows webhooks cannot deliver Action.Submit / Action.Execute back: only links out.
      if (!isObject(act) || act.type !== 'Action.OpenUrl') return `content.actions[${i}] must be an Action.OpenUrl`;
      if (!isString(act.title) || !isString(act.url)) return `content.actions[${i}] needs a string title and url`;
      try {
        if (!/^https?:$/.test(new URL(act.url).protocol)) return `content.actions[${i}].url must be http(s)`;
      } catch {
        return `content.actions[${i}].url is not a URL`;
      }
    }
  }
  return undefined;
}

export async function startTeamsStandin(): Promise<TeamsStandin> {
  const sig = randomBytes(24).toString('base64url');
  const workflow = randomBytes(16).toString('hex');
  const path = `/workflows/${workflow}/triggers/manual/paths/invoke`;
  const cards: TeamsCard[] = [];
  const requests: TeamsRequest[] = [];
  const scripted: { n: number; status: number }[] = [];
  let holding = false;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', 'http://standin');
      const record: TeamsRequest = { path: u.pathname, sig: u.searchParams.get('sig'), status: 0, raw, headers: req.headers };
      requests.push(record);
      if (holding) return; // no answer: the client's deadline has to end it
      const answer = (status: number, body?: unknown) => {
        record.status = status;
        const text = body === undefined ? '' : JSON.stringify(body);
        res.writeHead(status, text ? { 'content-type': 'application/json' } : {}).end(text);
      };
      if (u.pathname !== path) return answer(404, { error: { code: 'WorkflowNotFound' } });
      if (req.method !== 'POST') return answer(405);
      if (u.searchParams.get('api-version') !== '2016-06-01') return answer(400, { error: { code: 'InvalidApiVersion' } });
      if (record.sig !== sig) return answer(401, { error: { code: 'DirectApiAuthorizationRequired' } });
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return answer(415);
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        record.problem = 'the body is not JSON';
        return answer(400, { error: { code: 'InvalidRequestContent', message: record.problem } });
      }
      const problem = cardMessageProblem(body);
      if (problem) {
        record.problem = problem;
        return answer(400, { error: { code: 'InvalidRequestContent', message: problem } });
      }
      const script = scripted.find((s) => s.n > 0);
      if (script) {
        script.n--;
        return answer(script.status);
      }
      cards.push((body as { attachments: [{ content: TeamsCard }] }).attachments[0].content);
      answer(202);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    sig,
    url: (s = sig) => `http://127.0.0.1:${port}${path}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${encodeURIComponent(s)}`,
    cards,
    requests,
    answerNext: (n, status) => scripted.push({ n, status }),
    hold: (on) => {
      holding = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
