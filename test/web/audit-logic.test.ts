// The Audit page's pure logic (web/src/lib/audit.ts): the filters as the URL and the API write
// them, each event type family's details in words (unknown types as JSON), a request's steps,
// and what verification and a checkpoint say.
import { describe, expect, it } from 'vitest';
import {
  checkpointMeaning,
  exportPath,
  filterProblem,
  filterText,
  listQuery,
  localInputOf,
  NO_FILTER,
  searchOf,
  shippedText,
  stepLabel,
  summarize,
  takeLines,
  toneOf,
  verifyText,
  viewFromSearch,
  type CheckpointJson,
} from '../../web/src/lib/audit.js';
import { localInputToIso } from '../../web/src/lib/request.js';

const fmt = { locale: 'en-GB', timeZone: 'Europe/Berlin' };
const AT = Date.parse('2026-01-05T10:00:00Z'); // 11:00 in Berlin
const ev = (type: string, details: unknown) => summarize({ type, details }, fmt);

describe('filters', () => {
  it('round-trips through the URL, in a fixed order, leaving empty ones out', () => {
    const view = { filter: { ...NO_FILTER, type: 'grant.*', actor: 'alice', since: '2026-01-05T09:00:00.000Z' }, story: 'req_1' };
    const search = searchOf(view);
    expect(search).toBe('?actor=alice&type=grant.*&since=2026-01-05T09%3A00%3A00.000Z&story=req_1');
    expect(viewFromSearch(search)).toEqual(view);
    expect(searchOf({ filter: NO_FILTER, story: '' })).toBe('');
    expect(viewFromSearch('?actor=%20bob%20&unknown=1')).toEqual({ filter: { ...NO_FILTER, actor: 'bob' }, story: '' });
  });

  it('builds the list and export queries with the same filters', () => {
    const f = { ...NO_FILTER, requestId: 'req_9', type: 'request.*' };
    expect(listQuery(f, 100)).toBe('?requestId=req_9&type=request.*&limit=100');
    expect(listQuery(f, 100, '42')).toBe('?requestId=req_9&type=request.*&limit=100&cursor=42');
    expect(exportPath(f, 'csv')).toBe('/v1/audit/export?requestId=req_9&type=request.*&format=csv');
    expect(exportPath(NO_FILTER, 'jsonl')).toBe('/v1/audit/export?format=jsonl');
  });

  it('says what is selected, times in the viewer zone', () => {
    expect(filterText(NO_FILTER)).toBe('all events');
    expect(filterText({ ...NO_FILTER, type: 'grant.*', actor: 'bob', since: new Date(AT).toISOString() }, 'en-GB', 'Europe/Berlin')).toBe(
      'type grant.*, by bob, from 5 Jan 2026, 11:00 CET',
    );
  });

  it('shows a URL instant in the datetime-local box to the second, and reads it back as the same instant', () => {
    const iso = '2026-01-05T10:00:07.000Z';
    expect(localInputOf(iso)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:07$/);
    expect(localInputToIso(localInputOf(iso))).toBe(iso);
    expect(localInputOf('2026-01-05T10:00:00.000Z')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d$/);
    expect(localInputToIso(localInputOf('2026-01-05T10:00:00.000Z'))).toBe('2026-01-05T10:00:00.000Z');
    expect(localInputOf('')).toBe('');
    expect(localInputOf('not a time')).toBe('');
  });

  it('catches a range that ends before it starts and a misplaced *', () => {
    expect(filterProblem({ ...NO_FILTER, since: '2026-01-05T10:00:00Z', until: '2026-01-05T09:00:00Z' })).toMatch(/before its start/);
    expect(filterProblem({ ...NO_FILTER, type: 'gr*nt.x' })).toMatch(/one \* at its end/);
    expect(filterProblem({ ...NO_FILTER, type: 'grant.*', since: '2026-01-05T09:00:00Z', until: '2026-01-05T10:00:00Z' })).toBeUndefined();
  });
});

describe('events in words', () => {
  it('the lifecycle: submitted, approved, activated, extended, ended', () => {
    expect(
      ev('request.submitted', {
        entitlements: ['api/deploy', 'hosts/login'],
        durationMs: 90 * 60_000,
        reason: 'release 42',
        ticket: 'OPS-1',
        policies: { 'api/deploy': 'eng-api', 'hosts/login': 'eng-api' },
        breakGlass: false,
      }),
    ).toBe('api/deploy, hosts/login for 1h30m; “release 42”; ticket OPS-1; policy eng-api');
    expect(
      ev('request.submitted', { entitlements: ['db/root'], durationMs: 1_800_000, reason: 'outage', policies: { 'db/root': 'bg' }, breakGlass: true }),
    ).toBe('db/root for 30m; “outage”; policy bg; break-glass');
    expect(ev('request.approved', { comment: 'ok', for: ['eng-api'], count: 1 })).toBe('approval 1; toward policy eng-api; “ok”');
    expect(ev('request.denied', { comment: null })).toBe('no comment');
    expect(ev('grant.activated', { expiresAt: AT, entitlements: ['api/deploy'] })).toBe('api/deploy; until 5 Jan 2026, 11:00 CET');
    expect(ev('grant.extended', { durationMs: 3_600_000, expiresAt: AT, reason: 'more' })).toBe('by 1h; until 5 Jan 2026, 11:00 CET; “more”');
    expect(ev('grant.expired', null)).toBe('');
    expect(ev('grant.expired', {})).toBe('time ran out');
    expect(ev('grant.revoked', { reason: 'left the team' })).toBe('“left the team”');
    expect(ev('request.scheduled', { startAt: AT })).toBe('starts 5 Jan 2026, 11:00 CET');
    expect(ev('request.failed', { error: 'target down' })).toBe('target down');
    expect(ev('decision.refused', { code: 'HG_SELF_APPROVAL', message: 'you cannot approve your own request' })).toBe(
      'you cannot approve your own request (HG_SELF_APPROVAL)',
    );
    expect(ev('credentials.issued', { target: 'hosts', entitlement: 'login', serial: 7, principals: ['deploy'], validBefore: AT })).toBe(
      'login on hosts; serial 7; principals deploy; valid until 5 Jan 2026, 11:00 CET',
    );
  });

  it('administration and alerts', () => {
    expect(ev('principal.locked', { principal: 'mallory', reason: 'suspicious' })).toBe('mallory; “suspicious”');
    expect(ev('config.reloaded', { previousPolicyHash: 'a'.repeat(64), policyHash: 'b'.repeat(64) })).toBe(`policy ${'a'.repeat(12)}… → ${'b'.repeat(12)}…`);
    expect(ev('alert.audit_chain_broken', { check: 'full', firstBadSeq: 5, problem: 'hash mismatch' })).toBe('check full; hash mismatch; first bad seq 5');
    expect(ev('alert.break_glass_used', { entitlements: ['db/root'], reason: 'outage', reviewDueAt: AT })).toBe(
      'db/root; “outage”; review due 5 Jan 2026, 11:00 CET',
    );
  });

  it('other known families as key and value, without handles; unknown types as JSON', () => {
    expect(ev('auth.signed_in', { principal: 'bob', provider: 'password', session: 'ses_1', client: 'browser', amr: ['pwd'], ip: '127.0.0.1' })).toBe(
      'principal bob; provider password; client browser; amr pwd; ip 127.0.0.1',
    );
    expect(ev('mfa.verified', { principal: 'bob', method: 'totp', action: 'approve', requestId: 'req_1', factor: 'mfa_1', challenge: 'mfc_1' })).toBe(
      'principal bob; method totp; action approve',
    );
    expect(ev('reminder.grant_expiring', { at: AT, requester: 'alice', entitlements: ['api/read'] })).toBe(
      'at 5 Jan 2026, 11:00 CET; requester alice; entitlements api/read',
    );
    expect(ev('server.started', { store: 'sqlite', chainOk: true })).toBe('store sqlite; chainOk yes');
    expect(ev('future.thing', { a: 1, b: ['x'] })).toBe('{"a":1,"b":["x"]}');
    expect(ev('future.thing', null)).toBe('');
  });

  it('names each step of a story and marks how it went', () => {
    expect(['request.submitted', 'request.approved', 'grant.activated', 'grant.expired', 'grant.access_removed'].map(stepLabel)).toEqual([
      'Submitted',
      'Approved',
      'Activated',
      'Expired',
      'Access removed',
    ]);
    expect(stepLabel('grant.something_new')).toBe('Grant something new');
    expect(toneOf('grant.activated')).toBe('good');
    expect(toneOf('grant.revoked')).toBe('bad');
    expect(toneOf('alert.review_overdue')).toBe('alert');
    expect(toneOf('grant.expired')).toBe('ended');
    expect(toneOf('request.submitted')).toBe('plain');
  });
});

describe('the chain', () => {
  it('says what verification found', () => {
    expect(verifyText({ ok: true, count: 12, head: `12:${'c'.repeat(64)}`, unchained: 0 })).toBe(
      'The chain is intact: 12 events verified, every link and hash matches, up to head 12.',
    );
    expect(verifyText({ ok: false, count: 4, head: `4:${'c'.repeat(64)}`, firstBadSeq: 5, problem: 'hash does not match', unchained: 0 })).toBe(
      'The chain is broken at event #5: hash does not match. 4 events before it verified.',
    );
    expect(verifyText({ ok: false, count: 9, head: null, problem: '1 row outside the chain', unchained: 1 })).toBe(
      '1 row outside the chain: the server never writes such a row.',
    );
  });

  const cp: CheckpointJson = {
    seq: 40,
    hash: 'd'.repeat(64),
    at: new Date(AT).toISOString(),
    keyId: '0123456789abcdef',
    signature: 'sig',
    publicKey: null,
    shipped: { webhook: new Date(AT).toISOString(), file: new Date(AT).toISOString() },
  };

  it('says what a checkpoint proves, and that an unshipped one proves nothing yet', () => {
    expect(shippedText(cp.shipped, fmt)).toBe('file (5 Jan 2026, 11:00 CET), webhook (5 Jan 2026, 11:00 CET)');
    expect(shippedText({}, fmt)).toBeUndefined();
    expect(checkpointMeaning(cp)).toMatch(/^Key 0123456789abcdef signed that the chain's hash at event #40 .*rewrites events 1 to 40 afterwards/);
    expect(checkpointMeaning({ ...cp, shipped: {} })).toMatch(/has not been shipped yet: .*proves nothing against someone who can write the database/);
  });

  it('splits streamed NDJSON at line ends, keeping a partial line for the next chunk', () => {
    expect(takeLines('{"a":1}\n{"b"')).toEqual({ lines: ['{"a":1}'], rest: '{"b"' });
    expect(takeLines('{"b":2}\n\n')).toEqual({ lines: ['{"b":2}'], rest: '' });
  });
});
