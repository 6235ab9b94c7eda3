import type { Policy, Principal, Role, TargetCapabilities, TargetConfig } from '../core/types.js';

export interface ConfiguredPrincipal extends Principal {
  /** Hex SHA-256 digests of the principal's bearer tokens (lower-case). */
  apiTokens: string[];
  /** A scrypt hash: password sign-in for the embedded demo (src/app/identity/password.ts). */
  passwordHash?: string;
  /** Where notifications reach them (file principals; store principals carry theirs from the IdP or SCIM). */
  email?: string;
  displayName?: string;
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
  /** /v1/check calls per minute per principal with the checker role (gateways), instead of rateLimitPerMinute; 0 = no limit. */
  checkRateLimitPerMinute: number;
  /** Proxies whose X-Forwarded-For is believed (CIDRs); empty: the socket address is the source. */
  trustedProxies: string[];
  /** How often the scheduler looks for due work, in ms (transitions happen within this of their time). */
  schedulerIntervalMs: number;
  /** The in-memory check index: how often it polls the store for changes, and after how long unconfirmed its checks are refused (ms). */
  checkIndex: { pollIntervalMs: number; staleAfterMs: number };
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

/** How mail leaves: one SMTP relay (adapters/notifiers/email). */
export interface EmailSettings {
  host: string;
  port: number;
  /** `starttls`: plain connection upgraded with STARTTLS, refused if the server does not offer it; `tls`: TLS from the start (465); `none`: loopback relays only. */
  security: 'starttls' | 'tls' | 'none';
  /** AUTH credentials; both or neither. The password is never logged. */
  user?: string;
  password?: string;
  /** The From header (`Hourglass <access@example.com>`). */
  from: string;
  /** PEM of the CA that signed the relay's certificate, when not a public one. */
  ca?: string;
  timeoutMs: number;
}

/** A Slack app: the bot token posts, the signing secret verifies interactions, the app token opens Socket Mode. */
export interface SlackSettings {
  /** `xoxb-...`; never logged. */
  botToken: string;
  /** Verifies button presses posted to /v1/integrations/slack/interactions; absent with Socket Mode only. */
  signingSecret?: string;
  /** `xapp-...`: receive interactions over Socket Mode (no public ingress needed). */
  appToken?: string;
  /** Base URL of the Web API (default https://slack.com/api/); a stand-in in tests. */
  apiUrl: string;
  timeoutMs: number;
}

/** A Teams channel reached through a Workflows webhook (an Adaptive Card per message, with a link out). */
export interface TeamsWebhook {
  name: string;
  /** The workflow's URL carries its own signature (`sig=`): a secret, never logged. */
  url: string;
  timeoutMs: number;
}

/** Which topics go to which destinations, for which policies (docs/integrations.md, "Routing"). */
export interface NotificationRoute {
  /** `email`, `slack` (each recipient's own address), `slack:CHANNEL_ID`, `teams:NAME` (one shared message). */
  channels: string[];
  /** Topic patterns (`approval.*`, `alert`, `*`). */
  topics: string[];
  /** Policy name patterns the request must have been decided under (`prod-*`, `*`); alerts without a request match only `*`. */
  policies: string[];
}

export interface NotificationSettings {
  /** Files here replace the built-in templates of the same name (TOPIC.subject.txt, TOPIC.txt, TOPIC.html). */
  templatesDir?: string;
  /** How long an approver's one-time link to the request stays valid. */
  linkLifetimeMs: number;
  email?: EmailSettings;
  slack?: SlackSettings;
  teams: TeamsWebhook[];
  routes: NotificationRoute[];
  /** A daily digest of the requests waiting for each approver, at this local time; absent: none. */
  digest?: { atMinutes: number; timezone: string };
}

/** A change-management system requests' tickets are checked against (docs/integrations.md, "Change management"). */
export interface TicketSystemSettings {
  name: string;
  type: 'jira' | 'servicenow' | 'http';
  /** Base URL: `https://example.atlassian.net`, `https://example.service-now.com`, or the generic endpoint's base. */
  url: string;
  /** Jira: the account's e-mail (Basic with an API token); ServiceNow: the user (Basic). Absent with `http`: bearer `token`. */
  user?: string;
  /** Jira API token, ServiceNow password, or the generic endpoint's bearer token; never logged. */
  token: string;
  /** ServiceNow: the table tickets live in (default `change_request`). */
  table: string;
  /** How often tickets of live grants are re-checked (their grants end when the ticket leaves `states`). */
  pollIntervalMs: number;
  /** HMAC-SHA256 key of pushed ticket events (`POST /v1/integrations/tickets/NAME/events`); absent: pushes refused. */
  webhookSecret?: string;
  timeoutMs: number;
}

/** Who is on call now, from PagerDuty, Opsgenie or an iCalendar feed (docs/integrations.md, "On-call"). */
export interface OnCallSettings {
  name: string;
  type: 'pagerduty' | 'opsgenie' | 'ical';
  /** PagerDuty or Opsgenie schedule id; absent with `ical`. */
  schedule?: string;
  /** PagerDuty REST API token, Opsgenie API key; never logged. Absent with `ical`. */
  token?: string;
  /** API base (default https://api.pagerduty.com, https://api.opsgenie.com) or the iCalendar URL. */
  url: string;
  /** How long an answer is reused. */
  cacheMs: number;
  timeoutMs: number;
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
  /** Absent: nobody is notified (event webhooks still run). */
  notifications?: NotificationSettings;
  /** Change-management systems policies check tickets against. */
  tickets: TicketSystemSettings[];
  /** On-call schedules policies may auto-approve from. */
  oncall: OnCallSettings[];
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
