/**
 * The open-loop paced load generator (lib.ts pacedLoad) as a child process: it gets a fresh,
 * small heap, so a garbage collection in the bench process (which seeded the store and ran
 * autocannon) cannot stall it and be counted as server latency. Reads its options as JSON on
 * stdin, writes the result as JSON on stdout, and reports its own worst event-loop stall.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pacedLoad, rawGet, round } from './lib.js';

export interface PacedClientOptions {
  url: string;
  rate: number;
  durationSec: number;
  /** Unrecorded load at the same rate first (see lib.ts pacedLoad). */
  warmupSec?: number;
  connections: number;
  paths: string[];
  token?: string;
}

let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;
const opts = JSON.parse(input) as PacedClientOptions;
const buffers = opts.paths.map((p) => rawGet(p, opts.token));
let i = 0;
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
const result = await pacedLoad({
  url: opts.url,
  rate: opts.rate,
  durationSec: opts.durationSec,
  ...(opts.warmupSec ? { warmupSec: opts.warmupSec } : {}),
  onMeasure: () => loop.reset(),
  connections: opts.connections,
  next: () => buffers[i++ % buffers.length]!,
});
loop.disable();
const cpu = process.cpuUsage(); // since this process started: the warm-up and the measured window
process.stdout.write(`${JSON.stringify({ ...result, generatorMaxStallMs: round(loop.max / 1e6, 1), generatorCpuMs: round((cpu.user + cpu.system) / 1000, 0) })}\n`);
