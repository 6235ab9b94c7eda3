/**
 * Runs every benchmark in sequence, prints a summary table (figure, target, pass/fail) and writes
 * the results with the machine they ran on to bench/results/latest.json.
 *
 * Run: npm run bench   (builds first; the servers under test run from dist/)
 * Benchmarks are kept out of CI: they print figures, and a missed target does not fail the run
 * (the exit code is non-zero only when a benchmark could not run).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { run as checkThroughput } from './check-throughput.js';
import { run as expiryStorm } from './expiry-storm.js';
import { run as lifecycleCycles } from './lifecycle-cycles.js';
import { run as auditVerify } from './audit-verify.js';
import { run as revocationLag } from './revocation-lag.js';
import { run as revokePropagation } from './revoke-propagation.js';
import { run as dbExpiryStorm } from './db-expiry-storm.js';
import { run as sshCertificates } from './ssh-certificates.js';
import { cpuModelName, log, printFigures, ROOT, settle, type BenchFigure } from './lib.js';

const benches: [string, () => Promise<BenchFigure[]>][] = [
  ['check-throughput', checkThroughput],
  ['lifecycle-cycles', lifecycleCycles],
  ['expiry-storm', expiryStorm],
  ['audit-verify', auditVerify],
  ['revocation-lag', revocationLag],
  ['revoke-propagation', revokePropagation],
  ['db-expiry-storm', dbExpiryStorm],
  ['ssh-certificates', sshCertificates],
];

function machine() {
  const cpuModel = cpuModelName();
  const commit = (() => {
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
      return dirty ? `${head}+uncommitted src changes` : head;
    } catch {
      return undefined;
    }
  })();
  return {
    cpus: cpus().length,
    cpuModel,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    commit,
  };
}

const started = Date.now();
const figures: BenchFigure[] = [];
const failed: { bench: string; error: string }[] = [];
for (const [name, run] of benches) {
  log(`\n=== ${name} ===`);
  await settle();
  const t0 = Date.now();
  try {
    figures.push(...(await run()));
  } catch (err) {
    const error = (err as Error).stack ?? String(err);
    failed.push({ bench: name, error });
    log(`[${name}] COULD NOT RUN: ${error}`);
  }
  log(`[${name}] took ${Math.round((Date.now() - t0) / 1000)} s`);
}

const env = machine();
log(`\n=== summary (${env.cpus} x ${env.cpuModel}, node ${env.node}; ${Math.round((Date.now() - started) / 1000)} s) ===`);
printFigures(figures);
for (const f of failed) log(`${f.bench}: COULD NOT RUN (see above)`);
const targets = figures.filter((f) => f.pass !== undefined);
log(`${targets.filter((f) => f.pass).length} of ${targets.length} targets met`);
const disturbed = figures.filter((f) => (f.otherCpuPct ?? 0) > 15);
if (disturbed.length) {
  log(
    `${disturbed.length} figure(s) were taken while other processes used more than 15 % of the machine ("other CPU"): rerun on a quiet machine before trusting them`,
  );
}

const dir = join(ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'latest.json');
writeFileSync(
  file,
  `${JSON.stringify({ date: new Date(started).toISOString(), durationSeconds: Math.round((Date.now() - started) / 1000), machine: env, figures, failed }, null, 2)}\n`,
);
log(`results written to ${file}`);
if (failed.length) process.exitCode = 1;
