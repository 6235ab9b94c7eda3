#!/usr/bin/env node
// Runs the vitest suite (extra arguments are passed through to vitest), then
// prints one summary line `Tests: N passed, N failed[, N skipped]`.
// Exit code: vitest's, and non-zero also when its JSON report is missing, when
// no test ran, or when any test was skipped: a test whose server is missing must
// fail loudly, never skip.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const reportDir = path.join(root, '.test-results');
const reportFile = path.join(reportDir, 'vitest.json');

mkdirSync(reportDir, { recursive: true });
rmSync(reportFile, { force: true }); // a stale report must not pass for this run's

const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${path.relative(root, reportFile)}`, ...process.argv.slice(2)];
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const child = spawn(npx, args, { cwd: root, stdio: 'inherit' });

const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
process.on('SIGINT', forward);
process.on('SIGTERM', forward);

const vitestCode = await new Promise((resolve) => {
  child.once('error', (err) => {
    console.error(`run-tests: could not start ${npx} vitest: ${err.message}`);
    resolve(1);
  });
  child.once('exit', (code, signal) => {
    if (signal) resolve(128 + (os.constants.signals[signal] ?? 1));
    else resolve(code ?? 1);
  });
});

let report;
try {
  report = JSON.parse(readFileSync(reportFile, 'utf8'));
} catch (err) {
  console.error(`\nrun-tests: no readable vitest JSON report at ${reportFile}: ${err.message}`);
  console.log('Tests: 0 passed, 0 failed');
  process.exit(vitestCode || 1);
}

const passed = [];
const failed = [];
const skipped = [];
const brokenFiles = [];
for (const file of report.testResults ?? []) {
  const rel = path.relative(root, file.name ?? '');
  const tests = file.assertionResults ?? [];
  if (file.status === 'failed' && !tests.some((t) => t.status === 'failed')) {
    brokenFiles.push({ rel, message: (file.message ?? '').trim() });
  }
  for (const t of tests) {
    const name = `${rel} > ${t.fullName ?? t.title}`;
    if (t.status === 'passed') passed.push(name);
    else if (t.status === 'failed') failed.push(name);
    else skipped.push(`${name} (${t.status})`); // skipped, pending, todo, disabled
  }
}

const section = (title, items) => {
  if (items.length === 0) return;
  console.log(`\n${title}:`);
  for (const item of items) console.log(`  - ${item}`);
};
section('Failed tests', failed);
section(
  'Test files that failed outside any test',
  brokenFiles.map((f) => (f.message ? `${f.rel}: ${f.message.split('\n')[0]}` : f.rel)),
);
if (skipped.length > 0) {
  section('Skipped tests (these count as failures: a test must fail, not skip, when its server is missing)', skipped);
  if (process.argv.slice(2).some((a) => /^(-t|--testNamePattern)/.test(a))) {
    console.log('  (a -t/--testNamePattern filter marks the other tests skipped; use `npm run test:only -- -t ...`)');
  }
}

let exitCode = vitestCode;
if (passed.length + failed.length === 0) {
  console.error('\nrun-tests: no test ran');
  exitCode ||= 1;
}
if (failed.length > 0 || brokenFiles.length > 0) exitCode ||= 1;
if (skipped.length > 0) exitCode ||= 1;

console.log('');
console.log(`Tests: ${passed.length} passed, ${failed.length} failed` + (skipped.length > 0 ? `, ${skipped.length} skipped` : ''));
process.exit(exitCode);
