import type { Policy, Principal, Role, TargetCapabilities, TargetConfig } from '../core/types.js';

export interface ConfiguredPrincipal extends Principal {
  /** Hex SHA-256 digests of the principal's bearer tokens (lower-case). */
  apiTokens: string[];
  /** A scrypt hash: password sign-in for the embedded demo (src/app/identity/password.ts). */
  passwordHash?: string;
}

export interface ServerSettings {
  listen: { host: string; port: number };
  /** The URL users and identity providers reach Hourglass at (redirect URIs, SCIM locations); no trailing slash. */
  publicUrl?: string;
  /** `sqlite:PATH` (relative to the working directory) or `postgres://...` */
  store: string;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** /v1 requests per minute per caller (per principal, or per address without a valid token); 0 turns it off. */
  rateLimitPerMinute: number;
  /** Proxies whose X-Forwarded-For is believed (CIDRs); empty: the socket address is the source. */
  trustedProxies: string[];
  /** How often the scheduler looks for due work, in ms (transitions happen within this of their time). */
  schedulerIntervalMs: number;
  /**
   * Hosts (exact names) or CIDR blocks that outbound HTTP (webhooks, checkpoint shipping) may
   * reach even though they resolve to private, loopback or link-local addresses.
   */
  allowedHosts: string[];
  /** Against slow clients: the whole request, its headers, and an idle keep-alive connection, in ms. */
  timeouts: { requestMs: number; headersMs: number; keepAliveMs: number };
  /** Requests served on one connection before it is closed; 0 = no limit. */
  maxRequestsPerSocket: number;
  /** Open connections in all and per socket address (a proxy counts as one); 0 = no limit. */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Failed authentications per source address: a token bucket of `burst` refilled at `perMinute`; either 0 turns it off. */
  authFailures: { burst: number; perMinute: number };
}

export interface WebhookEndpoint {
  name: string;
  url: string;
  /** HMAC-SHA256 key; never logged or returned. */
  secret: string;
  /** Event type patterns (`grant.*`, `alert.*`, `*`); an event is sent when any matches. */
  events: string[];
  timeoutMs: number;
}

export interface ReminderSettings {
  /** Send `reminder.grant_expiring` this long before a grant ends; 0 = never. */
  beforeExpiryMs: number;
  /** Send `reminder.pending_timeout` this long before a pending request times out; 0 = never. */
  beforePendingTimeoutMs: number;
}

export interface CheckpointSettings {
  /** Sign a checkpoint after this many new chained events (0 = not by count). */
  everyEvents: number;
  /** ...and at least this often while events arrive, in ms (0 = not by time). */
  intervalMs: number;
  /** Ed25519 private key, PEM (PKCS#8), inline or read from `keyFile`. */
  signingKeyPem?: string;
  keyFile?: string;
  /** Create `keyFile` with a new key when it does not exist (for the demo). */
  generateKey: boolean;
  /** Append each signed checkpoint as a JSON line to this file (outside the database). */
  file?: string;
  /** POST each signed checkpoint to this URL, HMAC-signed like event webhooks. */
  webhook?: { url: string; secret: string };
}

export interface AuditSettings {
  /** Absent: checkpoints are not signed. */
  checkpoints?: CheckpointSettings;
}

export interface OidcProviderSettings {
  name: string;
  displayName: string;
  issuer: string;
  clientId: string;
  /** Never logged or returned. */
  clientSecret: string;
  scopes: string[];
  /** Which claims name the principal and carry their groups, manager, display name and e-mail. */
  claims: { principal: string; groups?: string; manager?: string; displayName: string; email: string };
  /** Read claims from the userinfo endpoint too (ID tokens often carry only `sub`). */
  userinfo: boolean;
  /** When the principal claim is `email`: refuse a sign-in whose `email_verified` is not true. */
  requireVerifiedEmail: boolean;
  /** `amr` values that prove a second factor. */
  mfaMethods: string[];
}

export interface SamlProviderSettings {
  name: string;
  displayName: string;
  /** What the IdP's metadata says: its entity id, HTTP-Redirect SingleSignOnService, signing certificates (PEM or bare base64). */
  idp: { entityId: string; ssoUrl: string; certificates: string[] };
  /** The SP entity id (the Audience); default `PUBLIC_URL/v1/auth/saml/NAME/metadata`. */
  entityId: string;
  /** `PUBLIC_URL/v1/auth/saml/NAME/acs`: the Recipient and Destination the IdP must use. */
  acsUrl: string;
  nameIdFormat: string;
  /** Attribute names; `principal` absent: the NameID names the principal. */
  attributes: { principal?: string; groups?: string; manager?: string; displayName?: string; email?: string; authnMethods?: string };
  clockSkewMs: number;
  maxAuthAgeMs?: number;
  allowIdpInitiated: boolean;
  /** AuthnContextClassRef (or `attributes.authnMethods`) values that prove a second factor. */
  mfaContexts: string[];
}

export interface IdentitySettings {
  sessions: { idleTimeoutMs: number; absoluteTimeoutMs: number; cliTokenLifetimeMs: number };
  tokens: { maxLifetimeMs: number; defaultLifetimeMs: number };
  /** Roles of principals from identity sources, by group (file principals name theirs). */
  roles: { group: string; roles: Role[] }[];
  oidc: OidcProviderSettings[];
  saml: SamlProviderSettings[];
  /** SCIM 2.0 provisioning; absent: the /scim/v2 routes refuse every call. */
  scim?: ScimSettings;
}

/** The bearer tokens SCIM clients (the IdP's provisioning) present, by their SHA-256 (lower-case hex). */
export interface ScimSettings {
  tokens: { name: string; sha256: string }[];
}

export interface HourglassConfig {
  identity: IdentitySettings;
  server: ServerSettings;
  principals: ConfiguredPrincipal[];
  targets: Record<string, TargetConfig>;
  /** Target name → what its kind can do with it, as the kind's factory told the loader (no prototype). */
  capabilities: Record<string, TargetCapabilities>;
  policies: Policy[];
  webhooks: WebhookEndpoint[];
  reminders: ReminderSettings;
  /** Key that encrypts connector credentials at rest (AES-256-GCM). */
  credentials: { key?: string; keyFile?: string; generateKey: boolean };
  audit: AuditSettings;
  /** SHA-256 over the canonical form of principals, targets and policies: recorded with every decision. */
  policyHash: string;
}

export interface ConfigProblem {
  /** Dotted path in the file, e.g. `policies[0].maxDuration`. */
  path: string;
  message: string;
  line?: number;
}
