/**
 * Stand-ins for the on-call services on free loopback ports, speaking their documented shapes:
 *
 * - PagerDuty REST API v2 `GET /oncalls`: `Authorization: Token token=KEY` (else 401), filters
 *   `schedule_ids[]`, `since`/`until` (400 when `until` is before `since`), any entry overlapping
 *   the range is returned (as the API does; the client decides the hand-over instant), users as
 *   references unless `include[]=users`, pages of `limit` (default 25, at most 100) from `offset`.
 * - Opsgenie `GET /v2/schedules/{identifier}/on-calls`: `Authorization: GenieKey KEY` (else 401),
 *   `scheduleIdentifierType` id (default) or name, 404 for an unknown schedule, `date` (default
 *   now), `flat=true` for `onCallRecipients`, else `onCallParticipants`.
 * - An iCalendar feed at a secret-looking path (404 elsewhere).
 *
 * Every request is recorded; who is on call can be changed while they run. Unknown paths are 404.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One shift: ISO start, ISO end or null (until further notice). */
export interface Shift {
  email: string;
  start: string;
  end: string | null;
  /** PagerDuty escalation level (default 1). */
  level?: number;
}

export interface StandinRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  status: number;
}

interface Standin {
  readonly url: string;
  readonly requests: StandinRequest[];
  /** The next `n` requests get `status` (after the path and auth checks pass). */
  answerNext(n: number, status: number): void;
  close(): Promise<void>;
}

export interface PagerDutyStandin extends Standin {
  /** Replaces a schedule's shifts (who is on call). */
  setSchedule(id: string, shifts: Shift[]): void;
}

export interface OpsgenieSchedule {
  name: string;
  shifts: Shift[];
}

export interface OpsgenieStandin extends Standin {
  setSchedule(id: string, schedule: OpsgenieSchedule): void;
}

export interface IcsServer extends Standin {
  /** The feed's address (its path is the secret). */
  readonly url: string;
  setIcs(text: string): void;
}

type Handler = (req: http.IncomingMessage, u: URL, answer: (status: number, body?: unknown, type?: string) => void) => void;

async function serve(handler: Handler): Promise<{ port: number; requests: StandinRequest[]; answerNext: Standin['answerNext']; close(): Promise<void> }> {
  const requests: StandinRequest[] = [];
  const scripted: { n: number; status: number }[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://standin');
      const record: StandinRequest = { method: req.method ?? '', path: u.pathname, query: u.searchParams, headers: req.headers, status: 0 };
      requests.push(record);
      handler(req, u, (status, body, type = 'application/json') => {
        const script = status === 200 ? scripted.find((s) => s.n > 0) : undefined;
        if (script) {
          script.n--;
          status = script.status;
          body = { message: 'scripted failure' };
          type = 'application/json';
        }
        record.status = status;
        const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(status, text ? { 'content-type': type } : {}).end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    answerNext: (n, status) => scripted.push({ n, status }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const ms = (iso: string | null, open: number): number => (iso === null ? open : Date.parse(iso));

/** A stable PagerDuty-like user id for an address. */
const userId = (email: string): string =>
  `P${Buffer.from(email)
    .toString('base64url')
    .replace(/[^A-Za-z0-9]/g, '')
    .toUpperCase()
    .slice(0, 6)
    .padEnd(6, 'X')}`;

export async function startPagerDutyStandIn(opts: { token: string; schedules: Record<string, Shift[]> }): Promise<PagerDutyStandin> {
  const schedules = new Map(Object.entries(opts.schedules));
  const pdError = (code: number, message: string, errors?: string[]) => ({ error: { code, message, ...(errors ? { errors } : {}) } });
  const s = await serve((req, u, answer) => {
    if (u.pathname !== '/oncalls' || req.method !== 'GET') return answer(404, pdError(2100, 'Not Found'));
    if (req.headers.authorization !== `Token token=${opts.token}`) return answer(401, pdError(2006, 'Authentication failed'));
    const now = Date.now();
    const since = u.searchParams.has('since') ? Date.parse(u.searchParams.get('since')!) : now;
    const until = u.searchParams.has('until') ? Date.parse(u.searchParams.get('until')!) : now;
    if (Number.isNaN(since) || Number.isNaN(until)) return answer(400, pdError(2001, 'Invalid Input Provided', ['since and until must be ISO 8601 times']));
    if (until < since) return answer(400, pdError(2001, 'Invalid Input Provided', ['until cannot be before since']));
    const limit = Math.min(Number(u.searchParams.get('limit') ?? 25) || 25, 100);
    const offset = Number(u.searchParams.get('offset') ?? 0) || 0;
    const wanted = u.searchParams.getAll('schedule_ids[]');
    const withUsers = u.searchParams.getAll('include[]').includes('users');
    const entries = [...schedules]
      .filter(([id]) => wanted.length === 0 || wanted.includes(id))
      .flatMap(([id, shifts]) =>
        shifts
          // Overlap with [since, until], ends included: the API is loose at the edges.
          .filter((sh) => ms(sh.start, -Infinity) <= until && since <= ms(sh.end, Infinity))
          .map((sh) => {
            const uid = userId(sh.email);
            const ref = { id: uid, type: 'user_reference', summary: sh.email.split('@')[0], self: `https://api.pagerduty.com/users/${uid}` };
            return {
              escalation_policy: { id: 'PEP0001', type: 'escalation_policy_reference', summary: 'Ops' },
              escalation_level: sh.level ?? 1,
              schedule: { id, type: 'schedule_reference', summary: `Schedule ${id}` },
              user: withUsers ? { ...ref, type: 'user', name: ref.summary, email: sh.email, time_zone: 'Etc/UTC' } : ref,
              start: sh.start,
              end: sh.end,
            };
          }),
      );
    const page = entries.slice(offset, offset + limit);
    answer(200, { oncalls: page, limit, offset, more: offset + limit < entries.length, total: null });
  });
  return { ...s, url: `http://127.0.0.1:${s.port}`, setSchedule: (id, shifts) => void schedules.set(id, shifts) };
}

export async function startOpsgenieStandIn(opts: { apiKey: string; schedules: Record<string, OpsgenieSchedule> }): Promise<OpsgenieStandin> {
  const schedules = new Map(Object.entries(opts.schedules));
  const meta = (t0: number) => ({ took: (Date.now() - t0) / 1000, requestId: randomUUID() });
  const s = await serve((req, u, answer) => {
    const t0 = Date.now();
    const m = /^\/v2\/schedules\/([^/]+)\/on-calls$/.exec(u.pathname);
    if (!m || req.method !== 'GET') return answer(404, { message: 'Not Found', ...meta(t0) });
    if (req.headers.authorization !== `GenieKey ${opts.apiKey}`) return answer(401, { message: 'Could not authenticate', ...meta(t0) });
    const identifier = decodeURIComponent(m[1]!);
    const type = u.searchParams.get('scheduleIdentifierType') ?? 'id';
    if (type !== 'id' && type !== 'name') return answer(422, { message: 'Invalid schedule identifier type', ...meta(t0) });
    const found = [...schedules].find(([id, sc]) => (type === 'id' ? id === identifier : sc.name === identifier));
    if (!found) return answer(404, { message: `Schedule with identifier [${identifier}] not found`, ...meta(t0) });
    const date = u.searchParams.has('date') ? Date.parse(u.searchParams.get('date')!) : Date.now();
    if (Number.isNaN(date)) return answer(422, { message: "date must be in the format yyyy-MM-dd'T'HH:mm:ssZ", ...meta(t0) });
    const [id, schedule] = found;
    const on = schedule.shifts.filter((sh) => ms(sh.start, -Infinity) <= date && date < ms(sh.end, Infinity)).map((sh) => sh.email);
    const flat = u.searchParams.get('flat') === 'true';
    const data = {
      _parent: { id, name: schedule.name, enabled: true },
      ...(flat ? { onCallRecipients: on } : { onCallParticipants: on.map((email) => ({ id: randomUUID(), name: email, type: 'user' })) }),
    };
    answer(200, { data, ...meta(t0) });
  });
  return { ...s, url: `http://127.0.0.1:${s.port}`, setSchedule: (id, schedule) => void schedules.set(id, schedule) };
}

export async function startIcsServer(icsText: string): Promise<IcsServer> {
  let ics = icsText;
  const path = `/calendar/ical/${randomBytes(12).toString('hex')}/private-${randomBytes(16).toString('hex')}/basic.ics`;
  const s = await serve((req, u, answer) => {
    if (u.pathname !== path) return answer(404, 'Not Found', 'text/plain');
    if (req.method !== 'GET') return answer(405, 'Method Not Allowed', 'text/plain');
    answer(200, ics, 'text/calendar; charset=utf-8');
  });
  return {
    ...s,
    url: `http://127.0.0.1:${s.port}${path}`,
    setIcs: (text) => {
      ics = text;
    },
  };
}
