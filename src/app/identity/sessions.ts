/**
 * Signed-in sessions: a browser's cookie (idle and absolute timeouts) or the CLI's short-lived
 * access token with a rotating refresh token. Each is found by the digest of its secret; the
 * principal is looked up afresh every time, so a deactivated or removed principal's sessions
 * stop working at once, whatever they hold.
 */
import { HgError } from '../../core/errors.js';
import type { AuthContext, Principal } from '../../core/types.js';
import { stamp, type AppDeps } from '../context.js';
import { directoryOf, hasRole } from '../directory.js';
import type { StoreTx } from '../ports.js';
import type { IdentityStore, NewSession, SessionRecord } from './ports.js';
import { csrfOf, digestOf, newHandle, newSecret } from './secrets.js';

/** Activity is written at most this often per session: the idle timeout needs no finer grain. */
const TOUCH_EVERY_MS = 60_000;

export interface SessionFacts {
  principal: string;
  source: string;
  client: 'browser' | 'cli';
  authTime?: number;
  amr: string[];
  acr?: string;
  ip?: string;
  userAgent?: string;
}

/** What a new session hands the caller, once: the secrets are not kept. */
export interface IssuedSession {
  session: SessionRecord;
  /** The cookie value (browser) or access token (CLI). */
  secret: string;
  refreshToken?: string;
  csrf: string;
}

/** A session without the fields a caller need not see. */
export const publicSession = (s: SessionRecord, current?: string) => ({
  id: s.id,
  principal: s.principal,
  source: s.source,
  client: s.client,
  createdAt: new Date(s.createdAt).toISOString(),
  lastSeenAt: new Date(s.lastSeenAt).toISOString(),
  expiresAt: new Date(s.absoluteExpiresAt).toISOString(),
  ...(s.authTime !== undefined ? { authTime: new Date(s.authTime).toISOString() } : {}),
  amr: s.amr,
  ...(s.ip ? { ip: s.ip } : {}),
  ...(s.userAgent ? { userAgent: s.userAgent } : {}),
  ...(current !== undefined ? { current: s.id === current } : {}),
});

export class Sessions {
  constructor(
    private readonly deps: AppDeps,
    private readonly store: IdentityStore,
  ) {}

  private get settings() {
    return this.deps.config.current().identity.sessions;
  }

  /** Opens a session in the caller's transaction (with its audit event, which the caller writes). */
  async open(tx: StoreTx, facts: SessionFacts, now: number): Promise<IssuedSession> {
    const s = this.settings;
    const main = newSecret(facts.client === 'cli' ? 'access' : 'session');
    const refresh = facts.client === 'cli' ? newSecret('refresh') : undefined;
    const absoluteExpiresAt = now + s.absoluteTimeoutMs;
    const record: NewSession = {
      id: newHandle('ses'),
      ...facts,
      createdAt: now,
      lastSeenAt: now,
      absoluteExpiresAt,
      ...(refresh ? { accessExpiresAt: Math.min(absoluteExpiresAt, now + s.cliTokenLifetimeMs), refreshDigest: refresh.digest } : {}),
      secretDigest: main.digest,
    };
    await tx.identity.insertSession(record);
    const { secretDigest: _s, refreshDigest: _r, ...session } = record;
    return { session, secret: main.secret, ...(refresh ? { refreshToken: refresh.secret } : {}), csrf: csrfOf(main.secret) };
  }

  /** Is the session live at `now`? Idle timeout for browsers; the access token's end for the CLI. */
  private live(s: SessionRecord, now: number): boolean {
    if (s.revokedAt !== undefined || now >= s.absoluteExpiresAt) return false;
    if (s.client === 'cli') return s.accessExpiresAt !== undefined && now < s.accessExpiresAt;
    return now - s.lastSeenAt < this.settings.idleTimeoutMs;
  }

  /** The principal a session secret belongs to, with its AuthContext; undefined when not live. */
  async authenticate(secret: string, viaCookie: boolean): Promise<Principal | undefined> {
    const session = await this.store.sessionBySecret(digestOf(secret));
    const now = this.deps.clock.now();
    if (!session || !this.live(session, now)) return undefined;
    if (viaCookie !== (session.client === 'browser')) return undefined; // a cookie is no bearer token, nor the reverse
    const principal = await directoryOf(this.deps).find(session.principal);
    if (!principal) return undefined;
    if (now - session.lastSeenAt >= TOUCH_EVERY_MS) await this.store.touchSession(session.id, now);
    const auth: AuthContext = {
      kind: 'session',
      id: session.id,
      source: session.source,
      ...(session.authTime !== undefined ? { authTime: session.authTime } : {}),
      amr: session.amr,
      ...(viaCookie ? { cookie: true, csrf: csrfOf(secret) } : {}),
    };
    return { ...principal, auth };
  }

  /**
   * Swaps a CLI refresh token for a new access and refresh token. A refresh token works once: the
   * compare-and-set on its digest lets one of two racing refreshes win. A used one presented
   * again means two parties hold the session (RFC 9700, 4.14.2: a stolen token, or a copy of the
   * credentials file), and nobody can tell which is the rightful one, so the session ends for
   * both: its access token stops working and the person signs in again.
   */
  async refresh(
    refreshToken: string,
    from: { ip?: string } = {},
  ): Promise<{ accessToken: string; refreshToken: string; expiresAt: number; session: SessionRecord }> {
    const refused = () => new HgError('HG_UNAUTHENTICATED', 'the refresh token is not valid: sign in again');
    const digest = digestOf(refreshToken);
    const now = this.deps.clock.now();
    const session = await this.store.sessionByRefresh(digest);
    if (!session) {
      const reused = await this.store.sessionByUsedRefresh(digest);
      if (reused) await this.deps.store.transaction((tx) => this.endReused(tx, reused, now, from.ip));
      throw refused();
    }
    if (session.revokedAt !== undefined || now >= session.absoluteExpiresAt) throw refused();
    if (!(await directoryOf(this.deps).find(session.principal))) throw refused();
    const access = newSecret('access');
    const next = newSecret('refresh');
    const accessExpiresAt = Math.min(session.absoluteExpiresAt, now + this.settings.cliTokenLifetimeMs);
    const rotated = { secretDigest: access.digest, refreshDigest: next.digest, accessExpiresAt, at: now, keepUntil: session.absoluteExpiresAt };
    const won = await this.deps.store.transaction(async (tx) => {
      if (await tx.identity.rotateSession(session.id, digest, rotated)) return true;
      // Another refresh with this very token won the race: the token was used twice.
      await this.endReused(tx, session, now, from.ip);
      return false;
    });
    if (!won) throw refused();
    return { accessToken: access.secret, refreshToken: next.secret, expiresAt: accessExpiresAt, session: { ...session, accessExpiresAt, lastSeenAt: now } };
  }

  /** Ends a session whose refresh token was used twice, audited once however often it is presented. */
  private async endReused(tx: StoreTx, session: SessionRecord, now: number, ip: string | undefined): Promise<void> {
    if (session.revokedAt !== undefined || now >= session.absoluteExpiresAt) return;
    if (!(await tx.identity.revokeSession(session.id, now))) return;
    const config = this.deps.config.current();
    await tx.appendAudit(
      stamp(
        this.deps,
        [{ type: 'auth.refresh_reused', actor: 'anonymous', details: { principal: session.principal, session: session.id, ...(ip ? { ip } : {}) } }],
        now,
        config.policyHash,
      ),
    );
  }

  async list(actor: Principal, principal?: string) {
    const whose = principal ?? actor.id;
    if (whose !== actor.id && !hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', "only an admin can list another principal's sessions");
    const now = this.deps.clock.now();
    // A CLI session whose access token ran out is still live while its refresh token may be used.
    const open = (await this.store.listSessions(whose, now)).filter((s) => s.client === 'cli' || this.live(s, now));
    return open.map((s) => publicSession(s, actor.auth?.id));
  }

  /** Signs one session out: the owner's, or any with the admin role. */
  async revoke(actor: Principal, id: string): Promise<boolean> {
    const session = await this.store.getSession(id);
    if (!session || (session.principal !== actor.id && !hasRole(actor, 'admin'))) throw new HgError('HG_NOT_FOUND', `no session ${id}`);
    const now = this.deps.clock.now();
    const config = this.deps.config.current();
    return this.deps.store.transaction(async (tx) => {
      const changed = await tx.identity.revokeSession(id, now);
      if (changed) {
        await tx.appendAudit(
          stamp(this.deps, [{ type: 'auth.signed_out', actor: actor.id, details: { principal: session.principal, session: id } }], now, config.policyHash),
        );
      }
      return changed;
    });
  }

  /** Signs a principal out everywhere: every session and (with `tokens`) every stored token. */
  async revokeAll(actor: Principal, principal: string, reason: string): Promise<{ sessions: number }> {
    if (principal !== actor.id && !hasRole(actor, 'admin')) throw new HgError('HG_FORBIDDEN', 'only an admin can sign another principal out');
    const now = this.deps.clock.now();
    const config = this.deps.config.current();
    return this.deps.store.transaction(async (tx) => {
      const sessions = await tx.identity.revokeSessionsOf(principal, now);
      await tx.appendAudit(
        stamp(this.deps, [{ type: 'auth.sessions_revoked', actor: actor.id, details: { principal, sessions, reason } }], now, config.policyHash),
      );
      return { sessions };
    });
  }
}
