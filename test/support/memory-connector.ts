/**
 * An in-memory target kind for tests: a "server" that is a Map of accounts, and a connector
 * that passes the same connector contract as the real kinds (test/connectors/memory.test.ts).
 * It lets use-case tests (access worker, reconciler) exercise their own logic without starting
 * database servers, with knobs a real server does not offer: fail the next N calls, hold a call
 * until the test releases it, and a record of every call. Real servers stay for the connectors'
 * own tests.
 *
 * Each grant returns a new handle (`mem-<n>`, as a kind that issues certificates or tokens would),
 * and every call records the handle it was given, so tests can follow it through the store. The
 * connector has reconciliation exactly when the kind is given `canList`.
 *
 * An entitlement names what it gives as `holds: [read, write]`; `probe` in the contract checks
 * one of them. Holds the target does not know (`known`) are refused at grant, as a database
 * refuses an unknown role.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Connector, ConnectorFactory, Credentials, FoundAccess, Granted, GrantOnTarget, Reconcilable } from '../../src/app/connectors.js';
import { entitlementDescription, strictObject, targetSettings } from '../../src/config/schema.js';
import { HgError } from '../../src/core/errors.js';
import type { TargetCapabilities, TargetConfig } from '../../src/core/types.js';

export type MemoryVerb = 'grant' | 'revoke' | 'extend' | 'list' | 'removeOrphan' | 'trimExtra' | 'health';

export interface MemoryAccount {
  account: string;
  /** Absent for accounts planted by a test (orphans Hourglass cannot explain). */
  requestId?: string;
  password: string;
  holds: string[];
  expiresAt: number;
  /** The handle the grant that (re)created it returned. */
  handle?: string;
}

export interface MemoryCall {
  verb: MemoryVerb;
  target: string;
  requestId?: string;
  account?: string;
  /** grant: the handle it returned; revoke, extend: the handle they were given. */
  handle?: string;
}

/** A call held by `hold` until the test releases it. */
export interface HeldCall {
  /** Resolves when the call has arrived (and is waiting). */
  readonly arrived: Promise<void>;
  /** Lets the call go on as usual. */
  release(): void;
  /** Lets the call fail with this message instead. */
  fail(message: string): void;
}

interface Injected {
  verbs?: readonly MemoryVerb[];
  remaining: number;
  message: string;
}

/** One in-memory target ("server"): what it holds, and the knobs. */
export class MemoryTarget {
  readonly accounts = new Map<string, MemoryAccount>();
  readonly calls: MemoryCall[] = [];
  /** Sessions opened by `openSession`, by account; revoke ends them when the kind ends sessions. */
  private readonly sessions = new Map<string, Set<{ open: boolean }>>();
  private readonly failures: Injected[] = [];
  private readonly held: { verbs?: readonly MemoryVerb[]; arrive(): void; go: Promise<string | undefined> }[] = [];
  private handles = 0;

  constructor(
    readonly name: string,
    private readonly now: () => number,
    readonly known: ReadonlySet<string>,
  ) {}

  /** A handle no grant on this target returned before. */
  nextHandle(): string {
    return `mem-${++this.handles}`;
  }

  /** The next `n` calls (of these verbs, or any) fail with HG_TARGET_UNAVAILABLE. */
  failNext(n: number, opts: { verbs?: readonly MemoryVerb[]; message?: string } = {}): void {
    this.failures.push({ remaining: n, message: opts.message ?? 'connection refused (injected)', ...(opts.verbs ? { verbs: opts.verbs } : {}) });
  }

  /** The target is back: failures still injected are dropped. */
  recover(): void {
    this.failures.length = 0;
  }

  /** Holds the next call (of these verbs, or any) until the test releases or fails it. */
  hold(verbs?: readonly MemoryVerb[]): HeldCall {
    let arrive!: () => void;
    let settle!: (failure: string | undefined) => void;
    const arrived = new Promise<void>((r) => (arrive = r));
    const go = new Promise<string | undefined>((r) => (settle = r));
    this.held.push({ ...(verbs ? { verbs } : {}), arrive, go });
    return { arrived, release: () => settle(undefined), fail: (message) => settle(message) };
  }

  /** Calls of one verb so far (optionally for one request). */
  callsOf(verb: MemoryVerb, requestId?: string): MemoryCall[] {
    return this.calls.filter((c) => c.verb === verb && (requestId === undefined || c.requestId === requestId));
  }

  /** An account's holds, or undefined when it does not exist. */
  holdsOf(requestId: string, prefix = 'hg_'): string[] | undefined {
    return this.accounts.get(`${prefix}${requestId}`)?.holds;
  }

  /** Logs in and uses one privilege, as a client of the target would. */
  use(creds: Credentials, privilege: string): 'ok' | 'login-refused' | 'action-refused' {
    const a = this.accounts.get(String(creds.username));
    if (!a || a.password !== creds.password || a.expiresAt <= this.now()) return 'login-refused';
    return a.holds.includes(privilege) ? 'ok' : 'action-refused';
  }

  /** A session that stays open until revoke ends it (kinds that end sessions) or the test closes it. */
  openSession(creds: Credentials): { alive(): Promise<boolean>; close(): Promise<void> } {
    if (this.use(creds, '') === 'login-refused') throw new Error('login refused');
    const account = String(creds.username);
    const s = { open: true };
    let set = this.sessions.get(account);
    if (!set) this.sessions.set(account, (set = new Set()));
    set.add(s);
    return {
      alive: async () => s.open,
      close: async () => {
        s.open = false;
        set.delete(s);
      },
    };
  }

  endSessions(account: string): void {
    for (const s of this.sessions.get(account) ?? []) s.open = false;
    this.sessions.delete(account);
  }

  /** Records the call, then applies the knobs: a hold waits for the test, an injected failure throws. */
  async enter(call: MemoryCall): Promise<void> {
    this.calls.push(call);
    const i = this.held.findIndex((h) => !h.verbs || h.verbs.includes(call.verb));
    if (i >= 0) {
      const [h] = this.held.splice(i, 1);
      h!.arrive();
      const failure = await h!.go;
      if (failure !== undefined) throw new HgError('HG_TARGET_UNAVAILABLE', `target "${this.name}": ${call.verb}: ${failure}`);
    }
    const injected = this.failures.find((f) => f.remaining > 0 && (!f.verbs || f.verbs.includes(call.verb)));
    if (injected) {
      injected.remaining--;
      throw new HgError('HG_TARGET_UNAVAILABLE', `target "${this.name}": ${call.verb}: ${injected.message}`);
    }
  }
}

const ALL: TargetCapabilities = { issuesCredentials: true, endsSessions: true, enforcesExpiry: true, canList: true };

export interface MemoryKindOptions {
  /** The `type` targets of this kind give. Default `memory`. */
  kind?: string;
  /** Default: every capability (credentials, ends sessions, enforces expiry, can list). */
  capabilities?: Partial<TargetCapabilities>;
  /** The target's clock, for the expiry it enforces. Default Date.now (the contract runs in real time). */
  now?: () => number;
  /** Privileges the targets know; others are refused at grant. Default read, write, admin. */
  known?: readonly string[];
}

export interface MemoryKind {
  factory: ConnectorFactory;
  /** The in-memory server of a target (created on first use; shared by every connector for it). */
  target(name: string): MemoryTarget;
}

const holdsOf = (config: Record<string, unknown>): string[] => (Array.isArray(config.holds) ? config.holds.map(String) : []);

class MemoryConnector implements Connector, Reconcilable {
  readonly reconciliation?: Reconcilable;

  constructor(
    readonly kind: string,
    readonly capabilities: TargetCapabilities,
    private readonly server: MemoryTarget,
    private readonly prefix: string,
    private readonly scrub: (text: string) => string,
  ) {
    if (capabilities.canList) this.reconciliation = this;
  }

  private account(requestId: string) {
    return `${this.prefix}${requestId}`;
  }

  async grant(g: GrantOnTarget): Promise<Granted> {
    const account = this.account(g.requestId);
    const handle = this.server.nextHandle();
    await this.server.enter({ verb: 'grant', target: this.server.name, requestId: g.requestId, account, handle });
    const holds = this.expected(g);
    const unknown = holds.filter((h) => !this.server.known.has(h));
    if (unknown.length) throw new HgError('HG_TARGET_UNAVAILABLE', this.scrub(`target "${this.server.name}": grant: no such privilege ${unknown.join(', ')}`));
    // A grant repeated after a crash sets a new password on the one account, like the real kinds.
    const password = randomBytes(12).toString('hex');
    const expiresAt = this.capabilities.enforcesExpiry ? g.expiresAt : Number.POSITIVE_INFINITY;
    this.server.accounts.set(account, { account, requestId: g.requestId, password, holds, expiresAt, handle });
    if (!this.capabilities.issuesCredentials) return { handle };
    return { handle, credentials: { username: account, password, host: 'memory', target: this.server.name } };
  }

  async revoke(g: GrantOnTarget): Promise<void> {
    const account = this.account(g.requestId);
    await this.server.enter({
      verb: 'revoke',
      target: this.server.name,
      requestId: g.requestId,
      account,
      ...(g.handle !== undefined ? { handle: g.handle } : {}),
    });
    this.server.accounts.delete(account);
    if (this.capabilities.endsSessions) this.server.endSessions(account);
  }

  async extend(g: GrantOnTarget): Promise<void> {
    const account = this.account(g.requestId);
    await this.server.enter({
      verb: 'extend',
      target: this.server.name,
      requestId: g.requestId,
      account,
      ...(g.handle !== undefined ? { handle: g.handle } : {}),
    });
    const a = this.server.accounts.get(account);
    if (a && this.capabilities.enforcesExpiry) a.expiresAt = g.expiresAt;
  }

  async list(): Promise<FoundAccess[]> {
    await this.server.enter({ verb: 'list', target: this.server.name });
    if (!this.capabilities.canList) throw new HgError('HG_INTERNAL', `target kind ${this.kind} cannot list`);
    return [...this.server.accounts.values()]
      .filter((a) => a.account.startsWith(this.prefix))
      .map((a) => ({ account: a.account, ...(a.requestId ? { requestId: a.requestId } : {}), holds: [...a.holds] }));
  }

  expected(g: GrantOnTarget): string[] {
    return [...new Set(g.entitlements.flatMap((e) => holdsOf(e.config)))].sort();
  }

  async removeOrphan(found: FoundAccess): Promise<void> {
    await this.server.enter({
      verb: 'removeOrphan',
      target: this.server.name,
      account: found.account,
      ...(found.requestId ? { requestId: found.requestId } : {}),
    });
    if (!found.account.startsWith(this.prefix)) throw new HgError('HG_TARGET_UNAVAILABLE', `target "${this.server.name}": ${found.account} is not Hourglass's`);
    this.server.accounts.delete(found.account);
    if (this.capabilities.endsSessions) this.server.endSessions(found.account);
  }

  async trimExtra(found: FoundAccess, extra: string[]): Promise<void> {
    await this.server.enter({
      verb: 'trimExtra',
      target: this.server.name,
      account: found.account,
      ...(found.requestId ? { requestId: found.requestId } : {}),
    });
    const a = this.server.accounts.get(found.account);
    if (a) a.holds = a.holds.filter((h) => !extra.includes(h));
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    try {
      await this.server.enter({ verb: 'health', target: this.server.name });
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {}
}

/** A memory kind: its factory (to hand to the loader and the composition root) and its targets' servers. */
export function createMemoryKind(opts: MemoryKindOptions = {}): MemoryKind {
  const kind = opts.kind ?? 'memory';
  const capabilities: TargetCapabilities = { ...ALL, ...opts.capabilities };
  const now = opts.now ?? (() => Date.now());
  const known = new Set(opts.known ?? ['read', 'write', 'admin']);
  const servers = new Map<string, MemoryTarget>();
  const target = (name: string) => {
    let s = servers.get(name);
    if (!s) servers.set(name, (s = new MemoryTarget(name, now, known)));
    return s;
  };
  const settings = targetSettings(
    {},
    strictObject({
      description: entitlementDescription,
      holds: z.array(z.string().min(1)).min(1).describe('what the entitlement gives on the in-memory target'),
    }),
  );
  const factory: ConnectorFactory = {
    kind,
    settings,
    capabilities: () => capabilities,
    validate: (t: TargetConfig) =>
      Object.entries(t.entitlements).flatMap(([name, e]) =>
        holdsOf(e)
          .filter((h) => !known.has(h))
          .map((h) => ({ path: ['entitlements', name, 'holds'], message: `no such privilege ${h} on this target` })),
      ),
    create: (t, o) => new MemoryConnector(kind, capabilities, target(t.name), t.accountPrefix ?? 'hg_', o.secretsToScrub),
  };
  return { factory, target };
}
