/**
 * A typed client of the Hourglass REST API v1: one method per endpoint. It uses the global
 * fetch (Node 20) and knows nothing of the terminal: the `hourglass` commands format its results.
 *
 * Failures are thrown as one of two errors:
 * - ApiError: the server answered with a non-2xx status (carries the status, the `HG_...` code,
 *   the message and the error's details);
 * - UnreachableError: no answer at all (connection refused, DNS failure, timeout, TLS trouble).
 *
 * The response types are taken from the server's own serialisers (type-only imports), so a
 * change of shape on the server shows up here at compile time.
 */
import type { EmergencyResult } from '../app/emergency.js';
import type { CheckpointLine, CheckpointVerifyResult } from '../app/checkpoints.js';
import type { ExplainResult } from '../app/explain.js';
import type { Hourglass } from '../app/hourglass.js';
import type { VerifyReport } from '../app/audit.js';
import { redact } from '../core/redact.js';
import type { RequestStatus } from '../core/types.js';
import type { auditJson, grantJson, requestJson } from '../http/serialize.js';
import type { credentialsResponse } from '../http/responses.js';
import type { notificationDeliveriesResponse, notificationOverviewResponse } from '../http/routes/notifications.js';
import type { z } from 'zod';

export type RequestJson = ReturnType<typeof requestJson>;
export type GrantJson = ReturnType<typeof grantJson>;
export type AuditEventJson = ReturnType<typeof auditJson>;
export type EntitlementJson = ReturnType<Hourglass['entitlementsFor']>[number];
export type VerifyReportJson = VerifyReport;
export type LockResultJson = EmergencyResult;
/** `POST /v1/requests/{id}/credentials`: per target name, what its connector issued (the password included). */
export type CredentialsJson = z.infer<typeof credentialsResponse>;

/** `GET /v1/notifications`: destinations with their backlog, the routes, and how far the fan-out has read the audit log. */
export type NotificationOverviewJson = z.infer<typeof notificationOverviewResponse>;
/** `GET /v1/notifications/deliveries`: a page of delivery attempts, newest first. */
export type NotificationDeliveriesJson = z.infer<typeof notificationDeliveriesResponse>;
export type NotificationDeliveryJson = NotificationDeliveriesJson['deliveries'][number];

export interface MeJson {
  id: string;
  groups: string[];
  roles: string[];
  locked: boolean;
}
export interface RequestPageJson {
  requests: RequestJson[];
  nextCursor: string | null;
}
export type CheckJson = { allowed: true; requestId: string; expiresAt: string | null } | { allowed: false };
export interface GrantPageJson {
  grants: GrantJson[];
  nextCursor: string | null;
}
export interface AuditPageJson {
  events: AuditEventJson[];
  nextCursor: string | null;
}
export interface AuditHeadJson {
  seq: number;
  hash: string;
  head: string | null;
}
export interface LockJson {
  subject: string;
  by: string;
  at: string | null;
  reason: string | null;
}
export interface LocksJson {
  principals: LockJson[];
  targets: LockJson[];
}
export interface ReloadJson {
  policyHash: string;
  previousPolicyHash: string;
  /** Grants revoked and requests cancelled because their principal left the file (absent from older servers). */
  revoked?: string[];
  cancelled?: string[];
}

export type ExplainJson = ExplainResult;

export interface ExplainQuery {
  principal?: string;
  entitlements: string[];
  duration?: string;
  /** ISO-8601 date-time. */
  at?: string;
  breakGlass?: boolean;
  policy?: string;
  reason?: string;
  ticket?: string;
  sourceIp?: string;
}

export interface AuditExportQuery {
  format: 'jsonl' | 'csv';
  requestId?: string;
  actor?: string;
  type?: string;
  since?: string;
  until?: string;
}

/** One signed checkpoint, as the server ships it (a line of the checkpoints file). */
export type CheckpointJson = CheckpointLine;
/** The answer of POST /v1/audit/verify/checkpoints. */
export type CheckpointVerifyJson = CheckpointVerifyResult;

export interface CheckpointVerifyBody {
  checkpoints: CheckpointJson[];
  /** PEM, for checkpoints without their own publicKey. */
  publicKey?: string;
  /** Fail checkpoints signed by any other key. */
  trustedKeyIds?: string[];
  /** Default true; false checks only signatures and the hashes at the checkpoints. */
  verifyChain?: boolean;
}

/** A streamed answer: the response and its body as chunks, with an idle timeout while reading. */
export interface StreamedAnswer {
  response: Response;
  chunks: AsyncIterable<Uint8Array>;
  /** Stops reading (closes the connection). */
  cancel(): void;
}

export interface SubmitInput {
  entitlements: string[];
  duration?: string;
  reason?: string;
  ticket?: string;
  /** ISO-8601 date-time. */
  startAt?: string;
  breakGlass?: boolean;
  policy?: string;
}

export interface ListRequestsQuery {
  status?: RequestStatus[] | string[];
  mine?: boolean;
  approvable?: boolean;
  requester?: string;
  limit?: number;
  cursor?: string;
}

export interface GrantsQuery {
  principal?: string;
  entitlement?: string;
  limit?: number;
  cursor?: string;
}

export interface DeliveriesQuery {
  destination?: string;
  recipient?: string;
  requestId?: string;
  outcome?: 'sent' | 'skipped' | 'failed';
  limit?: number;
  cursor?: string;
}

export interface AuditQuery {
  requestId?: string;
  actor?: string;
  type?: string;
  /** ISO-8601 date-time. */
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string | number;
}

/** The server answered with an error. `code` is the stable `HG_...` code (or `HTTP_<status>` when the body was not Hourglass's). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/** No answer from the server at all. */
export class UnreachableError extends Error {
  readonly url: string;

  constructor(url: string, reason: string) {
    super(`cannot reach Hourglass at ${url}: ${reason}`);
    this.name = 'UnreachableError';
    this.url = url;
  }
}

/** GET /v1/targets/{name}/ssh/krl */
export interface RevocationListAnswer {
  /** 304: the list named by the ETag sent is still current (body empty). */
  unchanged: boolean;
  etag: string;
  version: number;
  body: Buffer;
}

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8420 (a trailing slash is ignored). */
  url: string;
  /** Bearer token; never logged or included in an error. */
  token?: string;
  /** Per-call timeout; default 30 s. */
  timeoutMs?: number;
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Sent as User-Agent. */
  userAgent?: string;
  /** A signed-in CLI session: its access token is refreshed before it runs out (hourglass login --sso). */
  session?: { expiresAt: number; refresh: () => Promise<{ token: string; expiresAt: number }> };
  /**
   * A second factor for a policy that requires step-up MFA (`--otp`, `--recovery-code`): when a
   * POST answers HG_MFA_REQUIRED, the client asks a challenge for what the answer names and sends
   * the same POST again with the proof. Used once: a TOTP code never works twice.
   */
  stepUp?: { totp?: string; recoveryCode?: string };
}

/** Refresh this long before the access token ends, so a call never races its end. */
export const REFRESH_AHEAD_MS = 60_000;

type Query = Record<string, string | number | boolean | undefined>;

/** The network-level reason of a failed fetch, without echoing request headers. */
function reasonOf(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: { message?: string }[] } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  const cause = e?.cause;
  if (cause) {
    const inner =
      cause.message ||
      cause.errors
        ?.map((x) => x.message)
        .filter(Boolean)
        .join('; ') ||
      '';
    if (cause.code && inner && !inner.includes(cause.code)) return `${cause.code} ${inner}`;
    return inner || cause.code || e.message || 'unknown error';
  }
  return e?.message || String(err);
}

export class HourglassClient {
  readonly url: string;
  #token: string | undefined;
  readonly #session: ClientOptions['session'];
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;
  #stepUp: ClientOptions['stepUp'];

  constructor(opts: ClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.#token = opts.token;
    this.#session = opts.session;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#userAgent = opts.userAgent ?? 'hourglass-cli';
    this.#stepUp = opts.stepUp;
  }

  // ---- caller ---------------------------------------------------------------------------------------
  me(): Promise<MeJson> {
    return this.#call('GET', '/v1/me');
  }
  entitlements(): Promise<{ entitlements: EntitlementJson[] }> {
    return this.#call('GET', '/v1/entitlements');
  }

  // ---- requests ---------------------------------------------------------------------------------------
  async submit(input: SubmitInput, opts: { idempotencyKey?: string } = {}): Promise<{ request: RequestJson; replayed: boolean }> {
    const headers: Record<string, string> = opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {};
    const { body, response } = await this.#send<RequestJson>('POST', '/v1/requests', { body: input, headers });
    return { request: body, replayed: response.headers.get('idempotent-replayed') === 'true' };
  }
  listRequests(q: ListRequestsQuery = {}): Promise<RequestPageJson> {
    return this.#call('GET', '/v1/requests', {
      query: {
        status: q.status?.length ? q.status.join(',') : undefined,
        mine: q.mine || undefined,
        approvable: q.approvable || undefined,
        requester: q.requester,
        limit: q.limit,
        cursor: q.cursor,
      },
    });
  }
  getRequest(id: string): Promise<RequestJson> {
    return this.#call('GET', `/v1/requests/${enc(id)}`);
  }
  approve(id: string, comment?: string): Promise<RequestJson> {
    return this.#call('POST', `/v1/requests/${enc(id)}/approve`, { body: { comment } });
  }
  deny(id: string, comment?: string): Promise<RequestJson> {
    return this.#call('POST', `/v1/requests/${enc(id)}/deny`, { body: { comment } });
  }
  cancel(id: string, reason?: string): Promise<RequestJson> {
    return this.#call('POST', `/v1/requests/${enc(id)}/cancel`, { body: { reason } });
  }
  release(id: string): Promise<RequestJson> {
    return this.#call('POST', `/v1/requests/${enc(id)}/release`, { body: {} });
  }
  revoke(id: string, reason?: string): Promise<RequestJson> {
    return this.#call('POST', `/v1/requests/${enc(id)}/revoke`, { body: { reason } });
  }
  extend(id: string, duration: string, reason?: string): Promise<RequestJson> {
    return this.#call('POST', `/v1/requests/${enc(id)}/extend`, { body: { duration, reason } });
  }
  review(id: string, comment: string): Promise<RequestJson> {
    return this.#call('POST', `/v1/requests/${enc(id)}/review`, { body: { comment } });
  }
  /**
   * The credentials of your active grant; each call is audited (`credentials.retrieved`, and
   * `credentials.issued` for each certificate cut for `publicKey`).
   */
  credentials(id: string, input: { publicKey?: string; target?: string } = {}): Promise<CredentialsJson> {
    return this.#call('POST', `/v1/requests/${enc(id)}/credentials`, { body: input });
  }

  // ---- ssh targets ----------------------------------------------------------------------------------
  /** The CA public key line of an ssh target (no token needed). */
  async sshCaPublicKey(target: string): Promise<string> {
    const res = await this.#raw(`/v1/targets/${enc(target)}/ssh/ca.pub`, {});
    return res.body.toString('utf8');
  }
  /**
   * The revocation list of an ssh target. With `etag` (the list the caller has) and `wait`
   * (seconds), the server answers when it changes or the wait is over (`unchanged`).
   */
  async sshRevocationList(
    target: string,
    q: { etag?: string; wait?: number; host?: string; applied?: number; signal?: AbortSignal } = {},
  ): Promise<RevocationListAnswer> {
    const query = { wait: q.wait, host: q.host, applied: q.applied };
    const res = await this.#raw(`/v1/targets/${enc(target)}/ssh/krl`, query, q.etag ? { 'if-none-match': q.etag } : {}, (q.wait ?? 0) * 1000, q.signal);
    const version = Number(res.headers.get('hourglass-krl-version'));
    return { unchanged: res.status === 304, etag: res.headers.get('etag') ?? '', version, body: res.body };
  }

  // ---- grants and check -------------------------------------------------------------------------------
  check(principal: string, entitlement: string): Promise<CheckJson> {
    return this.#call('GET', '/v1/check', { query: { principal, entitlement } });
  }
  grants(q: GrantsQuery = {}): Promise<GrantPageJson> {
    return this.#call('GET', '/v1/grants', { query: { ...q } });
  }

  // ---- audit ---------------------------------------------------------------------------------------------
  auditList(q: AuditQuery = {}): Promise<AuditPageJson> {
    return this.#call('GET', '/v1/audit', { query: { ...q } });
  }
  auditVerify(expectHead?: string): Promise<VerifyReportJson> {
    return this.#call('GET', '/v1/audit/verify', { query: { expectHead } });
  }
  auditHead(): Promise<AuditHeadJson> {
    return this.#call('GET', '/v1/audit/head');
  }
  /** `GET /v1/audit/export`: the export streamed as it is produced (JSON Lines or CSV). */
  auditExport(q: AuditExportQuery): Promise<StreamedAnswer> {
    return this.#stream('/v1/audit/export', { ...q }, 'application/x-ndjson, text/csv, */*');
  }
  /** `GET /v1/audit/verify/stream`: NDJSON progress lines, then the result. */
  auditVerifyStream(expectHead?: string): Promise<StreamedAnswer> {
    return this.#stream('/v1/audit/verify/stream', { expectHead }, 'application/x-ndjson, */*');
  }
  verifyCheckpoints(body: CheckpointVerifyBody): Promise<CheckpointVerifyJson> {
    return this.#call('POST', '/v1/audit/verify/checkpoints', { body });
  }

  // ---- notifications ------------------------------------------------------------------------------------
  notifications(): Promise<NotificationOverviewJson> {
    return this.#call('GET', '/v1/notifications');
  }
  notificationDeliveries(q: DeliveriesQuery = {}): Promise<NotificationDeliveriesJson> {
    return this.#call('GET', '/v1/notifications/deliveries', { query: { ...q } });
  }

  // ---- policies --------------------------------------------------------------------------------------------
  explain(q: ExplainQuery): Promise<ExplainJson> {
    const query: Query = {
      principal: q.principal,
      entitlement: q.entitlements.join(','),
      duration: q.duration,
      at: q.at,
      breakGlass: q.breakGlass,
      policy: q.policy,
    };
    // An empty reason or ticket means "none given", so it is sent even when empty.
    const keepEmpty: Record<string, string> = {};
    if (q.reason !== undefined) keepEmpty.reason = q.reason;
    if (q.ticket !== undefined) keepEmpty.ticket = q.ticket;
    if (q.sourceIp !== undefined) keepEmpty.sourceIp = q.sourceIp;
    return this.#call('GET', '/v1/policies/explain', { query, keepEmpty });
  }

  // ---- emergency controls and administration ----------------------------------------------------------
  lockPrincipal(id: string, reason?: string): Promise<LockResultJson> {
    return this.#call('POST', `/v1/principals/${enc(id)}/lock`, { body: { reason } });
  }
  unlockPrincipal(id: string): Promise<LockResultJson> {
    return this.#call('POST', `/v1/principals/${enc(id)}/unlock`, { body: {} });
  }
  freezeTarget(name: string, reason?: string): Promise<LockResultJson> {
    return this.#call('POST', `/v1/targets/${enc(name)}/freeze`, { body: { reason } });
  }
  unfreezeTarget(name: string): Promise<LockResultJson> {
    return this.#call('POST', `/v1/targets/${enc(name)}/unfreeze`, { body: {} });
  }
  locks(): Promise<LocksJson> {
    return this.#call('GET', '/v1/locks');
  }
  reload(): Promise<ReloadJson> {
    return this.#call('POST', '/v1/reload', { body: {} });
  }

  // ---- plumbing ---------------------------------------------------------------------------------------------
  /** A session's access token about to end is swapped for a new one first. */
  async #fresh(): Promise<void> {
    const session = this.#session;
    if (!session || Date.now() < session.expiresAt - REFRESH_AHEAD_MS) return;
    const next = await session.refresh();
    this.#token = next.token;
    session.expiresAt = next.expiresAt;
  }

  /** A GET whose answer is bytes (200, or 304 when `If-None-Match` matched); `extraMs` adds to the time limit (a long poll). */
  async #raw(
    path: string,
    query: Query,
    extra: Record<string, string> = {},
    extraMs = 0,
    stop?: AbortSignal,
  ): Promise<{ status: number; headers: Headers; body: Buffer }> {
    await this.#fresh();
    const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...extra };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    let body: Buffer;
    try {
      const timeout = AbortSignal.timeout(this.#timeoutMs + extraMs);
      const signal = stop ? AbortSignal.any([timeout, stop]) : timeout;
      response = await this.#fetch(this.#target(path, query), { method: 'GET', headers, signal, redirect: 'error' });
      body = Buffer.from(await response.arrayBuffer());
    } catch (err) {
      throw new UnreachableError(this.url, this.#scrub(reasonOf(err)));
    }
    if (response.status !== 200 && response.status !== 304) throw this.#errorOf(response, body.toString('utf8'));
    return { status: response.status, headers: response.headers, body };
  }

  async #call<T>(method: 'GET' | 'POST', path: string, opts: { query?: Query; body?: unknown; keepEmpty?: Record<string, string> } = {}): Promise<T> {
    return (await this.#send<T>(method, path, opts)).body;
  }

  #target(path: string, query: Query = {}, keepEmpty: Record<string, string> = {}): URL {
    const target = new URL(this.url + path);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== '') target.searchParams.set(k, String(v));
    }
    for (const [k, v] of Object.entries(keepEmpty)) target.searchParams.set(k, v);
    return target;
  }

  /**
   * A GET whose answer is read as a stream. The time limit applies to the wait for the answer's
   * headers and then to each pause between chunks, never to the whole transfer.
   */
  async #stream(path: string, query: Query, accept: string): Promise<StreamedAnswer> {
    await this.#fresh();
    const target = this.#target(path, query);
    const headers: Record<string, string> = { accept, 'user-agent': this.#userAgent };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    const controller = new AbortController();
    let timedOut = false;
    let timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#timeoutMs);
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.#timeoutMs);
    };
    let response: Response;
    try {
      response = await this.#fetch(target, { method: 'GET', headers, signal: controller.signal, redirect: 'error' });
    } catch (err) {
      clearTimeout(timer);
      throw new UnreachableError(this.url, timedOut ? 'no answer in time' : this.#scrub(reasonOf(err)));
    }
    if (!response.ok || !response.body) {
      clearTimeout(timer);
      let text = '';
      try {
        text = await response.text();
      } catch {
        // the error body is a nicety
      }
      throw this.#errorOf(response, text);
    }
    const body = response.body;
    const url = this.url;
    const scrub = (t: string) => this.#scrub(t);
    const chunks = {
      async *[Symbol.asyncIterator]() {
        const reader = body.getReader();
        try {
          for (;;) {
            rearm();
            let next: ReadableStreamReadResult<Uint8Array>;
            try {
              next = await reader.read();
            } catch (err) {
              throw new UnreachableError(
                url,
                timedOut ? 'the answer stalled (no data in time)' : `the connection broke while reading the answer: ${scrub(reasonOf(err))}`,
              );
            }
            if (next.done) return;
            yield next.value;
          }
        } finally {
          clearTimeout(timer);
          reader.releaseLock();
        }
      },
    };
    return {
      response,
      chunks,
      cancel: () => {
        clearTimeout(timer);
        controller.abort();
      },
    };
  }

  #errorOf(response: Response, text: string): ApiError {
    const { parsed, isJson } = jsonOf(text);
    const e = (isJson ? (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } })?.error : undefined) ?? {};
    const code = typeof e.code === 'string' ? e.code : `HTTP_${response.status}`;
    const message =
      typeof e.message === 'string' ? e.message : `HTTP ${response.status} ${response.statusText || ''}`.trim() + (isJson ? '' : ' (not an Hourglass answer)');
    return new ApiError(response.status, code, message, e.details);
  }

  async #send<T>(
    method: 'GET' | 'POST',
    path: string,
    opts: { query?: Query; body?: unknown; headers?: Record<string, string>; keepEmpty?: Record<string, string> } = {},
  ): Promise<{ body: T; response: Response }> {
    await this.#fresh();
    const target = this.#target(path, opts.query, opts.keepEmpty);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#userAgent, ...opts.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let payload: string | undefined;
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(opts.body ?? {});
    }

    let response: Response;
    try {
      response = await this.#fetch(target, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      throw new UnreachableError(this.url, this.#scrub(reasonOf(err)));
    }

    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw new UnreachableError(this.url, `the connection broke while reading the answer: ${this.#scrub(reasonOf(err))}`);
    }
    if (!response.ok) {
      const error = this.#errorOf(response, text);
      const proof = method === 'POST' ? await this.#stepUpFor(error, opts.body) : undefined;
      if (proof) return this.#send<T>(method, path, { ...opts, body: { ...(opts.body as object), mfa: proof } });
      throw error;
    }
    const { parsed, isJson } = jsonOf(text);
    if (!isJson) {
      throw new ApiError(response.status, 'HTTP_NOT_JSON', `the server at ${this.url} did not answer with JSON (is this an Hourglass server?)`);
    }
    return { body: parsed as T, response };
  }

  /** The step-up proof for a call a policy wants MFA for, when the caller gave a factor and has not spent it. */
  async #stepUpFor(error: Error, body: unknown): Promise<Record<string, string> | undefined> {
    const factor = this.#stepUp;
    if (!factor || !(error instanceof ApiError) || error.code !== 'HG_MFA_REQUIRED') return undefined;
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) return undefined;
    const d = error.details as { action?: string; requestId?: string; digest?: string } | undefined;
    if (!d?.action || !d.digest) return undefined;
    this.#stepUp = undefined;
    const challenge = await this.#call<{ id: string }>('POST', '/v1/mfa/challenges', {
      body: { action: d.action, digest: d.digest, ...(d.requestId ? { requestId: d.requestId } : {}) },
    });
    return { challenge: challenge.id, ...(factor.totp !== undefined ? { totp: factor.totp } : { recoveryCode: factor.recoveryCode! }) };
  }

  /** Never let the token leak through an error message (fetch repeats invalid header values). */
  #scrub(text: string): string {
    return this.#token ? redact(text, [this.#token]) : text;
  }
}

/** A body as JSON, if it is JSON (a proxy's HTML error page is not). */
function jsonOf(text: string): { parsed: unknown; isJson: boolean } {
  if (text === '') return { parsed: undefined, isJson: false };
  try {
    return { parsed: JSON.parse(text), isJson: true };
  } catch {
    return { parsed: undefined, isJson: false };
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}
