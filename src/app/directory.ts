/** Principals and their tokens, from the configuration in force (an IdP source comes later). */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ConfiguredPrincipal, HourglassConfig } from '../config/types.js';
import type { Principal, Role } from '../core/types.js';

interface Index {
  byId: Map<string, ConfiguredPrincipal>;
  byTokenHash: Map<string, ConfiguredPrincipal>;
}

const indexes = new WeakMap<HourglassConfig, Index>();

function indexOf(config: HourglassConfig): Index {
  let index = indexes.get(config);
  if (!index) {
    index = { byId: new Map(), byTokenHash: new Map() };
    for (const p of config.principals) {
      index.byId.set(p.id, p);
      for (const h of p.apiTokens) index.byTokenHash.set(h, p);
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
 * Resolves a bearer token. Only its SHA-256 is looked up, so the map lookup leaks nothing
 * useful about the secret; the final comparison is constant-time all the same.
 */
export function authenticateToken(config: HourglassConfig, token: string): Principal | undefined {
  if (!token || token.length > 512) return undefined;
  const digest = createHash('sha256').update(token).digest();
  const hex = digest.toString('hex');
  const p = indexOf(config).byTokenHash.get(hex);
  if (!p) return undefined;
  const stored = p.apiTokens.find((h) => h === hex);
  if (!stored || !timingSafeEqual(Buffer.from(stored, 'hex'), digest)) return undefined;
  return { id: p.id, groups: p.groups, roles: p.roles };
}

export function hasRole(p: Principal, ...roles: Role[]): boolean {
  return roles.some((r) => p.roles.includes(r));
}
