/** How `hourglass connect` opens redis credentials: redis-cli, the password in REDISCLI_AUTH. */
import type { ClientDescription } from '../../../app/connectors.js';

export const redisClient: ClientDescription = {
  schemes: ['redis', 'rediss'],
  programs: ['redis-cli'],
  debianPackage: 'redis-tools',
  tlsOf: (c, url) => (c.tls === true || (typeof c.tls === 'string' && c.tls !== 'disable' && c.tls !== '') || url?.protocol === 'rediss:' ? 'on' : undefined),
  env(p) {
    const rest = [
      ...(p.host ? ['-h', p.host] : []),
      ...(p.port !== undefined ? ['-p', String(p.port)] : []),
      ...(p.username ? ['--user', p.username] : []),
      ...(p.database ? ['-n', p.database] : []),
      ...(p.tls ? ['--tls'] : []),
    ];
    return { vars: [['REDISCLI_AUTH', p.password]], then: ['redis-cli', ...rest] };
  },
  command(p, opts) {
    const args: string[] = [];
    if (p.host) args.push('-h', p.host);
    if (p.port !== undefined) args.push('-p', String(p.port));
    if (p.username) args.push('--user', p.username);
    if (p.database) args.push('-n', p.database);
    if (p.tls) args.push('--tls');
    if (opts.caFile) args.push('--cacert', opts.caFile);
    const env: Record<string, string> = p.password !== undefined ? { REDISCLI_AUTH: p.password } : {};
    return { args, env, secretEnv: Object.keys(env), unset: [] };
  },
};
