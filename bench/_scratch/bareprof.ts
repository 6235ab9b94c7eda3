import { runAutocannon, spawnServer, round, processCpuMs } from '../lib.js';
const s = await spawnServer(['--import', 'tsx', 'bench/bare-server.ts'], {}, /bare listening on (http:\/\/\S+)/);
await runAutocannon({ url: s.url + '/bare', connections: 50, duration: 3 });
const c0 = processCpuMs(s.pid); const a0 = process.cpuUsage();
const r = await runAutocannon({ url: s.url + '/bare', connections: 50, duration: 8 });
const a = process.cpuUsage(a0);
console.log('bare', round(r.requests.mean, 0), 'server cpu us/req', round((processCpuMs(s.pid) - c0) * 1000 / r.requests.total, 1), 'autocannon cpu us/req', round((a.user + a.system) / r.requests.total, 1));
await s.stop();
