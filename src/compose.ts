/**
 * The composition root: builds the store (as its role ports), the application, the connector
 * registry, the background workers, the scheduler, metrics and the HTTP server, each once, and
 * hands each what it needs. `serve`, the test harnesses and the benches all call createHourglass;
 * with src/main.ts it is the only code that reads process.cwd() (adapters get `cwd` from here).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AccessWork } from './app/access-work.js';
import type { ConnectorFactory, ConnectorRegistry } from './app/connectors.js';
import { layeredDirectory, tokenAuthenticator } from './app/directory.js';
import type { NotificationChannel } from './app/notify.js';
import { Hourglass, type EndedAccess } from './app/hourglass.js';
import { IssuedCredentials } from './app/issued-credentials.js';
import type { Authenticator, Clock, Directory, IdGenerator, ReloadableConfig } from './app/ports.js';
import { Reconciler } from './app/reconcile.js';
import { webhookWorker, type WebhookWorker } from './app/webhooks.js';
import type { CheckpointWorker } from './app/checkpoints.js';
import { loadCheckpointKey } from './adapters/checkpoint-key.js';
import { connectorFactories } from './adapters/connectors/index.js';
import { createConnectorRegistry } from './adapters/connectors/registry.js';
import { createMetricsRegistry, createPrometheusMetrics, registerStateGauges } from './adapters/metrics.js';
import { messageChannels, notificationChannels } from './adapters/notifiers/index.js';
import type { MessageChannel } from './app/notifications/ports.js';
import { slackApi } from './adapters/notifiers/slack/api.js';
import { ticketSystems } from './adapters/tickets/index.js';
import { onCallSchedules } from './adapters/oncall/index.js';
import { onCallLookup } from './app/oncall/who.js';
import { slackInteractionRoutes, answerPress } from './adapters/notifiers/slack/routes.js';
import { startSlackSocketMode, type SlackSocketMode } from './adapters/notifiers/slack/socket-mode.js';
import { Scheduler } from './adapters/scheduler.js';
import { loadSecretKey, secretBox } from './adapters/secret-box.js';
import { configuredCheckpointKey, createCheckpointWorker } from './adapters/store/checkpoint-store.js';
import { openStore, type OpenedStore } from './adapters/store/open-store.js';
import { createIds, systemClock } from './adapters/system.js';
import { loadConfigFile } from './config/load-config.js';
import { parseListenOrThrow, type TargetKinds } from './config/schema.js';
import type { HourglassConfig } from './config/types.js';
import { buildServer } from './http/build-server.js';
import { SCOPES } from './http/route.js';
import { identityAuthenticator } from './app/identity/authenticator.js';
import { CheckIndex } from './app/check-index.js';
import { Presence } from './app/presence.js';
import type { ChangeHints } from './adapters/store/change-hints.js';
import { Sessions } from './app/identity/sessions.js';
import { SignIn } from './app/identity/sign-in.js';
import { Tokens } from './app/identity/tokens.js';
import { MfaFactors } from './app/identity/mfa.js';
import { StepUp } from './app/identity/step-up.js';
import type { AppDeps } from './app/context.js';
import { mfaMethods } from './adapters/mfa/index.js';
import { identityProviderRoutes } from './adapters/identity/index.js';

export type Env = Record<string, string | undefined>;

/** HOURGLASS_LISTEN overrides server.listen (host:port, or [v6]:port). */
export function applyEnvOverrides(config: HourglassConfig, env: Env): HourglassConfig {
  if (!env.HOURGLASS_LISTEN) return config;
  return { ...config, server: { ...config.server, listen: parseListenOrThrow(env.HOURGLASS_LISTEN) } };
}

/** Reads and checks a configuration file as `serve` does (and `policy validate`: the same kinds' checks), at start and at every reload. */
export function loadServeConfig(path: string, env: Env, kinds: TargetKinds = connectorFactories): HourglassConfig {
  return applyEnvOverrides(loadConfigFile(path, env, kinds), env);
}

export interface HourglassOverrides {
  /** Default: the system clock. Tests pass a ManualClock. */
  clock?: Clock;
  /** Default: createIds(clock). */
  ids?: IdGenerator;
  /** In [0, 1): jitter of retries. Default Math.random. */
  random?: () => number;
  /** Opened instead of config.server.store (a test's fresh store). */
  storeUrl?: string;
  /** Base of relative paths (SQLite store, checkpoint key and file). Default process.cwd(). */
  cwd?: string;
  /** Default: a silent logger. */
  log?: Logger;
  /** The file the configuration came from: enables reloadConfig (POST /v1/reload, SIGHUP). */
  configFile?: string;
  /** Prometheus metrics and GET /metrics. Default true. */
  metrics?: boolean;
  /** Build the HTTP server. Default true. */
  http?: boolean;
  /** Access work and webhook delivery run detached from the scheduler pass. Default true. */
  detached?: boolean;
  /** How often a live update stream (GET /v1/live) re-checks its credential. Default 25 s; tests shorten it. */
  liveKeepAliveMs?: number;
  /** Default: every kind in src/adapters/connectors/index.ts. */
  factories?: readonly ConnectorFactory[];
  /** Identity sources (docs/architecture.md, "Identity sources"). Default: the configuration's principals and API tokens. */
  directory?: Directory;
  authenticator?: Authenticator;
  /** Default: every channel in src/adapters/notifiers/index.ts. */
  channels?: readonly NotificationChannel[];
  /** Channels to people (e-mail, Slack, Teams). Default: messageChannels() of src/adapters/notifiers/index.ts. */
  messageChannels?: readonly MessageChannel[];
}

export interface HourglassSystem {
  app: Hourglass;
  /** The configuration in force (swapped by reloads; tests may `replace` it). */
  config: ReloadableConfig;
  stores: OpenedStore;
  clock: Clock;
  /** Identity use cases (src/app/identity): sessions, tokens, sign-in. */
  sessions: Sessions;
  tokens: Tokens;
  signIn: SignIn;
  /** Step-up MFA: proofs bound to what they approve, and factor enrolment. */
  stepUp: StepUp;
  mfa: MfaFactors;
  connectors: ConnectorRegistry;
  access: AccessWork;
  reconciler: Reconciler;
  webhooks: WebhookWorker;
  /** Notifications to people: fan-out and delivery, detached like webhooks. */
  notifications: WebhookWorker;
  checkpoints: CheckpointWorker;
  scheduler: Scheduler;
  /** The in-memory index /v1/check answers from (loaded by start). */
  checkIndex: CheckIndex;
  /** Loads the check index and follows changes, as `start` does (harnesses that never start the HTTP server). */
  startCheckIndex(): Promise<void>;
  registry: Registry | undefined;
  /** Absent with `http: false`. */
  server: FastifyInstance | undefined;
  /**
   * What `serve` does after building: load the checkpoint key (a bad one refuses the start), verify the audit chain since the last saved point, record
   * the start (ending access of principals the file no longer names), start the scheduler,
   * listen on server.listen, then re-verify the whole chain in the background. Returns the address.
   */
  start(): Promise<string>;
  /** Stops what start() started, in order, then closes the server, connectors and the store. */
  close(): Promise<void>;
}

/** Loads the audit checkpoint key now, so a bad key is a configuration error rather than a failing pass. */
function checkCheckpointKey(config: HourglassConfig, cwd: string, log: Logger) {
  const cp = config.audit.checkpoints;
  if (!cp) return;
  const key = loadCheckpointKey(cp, { cwd });
  log.info({ keyId: key.keyId, source: key.source }, 'audit checkpoint signing key loaded');
  for (const w of key.warnings) log.warn(w);
}

/** Grants and requests ended because their principal left the configuration. */
export function logEnded(log: Logger, ended: EndedAccess) {
  if (ended.revoked.length || ended.cancelled.length) {
    log.warn({ revoked: ended.revoked, cancelled: ended.cancelled }, 'access of principals no longer in the configuration was ended');
  }
}

export async function createHourglass(initial: HourglassConfig, env: Env, overrides: HourglassOverrides = {}): Promise<HourglassSystem> {
  const clock = overrides.clock ?? systemClock;
  const ids = overrides.ids ?? createIds(clock);
  const random = overrides.random ?? Math.random;
  const cwd = overrides.cwd ?? process.cwd();
  const log = overrides.log ?? pino({ level: 'silent' });
  const detached = overrides.detached ?? true;
  const factories = overrides.factories ?? connectorFactories;
  const configFile = overrides.configFile;

  let current = initial;
  const config: ReloadableConfig = {
    current: () => current,
    load() {
      if (!configFile) throw new Error('no configuration file to load');
      const next = loadServeConfig(configFile, env, factories);
      checkCheckpointKey(next, cwd, log); // a bad key refuses the reload instead of failing every pass
      return next;
    },
    replace(next) {
      current = next;
    },
  };

  const key = loadSecretKey(initial.credentials);
  const people = overrides.messageChannels ?? messageChannels();
  const slack = slackApi(log);
  const stores = await openStore(overrides.storeUrl ?? initial.server.store, {
    cwd,
    onCheckpointError: (err) => log.warn({ err }, 'SQLite checkpoints in the background fail: the server checkpoints in its commits until they work again'),
    onCheckpointRecovered: () => log.info({}, 'SQLite checkpoints in the background work again'),
  });
  try {
    const registry = (overrides.metrics ?? true) ? createMetricsRegistry() : undefined;
    const deps: AppDeps = {
      store: stores.store,
      clock,
      ids,
      config,
      directory: overrides.directory ?? layeredDirectory(config, stores.principals),
      ...(registry ? { metrics: createPrometheusMetrics(registry) } : {}),
      ...(key ? { sealer: secretBox(key) } : {}),
      ticketSystems,
      onCall: onCallLookup(() => config.current(), onCallSchedules, stores.principals, log),
    };
    const checkIndex = new CheckIndex(stores.store, () => clock.now(), {
      monotonic: () => performance.now(),
      pollIntervalMs: () => config.current().server.checkIndex.pollIntervalMs,
      staleAfterMs: () => config.current().server.checkIndex.staleAfterMs,
      onError: (err) => log.warn({ err: (err as Error).message }, 'the check index cannot read the store: checks are refused once it is stale'),
      onRecovered: () => log.info('the check index reads the store again'),
    });
    // A write returns once this server's index has it: whoever revoked here is never answered from before.
    stores.store.afterCommit(
      (commit) => checkIndex.take(commit),
      () => {}, // reported by the index itself, once per outage
    );
    let changeHints: ChangeHints | undefined;
    const startCheckIndex = async () => {
      if (deps.checkIndex) return;
      await checkIndex.start();
      deps.checkIndex = checkIndex;
      changeHints = stores.listenForChanges?.(
        () => checkIndex.hint(),
        (err) => log.debug({ err: err.message }, 'change notifications: connection lost, reconnecting (the check index polls meanwhile)'),
      );
    };
    const stepUp = new StepUp(deps, mfaMethods);
    deps.stepUp = stepUp; // policies that require MFA check proofs with it (src/app/step-up-gate.ts)
    const connectors = createConnectorRegistry(config, factories);
    const issued = new IssuedCredentials(deps, connectors, stores.issued);
    // Announced once started; its id is in every lease and outbox claim this server takes, for takeover if it dies.
    const presence = new Presence(stores.store, clock, `srv_${randomUUID()}`, (err) =>
      log.warn({ err: (err as Error).message }, "could not renew this server's presence: other servers may take its target work over"),
    );
    const app = new Hourglass(deps, {
      issued,
      webhooks: { store: stores.webhooks, channels: overrides.channels ?? notificationChannels, options: { random, owner: presence.id } },
      notifications: { store: stores.notifications, channels: people, principals: stores.principals, slack, options: { random, owner: presence.id } },
      checkpoints: { store: stores.checkpoints, key: configuredCheckpointKey(deps, cwd) },
      ...(configFile ? { configFile: config } : {}),
      log,
    });
    // Webhook delivery runs detached from the scheduler pass, so a slow receiver never delays expiry.
    const webhooks = webhookWorker(app.webhooks, detached ? {} : { detached: false });
    const notifications = webhookWorker(app.notifications, { name: 'notifications', ...(detached ? {} : { detached: false }) });
    const checkpoints = createCheckpointWorker(deps, stores.checkpoints, { cwd, log });
    // Access work runs detached too, each target in its own lane: a stuck target never delays expiry or other targets.
    const access = new AccessWork(deps, { connectors, random, detached, issued, owner: presence.id });
    const reconciler = new Reconciler(deps, connectors);
    const scheduler = new Scheduler(app, () => config.current().server.schedulerIntervalMs, log, [
      access,
      webhooks,
      notifications,
      checkpoints,
      reconciler,
      issued,
    ]);
    if (registry) {
      registerStateGauges(registry, {
        snapshot: stores.stateSnapshot,
        clock,
        config,
        scheduler: () => scheduler.status,
        lastVerify: () => app.audit.lastVerify,
        checkIndex: () => checkIndex.status(),
      });
    }
    const sessions = new Sessions(deps, stores.identity);
    const tokens = new Tokens(deps, stores.identity, SCOPES, () => performance.now());
    const signIn = new SignIn(deps, sessions);
    const mfa = new MfaFactors(deps, stores.mfa, mfaMethods, stepUp);
    const authenticator = overrides.authenticator ?? identityAuthenticator(tokenAuthenticator(config), sessions, tokens);
    let started = false;
    let socketMode: SlackSocketMode | undefined;
    const server =
      (overrides.http ?? true)
        ? await buildServer({
            app,
            config,
            authenticator,
            identity: { sessions, tokens },
            mfa,
            extraRoutes: [
              ...identityProviderRoutes({ deps, signIn, sessions, identity: stores.identity }),
              slackInteractionRoutes({ chat: () => app.chat, slack, config, now: () => clock.now(), log }),
            ],
            ...(overrides.log ? { logger: log } : {}),
            // Reported once started: a harness that never starts it is not "not ready".
            scheduler: () => (started ? scheduler.status : undefined),
            schedulerIntervalMs: initial.server.schedulerIntervalMs,
            serverId: presence.id,
            ...(overrides.liveKeepAliveMs !== undefined ? { liveKeepAliveMs: overrides.liveKeepAliveMs } : {}),
            ...(registry ? { metrics: { registry } } : {}),
          })
        : undefined;

    const start = async (): Promise<string> => {
      if (!server) throw new Error('createHourglass was told to build no HTTP server');
      checkCheckpointKey(config.current(), cwd, log);
      const report = await app.audit.verifyIncrementally();
      if (report.ok) log.info({ events: report.count, head: report.head }, 'audit chain verified');
      else log.error({ firstBadSeq: report.firstBadSeq, problem: report.problem }, 'AUDIT CHAIN BROKEN: the audit log was altered; investigate now');
      const policyHash = config.current().policyHash;
      const ended = await app.recordStart({ store: stores.store.dialect, policyHash, auditChainOk: report.ok });
      logEnded(log, ended);
      for (const [target, requests] of Object.entries(ended.unconfiguredTargets)) {
        log.error(
          { target, requests },
          `target ${target} is not in the configuration but holds access: its removal waits until the target is configured again`,
        );
      }
      await startCheckIndex();
      await presence.start();
      started = true;
      scheduler.start();
      // Socket Mode: Slack delivers button presses over a socket we open (read at start; a restart applies a new app token).
      const slackSettings = config.current().notifications?.slack;
      if (slackSettings?.appToken) {
        socketMode = startSlackSocketMode(
          slackSettings,
          answerPress(() => app.chat, slack, config, log),
          log,
        );
        socketMode.ready.then(
          () => log.info('Slack Socket Mode connected'),
          (err: Error) => log.error({ err: err.message }, 'Slack Socket Mode could not connect'),
        );
      }
      const { host, port } = config.current().server.listen;
      const address = await server.listen({ host, port });
      // Re-hashes the whole chain once, in the background: it catches edits below the start-up point.
      app.audit.startFullVerification().then(
        (full) => {
          if (!full) return;
          if (full.ok) log.info({ events: full.count, head: full.head }, 'audit chain fully verified');
          else
            log.error(
              { firstBadSeq: full.firstBadSeq, problem: full.problem },
              'AUDIT CHAIN BROKEN (full verification): the audit log was altered; investigate now',
            );
        },
        (err: Error) => log.error({ err: err.message }, 'full audit verification failed to run'),
      );
      return address;
    };

    const close = async () => {
      issued.stopWaiting();
      checkIndex.stop();
      await changeHints?.close();
      if (started) {
        await app.audit.stopFullVerification();
        await scheduler.stop();
        await socketMode?.stop().catch(() => {});
        await webhooks.idle();
        await notifications.idle();
        await checkpoints.flush().catch((err: Error) => log.error({ err: err.message }, 'final audit checkpoint failed'));
        await access.idle();
        await presence.stop();
      }
      await server?.close();
      await connectors.closeAll();
      await Promise.all(people.map((c) => c.close?.().catch(() => {})));
      await stores.close();
    };

    return {
      app,
      config,
      stores,
      clock,
      sessions,
      tokens,
      signIn,
      stepUp,
      mfa,
      connectors,
      access,
      reconciler,
      webhooks,
      notifications,
      checkpoints,
      scheduler,
      checkIndex,
      startCheckIndex,
      registry,
      server,
      start,
      close,
    };
  } catch (err) {
    await stores.close().catch(() => {});
    throw err;
  }
}
