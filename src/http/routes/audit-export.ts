/**
 * Audit export (JSON Lines, CSV), verification with streamed progress, and signed checkpoints.
 * Long answers are streams with backpressure: a page of events is read only when the client has
 * taken the previous one, so exporting a million events takes constant memory.
 */
import { PassThrough, Readable } from 'node:stream';
import { z } from 'zod';
import { isHgError } from '../../core/errors.js';
import { openAuditExport, verifyWithProgress, type ExportedEvent } from '../../app/audit-export.js';
import { defineRoute } from '../route.js';
import { auditEventResponse, checkpointListResponse, errorResponse, latestCheckpointResponse, verifyResponse } from '../responses.js';
import * as s from '../schemas.js';
import { auditJson } from '../serialize.js';
import type { RouteContext } from './context.js';

// ---- shapes ---------------------------------------------------------------------------------------

const exportQuery = s.auditQuery.omit({ limit: true, cursor: true }).extend({ format: z.enum(['jsonl', 'csv']).default('jsonl') });

const verifyStreamQuery = z
  .object({
    expectHead: z.string().max(200).optional(),
    every: z.coerce.number().int().min(1000).max(100_000_000).default(50_000),
  })
  .strict();

const checkpointsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.coerce.number().int().min(0).optional(),
  })
  .strict();

const checkpointLine = z.object({
  seq: z.number().int().positive(),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
  at: z.string().max(64),
  keyId: z.string().max(64),
  signature: z.string().max(200),
  publicKey: z.string().max(4000).nullable().optional(),
});

const verifyCheckpointsBody = z
  .object({
    checkpoints: z.array(checkpointLine).min(1).max(5000),
    publicKey: z.string().max(4000).optional().describe('PEM; for checkpoints without their own publicKey'),
    trustedKeyIds: z
      .array(z.string().regex(/^[0-9a-f]{16}$/))
      .max(100)
      .optional()
      .describe('fail checkpoints signed by any other key'),
    verifyChain: z.boolean().optional().describe('default true; false checks only signatures and hashes at the checkpoints'),
  })
  .strict();

export const verifyStreamLine = z
  .union([
    z.object({ progress: z.object({ count: z.number().int(), lastSeq: z.number().int() }).strict() }).strict(),
    z.object({ result: verifyResponse }).strict(),
    errorResponse,
  ])
  .describe('One line of the NDJSON stream: progress lines, then one result (or error) line');

export const checkpointVerifyResponse = z
  .object({
    ok: z.boolean(),
    checked: z.number().int(),
    chain: verifyResponse.nullable(),
    failures: z.array(z.object({ seq: z.number().int(), problem: z.string() }).strict()),
    keys: z.array(z.object({ keyId: z.string(), checkpoints: z.number().int(), serverKey: z.boolean() }).strict()),
  })
  .strict();

export const publicKeyResponse = z.object({ keyId: z.string(), publicKey: z.string(), algorithm: z.literal('Ed25519') }).strict();

// ---- formats --------------------------------------------------------------------------------------

export const CSV_COLUMNS = ['seq', 'id', 'at', 'type', 'actor', 'requestId', 'policyHash', 'prevHash', 'hash', 'details'] as const;

/** RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled. Null is an empty field. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRow(e: ExportedEvent): string {
  const j = auditJson(e);
  return `${[j.seq, j.id, j.at, j.type, j.actor, j.requestId, j.policyHash, j.prevHash, j.hash, j.details === null ? null : JSON.stringify(j.details)]
    .map(csvField)
    .join(',')}\r\n`;
}

const jsonlRow = (e: ExportedEvent) => `${JSON.stringify(auditJson(e))}\n`;

async function* exportChunks(pages: AsyncGenerator<ExportedEvent[], void, undefined>, format: 'jsonl' | 'csv'): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`;
  const row = format === 'csv' ? csvRow : jsonlRow;
  for await (const page of pages) {
    let chunk = '';
    for (const e of page) chunk += row(e);
    yield chunk;
  }
}

function fileStamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

// ---- routes ---------------------------------------------------------------------------------------

export function auditExportRoutes({ server, table, opts }: RouteContext): void {
  const { app } = opts;

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/audit/export',
    tag: 'audit',
    auth: 'bearer',
    summary: 'Export audit events as JSON Lines or CSV, streamed (roles auditor, admin)',
    description:
      'Same filters as GET /v1/audit, oldest first, every matching event. `format=jsonl` (default) sends one event per line ' +
      'as in GET /v1/audit (application/x-ndjson); `format=csv` sends text/csv with a header row: ' +
      `${CSV_COLUMNS.join(', ')} (details as JSON in one column, RFC 4180 quoting). Streamed in pages of 2000 with backpressure; ` +
      'a failure after the first byte cuts the response short (no final chunk), which clients report as an incomplete transfer.',
    query: exportQuery,
    responses: {
      200: { description: 'one audit event per line (JSON Lines), or CSV with format=csv', schema: auditEventResponse, contentType: 'application/x-ndjson' },
    },
    handler: async ({ query, principal, reply }) => {
      const { format, ...filter } = query;
      const exported = await openAuditExport(app.deps, app.audit, principal, filter);
      const ext = format === 'csv' ? 'csv' : 'jsonl';
      const body = Readable.from(exportChunks(exported.pages, format), { objectMode: false });
      void reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="hourglass-audit-${fileStamp(app.deps.clock.now())}.${ext}"`)
        .header('cache-control', 'no-store')
        .send(body);
      return reply;
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/audit/verify/stream',
    tag: 'audit',
    auth: 'bearer',
    summary: 'Verify the hash chain with progress, streamed as NDJSON (roles auditor, admin)',
    description:
      'Lines `{"progress":{"count":N,"lastSeq":S}}` about every `every` events (default 50000), then one ' +
      '`{"result":{...}}` line, the same object GET /v1/audit/verify answers (or `{"error":{code,message}}` if the store fails midway).',
    query: verifyStreamQuery,
    responses: { 200: { description: 'progress lines, then the result', schema: verifyStreamLine, contentType: 'application/x-ndjson' } },
    handler: async ({ query, principal, req, reply }) => {
      const out = new PassThrough();
      const line = (value: unknown) => `${JSON.stringify(value)}\n`;
      let done: ReturnType<typeof verifyWithProgress>;
      try {
        done = verifyWithProgress(app.audit, principal, {
          ...(query.expectHead ? { expectHead: query.expectHead } : {}),
          every: query.every,
          onProgress: (progress) => out.write(line({ progress })),
          aborted: () => out.destroyed,
        });
      } catch (err) {
        // Problems found before the first byte are plain JSON errors (400, 403), not error lines.
        out.destroy();
        throw err;
      }
      done.then(
        (result) => out.end(line({ result })),
        (err: Error) => {
          if (out.destroyed) return;
          if (!isHgError(err)) server.requestLog.for(req)?.error({ err }, 'streamed audit verification failed');
          const error = isHgError(err)
            ? { code: err.code, message: err.message }
            : { code: 'HG_INTERNAL', message: 'internal error; the server log has the details' };
          out.end(line({ error }));
        },
      );
      void reply.header('content-type', 'application/x-ndjson; charset=utf-8').header('cache-control', 'no-store').send(out);
      return reply;
    },
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/audit/checkpoints',
    tag: 'audit',
    auth: 'bearer',
    summary: 'Signed checkpoints of the chain head, oldest first (roles auditor, admin)',
    query: checkpointsQuery,
    responses: { 200: { description: 'a page of checkpoints', schema: checkpointListResponse } },
    handler: async ({ query, principal }) =>
      app.checkpoints.list(principal, { limit: query.limit, ...(query.cursor !== undefined ? { after: query.cursor } : {}) }),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/audit/checkpoints/latest',
    tag: 'audit',
    auth: 'bearer',
    summary: 'The newest signed checkpoint, and whether checkpoints are configured (roles auditor, admin)',
    responses: { 200: { description: 'the newest checkpoint, or null', schema: latestCheckpointResponse } },
    handler: async ({ principal }) => app.checkpoints.latest(principal),
  });

  defineRoute(server, table, {
    method: 'GET',
    url: '/v1/audit/public-key',
    tag: 'audit',
    auth: 'bearer',
    summary: 'The Ed25519 public key that signs checkpoints, and its key id (roles auditor, admin)',
    description: 'keyId is the first 16 hex digits of SHA-256 over the SPKI DER. 404 when checkpoints are not configured.',
    responses: { 200: { description: 'the public key (PEM, SPKI)', schema: publicKeyResponse } },
    handler: async ({ principal }) => app.checkpoints.publicKey(principal),
  });

  defineRoute(server, table, {
    method: 'POST',
    url: '/v1/audit/verify/checkpoints',
    tag: 'audit',
    auth: 'bearer',
    summary: 'Verify the chain against checkpoints kept outside the database (roles auditor, admin)',
    description:
      'Checks each checkpoint signature (with its own publicKey, else the body publicKey, else the server key when the key ids match), ' +
      "that the chain's hash at each checkpoint seq is the signed hash, and the whole chain with the newest checkpoint as expected head. " +
      'A rewrite of the whole database that recomputes every hash passes GET /v1/audit/verify but fails here. ' +
      'Compare the keyIds reported with the key id you pinned.',
    body: verifyCheckpointsBody,
    responses: { 200: { description: 'the result; ok is false on any failure', schema: checkpointVerifyResponse } },
    handler: async ({ body, principal }) =>
      app.checkpoints.verify(principal, {
        checkpoints: body.checkpoints.map(({ publicKey, ...cp }) => ({ ...cp, ...(publicKey ? { publicKey } : {}) })),
        ...(body.publicKey ? { publicKey: body.publicKey } : {}),
        ...(body.trustedKeyIds ? { trustedKeyIds: body.trustedKeyIds } : {}),
        ...(body.verifyChain !== undefined ? { verifyChain: body.verifyChain } : {}),
      }),
  });
}
