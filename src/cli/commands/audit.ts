/**
 * `hourglass audit verify|head|list|export`: the tamper-evident log. Export and verification are
 * streamed; signed checkpoints are checked here and against the chain on the server.
 */
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { Option } from 'commander';
import { ApiError, UnreachableError, type CheckpointVerifyJson, type StreamedAnswer, type VerifyReportJson } from '../api-client.js';
import { UsageError } from '../errors.js';
import * as fmt from '../format.js';
import type { PinnedKey } from '../offline.js';
import { pastTime, positiveInt } from './args.js';
import { EXIT } from './failure.js';
import { action, offlineModule, type Io, type Registrar } from './shared.js';

/** Writes chunks to `dest` with backpressure; counts bytes and newlines. Stops quietly when a reader of stdout goes away (EPIPE). */
async function pump(answer: StreamedAnswer, dest: NodeJS.WritableStream): Promise<{ bytes: number; lines: number; closed: boolean }> {
  let bytes = 0;
  let lines = 0;
  let failure: Error | undefined;
  const onError = (e: Error) => {
    failure = e;
    answer.cancel();
  };
  dest.on('error', onError);
  try {
    for await (const chunk of answer.chunks) {
      if (failure) break;
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines += 1;
      if (!dest.write(chunk)) {
        await Promise.race([once(dest, 'drain'), once(dest, 'error').catch(() => undefined), once(dest, 'close')]);
      }
    }
  } catch (e) {
    if (!failure) throw e;
  } finally {
    dest.off('error', onError);
  }
  if (failure) {
    if ((failure as NodeJS.ErrnoException).code === 'EPIPE') return { bytes, lines, closed: true };
    throw failure;
  }
  return { bytes, lines, closed: false };
}

/** Parses an NDJSON stream line by line. */
async function* ndjson(answer: StreamedAnswer): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of answer.chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) yield parseLine(line);
    }
  }
  buffer += decoder.decode();
  if (buffer.trim()) yield parseLine(buffer.trim());
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new ApiError(200, 'HTTP_NOT_JSON', `the server sent a line that is not JSON in the verification stream: ${line.slice(0, 80)}`);
  }
}

/** The progress display of a long verification: one rewritten line on a terminal, else a line every few seconds. */
function progressReporter(io: Io, enabled: boolean) {
  let last = 0;
  let shown = false;
  return {
    update(p: { count?: number; lastSeq?: number }) {
      if (!enabled) return;
      const now = Date.now();
      const text = `verifying the audit chain: ${p.count ?? '?'} event(s) checked (seq ${p.lastSeq ?? '?'})`;
      if (io.stderrIsTTY) {
        if (now - last < 100) return;
        io.err(`\r\x1b[K${text}`);
        shown = true;
      } else {
        if (now - last < 2000) return;
        io.err(`${text}\n`);
      }
      last = now;
    },
    done() {
      if (shown) io.err('\r\x1b[K');
      shown = false;
    },
  };
}

async function verifyChain(io: Io, expectHead: string | undefined, showProgress: boolean): Promise<VerifyReportJson> {
  let answer: StreamedAnswer;
  try {
    answer = await io.client.auditVerifyStream(expectHead);
  } catch (e) {
    // An older server without the streaming route: verify in one call.
    if (e instanceof ApiError && e.status === 404) return io.client.auditVerify(expectHead);
    throw e;
  }
  const progress = progressReporter(io, showProgress);
  try {
    for await (const msg of ndjson(answer)) {
      const m = msg as { progress?: { count?: number; lastSeq?: number }; result?: VerifyReportJson; error?: { code?: string; message?: string } };
      if (m.progress) progress.update(m.progress);
      else if (m.result) {
        answer.cancel();
        return m.result;
      } else if (m.error) {
        const code = m.error.code ?? 'HG_INTERNAL';
        const status = code === 'HG_STORE_UNAVAILABLE' ? 503 : code === 'HG_FORBIDDEN' ? 403 : code === 'HG_INVALID_INPUT' ? 400 : 500;
        throw new ApiError(status, code, m.error.message ?? 'the verification failed on the server');
      }
    }
  } finally {
    progress.done();
  }
  throw new UnreachableError(io.client.url, 'the verification stream ended without a result');
}

/** Checkpoints per POST: well inside the default 64 KB body limit even with a PEM key on every line. */
const CHECKPOINT_BATCH = 100;

interface CheckpointReport extends CheckpointVerifyJson {
  signatures: { checked: number; valid: number; keyIds: string[]; pinned: string | null; failures: { seq: number; problem: string }[] };
}

/**
 * Checks every signature here (node:crypto), then asks the server to compare each checkpoint with
 * the chain, in batches; only the batch holding the newest checkpoint verifies the whole chain
 * (with that checkpoint as the expected head).
 */
async function verifyCheckpoints(io: Io, file: string, publicKey: string | undefined): Promise<CheckpointReport> {
  const { checkSignature, pinKey, readCheckpointsFile } = await offlineModule();
  const list = readCheckpointsFile(file).sort((a, b) => a.seq - b.seq);
  let pinned: PinnedKey | undefined;
  if (publicKey !== undefined) {
    const text = existsSync(publicKey) ? readFileSync(publicKey, 'utf8') : publicKey;
    try {
      pinned = pinKey(text);
    } catch (e) {
      throw new UsageError(`--public-key: not a usable Ed25519 public key (PEM file, PEM, base64 or hex): ${(e as Error).message}`);
    }
  }
  const local = list.flatMap((cp) => {
    const problem = checkSignature(cp, pinned);
    return problem ? [{ seq: cp.seq, problem }] : [];
  });
  const merged: CheckpointVerifyJson = { ok: true, checked: 0, chain: null, failures: [], keys: [] };
  for (let i = 0; i < list.length; i += CHECKPOINT_BATCH) {
    const last = i + CHECKPOINT_BATCH >= list.length;
    const r = await io.client.verifyCheckpoints({
      checkpoints: list.slice(i, i + CHECKPOINT_BATCH),
      ...(pinned ? { publicKey: pinned.pem, trustedKeyIds: [pinned.keyId] } : {}),
      ...(last ? {} : { verifyChain: false }),
    });
    merged.ok = merged.ok && r.ok;
    merged.checked += r.checked;
    if (r.chain) merged.chain = r.chain;
    merged.failures.push(...r.failures);
    for (const k of r.keys ?? []) {
      const known = merged.keys.find((x) => x.keyId === k.keyId);
      if (known) known.checkpoints += k.checkpoints;
      else merged.keys.push({ ...k });
    }
  }
  return {
    ...merged,
    ok: merged.ok && local.length === 0,
    signatures: {
      checked: list.length,
      valid: list.length - local.length,
      keyIds: [...new Set(list.map((c) => c.keyId))],
      pinned: pinned?.keyId ?? null,
      failures: local,
    },
  };
}

function checkpointLines(r: CheckpointReport): string {
  const lines: string[] = [];
  lines.push(
    r.failures.length === 0
      ? `checkpoints: ${r.checked} checked against the chain, all match`
      : `CHECKPOINTS FAILED on the server: ${r.failures.length} problem(s) with the ${r.checked} checkpoint(s)`,
  );
  for (const f of r.failures) lines.push(`  seq ${f.seq}: ${f.problem}`);
  const s = r.signatures;
  lines.push(
    s.failures.length === 0
      ? `signatures: ${s.valid} valid, checked here (key ${s.keyIds.join(', ')}${s.pinned ? ', pinned with --public-key' : ''})`
      : `BAD SIGNATURES, checked here: ${s.failures.length} of ${s.checked} checkpoint(s)`,
  );
  for (const f of s.failures) lines.push(`  seq ${f.seq}: ${f.problem}`);
  const chain = r.chain as VerifyReportJson | null;
  if (chain && typeof chain === 'object' && typeof chain.ok === 'boolean' && typeof chain.count === 'number') lines.push(fmt.verifyLines(chain).trimEnd());
  return lines.join('\n') + '\n';
}

export function registerAuditCommands({ program, ctx, client }: Registrar): void {
  const audit = program.command('audit').description('the tamper-evident audit log: verify, head, list, export (auditor or admin role)');
  client('verify', 'verify the hash chain of the whole audit log (exit 10 if broken)', audit)
    .option('--expect-head <SEQ:HASH>', 'a head saved earlier (hourglass audit head); catches a truncated log')
    .option('--progress', 'show progress on stderr even when it is not a terminal')
    .option('--no-progress', 'never show progress')
    .option('--checkpoints <file>', 'check the signed checkpoints of this JSON Lines file against the chain, and their signatures here')
    .option('--public-key <pem>', 'with --checkpoints: the Ed25519 public key (PEM file or text) every checkpoint must be signed with')
    .action(
      action(ctx, async (io, o) => {
        if (o.checkpoints !== undefined) {
          if (o.expectHead !== undefined) throw new UsageError('--checkpoints and --expect-head are separate checks: run them one at a time');
          const r = await verifyCheckpoints(io, o.checkpoints as string, o.publicKey as string | undefined);
          io.print(r, () => checkpointLines(r));
          if (!r.signatures.pinned && r.signatures.failures.length === 0) {
            io.err('note: signatures were checked with the public keys in the file; pin the key with --public-key to catch a forged file\n');
          }
          return r.ok ? EXIT.OK : EXIT.AUDIT_BROKEN;
        }
        if (o.publicKey !== undefined) throw new UsageError('--public-key goes with --checkpoints');
        const showProgress = o.progress === undefined ? io.stderrIsTTY : o.progress === true;
        const r = await verifyChain(io, o.expectHead as string | undefined, showProgress);
        io.print(r, () => fmt.verifyLines(r));
        return r.ok ? EXIT.OK : EXIT.AUDIT_BROKEN;
      }),
    );
  client('head', 'print the chain head SEQ:HASH; keep it outside Hourglass for verify --expect-head', audit).action(
    action(ctx, async (io) => {
      const r = await io.client.auditHead();
      io.print(r, () => `${r.head ?? '(empty)'}\n`);
    }),
  );
  client('list', 'list audit events, oldest first', audit)
    .option('--request-id <id>', 'only events of this request')
    .option('--actor <principal>', 'only events by this actor')
    .option('--type <type>', 'only events of this type, e.g. grant.revoked (alert.* for a family)')
    .option('--since <time>', 'from this time: ISO-8601 or -DURATION (e.g. -1h)', pastTime)
    .option('--until <time>', 'up to this time: ISO-8601 or -DURATION', pastTime)
    .option('--limit <n>', 'at most N events (1-1000, default 100)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(
      action(ctx, async (io, o) => {
        const page = await io.client.auditList({
          ...(o.requestId !== undefined ? { requestId: o.requestId as string } : {}),
          ...(o.actor !== undefined ? { actor: o.actor as string } : {}),
          ...(o.type !== undefined ? { type: o.type as string } : {}),
          ...(o.since !== undefined ? { since: o.since as string } : {}),
          ...(o.until !== undefined ? { until: o.until as string } : {}),
          ...(o.limit !== undefined ? { limit: o.limit as number } : {}),
          ...(o.cursor !== undefined ? { cursor: o.cursor as string } : {}),
        });
        io.print(page, () => fmt.auditTable(page.events));
        if (!io.json && page.nextCursor) io.err(`more: add --cursor ${page.nextCursor}\n`);
      }),
    );
  client('export', 'export audit events as JSON Lines or CSV, streamed (to stdout, or -o FILE)', audit)
    .addOption(new Option('--format <format>', 'jsonl (one event per line) or csv').choices(['jsonl', 'csv']).default('jsonl'))
    .option('-o, --output <file>', 'write to FILE (complete or not at all) instead of stdout')
    .option('--request-id <id>', 'only events of this request')
    .option('--actor <principal>', 'only events by this actor')
    .option('--type <type>', 'only events of this type (alert.* for a family)')
    .option('--since <time>', 'from this time: ISO-8601 or -DURATION (e.g. -24h)', pastTime)
    .option('--until <time>', 'up to this time: ISO-8601 or -DURATION', pastTime)
    .addHelpText('after', '\nWith --json and -o FILE, stdout gets a summary {file, format, bytes, lines}; without -o, stdout is the export itself.\n')
    .action(
      action(ctx, async (io, o) => {
        const answer = await io.client.auditExport({
          format: o.format as 'jsonl' | 'csv',
          ...(o.requestId !== undefined ? { requestId: o.requestId as string } : {}),
          ...(o.actor !== undefined ? { actor: o.actor as string } : {}),
          ...(o.type !== undefined ? { type: o.type as string } : {}),
          ...(o.since !== undefined ? { since: o.since as string } : {}),
          ...(o.until !== undefined ? { until: o.until as string } : {}),
        });
        const file = o.output as string | undefined;
        if (file === undefined || file === '-') {
          await pump(answer, io.stdout);
          return;
        }
        const partial = `${file}.partial`;
        const dest = createWriteStream(partial, { flags: 'w' });
        try {
          await once(dest, 'open');
          const { bytes, lines } = await pump(answer, dest);
          dest.end();
          await once(dest, 'finish');
          renameSync(partial, file);
          io.print({ file, format: o.format, bytes, lines }, () => '');
          io.err(`exported ${o.format === 'csv' ? Math.max(0, lines - 1) : lines} event(s), ${bytes} bytes, to ${file}\n`);
        } catch (e) {
          answer.cancel();
          dest.destroy();
          rmSync(partial, { force: true });
          throw e;
        }
      }),
    );
}
