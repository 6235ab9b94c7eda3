/**
 * Sign-in with a local password (POST /v1/auth/password), for principals of the configuration
 * file that carry a `password` hash: the embedded demo's users, until a company connects its IdP.
 * An unknown name and a wrong password take the same time and get the same answer; failures count
 * against `server.authFailures` per address, like guessed tokens.
 */
import { z } from 'zod';
import { HgError } from '../../../core/errors.js';
import { stamp, type AppDeps } from '../../../app/context.js';
import { verifyPassword } from '../../../app/identity/password.js';
import type { Sessions } from '../../../app/identity/sessions.js';
import type { ConfiguredPrincipal } from '../../../config/types.js';
import { rateLimited } from '../../../http/auth-failure-limiter.js';
import { defineRoute } from '../../../http/route.js';
import type { RouteContext } from '../../../http/routes/context.js';
import { setSessionCookie } from '../../../http/session-cookie.js';

const REFUSED = 'sign-in refused: unknown principal or wrong password';

export function passwordRoutes(deps: AppDeps, sessions: Sessions) {
  return ({ server, table }: RouteContext) => {
    defineRoute(server, table, {
      method: 'POST',
      url: '/v1/auth/password',
      tag: 'identity',
      auth: 'none',
      summary: 'Sign in with a local password (principals of the configuration file with a password hash: the demo)',
      description: 'Sets the session cookie. An unknown principal and a wrong password get the same answer in the same time.',
      body: z.object({ principal: z.string().min(1).max(128), password: z.string().min(1).max(1024) }).strict(),
      responses: {
        200: { description: 'signed in', schema: z.object({ principal: z.string(), session: z.string(), csrfToken: z.string() }) },
      },
      handler: async ({ body, req, reply }) => {
        const limiter = server.authFailures;
        const wait = limiter.refusedFor(req.ip);
        if (wait > 0) throw rateLimited(wait);
        const config = deps.config.current();
        // Only the file's principals have passwords; the directory's view of them carries no secrets.
        const found: ConfiguredPrincipal | undefined = config.principals.find((p) => p.id === body.principal);
        const ok = await verifyPassword(body.password, found?.passwordHash);
        const now = deps.clock.now();
        if (!ok || !found) {
          limiter.fail(req.ip);
          await deps.store.transaction((tx) =>
            tx.appendAudit(
              stamp(
                deps,
                [
                  {
                    type: 'auth.sign_in_refused',
                    actor: 'anonymous',
                    details: { provider: 'password', principal: body.principal.slice(0, 128), reason: 'unknown principal or wrong password', ip: req.ip },
                  },
                ],
                now,
                config.policyHash,
              ),
            ),
          );
          throw new HgError('HG_SIGN_IN_REFUSED', REFUSED);
        }
        const issued = await deps.store.transaction(async (tx) => {
          const s = await sessions.open(
            tx,
            {
              principal: found.id,
              source: 'password',
              client: 'browser',
              amr: ['pwd'],
              authTime: now,
              ip: req.ip,
              ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'].slice(0, 256) } : {}),
            },
            now,
          );
          await tx.appendAudit(
            stamp(
              deps,
              [
                {
                  type: 'auth.signed_in',
                  actor: found.id,
                  details: { principal: found.id, provider: 'password', session: s.session.id, client: 'browser', amr: ['pwd'], ip: req.ip },
                },
              ],
              now,
              config.policyHash,
            ),
          );
          return s;
        });
        setSessionCookie(reply, config.server.publicUrl, issued.secret, config.identity.sessions.absoluteTimeoutMs);
        reply.header('cache-control', 'no-store');
        return { principal: found.id, session: issued.session.id, csrfToken: issued.csrf };
      },
    });
  };
}
