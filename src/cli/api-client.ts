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
import type { Hourglass } from '../app/hourglass.js';
import type { VerifyReport } from '../app/audit.js';
import type { RequestStatus } from '../core/types.js';
import type { auditJson, grantJson, requestJson } from '../http/serialize.js';

export type RequestJson = ReturnType<typeof requestJson>;
export type GrantJson = ReturnType<typeof grantJson>;
export type AuditEventJson = ReturnType<typeof auditJson>;
export type EntitlementJson = ReturnType<Hourglass['entitlementsFor']>[number];
export type VerifyReportJson = VerifyReport;
export type LockResultJson = EmergencyResult;

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
}

type Query = Record<string, string | number | boolean | undefined>;

/** The network-level reason of a failed fetch, without echoing request headers. */
function reasonOf(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: { message?: string }[] } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  const cause = e?.cause;
  if (cause) {
    const inner = cause.message || cause.errors?.map((x) => x.message).filter(Boolean).join('; ') || '';
    if (cause.code && inner && !inner.includes(cause.code)) return `${cause.code} ${inner}`;
    return inner || cause.code || e.message || 'unknown error';
  }
  return e?.message || String(err);
}

export class HourglassClient {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #userAgent: string;

  constructor(opts: ClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#userAgent = opts.userAgent ?? 'hourglass-cli';
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
  async #call<T>(method: 'GET' | 'POST', path: string, opts: { query?: Query; body?: unknown } = {}): Promise<T> {
    return (await this.#send<T>(method, path, opts)).body;
  }

  async #send<T>(
    method: 'GET' | 'POST',
    path: string,
    opts: { query?: Query; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ body: T; response: Response }> {
    const target = new URL(this.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== '') target.searchParams.set(k, String(v));
    }
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
    let parsed: unknown;
    let isJson = false;
    try {
      parsed = text ? JSON.parse(text) : undefined;
      isJson = text !== '';
    } catch {
      // not JSON (e.g. an HTML page from a proxy); handled below
    }

    if (!response.ok) {
      const e = (isJson ? (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } })?.error : undefined) ?? {};
      const code = typeof e.code === 'string' ? e.code : `HTTP_${response.status}`;
      const message =
        typeof e.message === 'string' ? e.message : `HTTP ${response.status} ${response.statusText || ''}`.trim() + (isJson ? '' : ' (not an Hourglass answer)');
      throw new ApiError(response.status, code, message, e.details);
    }
    if (!isJson) {
      throw new ApiError(response.status, 'HTTP_NOT_JSON', `the server at ${this.url} did not answer with JSON (is this an Hourglass server?)`);
    }
    return { body: parsed as T, response };
  }

  /** Never let the token leak through an error message (fetch repeats invalid header values). */
  #scrub(text: string): string {
    return this.#token ? text.split(this.#token).join('***') : text;
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}
