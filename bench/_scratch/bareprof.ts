import { runAutocannon, spawnServer, round } from '../lib.js';
const s = await spawnServer(['--cpu-prof', '--cpu-prof-dir=/tmp/prof2', '--import', 'tsx', 'bench/bare-server.ts'], {}, /bare listening on (http:\/\/\S+)/);
const r = await runAutocannon({ url: s.url + '/bare', connections: 50, duration: 10 });
console.log('bare', round(r.requests.mean, 0));
await s.stop();
