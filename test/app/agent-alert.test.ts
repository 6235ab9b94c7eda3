/**
 * alert.agent_behind: a host whose agent has not applied the current revocation list
 * `agentAlertAfter` after it came out is reported once per host and version, in the audit log
 * and in GET /v1/targets/{name}/ssh/hosts; a host that catches up is no longer behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateEd25519 } from '../../src/adapters/connectors/ssh/private-key.js';
import { publicKeyLine } from '../../src/adapters/connectors/ssh/public-key.js';
import { createHttpHarness, freshStoreUrl, T0, token, type StoreHandle } from '../support/app-harness.js';
import { tokenHash } from '../fixtures/policies.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-agent-alert-'));
const yaml = `
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
  - { id: fleet, roles: [agent], apiTokens: [{ sha256: ${tokenHash('fleet')} }] }
targets:
  hosts:
    type: ssh
    ca: { keyFile: ${join(dir, 'ca')}, generateKey: true }
    agentAlertAfter: 2m
    entitlements:
      login: { principals: [root] }
policies:
  - { name: p, subjects: { groups: [developers] }, entitlements: [hosts/login], maxDuration: 8h, reason: optional, approval: { required: 0 } }
`;

let handle: StoreHandle;
let h: Awaited<ReturnType<typeof createHttpHarness>>;

beforeAll(async () => {
  handle = await freshStoreUrl('sqlite');
  h = await createHttpHarness({ yaml, storeUrl: handle.url, now: T0 });
});
afterAll(async () => {
  await h?.close();
  await handle?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const poll = (host: string, applied: number) =>
  h.server.inject({ method: 'GET', url: `/v1/targets/hosts/ssh/krl?host=${host}&applied=${applied}`, headers: { authorization: `Bearer ${token('fleet')}` } });

async function work() {
  await h.system.access.runOnce();
  await h.system.access.idle();
}

it('raises alert.agent_behind once per host and version, and clears when the host catches up', async () => {
  await poll('web-1', 0);
  await poll('web-2', 0);
  // An early end with a certificate out: version 1.
  const r = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['hosts/login'], duration: '1h' });
  await work();
  const key = generateEd25519();
  expect((await h.call('POST', `/v1/requests/${r.body.id}/credentials`, token('alice'), { publicKey: publicKeyLine(key.publicBlob, '') })).status).toBe(200);
  await h.call('POST', `/v1/requests/${r.body.id}/revoke`, token('admin'), {});
  await work();
  const issued = h.app.issued;

  // Within agentAlertAfter: nobody is behind yet.
  h.clock.advance(60_000);
  await issued.runOnce();
  let hosts = await h.call('GET', '/v1/targets/hosts/ssh/hosts', token('admin'));
  expect(hosts.body.version).toBe(1);
  expect(hosts.body.hosts.map((x: { behind: boolean }) => x.behind)).toEqual([false, false]);

  // web-1 catches up; web-2 does not.
  await poll('web-1', 1);
  h.clock.advance(70_000);
  await issued.runOnce();
  hosts = await h.call('GET', '/v1/targets/hosts/ssh/hosts', token('admin'));
  expect(hosts.body.hosts).toMatchObject([
    { host: 'web-1', appliedVersion: 1, behind: false },
    { host: 'web-2', appliedVersion: 0, behind: true },
  ]);
  const alerts = async () => (await h.call('GET', '/v1/audit?type=alert.agent_behind', token('admin'))).body.events;
  expect(await alerts()).toHaveLength(1);
  expect((await alerts())[0].details).toMatchObject({ target: 'hosts', host: 'web-2', appliedVersion: 0, currentVersion: 1, agent: 'fleet' });

  // Not raised again for the same version.
  h.clock.advance(60_000);
  await issued.runOnce();
  expect(await alerts()).toHaveLength(1);

  await poll('web-2', 1);
  hosts = await h.call('GET', '/v1/targets/hosts/ssh/hosts', token('admin'));
  expect(hosts.body.hosts.every((x: { behind: boolean }) => !x.behind)).toBe(true);
});
