import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Hourglass } from '../app/hourglass.js';
import type { Authenticator, ConfigSource, SchedulerStatus } from '../app/ports.js';
import type { Sessions } from '../app/identity/sessions.js';
import type { Tokens } from '../app/identity/tokens.js';
import type { MfaFactors } from '../app/identity/mfa.js';
import type { RouteContext } from './routes/context.js';

/** What buildServer needs; the composition root (src/compose.ts) gives it all. */
export interface ServerOptions {
  app: Hourglass;
  config: ConfigSource;
  /** Who presents a bearer token; default: the configuration's API tokens (tokenAuthenticator). */
  authenticator?: Authenticator;
  logger?: Logger;
  /** The scheduler's status for /readyz; undefined while it does not run. */
  scheduler?: () => SchedulerStatus | undefined;
  schedulerIntervalMs?: number;
  /** This server's presence id (presence.ts): reported by /readyz, named in the leases it holds. */
  serverId?: string;
  /** How often a GET /v1/live stream re-checks its credential (default LIVE_KEEPALIVE_MS, 25 s). */
  liveKeepAliveMs?: number;
  /** Sessions, personal and machine tokens (src/app/identity); absent: their routes are not served. */
  identity?: { sessions: Sessions; tokens: Tokens };
  /** Step-up MFA factors and challenges (src/app/identity/mfa.ts); absent: the /v1/mfa routes are not served. */
  mfa?: MfaFactors;
  /** Routes of identity providers and other adapters (their folders), registered after the built-in ones. */
  extraRoutes?: readonly ((ctx: RouteContext) => void)[];
  /** Prometheus registry served at GET /metrics (src/adapters/metrics.ts); absent: /metrics answers 404. */
  metrics?: { registry: Registry };
}
