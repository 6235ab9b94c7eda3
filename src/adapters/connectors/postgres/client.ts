/** How `hourglass connect` opens postgres credentials: psql, everything through libpq's variables. */
import type { ClientDescription } from '../../../app/connectors.js';

export const postgresClient: ClientDescription = {
  schemes: ['postgres'],
  otherSchemes: ['postgresql'],
  programs: ['psql'],
  debianPackage: 'postgresql-client',
  tlsOf: (c, url) => url?.searchParams.get('sslmode') ?? (typeof c.sslmode === 'string' ? c.sslmode : undefined),
  env: (p) => ({
    vars: [
      ['PGHOST', p.host],
      ['PGPORT', p.port],
      ['PGUSER', p.username],
      ['PGPASSWORD', p.password],
      ['PGDATABASE', p.database],
      ['PGSSLMODE', p.tls],
    ],
  }),
  command(p, opts) {
    // Everything through libpq's variables: psql (and pgcli, etc. with --client) read them.
    const env: Record<string, string> = {};
    const secretEnv: string[] = [];
    const unset: string[] = [];
    if (p.host) env.PGHOST = p.host;
    if (p.port !== undefined) env.PGPORT = String(p.port);
    if (p.username) env.PGUSER = p.username;
    if (p.database) env.PGDATABASE = p.database;
    if (p.password !== undefined) {
      env.PGPASSWORD = p.password;
      secretEnv.push('PGPASSWORD');
    }
    if (p.tls) env.PGSSLMODE = p.tls;
    else unset.push('PGSSLMODE', 'PGREQUIRESSL');
    if (opts.caFile) env.PGSSLROOTCERT = opts.caFile;
    // These would send the client elsewhere than the credentials say.
    unset.push('PGHOSTADDR', 'PGSERVICE');
    return { args: [], env, secretEnv, unset };
  },
};
