import type { Policy, Principal, TargetConfig } from '../core/types.js';

export interface ConfiguredPrincipal extends Principal {
  /** Hex SHA-256 digests of the principal's bearer tokens (lower-case). */
  apiTokens: string[];
}

export interface ServerSettings {
  listen: { host: string; port: number };
  /** `sqlite:PATH` (relative to the working directory) or `postgres://...` */
  store: string;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Requests per minute per caller (per token, or per address when unauthenticated); 0 turns it off. */
  rateLimitPerMinute: number;
  /** Proxies whose X-Forwarded-For is believed (CIDRs); empty: the socket address is the source. */
  trustedProxies: string[];
  /** How often the scheduler looks for due work, in ms (transitions happen within this of their time). */
  schedulerIntervalMs: number;
}

export interface HourglassConfig {
  server: ServerSettings;
  principals: ConfiguredPrincipal[];
  targets: Record<string, TargetConfig>;
  policies: Policy[];
  /** SHA-256 over the canonical form of principals, targets and policies: recorded with every decision. */
  policyHash: string;
}

export interface ConfigProblem {
  /** Dotted path in the file, e.g. `policies[0].maxDuration`. */
  path: string;
  message: string;
  line?: number;
}
