/**
 * The ticket system kinds (src/adapters/tickets/) against stand-ins of Jira Cloud, the ServiceNow
 * Table API and the generic endpoint (real HTTP on loopback): lookups, comments in the shape each
 * system takes, errors without the token, keys refused before any request, and the outbound guard.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ticketSystemOf, ticketSystems } from '../../src/adapters/tickets/index.js';
import type { TicketSystem } from '../../src/app/tickets/ports.js';
import type { HourglassConfig, TicketSystemSettings } from '../../src/config/types.js';
import { startHttpTicketStandIn, startJiraStandIn, startServiceNowStandIn, type TicketStandIn } from '../support/ticket-standins.js';

const config = (allowedHosts: string[] = ['127.0.0.1']) => ({ server: { allowedHosts } }) as unknown as HourglassConfig;

const TOKEN = 'tok-SECRET-4f9a2c71d0';
const LONG = `Rotate the ${'very '.repeat(60)}long\nmulti-line\tsummary`;

interface Case {
  kind: TicketSystem['kind'];
  start(): Promise<TicketStandIn>;
  settings(url: string): TicketSystemSettings;
  /** A ticket the stand-in has, its summary and state, and another state it can move to. */
  key: string;
  summary: string;
  state: string;
  nextState: string;
  missing: string;
  peopleUrl(standIn: TicketStandIn): string | RegExp;
}

const base = { name: 'change', token: TOKEN, table: 'change_request', pollIntervalMs: 60_000, timeoutMs: 2_000 };
const SYS_ID = '9d385017c611228701d22104cc95c371';

const cases: Case[] = [
  {
    kind: 'jira',
    start: () =>
      startJiraStandIn({
        email: 'bot@example.com',
        token: TOKEN,
        issues: {
          'OPS-123': { summary: 'Patch the primary database', status: 'In Progress', description: 'never read' },
          'OPS-9': { summary: LONG, status: 'To Do' },
        },
      }),
    settings: (url) => ({ ...base, type: 'jira', url, user: 'bot@example.com' }),
    key: 'OPS-123',
    summary: 'Patch the primary database',
    state: 'In Progress',
    nextState: 'Done',
    missing: 'OPS-404',
    peopleUrl: (s) => `${s.url}/browse/OPS-123`,
  },
  {
    kind: 'servicenow',
    start: () =>
      startServiceNowStandIn({
        user: 'hourglass',
        password: TOKEN,
        table: 'change_request',
        records: [
          { sys_id: SYS_ID, number: 'CHG0030001', short_description: 'Patch the primary database', state: 'Implement' },
          { number: 'CHG0030002', short_description: LONG, state: 'Scheduled' },
        ],
      }),
    settings: (url) => ({ ...base, type: 'servicenow', url, user: 'hourglass' }),
    key: 'CHG0030001',
    summary: 'Patch the primary database',
    state: 'Implement',
    nextState: 'Closed',
    missing: 'CHG0099999',
    peopleUrl: (s) => `${s.url}/nav_to.do?uri=change_request.do%3Fsys_id%3D${SYS_ID}`,
  },
  {
    kind: 'http',
    start: () =>
      startHttpTicketStandIn({
        token: TOKEN,
        tickets: {
          'INC.42_a': { summary: 'Patch the primary database', state: 'open', url: 'https://tickets.example/INC.42_a' },
          'INC-43': { summary: LONG, state: 'open', url: 'javascript:alert(1)' },
        },
      }),
    settings: (url) => ({ ...base, type: 'http', url }),
    key: 'INC.42_a',
    summary: 'Patch the primary database',
    state: 'open',
    nextState: 'closed',
    missing: 'INC-404',
    peopleUrl: () => 'https://tickets.example/INC.42_a',
  },
];

const longKey = { jira: 'OPS-9', servicenow: 'CHG0030002', http: 'INC-43' } as const;

it('lists one system per kind', () => {
  expect(ticketSystems.map((s) => s.kind)).toEqual(['jira', 'servicenow', 'http']);
  expect(ticketSystemOf('servicenow').kind).toBe('servicenow');
});

describe.each(cases)('$kind', (c) => {
  let standIn: TicketStandIn;
  let settings: TicketSystemSettings;
  const system = ticketSystemOf(c.kind);

  beforeAll(async () => {
    standIn = await c.start();
    settings = c.settings(standIn.url);
  });
  afterAll(async () => {
    await standIn.close();
  });
  beforeEach(() => {
    standIn.requests.length = 0;
    standIn.comments.length = 0;
    standIn.hold(false);
  });

  it('finds a ticket: summary, state and the page for people', async () => {
    const r = await system.lookup(c.key, settings, config());
    expect(r).toEqual({ found: true, ticket: { key: c.key, summary: c.summary, state: c.state, url: c.peopleUrl(standIn) } });
    standIn.setState(c.key, c.nextState);
    const again = await system.lookup(c.key, settings, config());
    expect(again.found && again.ticket.state).toBe(c.nextState);
    standIn.setState(c.key, c.state);
    expect(standIn.requests.every((q) => q.status === 200)).toBe(true);
  });

  it('cuts summaries to one line of 200 characters', async () => {
    const r = await system.lookup(longKey[c.kind], settings, config());
    if (!r.found) throw new Error('expected the ticket');
    expect([...r.ticket.summary]).toHaveLength(200);
    expect(r.ticket.summary).not.toMatch(/[\n\t]|\s{2}/);
    expect(r.ticket.summary.startsWith('Rotate the very very')).toBe(true);
  });

  it('says missing for a ticket the system does not have', async () => {
    expect(await system.lookup(c.missing, settings, config())).toEqual({ found: false });
  });

  it('throws on wrong credentials, without the token', async () => {
    const wrong = { ...settings, token: 'wrong-token-9b1e7f' };
    const err = await system.lookup(c.key, wrong, config()).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`${c.kind}: HTTP 401`);
    expect((err as Error).message).not.toContain('wrong-token');
    await expect(system.comment(c.key, 'hello', wrong, config())).rejects.toThrow(`${c.kind}: HTTP 401`);
    expect(standIn.requests[0]?.status).toBe(401);
  });

  it('names the status of a failing system', async () => {
    standIn.answerNext(503);
    await expect(system.lookup(c.key, settings, config())).rejects.toThrow(`${c.kind}: HTTP 503`);
  });

  it('gives up after the timeout', async () => {
    standIn.hold(true);
    await expect(system.lookup(c.key, { ...settings, timeoutMs: 300 }, config())).rejects.toThrow(`${c.kind}: no answer within 300 ms`);
  });

  it('adds a comment in the shape the system takes', async () => {
    const text = 'Hourglass granted prod-db-admin to alice for 2h.\n\nReason: fix the outage';
    await system.comment(c.key, text, settings, config());
    expect(standIn.comments).toEqual([{ key: c.key, text }]);
    const last = standIn.requests.at(-1)!;
    expect(last.status).toBe(c.kind === 'servicenow' ? 200 : 201);
    if (c.kind === 'jira') {
      expect(last.method).toBe('POST');
      expect(JSON.parse(last.body)).toEqual({
        body: {
          type: 'doc',
          version: 1,
          content: [
            { type: 'paragraph', content: [{ type: 'text', text: 'Hourglass granted prod-db-admin to alice for 2h.' }] },
            { type: 'paragraph', content: [] },
            { type: 'paragraph', content: [{ type: 'text', text: 'Reason: fix the outage' }] },
          ],
        },
      });
    }
    if (c.kind === 'servicenow') {
      expect(last).toMatchObject({ method: 'PATCH', path: `/api/now/table/change_request/${SYS_ID}` });
      expect(JSON.parse(last.body)).toEqual({ work_notes: text });
    }
    if (c.kind === 'http') expect(JSON.parse(last.body)).toEqual({ text });
  });

  it('fails a comment on a missing ticket', async () => {
    await expect(system.comment(c.missing, 'hello', settings, config())).rejects.toThrow(new RegExp(`^${c.kind}: `));
    expect(standIn.comments).toEqual([]);
  });

  it('refuses keys that are not keys, before any request', async () => {
    for (const key of ['', '../admin', 'OPS 1', 'a/b', '.hidden', 'x'.repeat(65), 'CHG1^ORnumber!=x', 'k=v', 'ö1']) {
      await expect(system.lookup(key, settings, config())).rejects.toThrow(`${c.kind}: not a ticket key`);
      await expect(system.comment(key, 'hi', settings, config())).rejects.toThrow(`${c.kind}: not a ticket key`);
    }
    expect(standIn.requests).toEqual([]);
  });

  it('refuses an internal address unless server.allowedHosts lists it', async () => {
    const err = await system.lookup(c.key, settings, config([])).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(new RegExp(`^${c.kind}: refused: 127\\.0\\.0\\.1 is an internal address`));
    await expect(system.comment(c.key, 'hi', settings, config(['10.0.0.0/8']))).rejects.toThrow(/refused/);
    expect(standIn.requests).toEqual([]);
    expect((await system.lookup(c.key, settings, config(['127.0.0.0/8']))).found).toBe(true);
  });

  it('sends the credentials the system expects', async () => {
    await system.lookup(c.key, settings, config());
    const auth = standIn.requests[0]!.headers.authorization;
    if (c.kind === 'http') expect(auth).toBe(`Bearer ${TOKEN}`);
    else expect(Buffer.from(auth!.replace(/^Basic /, ''), 'base64').toString()).toBe(`${settings.user}:${TOKEN}`);
  });
});

describe('jira specifics', () => {
  let jira: TicketStandIn;
  beforeAll(async () => {
    jira = await startJiraStandIn({ email: 'bot@example.com', token: TOKEN, issues: { 'OPS-1': { summary: 'x'.repeat(300 * 1024), status: 'To Do' } } });
  });
  afterAll(async () => {
    await jira.close();
  });
  const settings = () => ({ ...base, type: 'jira' as const, url: jira.url, user: 'bot@example.com' });

  it('asks only for summary and status', async () => {
    await ticketSystemOf('jira')
      .lookup('OPS-1', settings(), config())
      .catch(() => undefined);
    expect(jira.requests[0]).toMatchObject({ method: 'GET', path: '/rest/api/3/issue/OPS-1', query: { fields: 'summary,status' } });
  });

  it('refuses an answer larger than 256 KiB', async () => {
    await expect(ticketSystemOf('jira').lookup('OPS-1', settings(), config())).rejects.toThrow('jira: the response is larger than 262144 bytes');
  });

  it('the stand-in refuses a plain-string (v2-style) comment body', async () => {
    const res = await fetch(`${jira.url}/rest/api/3/issue/OPS-1/comment`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`bot@example.com:${TOKEN}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'plain text' }),
    });
    expect(res.status).toBe(400);
    expect(jira.comments).toEqual([]);
  });
});

describe('servicenow specifics', () => {
  it('reads with display values and the key as an encoded query', async () => {
    const sn = await startServiceNowStandIn({
      user: 'hourglass',
      password: TOKEN,
      table: 'incident',
      records: [{ number: 'INC0010001', short_description: 'Disk full', state: 'In Progress' }],
    });
    try {
      const settings: TicketSystemSettings = { ...base, type: 'servicenow', url: sn.url, user: 'hourglass', table: 'incident' };
      const r = await ticketSystemOf('servicenow').lookup('INC0010001', settings, config());
      expect(r.found && r.ticket.state).toBe('In Progress');
      expect(r.found && r.ticket.url).toMatch(new RegExp(`^${sn.url}/nav_to\\.do\\?uri=incident\\.do%3Fsys_id%3D[0-9a-f]{32}$`));
      expect(sn.requests[0]).toMatchObject({
        method: 'GET',
        path: '/api/now/table/incident',
        query: {
          sysparm_query: 'number=INC0010001',
          sysparm_fields: 'sys_id,number,short_description,state',
          sysparm_display_value: 'true',
          sysparm_limit: '1',
        },
      });
      // Another table than the stand-in's is refused by it, as by ServiceNow.
      await expect(ticketSystemOf('servicenow').lookup('INC0010001', { ...settings, table: 'change_request' }, config())).rejects.toThrow(
        'servicenow: HTTP 400',
      );
    } finally {
      await sn.close();
    }
  });
});

describe('http specifics', () => {
  it('drops a page URL that is not http(s)', async () => {
    const h = await startHttpTicketStandIn({ token: TOKEN, tickets: { 'INC-43': { summary: 's', state: 'open', url: 'javascript:alert(1)' } } });
    try {
      const r = await ticketSystemOf('http').lookup('INC-43', { ...base, type: 'http', url: h.url }, config());
      expect(r).toEqual({ found: true, ticket: { key: 'INC-43', summary: 's', state: 'open' } });
    } finally {
      await h.close();
    }
  });
});
