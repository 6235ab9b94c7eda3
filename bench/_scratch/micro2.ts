import { createIds, systemClock } from '../../src/adapters/system.js';
import { openStore } from '../../src/adapters/store/open-store.js';
import { Hourglass } from '../../src/app/hourglass.js';
import { parseConfig } from '../../src/config/load-config.js';
import { buildServer } from '../../src/http/build-server.js';
import { principalYaml, serverYaml, tokenOf } from '../lib.js';
import Fastify from 'fastify';
const yaml = `${serverYaml('/tmp/bt/micro2.db')}
principals:
${principalYaml('app', [], ['checker'])}
targets: {}
policies: []
`;
const config = parseConfig(yaml, {}, 'x');
const store = await openStore('sqlite::memory:');
const app = new Hourglass({ store, clock: systemClock, ids: createIds(), config: { current: () => config } });
const server = await buildServer({ app, config: { current: () => config } });
const hdr = { authorization: `Bearer ${tokenOf('app')}` };
const bare = Fastify({ logger: false }); bare.get('/bare', async () => ({ ok: true })); await bare.ready();
const which = process.argv[2];
const s = which === 'bare' ? bare : server; const url = which === 'bare' ? '/bare' : '/healthz';
for (let r = 0; r < 3; r++) { const t = performance.now(); for (let i = 0; i < 20000; i++) await s.inject({ method: 'GET', url, headers: hdr }); console.log(which, ((performance.now() - t) * 1000 / 20000).toFixed(2), 'us/op'); }
