/**
 * Two servers over one PostgreSQL store (issue 9, item 8): server A is inside its GRANT on a real
 * PostgreSQL target (held in the connector call) when server B revokes the request. B's removal
 * must not run while A's lease is held (it would find nothing and record the access removed);
 * A's commit then loses, and A takes the removal over. If the lease ran out first and B did
 * record removal, A undoes what it created. Either way no `hg_` role and no credentials row stay
 * behind, and the audit log never says removed before the role is gone.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { createConnectorRegistry } from '../../src/adapters/connectors/registry.js';
import { AccessWork } from '../../src/app/access-work.js';
import { TAKEOVER_AFTER_MS } from '../../src/app/presence.js';
import type { Connector, ConnectorRegistry } from '../../src/app/connectors.js';
import { createHttpHarness, token } from '../support/app-harness.js';
import { tokenHash } from '../fixtures/policies.js';
import { appReadTargetSql, startPostgres, type PostgresServer } from '../support/postgres-server.js';

const ADMIN_PW = `adm-${randomBytes(12).toString('hex')}`;
const env = { PG_ADMIN_PW: ADMIN_PW, HG_KEY: randomBytes(32).toString('base64') };

const yaml = (port: number, db: string) => `
server: { listen: 127.0.0.1:0 }
credentials:
  key: \${HG_KEY}
principals:
  - { id: alice, groups: [developers], apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: admin, roles: [admin, auditor], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
  app-db:
    type: postgres
    url: postgres://hourglass:\${PG_ADMIN_PW}@127.0.0.1:${port}/${db}
    reconcile: { interval: 0 }
    entitlements:
      read: { roles: [app_read] }
policies:
  - name: dev-db
    subjects: { groups: [developers] }
    entitlements: [app-db/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;

/** A's connectors: `grant` waits at the gate before it touches the target. */
function gated(inner: ConnectorRegistry) {
  let open!: () => void;
  let entered!: () => void;
  const gate = { opened: Promise.resolve(), entered: Promise.resolve() };
  const arm = () => {
    gate.opened = new Promise<void>((r) => (open = r));
    gate.entered = new Promise<void>((r) => (entered = r));
  };
  const wrapped = new Map<string, Connector>();
  const registry: ConnectorRegistry = {
    forTarget(name) {
      const c = inner.forTarget(name);
      if (!c) return c;
      let w = wrapped.get(name);
      if (!w) {
        w = {
          kind: c.kind,
          capabilities: c.capabilities,
          grant: async (g) => {
            entered();
            await gate.opened;
            return c.grant(g);
          },
          revoke: (g) => c.revoke(g),
          extend: (g) => c.extend(g),
          ...(c.reconciliation ? { reconciliation: c.reconciliation } : {}),
          health: () => c.health(),
          close: () => c.close(),
        };
        wrapped.set(name, w);
      }
      return w;
    },
    closeAll: () => inner.closeAll(),
  };
  return { registry, arm, open: () => open(), entered: () => gate.entered };
}

let server: PostgresServer;
let su: pg.Client;
let storeUrl: string;
let a: Awaited<ReturnType<typeof createHttpHarness>>;
let b: Awaited<ReturnType<typeof createHttpHarness>>;
let gate: ReturnType<typeof gated>;
let workA: AccessWork;
let workB: AccessWork;
let registryB: ConnectorRegistry;

beforeAll(async () => {
  server = await startPostgres();
  su = new pg.Client({ connectionString: server.url });
  await su.connect();
  for (const q of appReadTargetSql(ADMIN_PW)) await su.query(q);
  // The store in a database of its own on the same server.
  await su.query('CREATE DATABASE hg_store');
  storeUrl = server.adminUrl.replace(/\/postgres$/, '/hg_store');
  const now = Date.now();
  a = await createHttpHarness({ yaml: yaml(server.port, server.database), storeUrl, now, env });
  b = await createHttpHarness({ yaml: yaml(server.port, server.database), storeUrl, now, env });
  gate = gated(createConnectorRegistry(a.source, connectorFactories));
  registryB = createConnectorRegistry(b.source, connectorFactories);
  workA = new AccessWork(a.app.deps, { connectors: gate.registry, random: () => 0.5 });
  workB = new AccessWork(b.app.deps, { connectors: registryB, random: () => 0.5 });
}, 60_000);
afterAll(async () => {
  await gate?.registry.closeAll();
  await registryB?.closeAll();
  await a?.close();
  await b?.close();
  await su?.end();
  await server?.stop();
});

const hgRoles = async () => (await su.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'hg\\_%'")).rows.map((r) => r.rolname as string);
const events = async (id: string) => ((await a.call('GET', `/v1/audit?requestId=${id}`, token('admin'))).body.events as { type: string }[]).map((e) => e.type);

describe('a revoke on one server while another is inside its GRANT', () => {
  it('waits for the provisioning lease; the provisioning server takes the removal over when its commit loses', async () => {
    const req = (await a.call('POST', '/v1/requests', token('alice'), { entitlements: ['app-db/read'], duration: '1h' })).body;
    gate.arm();
    const running = workA.runOnce();
    await gate.entered();

    expect((await b.call('POST', `/v1/requests/${req.id}/revoke`, token('admin'), { reason: 'wrong person' })).status).toBe(200);
    await workB.runOnce(); // nothing due: removal waits for A's lease
    expect((await b.call('GET', `/v1/requests/${req.id}`, token('admin'))).body).toMatchObject({ status: 'revoked', access: 'removing' });
    expect(await events(req.id)).not.toContain('grant.access_removed');

    gate.open(); // A's GRANT commits on the target now, after the revoke
    await running;
    expect((await a.call('GET', `/v1/requests/${req.id}`, token('admin'))).body).toMatchObject({ status: 'revoked', access: 'removed' });
    expect(await hgRoles()).toEqual([]);
    expect(await a.store.getCredentials(req.id)).toEqual([]);
    const log = await events(req.id);
    expect(log.filter((t) => t === 'grant.access_removed')).toHaveLength(1);
    expect(log).not.toContain('grant.activated');
    await workB.runOnce();
    expect(await hgRoles()).toEqual([]);
  }, 30_000);

  it('if the lease ran out and the other server recorded removal, the late grant is undone', async () => {
    const req = (await a.call('POST', '/v1/requests', token('alice'), { entitlements: ['app-db/read'], duration: '1h' })).body;
    gate.arm();
    const running = workA.runOnce();
    await gate.entered();

    await b.call('POST', `/v1/requests/${req.id}/revoke`, token('admin'), { reason: 'wrong person' });
    b.clock.advance(61_000); // A's lease has run out on B's clock (A hung past it)
    await workB.runOnce();
    expect((await b.call('GET', `/v1/requests/${req.id}`, token('admin'))).body).toMatchObject({ access: 'removed' });

    gate.open();
    await running;
    expect(await hgRoles()).toEqual([]);
    expect(await a.store.getCredentials(req.id)).toEqual([]);
  }, 30_000);
  it('a server that dies inside its GRANT: another takes the work over once its presence lapses, long before its lease ends', async () => {
    // A says it is alive for 3 s (TAKEOVER_AFTER_MS), then "dies": it stops renewing, its GRANT hangs.
    const mortal = new AccessWork(a.app.deps, { connectors: gate.registry, random: () => 0.5, owner: 'srv_mortal' });
    const survivor = new AccessWork(b.app.deps, { connectors: registryB, random: () => 0.5, owner: 'srv_survivor' });
    await a.store.beat('srv_mortal', a.clock.now(), a.clock.now() + TAKEOVER_AFTER_MS);
    b.clock.set(a.clock.now());
    const req = (await a.call('POST', '/v1/requests', token('alice'), { entitlements: ['app-db/read'], duration: '1h' })).body;
    gate.arm();
    const running = mortal.runOnce();
    await gate.entered();
    await b.call('POST', `/v1/requests/${req.id}/revoke`, token('admin'), { reason: 'done' });
    expect((await a.store.getRequest(req.id))!.leaseOwner).toBe('srv_mortal');

    await survivor.runOnce(); // A is alive: its lease holds
    expect((await b.call('GET', `/v1/requests/${req.id}`, token('admin'))).body).toMatchObject({ access: 'removing' });
    b.clock.advance(TAKEOVER_AFTER_MS); // no renewal came: A counts as dead, 57 s before its lease would end
    await survivor.runOnce();
    expect((await b.call('GET', `/v1/requests/${req.id}`, token('admin'))).body).toMatchObject({ status: 'revoked', access: 'removed' });
    expect((await events(req.id)).filter((t) => t === 'grant.access_removed')).toHaveLength(1);

    // Had A only been slow, its late GRANT is undone when its commit loses: nothing stays behind.
    gate.open();
    await running;
    expect(await hgRoles()).toEqual([]);
    expect(await a.store.getCredentials(req.id)).toEqual([]);
  }, 30_000);
});
