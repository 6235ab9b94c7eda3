/**
 * Stand-ins for the ticket systems of src/adapters/tickets/, each on a free loopback port: Jira
 * Cloud (REST v3), ServiceNow (Table API) and the generic `http` endpoint. They implement the
 * documented request and response shapes and are strict where the real ones are (401 for wrong
 * credentials, 404 for unknown paths and issues, 405 for wrong methods, 415 without a JSON body,
 * Jira's 400 for a comment body that is not Atlassian Document Format), and stricter where a
 * mistake of ours would otherwise pass silently: ServiceNow ignores unknown fields in a PATCH,
 * the stand-in refuses everything but a non-empty `work_notes`; it understands only the encoded
 * query `number=VALUE`. Every request is recorded with the status it got.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInRequest {
  method: string;
  /** The path as sent (still percent-encoded). */
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

export interface TicketStandIn {
  /** Base URL (`http://127.0.0.1:PORT`), what `tickets[].url` names. */
  readonly url: string;
  /** Moves a ticket to another state (Jira status name, ServiceNow state label, generic state). */
  setState(key: string, state: string): void;
  /** Comments (Jira), work notes (ServiceNow) and generic comments accepted, as plain text. */
  readonly comments: { key: string; text: string }[];
  readonly requests: StandInRequest[];
  /** The next authenticated request gets `status` (and a JSON error body) instead of its answer. */
  answerNext(status: number): void;
  /** While on, requests get no answer at all (a system that hangs). */
  hold(on: boolean): void;
  close(): Promise<void>;
}

interface Exchange {
  req: http.IncomingMessage;
  method: string;
  /** Pathname segments, percent-decoded. */
  segments: string[];
  query: URLSearchParams;
  body: string;
  answer(status: number, body?: unknown, headers?: Record<string, string>): void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const MAX_BODY = 1024 * 1024;

function basicOk(header: string | undefined, user: string, secret: string): boolean {
  return header === `Basic ${Buffer.from(`${user}:${secret}`, 'utf8').toString('base64')}`;
}

const isJson = (req: http.IncomingMessage) => /^application\/json\b/i.test(req.headers['content-type'] ?? '');

function parseJson(body: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The server, recording and scripting shared by the three stand-ins; `handle` is the system's own routing. */
async function serve(opts: {
  authorized: (req: http.IncomingMessage) => boolean;
  unauthorized: (x: Exchange) => void;
  failure: (x: Exchange, status: number) => void;
  handle: (x: Exchange) => void;
  setState: (key: string, state: string) => void;
  comments: { key: string; text: string }[];
}): Promise<TicketStandIn> {
  const requests: StandInRequest[] = [];
  const scripted: number[] = [];
  let holding = false;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://standin');
      const record: StandInRequest = {
        method: req.method ?? '',
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        status: 0,
      };
      requests.push(record);
      if (holding) return; // no answer: the client's deadline has to end it
      let segments: string[];
      try {
        segments = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        segments = ['%'];
      }
      const x: Exchange = {
        req,
        method: record.method,
        segments,
        query: u.searchParams,
        body: record.body,
        answer(status, body, headers = {}) {
          record.status = status;
          const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
          const type = typeof body === 'string' ? 'text/plain;charset=UTF-8' : 'application/json;charset=UTF-8';
          res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': type }), ...headers });
          res.end(text);
        },
      };
      if (size > MAX_BODY) return x.answer(413, 'request body too large');
      if (!opts.authorized(req)) return opts.unauthorized(x);
      const next = scripted.shift();
      if (next !== undefined) return opts.failure(x, next);
      opts.handle(x);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setState: opts.setState,
    comments: opts.comments,
    requests,
    answerNext: (status) => void scripted.push(status),
    hold: (on) => {
      holding = on;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- Jira Cloud ---------------------------------------------------------------------------------

export interface JiraIssue {
  summary: string;
  /** The status name (`To Do`, `In Progress`, `Done`). */
  status: string;
  description?: string;
}

/** Jira's three status categories; the stand-in files a status by its name. */
function statusCategory(status: string) {
  if (/^(to do|open|backlog|new|selected for development)$/i.test(status)) return { id: 2, key: 'new', colorName: 'blue-gray', name: 'To Do' };
  if (/^(done|closed|resolved|cancell?ed|rejected)$/i.test(status)) return { id: 3, key: 'done', colorName: 'green', name: 'Done' };
  return { id: 4, key: 'indeterminate', colorName: 'yellow', name: 'In Progress' };
}

/** The plain text of an ADF comment body, or why it is not one (what Jira's v3 refuses with 400). */
export function adfText(doc: unknown): { text: string } | { problem: string } {
  if (!isObject(doc)) return { problem: 'body must be an Atlassian Document Format document (an object), not a string' };
  if (doc.type !== 'doc' || doc.version !== 1) return { problem: 'body.type must be "doc" and body.version 1' };
  if (!Array.isArray(doc.content)) return { problem: 'body.content must be an array' };
  const lines: string[] = [];
  for (const [i, block] of doc.content.entries()) {
    if (!isObject(block) || block.type !== 'paragraph') return { problem: `body.content[${i}] must be a paragraph (the only block the stand-in knows)` };
    const inline = block.content ?? [];
    if (!Array.isArray(inline)) return { problem: `body.content[${i}].content must be an array` };
    let line = '';
    for (const [j, node] of inline.entries()) {
      const at = `body.content[${i}].content[${j}]`;
      if (isObject(node) && node.type === 'hardBreak') line += '\n';
      else if (isObject(node) && node.type === 'text') {
        if (typeof node.text !== 'string' || node.text.length === 0) return { problem: `${at}.text must be a non-empty string` };
        line += node.text;
      } else return { problem: `${at} must be a text or hardBreak node` };
    }
    lines.push(line);
  }
  return { text: lines.join('\n') };
}

export async function startJiraStandIn(opts: { email: string; token: string; issues: Record<string, JiraIssue> }): Promise<TicketStandIn> {
  const issues = new Map(Object.entries(opts.issues).map(([k, v]) => [k, { ...v, id: String(10000 + Math.floor(Math.random() * 90000)) }]));
  const comments: { key: string; text: string }[] = [];
  let commentId = 10000;
  let base = '';
  const jiraError = (x: Exchange, status: number, messages: string[], errors: Record<string, string> = {}) =>
    x.answer(status, { errorMessages: messages, errors });
  const notFound = (x: Exchange) => jiraError(x, 404, ['Issue does not exist or you do not have permission to see it.']);

  const standIn = await serve({
    authorized: (req) => basicOk(req.headers.authorization, opts.email, opts.token),
    // What Jira Cloud answers a wrong e-mail or API token on the REST API.
    unauthorized: (x) => x.answer(401, 'Client must be authenticated to access this resource.', { 'www-authenticate': 'Basic realm="protected-area"' }),
    failure: (x, status) => jiraError(x, status, [`HTTP ${status}`]),
    setState: (key, state) => {
      const issue = issues.get(key);
      if (!issue) throw new Error(`the Jira stand-in has no issue ${key}`);
      issue.status = state;
    },
    comments,
    handle: (x) => {
      const [rest, api, v, resource, key, sub, ...more] = x.segments;
      if (rest !== 'rest' || api !== 'api' || v !== '3' || resource !== 'issue' || !key || more.length > 0 || (sub !== undefined && sub !== 'comment')) {
        return x.answer(404, 'Not Found');
      }
      const issue = issues.get(key);
      if (sub === undefined) {
        if (x.method !== 'GET') return x.answer(405, '', { allow: 'GET,PUT,DELETE' });
        if (!issue) return notFound(x);
        const wanted = (x.query.get('fields') ?? '*all').split(',').map((f) => f.trim());
        const all = wanted.includes('*all') || wanted.includes('*navigable');
        const fields: Record<string, unknown> = {};
        if (all || wanted.includes('summary')) fields.summary = issue.summary;
        if (all || wanted.includes('status')) {
          fields.status = { self: `${base}/rest/api/3/status/1`, name: issue.status, id: '1', statusCategory: statusCategory(issue.status) };
        }
        if (all || wanted.includes('description')) fields.description = issue.description ?? null;
        return x.answer(200, { expand: 'renderedFields,names,schema', id: issue.id, self: `${base}/rest/api/3/issue/${issue.id}`, key, fields });
      }
      if (x.method !== 'POST') return x.answer(405, '', { allow: 'GET,POST' });
      if (!isJson(x.req)) return x.answer(415, 'Unsupported Media Type');
      const parsed = parseJson(x.body);
      if (!parsed.ok) return jiraError(x, 400, ['Unexpected character in the request body: not JSON.']);
      if (!issue) return notFound(x);
      if (!isObject(parsed.value) || parsed.value.body === undefined) return jiraError(x, 400, [], { comment: 'Comment body can not be empty!' });
      const text = adfText(parsed.value.body);
      if ('problem' in text) return jiraError(x, 400, ['INVALID_INPUT'], { comment: text.problem });
      comments.push({ key, text: text.text });
      const id = String(commentId++);
      const now = new Date().toISOString().replace('Z', '+0000');
      return x.answer(201, {
        self: `${base}/rest/api/3/issue/${issue.id}/comment/${id}`,
        id,
        author: { accountId: '5b10a2844c20165700ede21g', emailAddress: opts.email, displayName: 'Hourglass', active: true },
        body: parsed.value.body,
        created: now,
        updated: now,
        jsdPublic: true,
      });
    },
  });
  base = standIn.url;
  return standIn;
}

// ---- ServiceNow ---------------------------------------------------------------------------------

export interface ServiceNowRecord {
  /** 32 hex digits; made up when absent. */
  sys_id?: string;
  number: string;
  short_description: string;
  /** The state's label (`Implement`, `Closed`); its stored value comes from the table's choices. */
  state: string;
}

/** The out-of-box state choices (label -> value) of the tables tickets usually live in. */
const STATE_CHOICES: Record<string, Record<string, string>> = {
  change_request: { New: '-5', Assess: '-4', Authorize: '-3', Scheduled: '-2', Implement: '-1', Review: '0', Closed: '3', Canceled: '4' },
  incident: { New: '1', 'In Progress': '2', 'On Hold': '3', Resolved: '6', Closed: '7', Canceled: '8' },
};

export async function startServiceNowStandIn(opts: { user: string; password: string; table: string; records: ServiceNowRecord[] }): Promise<TicketStandIn> {
  const records = opts.records.map((r) => ({ ...r, sys_id: r.sys_id ?? randomBytes(16).toString('hex'), work_notes: [] as string[] }));
  const comments: { key: string; text: string }[] = [];
  const choices = STATE_CHOICES[opts.table] ?? {};
  const failure = (x: Exchange, status: number, message: string, detail: string | null = null) =>
    x.answer(status, { error: { message, detail }, status: 'failure' });

  /** A record as the Table API shows it, in the `sysparm_display_value` mode asked for. */
  function shown(r: (typeof records)[number], fields: string[] | undefined, display: string) {
    const value = choices[r.state] ?? r.state;
    const all: Record<string, { value: string; display: string }> = {
      sys_id: { value: r.sys_id, display: r.sys_id },
      number: { value: r.number, display: r.number },
      short_description: { value: r.short_description, display: r.short_description },
      state: { value, display: r.state },
      sys_class_name: { value: opts.table, display: opts.table },
      // Work notes are journal fields: the Table API shows them empty when read back.
      work_notes: { value: '', display: '' },
    };
    const out: Record<string, unknown> = {};
    for (const name of fields ?? Object.keys(all)) {
      const f = all[name];
      if (!f) continue; // unknown fields are left out, as the Table API does
      out[name] = display === 'all' ? { display_value: f.display, value: f.value } : display === 'true' ? f.display : f.value;
    }
    return out;
  }

  return serve({
    authorized: (req) => basicOk(req.headers.authorization, opts.user, opts.password),
    unauthorized: (x) => failure(x, 401, 'User Not Authenticated', 'Required to provide Auth information'),
    failure: (x, status) => failure(x, status, `HTTP ${status}`),
    setState: (key, state) => {
      const r = records.find((rec) => rec.number === key);
      if (!r) throw new Error(`the ServiceNow stand-in has no record ${key}`);
      r.state = state;
    },
    comments,
    handle: (x) => {
      const [api, now, table, name, sysId, ...more] = x.segments;
      if (api !== 'api' || now !== 'now' || table !== 'table' || !name || more.length > 0)
        return failure(x, 400, 'Requested URI does not represent any resource');
      if (name !== opts.table) return failure(x, 400, `Invalid table ${name}`);
      const fields = x.query
        .get('sysparm_fields')
        ?.split(',')
        .map((f) => f.trim());
      const display = x.query.get('sysparm_display_value') ?? 'false';
      if (sysId === undefined) {
        if (x.method !== 'GET') return x.answer(405, '', { allow: 'GET,POST' });
        const query = x.query.get('sysparm_query') ?? '';
        const m = /^number=([^^]*)$/.exec(query);
        if (query !== '' && !m) return failure(x, 400, 'the stand-in understands only sysparm_query=number=VALUE');
        const limit = Number(x.query.get('sysparm_limit') ?? '10000');
        const found = records.filter((r) => !m || r.number === m[1]).slice(0, limit);
        return x.answer(200, { result: found.map((r) => shown(r, fields, display)) });
      }
      const r = records.find((rec) => rec.sys_id === sysId);
      const missing = () => failure(x, 404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
      if (x.method === 'GET') return r ? x.answer(200, { result: shown(r, fields, display) }) : missing();
      if (x.method !== 'PATCH' && x.method !== 'PUT') return x.answer(405, '', { allow: 'GET,PUT,PATCH,DELETE' });
      if (!isJson(x.req)) return failure(x, 415, 'Unsupported Media Type');
      const parsed = parseJson(x.body);
      if (!parsed.ok) return failure(x, 400, 'Exception while reading request', 'The payload is not valid JSON.');
      if (!r) return missing();
      const body = parsed.value;
      if (!isObject(body) || Object.keys(body).some((k) => k !== 'work_notes') || typeof body.work_notes !== 'string' || body.work_notes === '') {
        return failure(x, 400, 'the stand-in takes only a non-empty string work_notes');
      }
      r.work_notes.push(body.work_notes);
      comments.push({ key: r.number, text: body.work_notes });
      return x.answer(200, { result: shown(r, fields, display) });
    },
  });
}

// ---- generic http -------------------------------------------------------------------------------

export interface HttpTicket {
  summary: string;
  state: string;
  url?: string;
}

export async function startHttpTicketStandIn(opts: { token: string; tickets: Record<string, HttpTicket> }): Promise<TicketStandIn> {
  const tickets = new Map(Object.entries(opts.tickets).map(([k, v]) => [k, { ...v }]));
  const comments: { key: string; text: string }[] = [];
  return serve({
    authorized: (req) => req.headers.authorization === `Bearer ${opts.token}`,
    unauthorized: (x) => x.answer(401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' }),
    failure: (x, status) => x.answer(status, { error: `HTTP ${status}` }),
    setState: (key, state) => {
      const t = tickets.get(key);
      if (!t) throw new Error(`the http stand-in has no ticket ${key}`);
      t.state = state;
    },
    comments,
    handle: (x) => {
      const [resource, key, sub, ...more] = x.segments;
      if (resource !== 'tickets' || !key || more.length > 0 || (sub !== undefined && sub !== 'comments')) return x.answer(404, { error: 'not found' });
      const t = tickets.get(key);
      if (sub === undefined) {
        if (x.method !== 'GET') return x.answer(405, '', { allow: 'GET' });
        return t ? x.answer(200, { key, ...t }) : x.answer(404, { error: 'no such ticket' });
      }
      if (x.method !== 'POST') return x.answer(405, '', { allow: 'POST' });
      if (!isJson(x.req)) return x.answer(415, { error: 'expected application/json' });
      const parsed = parseJson(x.body);
      const body = parsed.ok ? parsed.value : undefined;
      if (!isObject(body) || Object.keys(body).length !== 1 || typeof body.text !== 'string' || body.text === '') {
        return x.answer(400, { error: 'the body must be { "text": "..." }' });
      }
      if (!t) return x.answer(404, { error: 'no such ticket' });
      comments.push({ key, text: body.text });
      return x.answer(201, { ok: true });
    },
  });
}
