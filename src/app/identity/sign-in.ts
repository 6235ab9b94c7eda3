/**
 * Sign-in with an identity provider, and just-in-time provisioning: the person the provider
 * vouched for becomes (or updates) a principal in the store, and gets a session, in one
 * transaction with the audit events. Which provider said what is the adapter's business
 * (src/adapters/identity/*); the rules on who a sign-in may become are here.
 */
import { definedEntry } from '../../core/defined.js';
import { HgError } from '../../core/errors.js';
import type { AuditDraft } from '../../core/types.js';
import { stamp, type AppDeps } from '../context.js';
import { configDirectory, storedAsPrincipal } from '../directory.js';
import type { StoredPrincipal } from '../ports.js';
import type { IssuedSession, Sessions } from './sessions.js';
import { PRINCIPAL_ID_PATTERN } from '../../config/primitives.js';

/** What a provider vouched for, already checked by its adapter (signature, issuer, audience, time). */
export interface ExternalIdentity {
  /** `oidc:NAME` or `saml:NAME`. */
  provider: string;
  /** The provider's stable id of the person (`sub`, the NameID). */
  subject: string;
  /** The principal id the configured claim gives (e-mail, user name). */
  principalId: string;
  displayName?: string;
  email?: string;
  /** Undefined: the provider sends no groups (SCIM or an earlier sign-in keeps them). */
  groups?: string[];
  manager?: string;
  authTime?: number;
  amr: string[];
  acr?: string;
}

export interface SignInClient {
  client: 'browser' | 'cli';
  ip?: string;
  userAgent?: string;
}

export class SignIn {
  constructor(
    private readonly deps: AppDeps,
    private readonly sessions: Sessions,
  ) {}

  async signIn(who: ExternalIdentity, client: SignInClient): Promise<IssuedSession & { principal: ReturnType<typeof storedAsPrincipal> }> {
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    if (!PRINCIPAL_ID_PATTERN.test(who.principalId)) {
      throw await this.refuse(who, client, `the principal claim ${JSON.stringify(who.principalId.slice(0, 64))} is not a valid principal id`);
    }
    // A principal in the file (a break-glass admin) signs in with its token, never through an IdP:
    // otherwise whoever controls the IdP account of that name would hold its roles.
    if (configDirectory(this.deps.config).find(who.principalId)) {
      throw await this.refuse(
        who,
        client,
        `${who.principalId} is defined in the configuration file and cannot sign in through an identity provider`,
        'HG_IDENTITY_CONFLICT',
      );
    }
    const outcome = await this.deps.store.transaction(async (tx) => {
      const id = tx.identity;
      const linked = await id.linkedPrincipal(who.provider, who.subject);
      const principalId = linked ?? who.principalId;
      // One identity per provider per principal: a second IdP account claiming the same
      // e-mail or user name is refused, never merged into the first person's principal.
      if (linked === undefined && (await id.linkedSubject(who.provider, principalId)) !== undefined) {
        return { conflict: `${principalId} is already linked to another account at ${who.provider}` };
      }
      const existing = await id.getPrincipal(principalId);
      if (existing && !existing.active) return { refused: `${principalId} was deactivated by the identity source` };
      if (existing?.kind === 'machine') return { conflict: `${principalId} is a machine principal` };
      if (linked === undefined) await id.link(who.provider, who.subject, principalId, now);
      // SCIM is the authority for the people it provisions: their sign-ins change no attribute.
      const claims: Partial<ExternalIdentity> = existing?.source === 'scim' ? {} : who;
      const next: StoredPrincipal = {
        id: principalId,
        source: existing?.source ?? who.provider,
        ...(existing?.externalId !== undefined ? { externalId: existing.externalId } : {}),
        ...(existing?.userName !== undefined ? { userName: existing.userName } : {}),
        ...(existing?.attributes !== undefined ? { attributes: existing.attributes } : {}),
        ...definedEntry('displayName', claims.displayName ?? existing?.displayName),
        ...definedEntry('email', claims.email ?? existing?.email),
        groups: claims.groups ? [...new Set(claims.groups)].sort() : (existing?.groups ?? []),
        ...definedEntry('manager', claims.manager ?? existing?.manager),
        active: true,
        kind: 'human',
        version: (existing?.version ?? 0) + 1,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      const drafts: AuditDraft[] = [];
      const changes = changed(existing, next);
      if (!existing)
        drafts.push({ type: 'principal.provisioned', actor: principalId, details: { principal: principalId, source: who.provider, groups: next.groups } });
      else if (changes.length)
        drafts.push({
          type: 'principal.updated',
          actor: principalId,
          details: { principal: principalId, source: who.provider, changed: changes, groups: next.groups },
        });
      if (!existing || changes.length) await id.putPrincipal(next);
      const issued = await this.sessions.open(
        tx,
        {
          principal: principalId,
          source: who.provider,
          client: client.client,
          ...definedEntry('authTime', who.authTime),
          amr: who.amr,
          ...definedEntry('acr', who.acr),
          ...definedEntry('ip', client.ip),
          ...definedEntry('userAgent', client.userAgent?.slice(0, 256)),
        },
        now,
      );
      drafts.push({
        type: 'auth.signed_in',
        actor: principalId,
        details: { principal: principalId, provider: who.provider, session: issued.session.id, client: client.client, amr: who.amr, ip: client.ip },
      });
      await tx.appendAudit(stamp(this.deps, drafts, now, config.policyHash));
      return { issued, principal: storedAsPrincipal(config, next) };
    });
    if ('conflict' in outcome) throw await this.refuse(who, client, outcome.conflict!, 'HG_IDENTITY_CONFLICT');
    if ('refused' in outcome) throw await this.refuse(who, client, outcome.refused!);
    return { ...outcome.issued, principal: outcome.principal };
  }

  /** Records a refused sign-in (audited: a burst of them is an attack worth seeing) and returns the error to throw. */
  async refuse(
    who: Pick<ExternalIdentity, 'provider'> & Partial<ExternalIdentity>,
    client: SignInClient,
    reason: string,
    code: 'HG_SIGN_IN_REFUSED' | 'HG_IDENTITY_CONFLICT' = 'HG_SIGN_IN_REFUSED',
  ) {
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    await this.deps.store.transaction((tx) =>
      tx.appendAudit(
        stamp(
          this.deps,
          [
            {
              type: 'auth.sign_in_refused',
              actor: 'anonymous',
              details: { provider: who.provider, ...definedEntry('principal', who.principalId), reason, ip: client.ip },
            },
          ],
          now,
          config.policyHash,
        ),
      ),
    );
    return new HgError(code, `sign-in refused: ${reason}`);
  }
}

/** Which of the attributes a sign-in writes changed (audited by name, not value). */
function changed(prev: StoredPrincipal | undefined, next: StoredPrincipal): string[] {
  if (!prev) return [];
  const out: string[] = [];
  if (prev.displayName !== next.displayName) out.push('displayName');
  if (prev.email !== next.email) out.push('email');
  if (prev.manager !== next.manager) out.push('manager');
  if (JSON.stringify([...prev.groups].sort()) !== JSON.stringify(next.groups)) out.push('groups');
  return out;
}
