/**
 * A Slack stand-in on a free loopback port: the Web API methods Hourglass calls, with Slack's
 * request and answer shapes (https://api.slack.com/methods/chat.postMessage, chat.update,
 * users.lookupByEmail, apps.connections.open), and the Socket Mode WebSocket
 * (https://api.slack.com/apis/socket-mode): `hello` on connect, envelopes out, `{envelope_id}` acks in.
 * The official clients talk to it unchanged (`slackApiUrl: apiUrl`). Every call is recorded; a knob
 * makes the next call of a method fail (`ratelimited` answers HTTP 429 with Retry-After, as Slack does).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SlackStandInCall {
  method: string;
  /** The arguments, decoded (form or JSON); `blocks` parsed from its JSON text. */
  body: Record<string, unknown>;
  /** The bearer token sent (or the `token` argument), if any. */
  auth: string | undefined;
}

export interface SlackStandInMessage {
  channel: string;
  ts: string;
  text: string | undefined;
  blocks: unknown[] | undefined;
}

export interface SlackStandIn {
  /** `http://127.0.0.1:PORT/api/`: the WebClient's `slackApiUrl`. */
  readonly apiUrl: string;
  readonly calls: SlackStandInCall[];
  /** Messages by ts, as last posted or updated. */
  readonly messages: Map<string, SlackStandInMessage>;
  /** chat.postEphemeral messages: seen only by `user`, never stored in the channel. */
  readonly ephemerals: { channel: string; user: string; text: string | undefined }[];
  /** Acks received over Socket Mode, by envelope id, with their payloads. */
  readonly acks: { envelope_id: string; payload?: unknown }[];
  /** What was posted to the `response_url`s of payloads made by `blockActions`. */
  readonly responses: { path: string; body: unknown }[];
  /** Open Socket Mode connections. */
  readonly connections: number;
  callsOf(method: string): SlackStandInCall[];
  /** The next call of `method` answers `error` (`ratelimited`: HTTP 429, Retry-After). */
  failNext(method: string, error: string): void;
  /** Resolves when a Socket Mode client is connected (at once when one is). */
  connected(timeoutMs?: number): Promise<void>;
  /** Sends an `interactive` envelope to the newest connection; resolves when the client acks it. */
  sendInteractive(payload: unknown, timeoutMs?: number): Promise<void>;
  /** The same for any envelope type (`events_api`, `slash_commands`). */
  sendEnvelope(type: string, payload: unknown, timeoutMs?: number): Promise<void>;
  /** A `block_actions` payload as Slack sends it for a press of `actionId` on message `ts`. */
  blockActions(opts: { userId: string; actionId: string; value: string; channel?: string; ts?: string; teamId?: string }): Record<string, unknown>;
  close(): Promise<void>;
}

export interface SlackStandInOptions {
  botToken: string;
  appToken?: string;
  users: { id: string; email: string; deleted?: boolean }[];
  teamId?: string;
}

type Answer = { status?: number; headers?: Record<string, string>; body: Record<string, unknown> };

const MAX_BODY = 1024 * 1024;

export async function startSlackStandIn(opts: SlackStandInOptions): Promise<SlackStandIn> {
  const teamId = opts.teamId ?? 'T0STANDIN';
  const calls: SlackStandInCall[] = [];
  const messages = new Map<string, SlackStandInMessage>();
  const ephemerals: { channel: string; user: string; text: string | undefined }[] = [];
  const acks: { envelope_id: string; payload?: unknown }[] = [];
  const responses: { path: string; body: unknown }[] = [];
  const failures = new Map<string, string[]>();
  const tickets = new Set<string>();
  const sockets: WebSocket[] = [];
  const pendingAcks = new Map<string, () => void>();
  const connectWaiters: (() => void)[] = [];
  let tsCounter = 0;

  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++tsCounter).padStart(6, '0')}`;
  const error = (code: string): Answer => ({ body: { ok: false, error: code } });
  const ok = (fields: Record<string, unknown>): Answer => ({ body: { ok: true, ...fields } });
  /** The DM channel of the app with a user: stable per user, as in Slack. */
  const dmOf = (userId: string) => `D${userId.slice(1)}`;
  const userById = (id: string) => opts.users.find((u) => u.id === id);

  function blocksOf(v: unknown): unknown[] | undefined | 'invalid' {
    if (v === undefined) return undefined;
    if (Array.isArray(v)) return v;
    if (typeof v !== 'string') return 'invalid';
    try {
      const parsed: unknown = JSON.parse(v);
      return Array.isArray(parsed) ? parsed : 'invalid';
    } catch {
      return 'invalid';
    }
  }

  /** Where a post to `channel` lands: a user id opens the DM; C/G ids are channels; D ids are DMs we know. */
  function resolveChannel(channel: unknown): string | undefined {
    if (typeof channel !== 'string' || !channel) return undefined;
    if (/^[UW]/.test(channel)) {
      const u = userById(channel);
      return u && !u.deleted ? dmOf(u.id) : undefined;
    }
    if (/^[CG][A-Z0-9]{2,}$/.test(channel)) return channel;
    if (/^D/.test(channel) && opts.users.some((u) => dmOf(u.id) === channel)) return channel;
    return undefined;
  }

  function handle(method: string, body: Record<string, unknown>, auth: string | undefined): Answer {
    const scripted = failures.get(method)?.shift();
    if (scripted === 'ratelimited') return { status: 429, headers: { 'retry-after': '1' }, body: { ok: false, error: 'ratelimited' } };
    if (scripted) return error(scripted);

    if (method === 'apps.connections.open') {
      if (!auth) return error('not_authed');
      if (auth === opts.botToken) return error('not_allowed_token_type');
      if (!opts.appToken || auth !== opts.appToken) return error('invalid_auth');
      const ticket = randomBytes(12).toString('hex');
      tickets.add(ticket);
      return ok({ url: `ws://127.0.0.1:${port}/link/?ticket=${ticket}&app_id=A0STANDIN` });
    }
    if (!['chat.postMessage', 'chat.postEphemeral', 'chat.update', 'users.lookupByEmail'].includes(method)) return error('unknown_method');
    if (!auth) return error('not_authed');
    if (auth === opts.appToken) return error('not_allowed_token_type');
    if (auth !== opts.botToken) return error('invalid_auth');

    if (method === 'users.lookupByEmail') {
      if (typeof body.email !== 'string' || !body.email) return error('invalid_arguments');
      const email = body.email.toLowerCase();
      const u = opts.users.find((x) => x.email.toLowerCase() === email);
      if (!u) return error('users_not_found');
      return ok({
        user: { id: u.id, team_id: teamId, name: u.email.split('@')[0], deleted: Boolean(u.deleted), is_bot: false, profile: { email: u.email } },
      });
    }

    const blocks = blocksOf(body.blocks);
    if (blocks === 'invalid') return error('invalid_blocks');
    const text = typeof body.text === 'string' ? body.text : undefined;
    if (method === 'chat.postEphemeral') {
      const channel = resolveChannel(body.channel);
      if (!channel) return error('channel_not_found');
      const user = typeof body.user === 'string' ? userById(body.user) : undefined;
      if (!user || user.deleted) return error('user_not_in_channel');
      if (!text && !(blocks && blocks.length > 0)) return error('no_text');
      ephemerals.push({ channel, user: user.id, text });
      return ok({ message_ts: nextTs() });
    }
    if (method === 'chat.postMessage') {
      if (body.channel === undefined || body.channel === '') return error('channel_not_found');
      const channel = resolveChannel(body.channel);
      if (!channel) return error('channel_not_found');
      if (!text && !(blocks && blocks.length > 0)) return error('no_text');
      const ts = nextTs();
      messages.set(ts, { channel, ts, text, blocks });
      return ok({ channel, ts, message: { type: 'message', subtype: 'bot_message', bot_id: 'B0STANDIN', text: text ?? '', blocks, ts } });
    }
    // chat.update
    const ts = typeof body.ts === 'string' ? body.ts : '';
    const existing = messages.get(ts);
    const channel = resolveChannel(body.channel);
    if (!channel) return error('channel_not_found');
    if (!existing || existing.channel !== channel) return error('message_not_found');
    if (!text && !(blocks && blocks.length > 0)) return error('no_text');
    const updated = { channel, ts, text: text ?? existing.text, blocks: blocks ?? existing.blocks };
    messages.set(ts, updated);
    return ok({ channel, ts, text: updated.text ?? '', message: { type: 'message', text: updated.text ?? '', blocks: updated.blocks } });
  }

  function decode(req: http.IncomingMessage, raw: string): Record<string, unknown> | undefined {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') {
      try {
        const v: unknown = JSON.parse(raw || '{}');
        return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    }
    return Object.fromEntries(new URLSearchParams(raw));
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const send = (a: Answer) => {
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json; charset=utf-8', ...a.headers });
        res.end(JSON.stringify(a.body));
      };
      const path = (req.url ?? '').split('?')[0]!;
      if (req.method === 'POST' && path.startsWith('/actions/')) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return send({ status: 400, body: { ok: false, error: 'invalid_json' } });
        }
        responses.push({ path, body: parsed });
        return send(ok({}));
      }
      const m = /^\/api\/([A-Za-z.]+)$/.exec(path);
      if (req.method !== 'POST' || !m) {
        res.writeHead(404).end();
        return;
      }
      if (size > MAX_BODY) return send({ status: 413, body: { ok: false, error: 'request_too_large' } });
      const body = decode(req, Buffer.concat(chunks).toString('utf8'));
      if (!body) return send(error('invalid_json'));
      const header = req.headers.authorization;
      const bearer = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
      const auth = bearer || (typeof body.token === 'string' && body.token ? body.token : undefined);
      const recorded = { ...body };
      const parsedBlocks = blocksOf(body.blocks);
      if (Array.isArray(parsedBlocks)) recorded.blocks = parsedBlocks;
      calls.push({ method: m[1]!, body: recorded, auth });
      send(handle(m[1]!, body, auth));
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    // Tickets from apps.connections.open are good for one connection.
    if (url.pathname !== '/link/' || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(ws);
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        let msg: { envelope_id?: unknown; payload?: unknown };
        try {
          msg = JSON.parse(data.toString()) as typeof msg;
        } catch {
          return;
        }
        if (typeof msg.envelope_id !== 'string') return;
        acks.push({ envelope_id: msg.envelope_id, payload: msg.payload });
        pendingAcks.get(msg.envelope_id)?.();
        pendingAcks.delete(msg.envelope_id);
      });
      ws.on('close', () => {
        const i = sockets.indexOf(ws);
        if (i >= 0) sockets.splice(i, 1);
      });
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: sockets.length,
          debug_info: { host: 'applink-standin', build_number: 1, approximate_connection_time: 18060 },
          connection_info: { app_id: 'A0STANDIN' },
        }),
      );
      connectWaiters.splice(0).forEach((w) => w());
    });
  });

  function sendEnvelope(type: string, payload: unknown, timeoutMs = 5_000): Promise<void> {
    const ws = sockets.at(-1);
    if (!ws) return Promise.reject(new Error('no Socket Mode client is connected'));
    const envelope_id = randomUUID();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        pendingAcks.delete(envelope_id);
        reject(new Error(`envelope ${envelope_id} was not acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      pendingAcks.set(envelope_id, () => {
        clearTimeout(timer);
        resolve();
      });
      ws.send(JSON.stringify({ envelope_id, type, payload, accepts_response_payload: false }));
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    messages,
    ephemerals,
    acks,
    responses,
    get connections() {
      return sockets.length;
    },
    callsOf: (method) => calls.filter((c) => c.method === method),
    failNext(method, code) {
      failures.set(method, [...(failures.get(method) ?? []), code]);
    },
    connected(timeoutMs = 5_000) {
      if (sockets.length > 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no Socket Mode client connected')), timeoutMs);
        connectWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    sendInteractive(payload, timeoutMs = 5_000) {
      return sendEnvelope('interactive', payload, timeoutMs);
    },
    sendEnvelope,
    blockActions({ userId, actionId, value, channel, ts, teamId: team = teamId }) {
      const msg = ts ? messages.get(ts) : undefined;
      const channelId = channel ?? msg?.channel ?? dmOf(userId);
      const messageTs = ts ?? nextTs();
      return {
        type: 'block_actions',
        user: { id: userId, username: userId.toLowerCase(), name: userId.toLowerCase(), team_id: team },
        api_app_id: 'A0STANDIN',
        token: 'verification-token-unused',
        container: { type: 'message', message_ts: messageTs, channel_id: channelId, is_ephemeral: false },
        trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
        team: { id: team, domain: 'standin' },
        enterprise: null,
        is_enterprise_install: false,
        channel: { id: channelId, name: channelId.startsWith('D') ? 'directmessage' : 'channel' },
        message: { type: 'message', ts: messageTs, text: msg?.text ?? '', blocks: msg?.blocks ?? [] },
        response_url: `http://127.0.0.1:${port}/actions/A0STANDIN/${randomBytes(6).toString('hex')}`,
        actions: [
          {
            action_id: actionId,
            block_id: 'hourglass_actions',
            text: { type: 'plain_text', text: actionId, emoji: true },
            value,
            type: 'button',
            action_ts: `${Date.now() / 1000}`,
          },
        ],
      };
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
