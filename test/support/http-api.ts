/** A real server over HTTP, as a user's client meets it: one call with a principal's demo token. */
import { token } from './app-harness.js';

export async function callApi(baseUrl: string, method: string, path: string, who: string, body?: unknown) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token(who)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
