/**
 * The identity ports (src/app/ports.ts): an asynchronous Authenticator is awaited by every kind of
 * route, the configuration's tokens stay synchronous (so /v1/check answers at the end of the
 * turn, docs/benchmarks.md), and a Directory that knows principals the file does not name lets
 * them be locked and keep their access at reload.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyRequest } from 'fastify';
import { configDirectory, tokenAuthenticator } from '../../src/app/directory.js';
import type { Directory } from '../../src/app/ports.js';
import { createHourglass, type HourglassOverrides, type HourglassSystem } from '../../src/compose.js';
import type { Principal } from '../../src/core/types.js';
import { configFromYaml, DEMO_YAML, documentedCall, token } from '../support/app-harness.js';
import { ManualClock } from '../support/manual-clock.js';
import { T0 } from '../support/builders.js';

let system: HourglassSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

async function compose(overrides: HourglassOverrides = {}) {
  const config = configFromYaml(DEMO_YAML);
  system = await createHourglass(config, {}, { clock: new ManualClock(T0), storeUrl: config.server.store, metrics: false, ...overrides });
  return system;
}

const admin: Principal = { id: 'sec-admin', groups: [], roles: ['admin'] };

describe('Authenticator port', () => {
  it('an asynchronous Authenticator serves GET and POST routes, and refuses what it does not know', async () => {
    let calls = 0;
    const s = await compose({
      authenticator: {
        authenticate(credential) {
          calls++;
          return Promise.resolve(tokenAuthenticator(s.config).authenticate(credential));
        },
      },
    });
    const call = documentedCall(s.server!);
    const me = await call('GET', '/v1/me', token('alice'));
    expect(me.status).toBe(200);
    expect(me.body.id).toBe('alice');
    const submitted = await call('POST', '/v1/requests', token('alice'), { entitlements: ['demo-db/read'] });
    expect(submitted.status).toBe(201);
    expect(submitted.body.requester).toBe('alice');
    expect((await call('GET', `/v1/requests/${submitted.body.id}`, token('alice'))).status).toBe(200);
    expect((await call('POST', '/v1/requests', 'not-a-token', { entitlements: ['demo-db/read'] })).status).toBe(401);
    expect((await call('GET', '/v1/me', 'not-a-token')).status).toBe(401);
    // The not-found handler asks too: a stranger learns nothing, a known caller gets 404.
    expect((await s.server!.inject({ method: 'GET', url: '/v1/nowhere', headers: { authorization: 'Bearer x' } })).statusCode).toBe(401);
    expect((await s.server!.inject({ method: 'GET', url: '/v1/nowhere', headers: { authorization: `Bearer ${token('alice')}` } })).statusCode).toBe(404);
    expect(calls).toBeGreaterThanOrEqual(7);
  });

  it('the configuration tokens answer synchronously, so /v1/check replies at the end of its turn', async () => {
    const s = await compose();
    const server = s.server!;
    const req = { headers: { authorization: `Bearer ${token('app')}` }, principal: null, authChecked: false } as unknown as FastifyRequest;
    const principal = server.authenticate(req);
    expect(typeof (principal as { then?: unknown } | undefined)?.then).toBe('undefined');
    expect((principal as Principal).id).toBe('app');

    // Every check of the turn is handled before any answer is sent: none waited on a promise.
    const events: string[] = [];
    const check = s.app.check.bind(s.app);
    s.app.check = (...args) => {
      events.push('handled');
      return check(...args);
    };
    server.addHook('onSend', (_req, _reply, payload, done) => {
      events.push('sent');
      done(null, payload);
    });
    const answers = await Promise.all(
      [1, 2, 3].map(() =>
        server.inject({ method: 'GET', url: '/v1/check?principal=alice&entitlement=demo-db/read', headers: { authorization: `Bearer ${token('app')}` } }),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200]);
    expect(events).toEqual(['handled', 'handled', 'handled', 'sent', 'sent', 'sent']);
  });
});

describe('Directory port', () => {
  /** The file's principals plus one known only elsewhere (an IdP), as a Map-backed stub adapter. */
  function stubDirectory(s: () => HourglassSystem, extra: Principal): Directory {
    const byId = new Map<string, Principal>([[extra.id, extra]]);
    return {
      find: async (id) => byId.get(id) ?? configDirectory(s().config).find(id),
      all: () => [...configDirectory(s().config).all(), extra],
    };
  }
  const idpOnly: Principal = { id: 'idp-only', groups: ['developers'], roles: [] };
  const ghost: Principal = { id: 'ghost', groups: ['developers'], roles: [] };

  it('a principal known only to the Directory can be locked; one nobody knows cannot', async () => {
    const s = await compose({ directory: stubDirectory(() => system!, idpOnly), http: false });
    expect((await s.app.emergency.lockPrincipal(admin, 'idp-only')).locked).toBe(true);
    await expect(s.app.emergency.lockPrincipal(admin, 'ghost')).rejects.toMatchObject({ code: 'HG_NOT_FOUND' });
  });

  it('at reload, access of a principal the Directory knows is kept; of one it does not, ended', async () => {
    const s = await compose({ directory: stubDirectory(() => system!, idpOnly), http: false });
    // Pending (admin access waits for an approval): open requests of each.
    const kept = (await s.app.requests.submit(idpOnly, { entitlements: ['demo-db/admin'], reason: 'maintenance' })).request;
    const gone = (await s.app.requests.submit(ghost, { entitlements: ['demo-db/admin'], reason: 'maintenance' })).request;
    const ended = await s.app.recordReload('sec-admin', s.config.current().policyHash);
    expect([...ended.cancelled, ...ended.revoked]).toEqual([gone.id]);
    expect((await s.stores.store.getRequest(kept.id))?.status).toBe('pending');
  });
});
