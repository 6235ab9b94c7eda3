/**
 * The browser session cookie: HttpOnly (scripts never read it), SameSite=Lax (not sent on
 * cross-site POSTs), Secure and `__Host-` prefixed behind https (bound to this origin, no
 * Domain), Path=/. Its CSRF token comes from GET /v1/auth/session and goes back in a header.
 */
import { parse, serialize } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const CSRF_HEADER = 'x-csrf-token';

export const secureCookies = (publicUrl: string | undefined): boolean => publicUrl?.startsWith('https://') ?? false;

export const sessionCookieName = (publicUrl: string | undefined): string => (secureCookies(publicUrl) ? '__Host-hourglass_session' : 'hourglass_session');

/** The session cookie's value, if the request carries one. */
export function sessionCookieOf(req: FastifyRequest, publicUrl: string | undefined): string | undefined {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return undefined;
  return parse(header)[sessionCookieName(publicUrl)];
}

export function setSessionCookie(reply: FastifyReply, publicUrl: string | undefined, value: string, maxAgeMs: number): void {
  reply.header(
    'set-cookie',
    serialize(sessionCookieName(publicUrl), value, {
      httpOnly: true,
      sameSite: 'lax',
      secure: secureCookies(publicUrl),
      path: '/',
      maxAge: Math.floor(maxAgeMs / 1000),
    }),
  );
}

export function clearSessionCookie(reply: FastifyReply, publicUrl: string | undefined): void {
  reply.header(
    'set-cookie',
    serialize(sessionCookieName(publicUrl), '', { httpOnly: true, sameSite: 'lax', secure: secureCookies(publicUrl), path: '/', maxAge: 0 }),
  );
}

/** A short-lived cookie for one sign-in's state, scoped to the sign-in routes. */
export function setFlowCookie(reply: FastifyReply, publicUrl: string | undefined, name: string, value: string, path: string, maxAgeMs: number): void {
  reply.header(
    'set-cookie',
    serialize(name, value, { httpOnly: true, sameSite: 'lax', secure: secureCookies(publicUrl), path, maxAge: Math.floor(maxAgeMs / 1000) }),
  );
}

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return undefined;
  return parse(header)[name];
}
