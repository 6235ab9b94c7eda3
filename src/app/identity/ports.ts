/**
 * What the identity use cases (sign-in, sessions, personal and machine tokens, SCIM) need from
 * the store (migration 0010). Secrets are never stored: sessions and tokens are found by the
 * SHA-256 of the secret the caller holds.
 */
import type { StoredPrincipal } from '../ports.js';

/** A signed-in session: a browser's cookie, or the CLI's access and refresh tokens. */
export interface SessionRecord {
  /** Public handle (`ses_...`): listing and revoking name it, never the secret. */
  id: string;
  principal: string;
  /** Where the person proved who they are: `oidc:NAME`, `saml:NAME`, `password`. */
  source: string;
  client: 'browser' | 'cli';
  createdAt: number;
  lastSeenAt: number;
  /** The end no activity extends. */
  absoluteExpiresAt: number;
  /** CLI sessions: the access token's end (refreshing moves it, up to absoluteExpiresAt). */
  accessExpiresAt?: number;
  /** When the identity provider last authenticated the person (`auth_time`, AuthnInstant). */
  authTime?: number;
  /** Authentication methods the provider reported (`amr`), e.g. `pwd`, `otp`, `hwk`. */
  amr: string[];
  acr?: string;
  ip?: string;
  userAgent?: string;
  revokedAt?: number;
}

export interface NewSession extends SessionRecord {
  /** SHA-256 (hex) of the cookie value or access token. */
  secretDigest: string;
  /** CLI sessions: SHA-256 of the refresh token. */
  refreshDigest?: string;
}

export interface RotatedSession {
  secretDigest: string;
  refreshDigest: string;
  accessExpiresAt: number;
  at: number;
  keepUntil: number;
}

/** A personal access token (of a person) or a machine principal's token: shown once, stored hashed. */
export interface TokenRecord {
  /** Public handle (`tok_...`). */
  id: string;
  principal: string;
  name: string;
  /** What the token may do (docs/identity.md, "Scopes"); the owner's roles still apply. */
  scopes: string[];
  createdAt: number;
  createdBy: string;
  expiresAt: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

/** Writes inside the caller's store transaction, so they commit with their audit events. */
export interface IdentityTx {
  getPrincipal(id: string): Promise<StoredPrincipal | undefined>;
  putPrincipal(principal: StoredPrincipal): Promise<void>;
  /** The principal an identity provider's subject is linked to. */
  linkedPrincipal(provider: string, subject: string): Promise<string | undefined>;
  /** The subject a principal is linked to at this provider (one per provider: two people never merge). */
  linkedSubject(provider: string, principal: string): Promise<string | undefined>;
  link(provider: string, subject: string, principal: string, at: number): Promise<void>;
  /** Removes the principal's link at this provider (a chat account they unlink or replace). */
  unlink(provider: string, principal: string): Promise<void>;
  insertSession(session: NewSession): Promise<void>;
  /**
   * Replaces a live CLI session's access and refresh digests if its refresh digest is still `prev`
   * (of two racing refreshes one wins), and keeps `prev` as used until `keepUntil` (the session's
   * absolute end) so that presenting it again is recognised. False when `prev` was not current.
   */
  rotateSession(id: string, prev: string, next: RotatedSession): Promise<boolean>;
  /** Ends every live session and token of a principal (deactivation, sign-out everywhere); returns how many. */
  revokeSessionsOf(principal: string, at: number): Promise<number>;
  revokeTokensOf(principal: string, at: number): Promise<number>;
  insertToken(token: TokenRecord & { digest: string }): Promise<void>;
  /** Ends one session or token; false when it had ended already. */
  revokeSession(id: string, at: number): Promise<boolean>;
  revokeToken(id: string, at: number): Promise<boolean>;

  // SCIM provisioning (src/adapters/identity/scim)
  /** Holds the row until commit, so two writes of one resource run one after the other (read, change, write). */
  lockPrincipal(id: string): Promise<void>;
  lockGroup(id: string): Promise<void>;
  /** The human principal whose SCIM userName is this, without regard to case (one without a userName answers to its id). */
  principalByUserName(userName: string): Promise<StoredPrincipal | undefined>;
  /** The principal a source knows by this externalId (unique per source). */
  principalByExternalId(source: string, externalId: string): Promise<StoredPrincipal | undefined>;
  /** Every human principal, active or not, by id (machine principals are never an IdP's). */
  humanPrincipals(): Promise<StoredPrincipal[]>;
  /** Removes a principal with its identity links and group memberships; the audit log keeps its history. */
  deletePrincipal(id: string): Promise<void>;
  getGroup(id: string): Promise<GroupRecord | undefined>;
  /** A group by display name, without regard to case (display names are unique). */
  groupByName(displayName: string): Promise<GroupRecord | undefined>;
  listGroups(): Promise<GroupRecord[]>;
  putGroup(group: GroupRecord): Promise<void>;
  /** Removes a group and its memberships. */
  deleteGroup(id: string): Promise<void>;
  /** Member principal ids of a group, sorted. */
  membersOf(groupId: string): Promise<string[]>;
  /** Every membership, for listing groups with their members. */
  allMemberships(): Promise<{ group: string; principal: string }[]>;
  /** Makes `members` the group's members exactly; returns who joined and who left. */
  setMembers(groupId: string, members: string[]): Promise<{ added: string[]; removed: string[] }>;
  /** The groups a principal is a member of, by display name. */
  groupsOf(principal: string): Promise<GroupRecord[]>;
}

/** A group an identity source (SCIM) keeps; its display name is what policies name in `groups`. */
export interface GroupRecord {
  id: string;
  externalId?: string;
  displayName: string;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export interface IdentityStore {
  /** A live session by the digest of its secret (not revoked; expiry is the caller's to judge). */
  sessionBySecret(digest: string): Promise<SessionRecord | undefined>;
  sessionByRefresh(digest: string): Promise<(SessionRecord & { refreshDigest: string }) | undefined>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** The session a refresh token belonged to before it was swapped (migration 0012), while the session could still be live. */
  sessionByUsedRefresh(digest: string): Promise<SessionRecord | undefined>;
  /** Records activity (the idle timeout runs from it). */
  touchSession(id: string, at: number): Promise<void>;
  listSessions(principal: string | undefined, now: number): Promise<SessionRecord[]>;
  tokenBySecret(digest: string): Promise<TokenRecord | undefined>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  touchToken(id: string, at: number): Promise<void>;
  listTokens(principal: string | undefined, now: number): Promise<TokenRecord[]>;
  /** True the first time `key` is seen (until `expiresAt`): single-use codes, SAML assertion ids. */
  firstUse(key: string, expiresAt: number, now: number): Promise<boolean>;
}
