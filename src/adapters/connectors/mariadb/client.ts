/** How `hourglass connect` opens mariadb credentials: the mariadb (else mysql) client, the password in MYSQL_PWD. */
import path from 'node:path';
import type { ClientDescription } from '../../../app/connectors.js';

const MYSQL_SSL_MODES: Record<string, string> = {
  disable: 'DISABLED',
  require: 'REQUIRED',
  'verify-ca': 'VERIFY_CA',
  'verify-full': 'VERIFY_IDENTITY',
};

export const mariadbClient: ClientDescription = {
  schemes: ['mysql', 'mariadb'],
  programs: ['mariadb', 'mysql'],
  debianPackage: 'mariadb-client',
  tlsOf: (c) => (typeof c.tls === 'string' && c.tls ? c.tls : c.tls === true ? 'require' : undefined),
  env(p) {
    const rest = [...(p.username ? [`--user=${p.username}`] : []), ...(p.database ? [`--database=${p.database}`] : [])];
    return {
      vars: [
        ['MYSQL_HOST', p.host],
        ['MYSQL_TCP_PORT', p.port],
        ['MYSQL_PWD', p.password],
      ],
      then: ['mariadb', '--protocol=TCP', ...rest],
    };
  },
  // Debian's mysql is often MariaDB's client, whose TLS options differ from Oracle's.
  flavorOf(program, version) {
    if (program !== 'mysql') return undefined;
    try {
      return /MariaDB/i.test(version()) ? 'mariadb' : 'mysql';
    } catch {
      return 'mysql';
    }
  },
  command(p, opts) {
    const flavor = opts.flavor ?? (path.basename(opts.program).startsWith('mysql') ? 'mysql' : 'mariadb');
    const args: string[] = [];
    // --protocol=TCP: with host "localhost" the client would otherwise use a Unix socket.
    if (p.host) args.push(`--host=${p.host}`);
    if (p.port !== undefined) args.push(`--port=${p.port}`);
    args.push('--protocol=TCP');
    if (p.username) args.push(`--user=${p.username}`);
    if (p.database) args.push(`--database=${p.database}`);
    if (p.tls) {
      if (flavor === 'mysql') args.push(`--ssl-mode=${MYSQL_SSL_MODES[p.tls] ?? 'REQUIRED'}`);
      else if (p.tls === 'disable') args.push('--skip-ssl');
      else args.push('--ssl', p.tls === 'require' ? '--skip-ssl-verify-server-cert' : '--ssl-verify-server-cert');
    }
    if (opts.caFile) args.push(`--ssl-ca=${opts.caFile}`);
    const env: Record<string, string> = p.password !== undefined ? { MYSQL_PWD: p.password } : {};
    return { args, env, secretEnv: Object.keys(env), unset: [] };
  },
};
