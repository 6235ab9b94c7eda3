/**
 * The `redis` target kind: one ACL user per (request, target), named `<prefix><request id>`,
 * with a one-time random password that reaches the server only as its SHA-256 (`#<hex>`), and
 * the entitlements' key/channel/command rules. At the end the user is stripped (`reset`: off,
 * no password, no permissions), its connections are killed, and it is deleted.
 *
 * Redis ACL users have no expiry of their own, so `enforcesExpiry` is false: Hourglass's timer,
 * its retrying revocation and reconciliation are what end the access. See docs/targets/redis.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import type { Connector, ConnectorCapabilities, Credentials, FoundAccess, GrantOnTarget, Reconcilable } from '../../../app/connectors.js';
import { HgError } from '../../../core/errors.js';
import { HIDDEN, redact } from '../../../core/redact.js';
import type { TargetConfig } from '../../../core/types.js';
import { decodeRequestId, describedTokens, encodeRequestId, holdsOf, normaliseLocally, parseAclRules, parseGetUser, selectorToken } from './acl-rules.js';
import { targetError, targetRefusal } from '../target-error.js';
import { readSettings, tlsOptions, urlHost, type RedisSettings } from './settings.js';

export const REDIS_KIND = 'redis';

/**
 * The least-privilege rules of the account Hourglass administers Redis with (add `on` and a
 * password): no keys, no channels, only the commands the connector sends. `acl|dryrun` is only
 * used by health() to check the others.
 */
export const REDIS_ADMIN_ACL_RULES =
  'resetkeys resetchannels -@all +ping +acl|whoami +acl|users +acl|getuser +acl|setuser +acl|deluser +acl|dryrun +client|kill';

/** What the connector runs, checked by health() with ACL DRYRUN (`X` is a placeholder user). */
export const REDIS_ADMIN_COMMANDS: readonly (readonly string[])[] = [
  ['PING'],
  ['ACL', 'WHOAMI'],
  ['ACL', 'USERS'],
  ['ACL', 'GETUSER', 'X'],
  ['ACL', 'SETUSER', 'X', 'reset'],
  ['ACL', 'DELUSER', 'X'],
  ['CLIENT', 'KILL', 'USER', 'X'],
];

const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 10_000;
const PASSWORD_BYTES = 32;
/**
 * A user named `<prefix>!canonical.<random>` is only ever an instant's scratch space for learning
 * Redis's wording (random per connector, so two Hourglass processes never share one; a leftover
 * carries the prefix, so reconciliation removes it).
 */
const SCRATCH_MARK = '!canonical.';

export const REDIS_CAPABILITIES: ConnectorCapabilities = {
  endsSessions: true,
  enforcesExpiry: false,
  canList: true,
  issuesCredentials: true,
};

type Scrub = (text: string) => string;

export class RedisConnector implements Connector, Reconcilable {
  readonly kind = REDIS_KIND;
  readonly capabilities = REDIS_CAPABILITIES;
  /** The target lists what Hourglass created (canList): the connector reconciles itself. */
  readonly reconciliation: Reconcilable = this;

  private readonly settings?: RedisSettings;
  private readonly setupError?: HgError;
  private readonly client?: Redis;
  private connecting?: Promise<void>;
  /** The current connection has passed AUTH (reset when it closes). */
  private authenticated = false;
  private lastClientError?: string;
  private closed = false;
  /** Rule tokens as written → the server's own description of them (holds vocabulary). */
  private readonly canonical = new Map<string, string[]>();
  private readonly scratchUser: string;

  constructor(
    private readonly target: TargetConfig,
    private readonly scrubSecrets: Scrub,
  ) {
    const { settings, problems } = readSettings(target);
    this.scratchUser = `${settings?.accountPrefix ?? 'hg_'}${SCRATCH_MARK}${randomBytes(6).toString('hex')}`;
    if (!settings) {
      this.setupError = new HgError(
        'HG_CONFIG_INVALID',
        this.scrub(`redis target ${target.name}: ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`),
      );
      return;
    }
    this.settings = settings;
    const options: RedisOptions = {
      host: settings.host,
      port: settings.port,
      // No username/password here: connect() sends AUTH itself and waits for the answer (ioredis
      // would report the connection ready before a refused AUTH comes back).
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      maxRetriesPerRequest: 1,
      // Connections are made on demand (ensureConnected); no background reconnect loop, no
      // commands silently re-sent after a reconnect.
      retryStrategy: () => null,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      // No CLIENT SETINFO / SETNAME: the admin account needs no client|setinfo.
      disableClientInfo: true,
    };
    if (settings.tls) options.tls = tlsOptions(settings.tls, settings.host);
    this.client = new Redis(options);
    this.client.on('error', (err: Error) => {
      this.lastClientError = err.message;
    });
    this.client.on('close', () => {
      this.authenticated = false;
    });
  }

  // ---- the contract --------------------------------------------------------------------------------

  async grant(grant: GrantOnTarget): Promise<{ credentials?: Credentials }> {
    const settings = this.ready();
    const rules = this.rulesOf(grant);
    const account = this.accountName(grant.requestId);
    await this.ensureConnected();
    // Learn the server's wording of these rules (for expected()); a failure here shows again,
    // with its real cause, in the SETUSER below.
    await this.canonicalise(rules).catch(() => undefined);

    const password = randomBytes(PASSWORD_BYTES).toString('base64url');
    const hash = createHash('sha256').update(password, 'utf8').digest('hex');
    // `reset` first: a repeated grant (retry after a crash) replaces password and rules instead
    // of adding to them. The first entitlement is the root rule set, every further one its own
    // selector, so each entitlement's commands apply only to its own keys and channels.
    const args = ['SETUSER', account, 'reset', 'on', `#${hash}`, ...rules[0]!, ...rules.slice(1).map((r) => `(${r.join(' ')})`)];
    await this.run('grant', (c) => c.call('ACL', ...args), [password, hash]);

    const scheme = settings.tls ? 'rediss' : 'redis';
    const dbPath = settings.db !== undefined ? `/${settings.db}` : '';
    const credentials: Credentials = {
      username: account,
      password,
      host: settings.clientHost,
      port: settings.clientPort,
      url: `${scheme}://${encodeURIComponent(account)}:${encodeURIComponent(password)}@${urlHost(settings.clientHost)}:${settings.clientPort}${dbPath}`,
      tls: Boolean(settings.tls),
    };
    if (settings.db !== undefined) credentials.database = String(settings.db);
    return { credentials };
  }

  async revoke(grant: GrantOnTarget): Promise<void> {
    this.ready();
    await this.endAccount(this.accountName(grant.requestId), 'revoke');
  }

  /** Redis ACL users carry no expiry: nothing to move (Hourglass's own timer ends the grant). */
  async extend(_grant: GrantOnTarget): Promise<void> {
    this.ready();
  }

  async list(): Promise<FoundAccess[]> {
    const settings = this.ready();
    await this.ensureConnected();
    await this.canonicalise([...settings.entitlements.values()]).catch(() => undefined);
    const users = await this.run('list', async (c) => toStrings(await c.call('ACL', 'USERS')));
    const mine = users.filter((u) => this.isOurs(u)).sort();
    if (mine.length === 0) return [];
    const replies = await this.run('list', async (c) => {
      const p = c.pipeline();
      for (const u of mine) p.call('ACL', 'GETUSER', u);
      return execPipeline(p);
    });
    const found: FoundAccess[] = [];
    mine.forEach((account, i) => {
      const [err, reply] = replies[i] ?? [new Error('no reply'), undefined];
      if (err) throw this.fail('list', err);
      const user = parseGetUser(reply);
      if (!user) return; // deleted meanwhile
      const entry: FoundAccess = { account, holds: holdsOf(user) };
      const requestId = decodeRequestId(account.slice(settings.accountPrefix.length));
      if (requestId !== undefined) entry.requestId = requestId;
      found.push(entry);
    });
    return found;
  }

  expected(grant: GrantOnTarget): string[] {
    const rules = this.rulesOf(grant, { lenient: true });
    const words = (tokens: string[]) => this.canonical.get(ruleKey(tokens)) ?? normaliseLocally(tokens);
    if (rules.length === 0) return ['on'];
    return ['on', ...words(rules[0]!), ...rules.slice(1).map((r) => selectorToken(words(r)))];
  }

  async removeOrphan(found: FoundAccess): Promise<void> {
    this.ready();
    if (!this.isOurs(found.account)) {
      throw new HgError('HG_INVALID_INPUT', `redis target ${this.target.name}: refusing to remove "${found.account}": not an Hourglass account`);
    }
    await this.endAccount(found.account, 'remove orphan');
  }

  async health(): Promise<{ ok: boolean; detail?: string }> {
    let settings: RedisSettings;
    try {
      settings = this.ready();
      await this.ensureConnected();
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
    const problems: string[] = [];
    const notes: string[] = [];
    let me = settings.username ?? 'default';
    try {
      const [pong, whoami] = await this.run('health', async (c) => [await c.call('PING'), await c.call('ACL', 'WHOAMI')]);
      if (String(pong) !== 'PONG') problems.push(`PING answered ${String(pong)}`);
      me = String(whoami);
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
    // Does the admin account hold every command the connector sends? ACL DRYRUN (Redis 7.0+)
    // answers without running them.
    try {
      const scratch = this.scratchUser;
      const answers = await this.run('health', async (c) => {
        const p = c.pipeline();
        for (const cmd of REDIS_ADMIN_COMMANDS) p.call('ACL', 'DRYRUN', me, ...cmd.map((a) => (a === 'X' ? scratch : a)));
        return execPipeline(p);
      });
      const missing: string[] = [];
      REDIS_ADMIN_COMMANDS.forEach((cmd, i) => {
        const [err, answer] = answers[i] ?? [new Error('no reply'), undefined];
        if (err) throw err;
        if (String(answer) !== 'OK') missing.push(commandName(cmd));
      });
      if (missing.length) problems.push(`admin user "${me}" may not run: ${missing.join(', ')} (see docs/targets/redis.md)`);
    } catch (e) {
      notes.push(`permissions not checked (ACL DRYRUN needs Redis 7.0+ and +acl|dryrun): ${this.scrub((e as Error).message)}`);
    }
    // Rules the server refuses (an unknown command, a module not loaded) show here, not at grant time.
    try {
      const refused = await this.canonicalise([...settings.entitlements.values()]);
      for (const [name, tokens] of settings.entitlements) {
        const why = refused.get(ruleKey(tokens));
        if (why) problems.push(`entitlement ${name}: the server refuses its rules: ${why}`);
      }
    } catch (e) {
      problems.push((e as Error).message);
    }
    const detail = [...problems, ...notes].join('; ');
    return detail ? { ok: problems.length === 0, detail } : { ok: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.client;
    if (!c) return;
    if (c.status === 'ready') {
      await Promise.race([c.quit().catch(() => undefined), sleep(1_000)]);
    }
    c.disconnect();
  }

  // ---- internals --------------------------------------------------------------------------------

  private ready(): RedisSettings {
    if (this.setupError || !this.settings) throw this.setupError ?? new HgError('HG_CONFIG_INVALID');
    if (this.closed) throw targetRefusal(REDIS_KIND, this.target.name, 'the connector is closed', (t) => this.scrub(t));
    return this.settings;
  }

  private accountName(requestId: string): string {
    return `${this.ready().accountPrefix}${encodeRequestId(requestId)}`;
  }

  /** Carries the prefix and is neither the admin account nor `default`. */
  private isOurs(account: string): boolean {
    const s = this.settings;
    if (!s) return false;
    return account.startsWith(s.accountPrefix) && account.length > s.accountPrefix.length && account !== (s.username ?? 'default') && account !== 'default';
  }

  /**
   * Rule tokens of the grant's entitlements on this target, in name order (so root and selectors
   * are the same on every call). Checked again here, whatever the config loader let through.
   */
  private rulesOf(grant: GrantOnTarget, opts: { lenient?: boolean } = {}): string[][] {
    const sorted = [...grant.entitlements].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const out: string[][] = [];
    for (const e of sorted) {
      const parsed = parseAclRules(e.config?.acl);
      if (parsed.problems.length > 0) {
        if (opts.lenient) {
          out.push(
            String(e.config?.acl ?? '')
              .split(/\s+/)
              .filter(Boolean),
          );
          continue;
        }
        throw new HgError('HG_CONFIG_INVALID', this.scrub(`redis target ${this.target.name}: entitlement ${e.name}: ${parsed.problems.join('; ')}`));
      }
      out.push(parsed.tokens);
    }
    if (out.length === 0 && !opts.lenient) {
      throw new HgError('HG_CONFIG_INVALID', `redis target ${this.target.name}: a grant needs at least one entitlement`);
    }
    return out;
  }

  /**
   * The end of an account, in one round trip, each step idempotent:
   * 1. `ACL SETUSER name reset`: off (no new AUTH), no password, no keys, no commands; open
   *    connections of the user are refused every further command at once.
   * 2. `CLIENT KILL USER name`: closes those connections (blocked ones, e.g. BLPOP, included).
   * 3. `ACL DELUSER name`: the user is gone (Redis 7 also closes its connections here).
   * When the account did not exist, step 1 creates an empty, disabled one that step 3 deletes.
   */
  private async endAccount(account: string, op: string): Promise<void> {
    await this.ensureConnected();
    const results = await this.run(op, async (c) => {
      const p = c.pipeline();
      p.call('ACL', 'SETUSER', account, 'reset');
      p.call('CLIENT', 'KILL', 'USER', account);
      p.call('ACL', 'DELUSER', account);
      return execPipeline(p);
    });
    if (results.length !== 3) throw this.fail(op, new Error('incomplete reply'));
    for (const [err] of results) {
      if (!err) continue;
      // Gone already (deleted between the steps by someone else): that is the goal.
      if (/no such user/i.test(err.message)) continue;
      throw this.fail(op, err);
    }
  }

  /**
   * Learns how this server describes each rule set: applies it to a scratch user (disabled, no
   * password, so nobody can log in as it), reads it back with ACL GETUSER, deletes the scratch
   * user; all in one pipeline. Returns the rule sets the server refused, with its reason.
   */
  private async canonicalise(ruleSets: string[][]): Promise<Map<string, string>> {
    this.ready();
    const todo = [...new Map(ruleSets.map((r) => [ruleKey(r), r])).entries()].filter(([key]) => !this.canonical.has(key));
    const refused = new Map<string, string>();
    if (todo.length === 0) return refused;
    const scratch = this.scratchUser;
    const results = await this.run('learn rule wording', async (c) => {
      const p = c.pipeline();
      for (const [, tokens] of todo) {
        p.call('ACL', 'SETUSER', scratch, 'reset', ...tokens);
        p.call('ACL', 'GETUSER', scratch);
      }
      p.call('ACL', 'DELUSER', scratch);
      return execPipeline(p);
    });
    todo.forEach(([key], i) => {
      const [setErr] = results[2 * i] ?? [new Error('no reply')];
      const [getErr, reply] = results[2 * i + 1] ?? [new Error('no reply'), undefined];
      if (setErr) refused.set(key, this.scrub(setErr.message));
      else if (!getErr) {
        const user = parseGetUser(reply);
        if (user) this.canonical.set(key, describedTokens(user.root));
      }
    });
    const [delErr] = results[results.length - 1] ?? [null];
    if (delErr) throw this.fail('learn rule wording', delErr);
    return refused;
  }

  private async ensureConnected(): Promise<void> {
    this.ready();
    const c = this.client!;
    if (c.status === 'ready' && this.authenticated) return;
    this.connecting ??= this.connect(c).finally(() => {
      this.connecting = undefined;
    });
    await this.connecting;
  }

  private async connect(c: Redis): Promise<void> {
    const settings = this.ready();
    if (c.status === 'ready' && this.authenticated) return;
    if (c.status !== 'wait' && c.status !== 'end' && c.status !== 'ready') {
      // ioredis is between states (closing after an error): let it settle first.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          c.off('ready', done);
          c.off('end', done);
          resolve();
        };
        const timer = setTimeout(done, CONNECT_TIMEOUT_MS);
        c.once('ready', done);
        c.once('end', done);
      });
    }
    this.lastClientError = undefined;
    if (c.status !== 'ready') {
      if (c.status !== 'wait' && c.status !== 'end') c.disconnect();
      try {
        await c.connect();
      } catch (e) {
        const message = (e as Error).message;
        const reason = this.lastClientError && this.lastClientError !== message ? `${message} (${this.lastClientError})` : message;
        throw this.fail('connect', new Error(reason));
      }
    }
    if (settings.password !== undefined) {
      const auth = settings.username !== undefined ? [settings.username, settings.password] : [settings.password];
      try {
        await c.call('AUTH', ...auth);
      } catch (e) {
        c.disconnect();
        throw this.fail('connect', e);
      }
    }
    this.authenticated = true;
  }

  /**
   * Runs `fn` on the authenticated connection. A connection that turns out closed (the server
   * restarted, an operator's ACL LOAD dropped it) is re-opened once and `fn` run again: every
   * operation here is idempotent.
   */
  private async run<T>(op: string, fn: (c: Redis) => Promise<T>, secrets: string[] = []): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.ensureConnected();
      try {
        return await fn(this.client!);
      } catch (e) {
        if (attempt === 1 && isConnectionError(e)) {
          this.authenticated = false;
          this.client!.disconnect();
          continue;
        }
        throw this.fail(op, e, secrets);
      }
    }
  }

  /**
   * A fresh error, never the client's and without it as `cause` (ioredis errors carry the
   * command's arguments), with a scrubbed message: the admin password, this call's password and
   * hash, any `#<sha256>`.
   */
  private fail(op: string, e: unknown, secrets: string[] = []): HgError {
    if (e instanceof HgError) return e;
    return targetError(REDIS_KIND, this.target.name, op, e, (t) => this.scrub(t, secrets), { withoutCause: true });
  }

  private scrub(text: string, secrets: string[] = []): string {
    const admin = this.settings?.password;
    const all = [...secrets];
    if (admin) all.push(admin, encodeURIComponent(admin));
    const out = redact(text, all)
      .replace(/#[0-9a-fA-F]{64}/g, `#${HIDDEN}`)
      .replace(/\b[0-9a-f]{64}\b/gi, HIDDEN);
    return this.scrubSecrets(out);
  }
}

const CONNECTION_ERROR = /Connection is closed|Stream isn't writeable|ECONNRESET|EPIPE|socket hang up/i;

function isConnectionError(e: unknown): boolean {
  return e instanceof Error && CONNECTION_ERROR.test(e.message);
}

type PipelineResult = [Error | null, unknown][];

/** Runs a pipeline; a connection failure in any reply is thrown (so run() can retry the whole). */
async function execPipeline(p: ChainableCommander): Promise<PipelineResult> {
  const results = ((await p.exec()) ?? []) as PipelineResult;
  const lost = results.find(([err]) => isConnectionError(err));
  if (lost) throw lost[0];
  return results;
}

function ruleKey(tokens: string[]): string {
  return tokens.join(' ');
}

function toStrings(reply: unknown): string[] {
  return Array.isArray(reply) ? reply.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v))) : [];
}

function commandName(cmd: readonly string[]): string {
  const [first, second] = cmd;
  return (first === 'ACL' || first === 'CLIENT') && second ? `${first.toLowerCase()}|${second.toLowerCase()}` : String(first).toLowerCase();
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());
