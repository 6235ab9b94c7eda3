/** `hourglass serve`: load the configuration, open the store, verify the audit chain, serve. */
import { basename } from 'node:path';
import pino, { type Logger } from 'pino';
import { Hourglass } from '../app/hourglass.js';
import type { ConfigSource } from '../app/ports.js';
import { createMetricsRegistry, createPrometheusMetrics, registerStateGauges } from '../adapters/metrics.js';
import { createWebhookWorker } from '../adapters/outbound/webhook-worker.js';
import { Scheduler } from '../adapters/scheduler.js';
import { connectorFactories, validateTargets } from '../adapters/connectors/index.js';
import { createConnectorRegistry } from '../adapters/connectors/registry.js';
import { loadSecretKey, secretBox } from '../adapters/secret-box.js';
import { AccessWork } from '../app/access-work.js';
import { Reconciler } from '../app/reconcile.js';
import { loadCheckpointKey } from '../adapters/checkpoint-key.js';
import { createCheckpointWorker } from '../adapters/store/checkpoint-store.js';
import { openStore } from '../adapters/store/open-store.js';
import { createIds, systemClock } from '../adapters/system.js';
import { loadConfigFile } from '../config/load-config.js';
import { parseListenOrThrow } from '../config/schema.js';
import type { HourglassConfig } from '../config/types.js';
import { HgError } from '../core/errors.js';
import { buildServer } from '../http/build-server.js';

export type Env = Record<string, string | undefined>;

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

/** HOURGLASS_LISTEN overrides server.listen (host:port, or [v6]:port). */
export function applyEnvOverrides(config: HourglassConfig, env: Env): HourglassConfig {
  if (!env.HOURGLASS_LISTEN) return config;
  return { ...config, server: { ...config.server, listen: parseListenOrThrow(env.HOURGLASS_LISTEN) } };
}

/** Loads the audit checkpoint key now, so a bad key is a configuration error rather than a failing pass. */
function checkCheckpointKey(config: HourglassConfig, log: Logger) {
  const cp = config.audit.checkpoints;
  if (!cp) return;
  const key = loadCheckpointKey(cp);
  log.info({ keyId: key.keyId, source: key.source }, 'audit checkpoint signing key loaded');
  for (const w of key.warnings) log.warn(w);
}

export function createLogger(env: Env): Logger {
  return pino({
    level: env.HOURGLASS_LOG_LEVEL ?? 'info',
    base: { service: 'hourglass' },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.password'], censor: '[redacted]' },
  });
}

export async function startServer(configPath: string, env: Env, log: Logger = createLogger(env)): Promise<RunningServer> {
  let config = applyEnvOverrides(loadConfigFile(configPath, env), env);
  const source: ConfigSource = { current: () => config };
  validateTargets(config);
  const key = loadSecretKey(config.credentials);
  const store = await openStore(config.server.store);
  const registry = createMetricsRegistry();
  const app = new Hourglass({
    store,
    clock: systemClock,
    ids: createIds(systemClock),
    config: source,
    metrics: createPrometheusMetrics(registry),
    ...(key ? { sealer: secretBox(key) } : {}),
  });
  const connectors = createConnectorRegistry(source, connectorFactories);

  checkCheckpointKey(config, log);
  const report = await app.audit.verifyIncrementally();
  if (report.ok) log.info({ events: report.count, head: report.head }, 'audit chain verified');
  else log.error({ firstBadSeq: report.firstBadSeq, problem: report.problem }, 'AUDIT CHAIN BROKEN: the audit log was altered; investigate now');

  const reload = async () => {
    const previousPolicyHash = config.policyHash;
    const next = applyEnvOverrides(loadConfigFile(configPath, env), env);
    checkCheckpointKey(next, log); // a bad key refuses the reload instead of failing every pass
    validateTargets(next);
    // Before the swap: a target that still holds access may not leave (app/config-change.ts).
    await app.assertSafeChange(next);
    if (next.server.store !== config.server.store || next.server.listen.port !== config.server.listen.port || next.server.listen.host !== config.server.listen.host) {
      log.warn('server.listen and server.store changes take effect at the next restart');
    }
    config = { ...next, server: { ...next.server, listen: config.server.listen, store: config.server.store } };
    log.info({ policyHash: config.policyHash, previousPolicyHash }, 'configuration reloaded');
    return { policyHash: config.policyHash, previousPolicyHash };
  };

  // Webhook delivery runs detached from the scheduler pass, so a slow receiver never delays expiry.
  const webhooks = createWebhookWorker(app.deps);
  const checkpoints = createCheckpointWorker(app.deps, undefined, { log });
  // Access work runs detached too, each target in its own lane: a stuck target never delays expiry or other targets.
  const access = new AccessWork(app.deps, { connectors, random: Math.random, detached: true });
  const reconciler = new Reconciler(app.deps, connectors);
  const scheduler = new Scheduler(app, () => config.server.schedulerIntervalMs, log, [access, webhooks, checkpoints, reconciler]);
  registerStateGauges(registry, {
    db: store.db,
    clock: systemClock,
    config: source,
    scheduler: () => scheduler.status,
    lastVerify: () => app.audit.lastVerify,
  });
  const server = await buildServer({
    app,
    config: source,
    logger: log,
    reload,
    scheduler: () => scheduler.status,
    schedulerIntervalMs: config.server.schedulerIntervalMs,
    metrics: { registry },
  });
  const started = await app.recordStart({ store: store.dialect, policyHash: config.policyHash, auditChainOk: report.ok });
  logEnded(log, started);
  for (const [target, requests] of Object.entries(started.unconfiguredTargets)) {
    log.error({ target, requests }, `target ${target} is not in the configuration but holds access: its removal waits until the target is configured again`);
  }
  scheduler.start();
  const { host, port } = config.server.listen;
  const address = await server.listen({ host, port });
  // Re-hashes the whole chain once, in the background: it catches edits below the start-up point.
  app.audit.startFullVerification().then(
    (full) => {
      if (!full) return;
      if (full.ok) log.info({ events: full.count, head: full.head }, 'audit chain fully verified');
      else log.error({ firstBadSeq: full.firstBadSeq, problem: full.problem }, 'AUDIT CHAIN BROKEN (full verification): the audit log was altered; investigate now');
    },
    (err: Error) => log.error({ err: err.message }, 'full audit verification failed to run'),
  );

  const onHup = () => {
    reload()
      .then((r) => app.recordReload('system', r.previousPolicyHash))
      .then((ended) => logEnded(log, ended))
      .catch((err: Error) => log.error({ problems: (err as HgError).details }, `reload refused, keeping the old configuration: ${err.message}`));
  };
  process.on('SIGHUP', onHup);

  return {
    url: address,
    async stop() {
      process.off('SIGHUP', onHup);
      await app.audit.stopFullVerification();
      await scheduler.stop();
      await webhooks.idle();
      await checkpoints.flush().catch((err: Error) => log.error({ err: err.message }, 'final audit checkpoint failed'));
      await server.close();
      await connectors.closeAll();
      await store.close();
    },
  };
}

/** Grants and requests ended because their principal left the configuration. */
function logEnded(log: Logger, ended: { revoked: string[]; cancelled: string[] }) {
  if (ended.revoked.length || ended.cancelled.length) {
    log.warn({ revoked: ended.revoked, cancelled: ended.cancelled }, 'access of principals no longer in the configuration was ended');
  }
}

export async function serveCommand(opts: { config?: string }, env: Env): Promise<number> {
  const path = opts.config ?? env.HOURGLASS_CONFIG;
  if (!path) {
    process.stderr.write('hourglass serve: give --config FILE (or set HOURGLASS_CONFIG)\n');
    return 2;
  }
  const log = createLogger(env);
  let running: RunningServer;
  try {
    running = await startServer(path, env, log);
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`hourglass serve: ${e.message}\n`);
    return e instanceof HgError && e.code === 'HG_CONFIG_INVALID' ? 78 : 69;
  }
  process.stderr.write(banner(running.url, path));
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      running.stop().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

function banner(url: string, configPath: string): string {
  const lines = [`\nHourglass is listening on ${url} (config ${configPath})`];
  if (basename(configPath) === 'demo.yaml') {
    lines.push(
      'Try it with the demo tokens (demo only: never use them elsewhere):',
      `  export HOURGLASS_URL=${url} HOURGLASS_TOKEN=alice-demo-token`,
      '  npx hourglass request demo-db/read --for 30m --reason "look at a slow query"   # self-service: active at once',
      '  npx hourglass request demo-db/admin --for 1h --reason "fix index" --ticket INC-42   # needs an approval',
      '  HOURGLASS_TOKEN=bob-demo-token npx hourglass requests --approvable',
      '  HOURGLASS_TOKEN=bob-demo-token npx hourglass approve <request-id>',
      '  HOURGLASS_TOKEN=app-demo-token npx hourglass check alice demo-db/admin',
      `  curl -H "Authorization: Bearer alice-demo-token" ${url}/v1/requests?mine=true`,
    );
  }
  return `${lines.join('\n')}\n\n`;
}
