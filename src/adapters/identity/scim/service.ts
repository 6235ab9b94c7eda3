/**
 * SCIM provisioning against the store: each call is one transaction with its audit events, so a
 * User deactivated by the IdP has lost every grant, request, session and token by the time the
 * IdP reads the answer. Users are the store's human principals; a Group's display name is the
 * group policies name, and its members' `groups` change with it at once.
 *
 * What SCIM can never do: touch a principal defined in the configuration file or a machine
 * principal, or give roles. Roles come only from `identity.roles` (src/app/directory.ts).
 */
import { randomUUID } from 'node:crypto';
import { PRINCIPAL_ID_PATTERN } from '../../../config/primitives.js';
import type { AuditDraft, Principal } from '../../../core/types.js';
import { stamp, type AppDeps } from '../../../app/context.js';
import { configDirectory } from '../../../app/directory.js';
import { deactivateIn } from '../../../app/identity/deactivate.js';
import type { GroupRecord, IdentityTx } from '../../../app/identity/ports.js';
import type { StoreTx, StoredPrincipal } from '../../../app/ports.js';
import { compileFilter } from './filter.js';
import { listResponse, project, type ListQuery, type ListResponse } from './list.js';
import { applyPatch } from './patch.js';
import { changedAttributes, groupFrom, groupRecord, principalFrom, userRecord } from './records.js';
import { groupInput, groupToJson, matchesIfMatch, userInput, userToJson, type GroupInput, type ScimJson, type UserInput } from './resources.js';
import { badRequest, ScimError } from './scim-error.js';

/** Who made the call, for the audit log: `scim:TOKEN_NAME`, the method and path, the request id. */
export interface ScimCall {
  actor: Principal;
  method: string;
  path: string;
  requestId: string;
}

/** A resource and its version, for the ETag and Location headers. */
export interface ScimAnswer {
  resource: ScimJson;
  version: number;
}

const notFound = (type: string, id: string) => new ScimError(404, undefined, `No ${type} with id ${JSON.stringify(id.slice(0, 200))}.`);
const conflict = (detail: string) => new ScimError(409, 'uniqueness', detail);
const preconditionFailed = () => new ScimError(412, undefined, 'The resource changed since the version If-Match names.');

/** `attr eq "value"`, the filter Entra ID and Okta send before every create: answered from an index. */
function simpleEq(filter: string | undefined, attribute: string): string | undefined {
  const m = filter === undefined ? null : /^\s*([A-Za-z.:]+)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$/i.exec(filter);
  if (!m || m[1]!.toLowerCase() !== attribute) return undefined;
  try {
    return JSON.parse(m[2]!) as string;
  } catch {
    return undefined;
  }
}

/** The filter compiled before any read: a bad one is a 400 that costs no query. */
const matcherOf = (q: ListQuery, type: 'User' | 'Group') => (q.filter === undefined ? undefined : compileFilter(q.filter, type));

function page<T extends ScimJson>(all: T[], match: ((r: object) => boolean) | undefined, q: ListQuery): ListResponse<ScimJson> {
  const matching = match === undefined ? all : all.filter(match);
  const slice = matching.slice(q.startIndex - 1, q.startIndex - 1 + q.count);
  return listResponse(
    slice.map((r) => project(r, q.attributes, q.excludedAttributes)),
    matching.length,
    q.startIndex,
  );
}

export class ScimService {
  constructor(
    private readonly deps: AppDeps,
    /** `https://HOURGLASS/scim/v2`, for meta.location and $ref. */
    private readonly baseUrl: () => string,
  ) {}

  // ---- Users ----------------------------------------------------------------------------------

  listUsers(q: ListQuery): Promise<ListResponse<ScimJson>> {
    const match = matcherOf(q, 'User');
    return this.deps.store.transaction(async (tx) => {
      const t = tx.identity;
      const userName = simpleEq(q.filter, 'username');
      let people: StoredPrincipal[];
      let groupsOf: (id: string) => GroupRecord[];
      if (userName !== undefined) {
        const p = await t.principalByUserName(userName);
        people = p ? [p] : [];
        const groups = p ? await t.groupsOf(p.id) : [];
        groupsOf = () => groups;
      } else {
        people = await t.humanPrincipals();
        groupsOf = await membershipIndex(t);
      }
      const visible = people.filter((p) => this.isScimUser(p));
      return page(
        visible.map((p) => userToJson(userRecord(p, groupsOf(p.id)), this.baseUrl())),
        match,
        q,
      );
    });
  }

  getUser(id: string): Promise<ScimAnswer> {
    return this.deps.store.transaction(async (tx) => {
      const p = await this.user(tx.identity, id);
      return this.userAnswer(tx.identity, p);
    });
  }

  createUser(body: unknown, call: ScimCall): Promise<ScimAnswer> {
    const input = userInput(body);
    const id = this.idFor(input);
    return this.deps.store.transaction(async (tx) => {
      const t = tx.identity;
      if ((await t.getPrincipal(id)) || (await t.principalByUserName(input.userName))) throw conflict(`A User with userName ${JSON.stringify(id)} exists.`);
      await this.checkExternalId(t, input.externalId, undefined);
      const now = this.deps.clock.now();
      const next = principalFrom(id, input, undefined, now);
      await t.putPrincipal(next);
      await this.audit(tx, now, [
        {
          type: 'principal.provisioned',
          actor: call.actor.id,
          details: { principal: id, source: 'scim', groups: [], active: next.active, ...callDetails(call) },
        },
      ]);
      return this.userAnswer(t, next);
    });
  }

  replaceUser(id: string, body: unknown, ifMatch: string | undefined, call: ScimCall): Promise<ScimAnswer> {
    return this.deps.store.transaction(async (tx) => {
      const prev = await this.user(tx.identity, id, ifMatch, true);
      return this.writeUser(tx, prev, userInput(body), call);
    });
  }

  patchUser(id: string, body: unknown, ifMatch: string | undefined, call: ScimCall): Promise<ScimAnswer> {
    return this.deps.store.transaction(async (tx) => {
      const prev = await this.user(tx.identity, id, ifMatch, true);
      const current = userToJson(userRecord(prev, await tx.identity.groupsOf(prev.id)), this.baseUrl());
      return this.writeUser(tx, prev, userInput(applyPatch(current, body, 'User')), call);
    });
  }

  /** Ends everything the person holds (as a deactivation does), then forgets the principal. */
  deleteUser(id: string, ifMatch: string | undefined, call: ScimCall): Promise<void> {
    return this.deps.store.transaction(async (tx) => {
      const t = tx.identity;
      const prev = await this.user(t, id, ifMatch, true);
      const now = this.deps.clock.now();
      if (prev.active) await deactivateIn(this.deps, tx, prev, this.cause(call), now);
      const groups = await t.groupsOf(id);
      await t.deletePrincipal(id);
      // Their Groups lost a member: a new version for each, so an ETag held by the IdP goes stale.
      for (const g of groups) await t.putGroup({ ...g, version: g.version + 1, updatedAt: now });
      await this.audit(tx, now, [
        { type: 'principal.deleted', actor: call.actor.id, details: { principal: id, groups: groups.map((g) => g.displayName), ...callDetails(call) } },
      ]);
    });
  }

  // ---- Groups ---------------------------------------------------------------------------------

  listGroups(q: ListQuery): Promise<ListResponse<ScimJson>> {
    const match = matcherOf(q, 'Group');
    return this.deps.store.transaction(async (tx) => {
      const t = tx.identity;
      const name = simpleEq(q.filter, 'displayname');
      let groups: GroupRecord[];
      if (name !== undefined) {
        const g = await t.groupByName(name);
        groups = g ? [g] : [];
      } else {
        groups = await t.listGroups();
      }
      // Entra ID lists Groups with excludedAttributes=members: then members are not even read.
      const wantMembers = needsMembers(q);
      const members = new Map<string, string[]>();
      if (wantMembers && groups.length === 1) members.set(groups[0]!.id, await t.membersOf(groups[0]!.id));
      else if (wantMembers) for (const m of await t.allMemberships()) members.set(m.group, [...(members.get(m.group) ?? []), m.principal]);
      return page(
        groups.map((g) =>
          groupToJson(
            groupRecord(
              g,
              (members.get(g.id) ?? []).map((value) => ({ value })),
            ),
            this.baseUrl(),
          ),
        ),
        match,
        q,
      );
    });
  }

  getGroup(id: string): Promise<ScimAnswer> {
    return this.deps.store.transaction(async (tx) => this.groupAnswer(tx.identity, await this.group(tx.identity, id)));
  }

  createGroup(body: unknown, call: ScimCall): Promise<ScimAnswer> {
    const input = groupInput(body);
    return this.deps.store.transaction(async (tx) => {
      const t = tx.identity;
      if (await t.groupByName(input.displayName)) throw conflict(`A Group named ${JSON.stringify(input.displayName)} exists.`);
      const now = this.deps.clock.now();
      const group = groupFrom(randomUUID(), input, undefined, now);
      await t.putGroup(group);
      const { added } = await this.setMembers(t, group.id, input);
      await this.refreshGroups(t, added, now);
      await this.audit(tx, now, [
        {
          type: 'group.provisioned',
          actor: call.actor.id,
          details: { group: group.id, displayName: group.displayName, added, ...callDetails(call) },
        },
      ]);
      return this.groupAnswer(t, group);
    });
  }

  replaceGroup(id: string, body: unknown, ifMatch: string | undefined, call: ScimCall): Promise<ScimAnswer> {
    return this.deps.store.transaction(async (tx) => {
      const prev = await this.group(tx.identity, id, ifMatch, true);
      return this.writeGroup(tx, prev, groupInput(body), call);
    });
  }

  patchGroup(id: string, body: unknown, ifMatch: string | undefined, call: ScimCall): Promise<ScimAnswer> {
    return this.deps.store.transaction(async (tx) => {
      const t = tx.identity;
      const prev = await this.group(t, id, ifMatch, true);
      const members = (await t.membersOf(id)).map((value) => ({ value }));
      const current = groupToJson(groupRecord(prev, members), this.baseUrl());
      return this.writeGroup(tx, prev, groupInput(applyPatch(current, body, 'Group')), call);
    });
  }

  deleteGroup(id: string, ifMatch: string | undefined, call: ScimCall): Promise<void> {
    return this.deps.store.transaction(async (tx) => {
      const t = tx.identity;
      const prev = await this.group(t, id, ifMatch, true);
      const members = await t.membersOf(id);
      const now = this.deps.clock.now();
      await t.deleteGroup(id);
      await this.refreshGroups(t, members, now);
      await this.audit(tx, now, [
        { type: 'group.deleted', actor: call.actor.id, details: { group: id, displayName: prev.displayName, removed: members, ...callDetails(call) } },
      ]);
    });
  }

  // ---- shared ---------------------------------------------------------------------------------

  /** Store principals only: the file's principals and machines are never SCIM's to see or change. */
  private isScimUser(p: StoredPrincipal): boolean {
    return p.kind !== 'machine' && !configDirectory(this.deps.config).find(p.id);
  }

  /** The User `id`; with `write`, locked until commit and checked against If-Match. */
  private async user(t: IdentityTx, id: string, ifMatch?: string, write = false): Promise<StoredPrincipal> {
    if (write) await t.lockPrincipal(id);
    const p = await t.getPrincipal(id);
    if (!p || !this.isScimUser(p)) throw notFound('User', id);
    if (!matchesIfMatch(ifMatch, p.version ?? 1)) throw preconditionFailed();
    return p;
  }

  private async group(t: IdentityTx, id: string, ifMatch?: string, write = false): Promise<GroupRecord> {
    if (write) await t.lockGroup(id);
    const g = await t.getGroup(id);
    if (!g) throw notFound('Group', id);
    if (!matchesIfMatch(ifMatch, g.version)) throw preconditionFailed();
    return g;
  }

  /** The principal id of a new User: its userName, lower-cased (as sign-in lower-cases e-mail addresses). */
  private idFor(input: UserInput): string {
    const id = input.userName.toLowerCase();
    if (!PRINCIPAL_ID_PATTERN.test(id)) {
      throw badRequest('invalidValue', 'userName must be a valid Hourglass principal id: 1-128 letters, digits and . _ @ - (not first).');
    }
    if (configDirectory(this.deps.config).find(id)) throw conflict(`userName ${JSON.stringify(id)} is reserved by the Hourglass configuration file.`);
    if (input.manager === id) throw badRequest('invalidValue', 'A User cannot be their own manager.');
    return id;
  }

  private async checkExternalId(t: IdentityTx, externalId: string | undefined, self: string | undefined): Promise<void> {
    if (externalId === undefined) return;
    const holder = await t.principalByExternalId('scim', externalId);
    if (holder && holder.id !== self) throw conflict(`Another User has externalId ${JSON.stringify(externalId.slice(0, 200))}.`);
  }

  private async writeUser(tx: StoreTx, prev: StoredPrincipal, input: UserInput, call: ScimCall): Promise<ScimAnswer> {
    const t = tx.identity;
    if (input.userName.toLowerCase() !== (prev.userName ?? prev.id).toLowerCase()) {
      const holder = await t.principalByUserName(input.userName);
      if (holder && holder.id !== prev.id) throw conflict(`Another User has userName ${JSON.stringify(input.userName.slice(0, 200))}.`);
    }
    if (input.manager === prev.id) throw badRequest('invalidValue', 'A User cannot be their own manager.');
    await this.checkExternalId(t, input.externalId, prev.id);
    const now = this.deps.clock.now();
    const next = principalFrom(prev.id, input, prev, now);
    const changed = changedAttributes(prev, next);
    if (changed.length === 0 && prev.active === next.active) return this.userAnswer(t, prev); // nothing to write, nothing to audit
    await t.putPrincipal(next);
    const drafts: AuditDraft[] = [];
    if (changed.length > 0) {
      drafts.push({
        type: 'principal.updated',
        actor: call.actor.id,
        details: { principal: prev.id, source: 'scim', changed, groups: next.groups, ...callDetails(call) },
      });
    }
    if (!prev.active && next.active)
      drafts.push({ type: 'principal.reactivated', actor: call.actor.id, details: { principal: prev.id, ...callDetails(call) } });
    await this.audit(tx, now, drafts);
    // Ends every grant, request, session and token in this transaction, audited with the call as its cause.
    if (prev.active && !next.active) await deactivateIn(this.deps, tx, next, this.cause(call), now);
    return this.userAnswer(t, (await t.getPrincipal(prev.id))!);
  }

  private async writeGroup(tx: StoreTx, prev: GroupRecord, input: GroupInput, call: ScimCall): Promise<ScimAnswer> {
    const t = tx.identity;
    const renamed = input.displayName !== prev.displayName;
    if (renamed && input.displayName.toLowerCase() !== prev.displayName.toLowerCase() && (await t.groupByName(input.displayName))) {
      throw conflict(`A Group named ${JSON.stringify(input.displayName)} exists.`);
    }
    const now = this.deps.clock.now();
    const next = groupFrom(prev.id, input, prev, now);
    const { added, removed, members } = await this.setMembers(t, prev.id, input);
    if (!renamed && next.externalId === prev.externalId && added.length === 0 && removed.length === 0) return this.groupAnswer(t, prev);
    await t.putGroup(next);
    // Who joined or left; on a rename every member, whose groups now name it anew.
    await this.refreshGroups(t, renamed ? [...members, ...removed] : [...added, ...removed], now);
    await this.audit(tx, now, [
      {
        type: 'group.updated',
        actor: call.actor.id,
        details: {
          group: prev.id,
          displayName: next.displayName,
          ...(renamed ? { previousDisplayName: prev.displayName } : {}),
          added,
          removed,
          ...callDetails(call),
        },
      },
    ]);
    return this.groupAnswer(t, next);
  }

  /**
   * Makes the input's members the group's, refusing a member that is not a SCIM User (unknown, a
   * machine, or defined in the file: SCIM must not change who those are). The caller then
   * refreshes the `groups` of whoever joined or left.
   */
  private async setMembers(t: IdentityTx, groupId: string, input: GroupInput) {
    const wanted = input.members.map((m) => m.value);
    const before = new Set(await t.membersOf(groupId));
    for (const id of wanted) {
      if (before.has(id)) continue;
      const p = await t.getPrincipal(id);
      if (!p || !this.isScimUser(p)) throw badRequest('invalidValue', `No User with id ${JSON.stringify(id.slice(0, 200))} to be a member.`);
    }
    const { added, removed } = await t.setMembers(groupId, wanted);
    return { added, removed, members: wanted };
  }

  /** Recomputes the `groups` of these principals from their memberships. */
  private async refreshGroups(t: IdentityTx, ids: readonly string[], now: number): Promise<void> {
    for (const id of new Set(ids)) {
      const p = await t.getPrincipal(id);
      if (!p) continue;
      const groups = [...new Set((await t.groupsOf(id)).map((g) => g.displayName))].sort();
      if (JSON.stringify(groups) === JSON.stringify(p.groups)) continue;
      await t.putPrincipal({ ...p, groups, version: (p.version ?? 0) + 1, updatedAt: now });
    }
  }

  private async userAnswer(t: IdentityTx, p: StoredPrincipal): Promise<ScimAnswer> {
    return { resource: userToJson(userRecord(p, await t.groupsOf(p.id)), this.baseUrl()), version: p.version ?? 1 };
  }

  private async groupAnswer(t: IdentityTx, g: GroupRecord): Promise<ScimAnswer> {
    const members = (await t.membersOf(g.id)).map((value) => ({ value }));
    return { resource: groupToJson(groupRecord(g, members), this.baseUrl()), version: g.version };
  }

  private cause(call: ScimCall) {
    return { actor: call.actor, via: 'scim', call: `${call.method} ${call.path}`, requestId: call.requestId };
  }

  private audit(tx: StoreTx, now: number, drafts: AuditDraft[]): Promise<void> {
    return drafts.length === 0 ? Promise.resolve() : tx.appendAudit(stamp(this.deps, drafts, now, this.deps.config.current().policyHash));
  }
}

const callDetails = (call: ScimCall) => ({ call: `${call.method} ${call.path}`, requestId: call.requestId });

/** Whether the answer shows members (or the filter reads them): Entra ID excludes them when it can. */
function needsMembers(q: ListQuery): boolean {
  if (q.filter !== undefined && /members/i.test(q.filter)) return true;
  if (q.attributes) return q.attributes.some((a) => /(^|:)members(\.|$)/i.test(a));
  return !(q.excludedAttributes ?? []).some((a) => /(^|:)members$/i.test(a));
}

/** Group records by member id, from every membership (for listing many Users). */
async function membershipIndex(t: IdentityTx): Promise<(id: string) => GroupRecord[]> {
  const groups = new Map((await t.listGroups()).map((g) => [g.id, g]));
  const byMember = new Map<string, GroupRecord[]>();
  for (const m of await t.allMemberships()) {
    const g = groups.get(m.group);
    if (g) byMember.set(m.principal, [...(byMember.get(m.principal) ?? []), g]);
  }
  return (id) => byMember.get(id) ?? [];
}
