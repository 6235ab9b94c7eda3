// End-to-end tests of `hourglass notifications status|deliveries|templates`: the real binary, against
// a real server whose Teams webhook is a stand-in on loopback (templates needs no server).
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_TEMPLATES } from '../../src/app/notifications/templates.js';
import { NOTIFICATION_TOPICS } from '../../src/core/notify-plan.js';
import { demoConfigYaml, runCli, spawnServer, type SpawnedServer } from '../support/spawn-server.js';
import { startTeamsStandin, type TeamsStandin } from '../support/teams-standin.js';
import { cliAs, isolateCredentials, json } from './run.js';

isolateCredentials();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hourglass-notifications-cli-'));
let server: SpawnedServer;
let teams: TeamsStandin;
let requestId = '';

beforeAll(async () => {
  teams = await startTeamsStandin();
  const doc = parseDocument(demoConfigYaml());
  doc.setIn(['server', 'allowedHosts'], ['127.0.0.1']);
  doc.setIn(['server', 'schedulerInterval'], '200ms');
  doc.set('notifications', {
    teams: [{ name: 'ops', url: teams.url(), timeout: '5s' }],
    routes: [{ channels: ['teams:ops'], topics: ['approval.requested'] }],
  });
  server = await spawnServer({ configYaml: doc.toString() });
  const r = await as('alice', 'request', 'demo-db/admin', '--reason', 'notify the ops channel', '--json');
  expect(r.code, r.stderr).toBe(0);
  requestId = json(r).id;
  // The scheduler delivers within a second or so.
  const deadline = Date.now() + 15_000;
  while (teams.cards.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(teams.cards.length).toBe(1);
}, 40_000);

afterAll(async () => {
  await server?.stop();
  await teams?.close();
});

const as = cliAs(() => server);

describe('hourglass notifications templates', () => {
  it('writes every built-in part under its override file name, and refuses to overwrite without --force', async () => {
    const dir = path.join(tmp, 'templates', 'new'); // created, parents too
    const r = await runCli(['notifications', 'templates', '--out', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const names = readdirSync(dir).sort();
    const expected = [
      'layout.html',
      ...NOTIFICATION_TOPICS.flatMap((t) => [`${t}.subject.txt`, `${t}.txt`, `${t}.html`]),
      'grant.active.ticket.txt',
      'grant.ended.ticket.txt',
    ].sort();
    expect(names).toEqual(expected);
    expect(json(r)).toEqual({ dir, files: expect.arrayContaining(expected) });
    expect(readFileSync(path.join(dir, 'approval.requested.html'), 'utf8')).toBe(BUILTIN_TEMPLATES['approval.requested'].html);

    // An edited template survives a second run; --force replaces it.
    const edited = path.join(dir, 'approval.requested.txt');
    writeFileSync(edited, 'my own words\n');
    const again = await runCli(['notifications', 'templates', '--out', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--force');
    expect(readFileSync(edited, 'utf8')).toBe('my own words\n');
    const forced = await runCli(['notifications', 'templates', '--out', dir, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`wrote ${expected.length} template files to ${dir}:\n  layout.html\n`);
    expect(readFileSync(edited, 'utf8')).toBe(BUILTIN_TEMPLATES['approval.requested'].txt);

    const missing = await runCli(['notifications', 'templates']);
    expect(missing.code).toBe(2);
  });
});

describe('hourglass notifications status and deliveries', () => {
  it('status shows the Teams destination with its sent message and the route; --json is the API answer', async () => {
    const [text, asJson, forbidden] = await Promise.all([
      as('auditor', 'notifications', 'status'),
      as('sec-admin', 'notifications', 'status', '--json'),
      as('alice', 'notifications', 'status'),
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^DESTINATION +KIND +PENDING +FAILING +SENT +SKIPPED +OLDEST PENDING\nteams:ops +teams +0 +0 +1 +0 +-\n/);
    expect(text.stdout).toMatch(/\nROUTE CHANNELS +TOPICS +POLICIES\nteams:ops +approval\.requested +\*\n/);
    expect(text.stdout).toMatch(/fan-out: read the audit log up to seq \d+ of \d+/);
    expect(json(asJson)).toMatchObject({
      enabled: true,
      destinations: [{ destination: 'teams:ops', kind: 'teams', personal: false, pending: 0, failing: 0, sent: 1, skipped: 0, oldestPendingAgeSeconds: null }],
      routes: [{ channels: ['teams:ops'], topics: ['approval.requested'], policies: ['*'] }],
      fanOut: { cursor: expect.any(Number), head: expect.any(Number) },
    });
    expect(forbidden.code).toBe(3);
    for (const r of [text, asJson, forbidden]) expect(r.stdout + r.stderr).not.toContain(teams.sig);
  });

  it('deliveries lists the attempt with its filters, pages with --cursor, and --json is the API answer', async () => {
    const [text, asJson, filtered, none, bad] = await Promise.all([
      as('auditor', 'notifications', 'deliveries'),
      as('auditor', 'notifications', 'deliveries', '--request', requestId, '--outcome', 'sent', '--destination', 'teams:ops', '--json'),
      as('auditor', 'notifications', 'deliveries', '--outcome', 'failed'),
      as('auditor', 'notifications', 'deliveries', '--recipient', 'alice', '--json'),
      as('auditor', 'notifications', 'deliveries', '--outcome', 'lost'),
    ]);
    expect(text.code, text.stderr).toBe(0);
    const [header, row, ...rest] = text.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^AT +DESTINATION +RECIPIENT +TOPIC +REQUEST +ATTEMPT +OUTCOME +ERROR$/);
    expect(row).toMatch(new RegExp(`^\\S+Z +teams:ops +- +approval\\.requested +${requestId} +1 +sent$`));
    expect(rest).toEqual([]);
    expect(json(asJson)).toMatchObject({
      deliveries: [{ destination: 'teams:ops', recipient: null, topic: 'approval.requested', requestId, attempt: 1, outcome: 'sent', error: null }],
      nextCursor: null,
    });
    expect(filtered.stdout).toBe('no deliveries\n');
    expect(json(none)).toEqual({ deliveries: [], nextCursor: null });
    expect(bad.code).toBe(2);

    // A second approval request: two deliveries, one per page.
    expect((await as('alice', 'request', 'demo-db/admin', '--reason', 'again')).code).toBe(0);
    const deadline = Date.now() + 15_000;
    while (teams.cards.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const first = await as('auditor', 'notifications', 'deliveries', '--limit', '1');
    expect(first.code, first.stderr).toBe(0);
    const hint = /^more: add --cursor (\S+)$/m.exec(first.stderr);
    expect(hint, first.stderr).not.toBeNull();
    const second = json(await as('auditor', 'notifications', 'deliveries', '--limit', '1', '--cursor', hint![1]!, '--json'));
    expect(second.deliveries).toMatchObject([{ requestId }]); // newest first: the first request comes last
  });
});
