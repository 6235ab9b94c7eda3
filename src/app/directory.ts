/**
 * The identity source backed by the configuration in force: its principals (Directory) and their
 * API tokens (Authenticator). It lives in src/app, not src/adapters, because the offline commands
 * (`policy explain`, `policy test`) and use cases given no Directory read the file's principals
 * too; other sources (OIDC, SAML, SCIM) are adapters, one folder each (docs/architecture.md).
 */
import { hash } from 'node:crypto';
import type { HourglassConfig } from '../config/types.js';
import type { Principal, Role } from '../core/types.js';
import type { AppDeps } from './context.js';
import type { ConfigSource, Credential, Directory, PrincipalStore, StoredPrincipal } from './ports.js';

/** Directory and Authenticator that always answer at once (both may be used where the ports are). */
export interface SyncDirectory extends Directory {
  find(id: string): Principal | undefined;
  all(): Iterable<Principal>;
}
export interface SyncAuthenticator {
  authenticate(credential: Credential): Principal | undefined;
}

interface Index {
  /** Frozen: every request of a principal shares the object, so a stray write throws. */
  byId: Map<string, Principal>;
  /** Hex SHA-256 of a token -> its principal, built once per configuration and frozen (shared by requests). */
  byTokenHash: Map<string, Principal>;
}

const indexes = new WeakMap<HourglassConfig, Index>();

function indexOf(config: HourglassConfig): Index {
  let index = indexes.get(config);
  if (!index) {
    index = { byId: new Map(), byTokenHash: new Map() };
    for (const p of config.principals) {
      const principal = Object.freeze({
        id: p.id,
        groups: Object.freeze([...p.groups]),
        roles: Object.freeze([...p.roles]),
        ...(p.manager !== undefined ? { manager: p.manager } : {}),
      }) as Principal;
      index.byId.set(p.id, principal);
      for (const h of p.apiTokens) index.byTokenHash.set(h, principal);
    }
    indexes.set(config, index);
  }
  return index;
}

/** A configuration as a ConfigSource, for callers that hold one file (the offline commands). */
export const fixedConfig = (config: HourglassConfig): ConfigSource => ({ current: () => config });

/** The principals of the configuration in force: a reload changes what it answers. Synchronous. */
export function configDirectory(config: ConfigSource): SyncDirectory {
  return {
    find: (id) => indexOf(config.current()).byId.get(id),
    all: () => indexOf(config.current()).byId.values(),
  };
}

/**
 * The API tokens of the configuration in force. Only a token's SHA-256 is looked up, never the
 * token: whatever the lookup's timing reveals is about the digest, which tells nothing useful
 * about the secret (the same reasoning as comparing digests in constant time, without a second
 * comparison of two values the map has already found equal). One-shot `hash` allocates no Hash
 * object: this runs on every request, and answers synchronously (same-tick /v1/check).
 */
export function tokenAuthenticator(config: ConfigSource): SyncAuthenticator {
  return {
    authenticate: ({ token }) => (!token || token.length > 512 ? undefined : indexOf(config.current()).byTokenHash.get(hash('sha256', token))),
  };
}

/**
 * A store principal as the use cases see it: its roles come only from `identity.roles` (by
 * group), so an identity source (SCIM, a sign-in's claims) can make nobody an admin unless the
 * configuration says which group is.
 */
export function storedAsPrincipal(config: HourglassConfig, p: StoredPrincipal): Principal {
  const roles = new Set<Role>();
  for (const m of config.identity.roles) if (p.groups.includes(m.group)) for (const r of m.roles) roles.add(r);
  return Object.freeze({
    id: p.id,
    groups: Object.freeze([...p.groups]),
    roles: Object.freeze([...roles]),
    ...(p.manager ? { manager: p.manager } : {}),
  }) as unknown as Principal;
}

/**
 * The configuration's principals, then the store's (from identity sources): an id in the file
 * wins, so a break-glass admin in the file cannot be shadowed by the IdP. Store principals hold
 * the roles `identity.roles` gives their groups, and inactive ones are unknown.
 */
export function layeredDirectory(config: ConfigSource, principals: PrincipalStore): Directory {
  const fromFile = configDirectory(config);
  const asPrincipal = (p: StoredPrincipal): Principal => storedAsPrincipal(config.current(), p);
  return {
    find: (id) => {
      const found = fromFile.find(id);
      if (found) return found;
      return principals.get(id).then((p) => (p?.active ? asPrincipal(p) : undefined));
    },
    all: async () => {
      const file = [...fromFile.all()];
      const ids = new Set(file.map((p) => p.id));
      return [...file, ...(await principals.active()).filter((p) => !ids.has(p.id)).map(asPrincipal)];
    },
  };
}

/** The Directory the composition root gave, else the configuration's principals. */
export function directoryOf(deps: AppDeps): Directory {
  return deps.directory ?? configDirectory(deps.config);
}

export function hasRole(p: Principal, ...roles: Role[]): boolean {
  return roles.some((r) => p.roles.includes(r));
}
