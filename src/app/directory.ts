/** Principals and their tokens, from the configuration in force (an IdP source comes later). */
import { hash } from 'node:crypto';
import type { ConfiguredPrincipal, HourglassConfig } from '../config/types.js';
import type { Principal, Role } from '../core/types.js';

interface Index {
  byId: Map<string, ConfiguredPrincipal>;
  /** Hex SHA-256 of a token -> its principal, built once per configuration and frozen (shared by requests). */
  byTokenHash: Map<string, Principal>;
}

const indexes = new WeakMap<HourglassConfig, Index>();

function indexOf(config: HourglassConfig): Index {
  let index = indexes.get(config);
  if (!index) {
    index = { byId: new Map(), byTokenHash: new Map() };
    for (const p of config.principals) {
      index.byId.set(p.id, p);
      // Frozen: every request of this principal shares the object, so a stray write throws.
      const principal = Object.freeze({ id: p.id, groups: Object.freeze([...p.groups]), roles: Object.freeze([...p.roles]) }) as Principal;
      for (const h of p.apiTokens) index.byTokenHash.set(h, principal);
    }
    indexes.set(config, index);
  }
  return index;
}

export function findPrincipal(config: HourglassConfig, id: string): Principal | undefined {
  const p = indexOf(config).byId.get(id);
  return p ? { id: p.id, groups: p.groups, roles: p.roles } : undefined;
}

/**
 * Resolves a bearer token. Only its SHA-256 is looked up, never the token: whatever the lookup's
 * timing reveals is about the digest, which tells nothing useful about the secret (the same
 * reasoning as comparing digests in constant time, without a second comparison of two values
 * the map has already found equal). One-shot `hash` allocates no Hash object: this runs on
 * every request.
 */
export function authenticateToken(config: HourglassConfig, token: string): Principal | undefined {
  if (!token || token.length > 512) return undefined;
  return indexOf(config).byTokenHash.get(hash('sha256', token));
}

export function hasRole(p: Principal, ...roles: Role[]): boolean {
  return roles.some((r) => p.roles.includes(r));
}
