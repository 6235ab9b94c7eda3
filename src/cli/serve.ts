/** `hourglass serve`: read the configuration file, build everything (src/compose.ts), listen, handle signals. */
import { basename } from 'node:path';
import pino, { type Logger } from 'pino';
import { SYSTEM_PRINCIPAL } from '../app/hourglass.js';
import { applyEnvOverrides, createHourglass, loadServeConfig, logEnded, type Env } from '../compose.js';
import { HgError } from '../core/errors.js';

export { applyEnvOverrides, type Env };

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export function createLogger(env: Env): Logger {
  return pino({
    level: env.HOURGLASS_LOG_LEVEL ?? 'info',
    base: { service: 'hourglass' },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.password'], censor: '[redacted]' },
  });
}

export async function startServer(configPath: string, env: Env, log: Logger = createLogger(env)): Promise<RunningServer> {
  const hg = await createHourglass(loadServeConfig(configPath, env), env, { configFile: configPath, log });
  let url: string;
  try {
    url = await hg.start();
  } catch (err) {
    await hg.close().catch(() => {});
    throw err;
  }

  const onHup = () => {
    hg.app
      .reloadConfig(SYSTEM_PRINCIPAL)
      .then((ended) => logEnded(log, ended))
      .catch((err: Error) => log.error({ problems: (err as HgError).details }, `reload refused, keeping the old configuration: ${err.message}`));
  };
  process.on('SIGHUP', onHup);

  return {
    url,
    async stop() {
      process.off('SIGHUP', onHup);
      await hg.close();
    },
  };
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
      `Open ${url}/ in a browser: sign in as alice / alice-demo-password to ask for access, as bob / bob-demo-password to approve it.`,
      'Or try it with the demo tokens (demo only: never use them elsewhere):',
      `  export HOURGLASS_URL=${url} HOURGLASS_TOKEN=alice-demo-token`,
      '  npx hourglass request demo-db/read --for 30m --reason "look at a slow query"   # self-service: active at once',
      '  npx hourglass request demo-db/admin --for 1h --reason "fix index" --ticket INC-42   # needs an approval',
      '  HOURGLASS_TOKEN=bob-demo-token npx hourglass requests --approvable',
      '  HOURGLASS_TOKEN=bob-demo-token npx hourglass approve <request-id>',
      '  HOURGLASS_TOKEN=app-demo-token npx hourglass check alice demo-db/admin',
      '  npx hourglass request demo-api/admin --for 30m --wait && npx hourglass credentials <request-id>   # a signed API token',
      `  curl ${url}/.well-known/jwks.json                                             # the keys it verifies with`,
      '  npx hourglass request hosts/login --for 30m --ssh "$USER@localhost"   # an ssh certificate (docs/targets/ssh.md: sshd trusting the CA)',
      `  curl -H "Authorization: Bearer alice-demo-token" ${url}/v1/requests?mine=true`,
      'Try SSO: run `npm run demo:idp` in another terminal (a demo OpenID provider; it prints its accounts), then choose',
      `  "Sign in with Demo SSO" at ${url}/sign-in   # or: npx hourglass login --url ${url} --sso demo`,
    );
  }
  return `${lines.join('\n')}\n\n`;
}
