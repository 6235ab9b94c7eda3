/**
 * The UI speaks only the public API, with the session cookie; every write sends the session's
 * CSRF token in `x-csrf-token` (GET /v1/auth/session hands it out). Errors keep the server's
 * stable code and message.
 */
import { mount } from '../lib/base.js';
import type { ApiErrorBody } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;

/** Set from GET /v1/auth/session and from a sign-in's answer; cleared at sign-out. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

const url = (path: string) => `${mount}${path}`;

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    if (csrfToken) headers['x-csrf-token'] = csrfToken;
  }
  let res: Response;
  try {
    res = await fetch(url(path), { method, headers, credentials: 'same-origin', ...(method !== 'GET' ? { body: JSON.stringify(body ?? {}) } : {}) });
  } catch {
    throw new ApiError(0, 'HG_NETWORK', 'Hourglass cannot be reached; check your connection and try again.');
  }
  const text = await res.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const err = (parsed as ApiErrorBody | undefined)?.error;
    throw new ApiError(res.status, err?.code ?? 'HG_INTERNAL', err?.message ?? `the server answered ${res.status}`, err?.details);
  }
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
