// scratch: seed once, then run check load against a spawned server with optional node args
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { seedActiveGrants } from '../seed.js';
import { spawnServer, processCpuMs, api, pacedLoad, principalYaml, rawGet, round, runAutocannon, serverYaml, slicePerClient, spawnHourglass, tempDir, tokenOf, writeFile, prng } from '../lib.js';

const TARGETS = ['db-a', 'db-b', 'db-c', 'db-d'];
const ROLES = ['r0', 'r1', 'r2', 'r3', 'r4'];
const ENTS = TARGETS.flatMap((t) => ROLES.map((r) => `${t}/${r}`));
const P = 20000;
const pid = (i: number) => `u${String(i).padStart(6, '0')}`;
const ent = (i: number, k: number) => ENTS[(i * 7 + k) % ENTS.length]!;
const yaml = (store: string) => `${serverYaml(store, process.env.EXTRA ?? '')}
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
const cache = '/tmp/bt/seed.db';
if (!existsSync(cache)) {
  const now = Date.now();
  await seedActiveGrants({ storePath: cache, yaml: yaml(cache), count: 100000, item: (n) => ({ principal: { id: pid(n % P), groups: ['staff'], roles: [] }, entitlement: ent(n % P, Math.floor(n / P)), duration: '8h', now: now + Math.floor(n / 100) }) });
}
const tmp = tempDir('hg-prof-');
const db = join(tmp.dir, 'hg.db');
copyFileSync(cache, db);
const cfg = writeFile(join(tmp.dir, 'hg.yaml'), yaml(db));
const hg = process.env.VARIANT !== undefined
  ? await spawnServer(['--import', 'tsx', 'bench/_scratch/server.ts', cfg], {}, /Hourglass is listening on (http:\/\/\S+)/)
  : await spawnHourglass(cfg);
const token = tokenOf('app');
const rnd = prng(42);
const mix: string[] = [];
for (let i = 0; i < 4000; i++) {
  const p = Math.floor(rnd() * P); const k = Math.floor(rnd() * 5);
  mix.push(`/v1/check?principal=${pid(p)}&entitlement=${encodeURIComponent(ent(p, i % 2 === 0 ? k : k + 5))}`);
}
const reqs = mix.map((path) => ({ method: 'GET', path, headers: { authorization: `Bearer ${token}` } }));
const mode = process.argv[2] ?? 'sat';
const secs = Number(process.env.SECS ?? 10);
if (mode === 'sat' || mode === 'both') {
  await runAutocannon({ url: hg.url, connections: 50, duration: 3, setupClient: slicePerClient(reqs, 50) });
  const c0 = processCpuMs(hg.pid);
  const r = await runAutocannon({ url: hg.url, connections: 50, duration: secs, setupClient: slicePerClient(reqs, 50) });
  console.log('server cpu us/req', round((processCpuMs(hg.pid) - c0) * 1000 / r.requests.total, 1));
  console.log('sat', round(r.requests.mean, 0), 'p50', r.latency.p50, 'p99', r.latency.p99, 'non2xx', r.non2xx);
}
if (mode === 'paced' || mode === 'both') {
  const bufs = mix.map((m) => rawGet(m, token)); let i = 0;
  const rate = Number(process.env.RATE ?? 3700);
  const r = await pacedLoad({ url: hg.url, rate, durationSec: secs, connections: 50, next: () => bufs[i++ % bufs.length]! });
  console.log('paced', r);
}
await hg.stop();
tmp.cleanup();
