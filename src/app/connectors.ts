/**
 * The connector contract: one small interface every target kind implements (PostgreSQL,
 * MariaDB, Redis now; SSH certificates, tokens, webhooks later). Use cases call it only after
 * the state change is committed, driven by the persisted `access` state, so every method must
 * be idempotent and safe to repeat after a crash: `grant` twice leaves one account, `revoke`
 * of something already gone succeeds.
 *
 * Calls run in their target's lane (app/target-lanes.ts): at most the target's `concurrency` at
 * once, each given up after its `callTimeout`. A call given up on may still finish on the target;
 * the worker starts no other call for the same request on that target until it has, so bound
 * your own waits (connect, statement and lock timeouts) so that a hung call ends soon after.
 */
import type { TargetConfig } from '../core/types.js';

/** One request's access on one target: every entitlement of the request on that target. */
export interface GrantOnTarget {
  /** The request id; connectors derive their account names from it. */
  requestId: string;
  principal: string;
  target: TargetConfig;
  /** Entitlement names on this target (`read`, `write`), with their configuration. */
  entitlements: { name: string; config: Record<string, unknown> }[];
  /** When the grant ends; targets that can enforce expiry themselves are told. */
  expiresAt: number;
}

/** What the requester receives to use the access. Kept encrypted at rest. */
export interface Credentials {
  username?: string;
  password?: string;
  host?: string;
  port?: number;
  database?: string;
  /** A ready-to-use connection URL (contains the password). */
  url?: string;
  /** Anything else the kind needs (certificates, tokens). */
  [key: string]: unknown;
}

/** An account (or membership) found on the target that carries Hourglass's prefix. */
export interface FoundAccess {
  /** Account or membership identifier on the target. */
  account: string;
  /** The request it belongs to, when the name tells. */
  requestId?: string;
  /** Privileges/roles/rules it holds, in the kind's own words, for drift reports. */
  holds: string[];
}

export interface ConnectorCapabilities {
  /** Ends live sessions at revoke. */
  killsSessions: boolean;
  /** The target refuses the access after expiresAt by itself (VALID UNTIL, certificate validity). */
  enforcesExpiry: boolean;
  /** `list` is meaningful (reconciliation is possible). */
  canList: boolean;
  /** Credentials are issued (POST /v1/requests/{id}/credentials). */
  issuesCredentials: boolean;
}

export interface Connector {
  readonly kind: string;
  readonly capabilities: ConnectorCapabilities;
  /** Creates the access; returns the credentials to hand over. Idempotent. */
  grant(grant: GrantOnTarget): Promise<{ credentials?: Credentials }>;
  /** Removes the access and ends its live sessions. "Already gone" is success. */
  revoke(grant: GrantOnTarget): Promise<void>;
  /** Moves the end of the access (targets that enforce expiry themselves). */
  extend(grant: GrantOnTarget): Promise<void>;
  /** Everything on the target that carries Hourglass's prefix. */
  list(): Promise<FoundAccess[]>;
  /** What a live grant should hold on the target, in the same words `list` uses. */
  expected(grant: GrantOnTarget): string[];
  /** Removes one account found by `list` that no live grant explains. */
  removeOrphan(found: FoundAccess): Promise<void>;
  /** Takes away privileges an account holds beyond its grant (reconcile.removeExtraPrivileges); optional. */
  trimExtra?(found: FoundAccess, extra: string[]): Promise<void>;
  health(): Promise<{ ok: boolean; detail?: string }>;
  close(): Promise<void>;
}

/** Builds connectors from target configuration; validation problems are reported at config load. */
export interface ConnectorFactory {
  readonly kind: string;
  /** Checks the target's kind-specific settings; returns problems as [path, message] pairs. */
  validate(target: TargetConfig): { path: (string | number)[]; message: string }[];
  create(target: TargetConfig, opts: { secretsToScrub: (text: string) => string }): Connector;
}

export interface ConnectorRegistry {
  /** The connector for a target, or undefined for the built-in `hourglass` kind (inline). */
  forTarget(name: string): Connector | undefined;
  closeAll(): Promise<void>;
}
