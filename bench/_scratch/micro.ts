import { copyFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { openStore } from '../../src/adapters/store/open-store.js';
import { createIds, systemClock } from '../../src/adapters/system.js';
import { Hourglass } from '../../src/app/hourglass.js';
import { parseConfig } from '../../src/config/load-config.js';
import { buildServer } from '../../src/http/build-server.js';
import { principalYaml, serverYaml, tokenOf, prng } from '../lib.js';
import Fastify from 'fastify';

copyFileSync('/tmp/bt/seed.db', '/tmp/bt/micro.db');
const TARGETS = ['db-a', 'db-b', 'db-c', 'db-d'];
const ROLES = ['r0', 'r1', 'r2', 'r3', 'r4'];
const ENTS = TARGETS.flatMap((t) => ROLES.map((r) => `${t}/${r}`));
const pid = (i: number) => `u${String(i).padStart(6, '0')}`;
const ent = (i: number, k: number) => ENTS[(i * 7 + k) % ENTS.length]!;
const yaml = `${serverYaml('/tmp/bt/micro.db')}
principals:
${principalYaml('app', [], ['checker'])}
targets:
${TARGETS.map((t) => `  ${t}:\n    type: hourglass\n    entitlements:\n${ROLES.map((r) => `      ${r}: {}`).join('\n')}`).join('\n')}
policies:
  - name: staff-self-service
    subjects: { groups: [staff] }
    entitlements: [${ENTS.join(', ')}]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;
const rnd = prng(1);
const qs = Array.from({ length: 4000 }, (_, i) => { const p = Math.floor(rnd() * 20000); return [pid(p), ent(p, i % 2 ? 1 : 6)] as const; });
const N = 100000;
async function time(label: string, fn: (i: number) => unknown) {
  for (let i = 0; i < 5000; i++) await fn(i);
  const t = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  const us = ((performance.now() - t) * 1000) / N;
  console.log(label.padEnd(40), us.toFixed(2), 'us/op');
}
{
  const raw = new BetterSqlite3('/tmp/bt/micro.db');
  const sql = 'select "request_id", "expires_at" from "grants" where "principal" = ? and "entitlement" = ? and "expires_at" > ? order by "expires_at" desc limit ?';
  const stmt = raw.prepare(sql);
  const now = Date.now();
  await time('raw prepared stmt.get', (i) => stmt.all(qs[i % 4000]![0], qs[i % 4000]![1], now, 1));
  await time('raw prepare+all each time', (i) => raw.prepare(sql).all(qs[i % 4000]![0], qs[i % 4000]![1], now, 1));
  console.log(raw.prepare('explain query plan ' + sql).all('a', 'b', 1, 1));
  raw.close();
}
const config = parseConfig(yaml, {}, 'x');
const store = await openStore('sqlite:/tmp/bt/micro.db');
const app = new Hourglass({ store, clock: systemClock, ids: createIds(), config: { current: () => config } });
await time('store.findGrant (kysely)', (i) => store.findGrant(qs[i % 4000]![0], qs[i % 4000]![1], Date.now()));
const caller = { id: 'app', groups: [], roles: ['checker' as const] };
await time('app.check', (i) => app.check(caller, qs[i % 4000]![0], qs[i % 4000]![1]));
const server = await buildServer({ app, config: { current: () => config } });
const paths = qs.map(([p, e]) => `/v1/check?principal=${p}&entitlement=${encodeURIComponent(e)}`);
const hdr = { authorization: `Bearer ${tokenOf('app')}` };
const bare = Fastify({ logger: false }); bare.get('/bare', async () => ({ ok: true })); await bare.ready();
const n2 = N; 
{ const t = performance.now(); for (let i = 0; i < 20000; i++) await bare.inject({ method: 'GET', url: '/bare', headers: hdr }); console.log('inject bare'.padEnd(40), ((performance.now() - t) * 1000 / 20000).toFixed(2), 'us/op'); }
{ const t = performance.now(); for (let i = 0; i < 20000; i++) await server.inject({ method: 'GET', url: paths[i % 4000]!, headers: hdr }); console.log('inject /v1/check'.padEnd(40), ((performance.now() - t) * 1000 / 20000).toFixed(2), 'us/op'); }
{ const t = performance.now(); for (let i = 0; i < 20000; i++) await server.inject({ method: 'GET', url: '/healthz', headers: hdr }); console.log('inject /healthz (hg server)'.padEnd(40), ((performance.now() - t) * 1000 / 20000).toFixed(2), 'us/op'); }
{ const t = performance.now(); for (let i = 0; i < 20000; i++) await server.inject({ method: 'GET', url: '/v1/me', headers: hdr }); console.log('inject /v1/me (auth + lock query)'.padEnd(40), ((performance.now() - t) * 1000 / 20000).toFixed(2), 'us/op'); }
await server.close(); await store.close();
