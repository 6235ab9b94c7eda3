/**
 * Personal access tokens and machine principals. A token belongs to one principal, has scopes
 * and an end, is shown once and kept as a digest. Machine principals (CI jobs, bots, AI agents)
 * are registered by an admin, live in the store beside the IdP's people, and sign in only with
 * tokens; policies name them by id or group like anyone else.
 */
import { HgError } from '../../core/errors.js';
import type { Principal } from '../../core/types.js';
import { PRINCIPAL_ID_PATTERN } from '../../config/primitives.js';
import { stamp, type AppDeps } from '../context.js';
import { configDirectory, directoryOf, hasRole } from '../directory.js';
import type { StoredPrincipal } from '../ports.js';
import type { IdentityStore, TokenRecord } from './ports.js';
import { deactivateIn } from './deactivate.js';
import { digestOf, newHandle, newSecret } from './secrets.js';

export const publicToken = (t: TokenRecord) => ({
  id: t.id,
  principal: t.principal,
  name: t.name,
  scopes: t.scopes,
  createdAt: new Date(t.createdAt).toISOString(),
  createdBy: t.createdBy,
  expiresAt: new Date(t.expiresAt).toISOString(),
  ...(t.lastUsedAt !== undefined ? { lastUsedAt: new Date(t.lastUsedAt).toISOString() } : {}),
});

/** Token use is written at most this often: "last used" needs no finer grain. */
const TOUCH_EVERY_MS = 60_000;
/**
 * How long this server reuses a stored token's authentication: a gateway checking with a
 * machine token costs no query per check, and keeps checking through a store blip that short.
 * A revocation, a principal change or a reload committed on this server forgets them all at
 * once; one committed on another server is seen within this.
 */
export const TOKEN_CACHE_MS = 1000;
const TOKEN_CACHE_MAX = 10_000;
/** Committed events after which no cached authentication may be trusted. */
const IDENTITY_EVENT = /^(token|principal)\.|^config\.reloaded$/;

export class Tokens {
  private readonly recent = new Map<string, { principal: Principal; until: number; expiresAt: number }>();

  constructor(
    private readonly deps: AppDeps,
    private readonly store: IdentityStore,
    private readonly scopes: readonly string[],
    /** Milliseconds on a clock that never jumps; absent: nothing is cached. */
    private readonly monotonic?: () => number,
  ) {
    if (monotonic) deps.store.onAuditCommitted((types) => types.some((t) => IDENTITY_EVENT.test(t)) && this.recent.clear());
  }

  /**
   * The principal a stored token belongs to, with its scopes; undefined when revoked, expired or
   * its owner is gone. Synchronous when this server authenticated the token within TOKEN_CACHE_MS.
   */
  authenticate(secret: string): Principal | undefined | Promise<Principal | undefined> {
    const digest = digestOf(secret);
    const hit = this.recent.get(digest);
    if (hit) {
      if (this.monotonic!() < hit.until && this.deps.clock.now() < hit.expiresAt) return hit.principal;
      this.recent.delete(digest);
    }
    return this.lookUp(digest);
  }

  private async lookUp(digest: string): Promise<Principal | undefined> {
    const token = await this.store.tokenBySecret(digest);
    const now = this.deps.clock.now();
    if (!token || now >= token.expiresAt) return undefined;
    const principal = await directoryOf(this.deps).find(token.principal);
    if (!principal) return undefined;
    if (token.lastUsedAt === undefined || now - token.lastUsedAt >= TOUCH_EVERY_MS) await this.store.touchToken(token.id, now);
    const found: Principal = { ...principal, auth: { kind: 'token', id: token.id, scopes: token.scopes } };
    if (this.monotonic) {
      if (this.recent.size >= TOKEN_CACHE_MAX) this.recent.clear();
      this.recent.set(digest, { principal: found, until: this.monotonic() + TOKEN_CACHE_MS, expiresAt: token.expiresAt });
    }
    return found;
  }

  /**
   * Creates a token for the caller, or (admin) for a machine principal. A token never holds more
   * than its creator's own token did: one made with a scoped token gets at most those scopes.
   */
  async create(actor: Principal, input: { name: string; scopes: string[]; expiresInMs?: number; principal?: string }) {
    const owner = input.principal ?? actor.id;
    const settings = this.deps.config.current().identity.tokens;
    if (owner !== actor.id) {
      if (!hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', 'only an admin can create a token for another principal');
      const stored = await this.deps.store.transaction((tx) => tx.identity.getPrincipal(owner));
      if (stored?.kind !== 'machine' || !stored.active)
        throw new HgError('HG_INVALID_INPUT', `${owner} is not a registered machine principal: tokens for people are made by themselves`);
    }
    const unknown = input.scopes.filter((s) => !this.scopes.includes(s));
    if (unknown.length) throw new HgError('HG_INVALID_INPUT', `unknown scopes: ${unknown.join(', ')} (known: ${this.scopes.join(', ')})`);
    if (input.scopes.length === 0) throw new HgError('HG_INVALID_INPUT', 'a token needs at least one scope');
    const held = actor.auth?.scopes;
    if (held && input.scopes.some((s) => !held.includes(s)))
      throw new HgError('HG_FORBIDDEN', 'a scoped token cannot create a token with scopes it does not hold');
    const lifetime = input.expiresInMs ?? settings.defaultLifetimeMs;
    if (lifetime < 60_000 || lifetime > settings.maxLifetimeMs) {
      throw new HgError(
        'HG_INVALID_INPUT',
        `expiresIn must be between 1m and identity.tokens.maxLifetime (${Math.round(settings.maxLifetimeMs / 86_400_000)}d)`,
      );
    }
    const now = this.deps.clock.now();
    const { secret, digest } = newSecret('token');
    const record: TokenRecord = {
      id: newHandle('tok'),
      principal: owner,
      name: input.name,
      scopes: [...new Set(input.scopes)],
      createdAt: now,
      createdBy: actor.id,
      expiresAt: now + lifetime,
    };
    const config = this.deps.config.current();
    await this.deps.store.transaction(async (tx) => {
      await tx.identity.insertToken({ ...record, digest });
      await tx.appendAudit(
        stamp(
          this.deps,
          [
            {
              type: 'token.created',
              actor: actor.id,
              details: { token: record.id, principal: owner, name: record.name, scopes: record.scopes, expiresAt: record.expiresAt },
            },
          ],
          now,
          config.policyHash,
        ),
      );
    });
    return { token: secret, ...publicToken(record) };
  }

  async list(actor: Principal, principal?: string) {
    if (principal !== undefined && principal !== actor.id && !hasRole(actor, 'admin', 'auditor')) {
      throw new HgError('HG_FORBIDDEN', "only an admin or auditor can list another principal's tokens");
    }
    const whose = principal ?? (hasRole(actor, 'admin', 'auditor') ? undefined : actor.id);
    return (await this.store.listTokens(whose, this.deps.clock.now())).map(publicToken);
  }

  /** Revokes a token: its owner's, or any with the admin role. */
  async revoke(actor: Principal, id: string): Promise<boolean> {
    const token = await this.store.getToken(id);
    if (!token || (token.principal !== actor.id && !hasRole(actor, 'admin'))) throw new HgError('HG_NOT_FOUND', `no token ${id}`);
    const now = this.deps.clock.now();
    const config = this.deps.config.current();
    return this.deps.store.transaction(async (tx) => {
      const changed = await tx.identity.revokeToken(id, now);
      if (changed) {
        await tx.appendAudit(
          stamp(this.deps, [{ type: 'token.revoked', actor: actor.id, details: { token: id, principal: token.principal } }], now, config.policyHash),
        );
      }
      return changed;
    });
  }

  /** Retires a machine principal: its tokens and grants end in one transaction (admin). */
  async retireMachine(actor: Principal, id: string, requestId?: string) {
    if (!hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', 'only an admin can retire a machine principal');
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const p = await tx.identity.getPrincipal(id);
      if (p?.kind !== 'machine' || !p.active) throw new HgError('HG_NOT_FOUND', `no active machine principal ${id}`);
      return deactivateIn(this.deps, tx, p, { actor, via: 'admin', call: `POST /v1/machines/${id}/retire`, ...(requestId ? { requestId } : {}) }, now);
    });
  }

  /** Registers (or updates the groups of) a machine principal (admin). */
  async registerMachine(actor: Principal, input: { id: string; groups: string[]; description?: string }) {
    if (!hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', 'only an admin can register a machine principal');
    if (!PRINCIPAL_ID_PATTERN.test(input.id)) throw new HgError('HG_INVALID_INPUT', 'id must be 1-128 characters: letters, digits and . _ @ - (not first)');
    if (configDirectory(this.deps.config).find(input.id)) throw new HgError('HG_IDENTITY_CONFLICT', `${input.id} is defined in the configuration file`);
    const now = this.deps.clock.now();
    const config = this.deps.config.current();
    return this.deps.store.transaction(async (tx) => {
      const existing = await tx.identity.getPrincipal(input.id);
      if (existing && existing.kind !== 'machine') throw new HgError('HG_IDENTITY_CONFLICT', `${input.id} is a person's principal`);
      const next: StoredPrincipal = {
        id: input.id,
        source: 'machine',
        kind: 'machine',
        groups: [...new Set(input.groups)].sort(),
        ...(input.description ? { displayName: input.description } : {}),
        active: true,
        version: (existing?.version ?? 0) + 1,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await tx.identity.putPrincipal(next);
      await tx.appendAudit(
        stamp(this.deps, [{ type: 'principal.registered', actor: actor.id, details: { principal: input.id, groups: next.groups } }], now, config.policyHash),
      );
      return machineJson(next);
    });
  }
}

export const machineJson = (p: StoredPrincipal) => ({
  id: p.id,
  kind: 'machine' as const,
  groups: p.groups,
  ...(p.displayName ? { description: p.displayName } : {}),
  active: p.active,
  createdAt: new Date(p.createdAt).toISOString(),
  updatedAt: new Date(p.updatedAt).toISOString(),
});
