/**
 * The open-loop paced load generator (lib.ts pacedLoad) as a child process: it gets a fresh,
 * small heap, so a garbage collection in the bench process (which seeded the store and ran
 * autocannon) cannot stall it and be counted as server latency. Reads its options as JSON on
 * stdin, writes the result as JSON on stdout, and reports its own worst event-loop stall.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pacedLoad, rawGet, readJsonInput, round, type PacedClientOptions } from './lib.js';

const opts = await readJsonInput<PacedClientOptions>();
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
process.stdout.write(
  `${JSON.stringify({ ...result, generatorMaxStallMs: round(loop.max / 1e6, 1), generatorCpuMs: round((cpu.user + cpu.system) / 1000, 0) })}\n`,
);
