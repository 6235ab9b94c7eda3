/**
 * The connector contract: one small interface every target kind implements (PostgreSQL,
 * MariaDB, Redis now; SSH certificates, tokens, webhooks later). Use cases call it only after
 * the state change is committed, driven by the persisted `access` state, so every method must
 * be idempotent and safe to repeat after a crash: `grant` twice leaves one account, `revoke`
 * of something already gone succeeds.
 *
 * `grant` may return an opaque handle (a certificate serial, a token id, a rule id). The access
 * worker persists it with the request and hands it back to `revoke` and `extend` of that request
 * on that target. A crash (or a lost commit) between grant and commit loses it: the next attempt
 * grants again and may return the same or a new handle. So `revoke` must remove everything the
 * request's grants created on the target whether it gets the latest handle returned or none;
 * today's kinds derive their names from the request id and ignore the handle.
 *
 * Calls run in their target's lane (app/target-lanes.ts): at most the target's `concurrency` at
 * once, each given up after its `callTimeout`. A call given up on may still finish on the target;
 * the worker starts no other call for the same request on that target until it has, so bound
 * your own waits (connect, statement and lock timeouts) so that a hung call ends soon after.
 */
import type { TargetCapabilities, TargetConfig } from '../core/types.js';
import type { TargetKind } from '../config/target-kind.js';

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
  /** The handle the latest confirmed `grant` of this request on this target returned; absent if none was (or it was lost). */
  handle?: string;
}

/** What `grant` returns: an optional handle to persist, and the credentials when the kind issues them. */
export interface Granted {
  /** Opaque to Hourglass; handed back to `revoke` and `extend`. Not shown to users. */
  handle?: string;
  credentials?: Credentials;
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

/** What the connector's grants can do: its factory's `capabilities(target)` (core/types.ts). */
export type ConnectorCapabilities = TargetCapabilities;

/**
 * Reconciliation, for kinds whose target can list what Hourglass created there: the reconciler
 * compares it with the live grants (app/reconcile.ts). A kind that cannot list leaves it out.
 */
export interface Reconcilable {
  /** Everything on the target that carries Hourglass's prefix. */
  list(): Promise<FoundAccess[]>;
  /** What a live grant should hold on the target, in the same words `list` uses. */
  expected(grant: GrantOnTarget): string[];
  /** Removes one account found by `list` that no live grant explains. */
  removeOrphan(found: FoundAccess): Promise<void>;
  /** Takes away privileges an account holds beyond its grant (reconcile.removeExtraPrivileges); optional. */
  trimExtra?(found: FoundAccess, extra: string[]): Promise<void>;
}

/** What a requester sends to have credentials issued (POST /v1/requests/{id}/credentials). */
export interface IssueInput {
  /** An OpenSSH public key line, for kinds that certify keys. */
  publicKey?: string;
}

/** One credential about to be issued: checked and cut, waiting for its serial. */
export interface PreparedCredential {
  entitlement: string;
  /** Recorded with the serial: the certified key's fingerprint, the token id. */
  ref: string;
  /** When the credential stops working by itself (ms); never after the grant's end. */
  expiresAt: number;
  /** Secret-free facts for the audit event and the answer (principals, validity). */
  details: Record<string, unknown>;
  /** The id of the key that signs it (a token's `kid`), recorded so the key is published until the credential expires. */
  signer?: string;
  /** The credential with its serial; handed to the requester, never stored. */
  sign(serial: number): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/**
 * Kinds whose credentials are issued when the requester asks, while the grant is active (an SSH
 * certificate for a key, a fresh token), rather than created once at grant time. Each is recorded
 * with a serial; when the grant ends early the access worker marks them revoked (revocation
 * lists, introspection) before it calls `revoke`.
 */
export interface CredentialIssuer {
  /** What the requester must send (an ssh target certifies `publicKey`): without it the target is left out unless asked for by name. */
  readonly needs?: keyof IssueInput;
  /** Throws HG_INVALID_INPUT / HG_KEY_REFUSED for input it cannot certify. */
  prepare(grant: GrantOnTarget, input: IssueInput, now: number): PreparedCredential[];
}

/** Kinds that are a certificate authority: the key hosts trust and the revocation list they read. */
export interface CertificateAuthority {
  /** The CA public key line, for sshd's TrustedUserCAKeys. */
  publicKey(): string;
  /** The key revocation list of these serials (sshd's RevokedKeys), dated `generatedAt` (ms). */
  revocationList(serials: readonly number[], version: number, generatedAt: number): Buffer;
}

/** A public signing key as a JWK (RFC 7517), with its `kid`. */
export type PublicJwk = Record<string, unknown> & { kid: string };

/** Kinds that sign tokens resource servers verify (token): the key in force, and verification for introspection. */
export interface TokenSigner {
  /** The public half of the signing key in force. */
  readonly publicKey: PublicJwk;
  /** The token's claims if it verifies with one of `keys` at `now`, for this target's issuer and audience; else undefined. */
  verify(token: string, keys: readonly PublicJwk[], now: number): Promise<Record<string, unknown> | undefined>;
}

export interface Connector {
  readonly kind: string;
  readonly capabilities: ConnectorCapabilities;
  /** Creates the access; returns its handle and the credentials to hand over. Idempotent. */
  grant(grant: GrantOnTarget): Promise<Granted>;
  /** Removes the access and ends its live sessions. "Already gone" is success; so is no handle. */
  revoke(grant: GrantOnTarget): Promise<void>;
  /** Moves the end of the access (targets that enforce expiry themselves). */
  extend(grant: GrantOnTarget): Promise<void>;
  /** Present exactly when `capabilities.canList` (the connector contract checks it). */
  readonly reconciliation?: Reconcilable;
  /** Present exactly when `capabilities.issuesOnDemand`. */
  readonly issuer?: CredentialIssuer;
  /** Kinds that sign certificates hosts verify (ssh). */
  readonly authority?: CertificateAuthority;
  /** Kinds that sign tokens (token). */
  readonly tokens?: TokenSigner;
  health(): Promise<{ ok: boolean; detail?: string }>;
  close(): Promise<void>;
}

/**
 * Everything about one target kind, in its folder under src/adapters/connectors/: the settings
 * schema, capabilities and semantic checks the loader runs (TargetKind), how `hourglass connect`
 * opens its credentials (`client`), and the connectors it builds. Listed once, in
 * src/adapters/connectors/index.ts.
 */
export interface ConnectorFactory extends TargetKind {
  /** How `hourglass connect` and `credentials --format env` open this kind's credentials; absent: they cannot. */
  readonly client?: ClientDescription;
  /** `allowedHosts`: server.allowedHosts, read at call time, for kinds that POST to an address (webhook); absent means none. */
  create(target: TargetConfig, opts: { secretsToScrub: (text: string) => string; allowedHosts?: () => readonly string[] }): Connector;
}

/** Credentials as the CLI received them (the fields a connector's `grant` returned). */
export type ClientCredentials = Record<string, unknown>;

/** The connection's parts: the explicit fields first, else what the URL says. */
export interface ConnectionParts {
  username?: string;
  password?: string;
  host?: string;
  port?: number;
  database?: string;
  /** postgres: sslmode; mariadb: the tls mode; redis: 'on' when TLS is used. */
  tls?: string;
}

/** The client command `connect` runs (before the user's own arguments), secrets in `env` only. */
export interface ClientInvocation {
  args: string[];
  env: Record<string, string>;
  /** Names in `env` that hold secrets: shown as *** only. */
  secretEnv: string[];
  /** Variables removed from the inherited environment (they would send the client elsewhere). */
  unset: string[];
}

/** How the CLI opens a kind's credentials. The password never goes on a command line. */
export interface ClientDescription {
  /** URL schemes (and `kind`/`type` field values) that mean this kind, named in messages. */
  readonly schemes: readonly string[];
  /** Schemes accepted too, not named in messages (postgresql://). */
  readonly otherSchemes?: readonly string[];
  /** Client programs, in order of preference. */
  readonly programs: readonly string[];
  /** The Debian package that has them (for the hint when none is found). */
  readonly debianPackage: string;
  /** How the credentials tell TLS, in the client's words (see ConnectionParts.tls). */
  tlsOf(credentials: ClientCredentials, url: URL | undefined): string | undefined;
  /** `credentials --format env`: variables the client reads; `then`, the command for what it cannot read from them. */
  env(parts: ConnectionParts): { vars: [string, string | number | undefined][]; then?: string[] };
  /** Which TLS options a default `program` takes, when its name does not tell (`version` runs it with --version). */
  flavorOf?(program: string, version: () => string): 'mariadb' | 'mysql' | undefined;
  /** The command for `program` (a name or path), `caFile` holding the CA the credentials carried. */
  command(parts: ConnectionParts, opts: { program: string; flavor?: 'mariadb' | 'mysql'; caFile?: string }): ClientInvocation;
}

export interface ConnectorRegistry {
  /** The connector for a target, or undefined when it is not configured or its kind is not in this build. */
  forTarget(name: string): Connector | undefined;
  closeAll(): Promise<void>;
}
