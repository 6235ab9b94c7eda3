/**
 * A development OpenID provider for trying SSO with the demo (`npm run demo:idp`): the tests' real
 * oidc-provider (test/support/oidc-provider.ts) on http://127.0.0.1:8421, with demo accounts and the
 * client that examples/demo.yaml's `identity.oidc` provider `demo` is registered as.
 *
 * For local trying only, never production: the passwords and the client secret are well known,
 * and everything (keys, sessions) lives in memory and is gone when it stops.
 *
 * The accounts are not principals of examples/demo.yaml on purpose: principals of the file are
 * refused at IdP sign-in (HG_IDENTITY_CONFLICT), so SSO people are provisioned from the claims.
 *
 * Run with `node --import tsx/esm` (package.json does): tsx's CommonJS hook hands oidc-provider's
 * dependency generator-function a module namespace instead of its function, and start-up fails.
 */
import { pathToFileURL } from 'node:url';
import { startOidcProvider, type OidcProviderHandle, type TestAccount } from '../test/support/oidc-provider.js';

export const DEMO_IDP_PORT = 8421;
export const DEMO_HOURGLASS_URL = 'http://127.0.0.1:8420';
export const DEMO_CLIENT_ID = 'hourglass-demo';
/** Well known on purpose (it is in examples/demo.yaml too): a demo client, never a real one. */
export const DEMO_CLIENT_SECRET = 'hourglass-demo-client-secret';
/** The provider's name in examples/demo.yaml (`/v1/auth/oidc/demo/...`). */
export const DEMO_PROVIDER = 'demo';

/** Sign in at the provider with the e-mail address (preferred_username) and the password. */
export const DEMO_ACCOUNTS: readonly TestAccount[] = [
  {
    sub: 'demo-erin',
    password: 'erin-demo-password',
    claims: {
      preferred_username: 'erin@example.com',
      name: 'Erin Example',
      email: 'erin@example.com',
      email_verified: true,
      groups: ['developers'],
      manager: 'frank@example.com',
    },
    amr: ['pwd'],
  },
  {
    sub: 'demo-frank',
    password: 'frank-demo-password',
    claims: { preferred_username: 'frank@example.com', name: 'Frank Example', email: 'frank@example.com', email_verified: true, groups: ['sre-leads'] },
    // As if the IdP had asked for a second factor: the session counts as MFA for step-up.
    amr: ['pwd', 'otp'],
  },
  {
    sub: 'demo-grace',
    password: 'grace-demo-password',
    claims: {
      preferred_username: 'grace@example.com',
      name: 'Grace Example',
      email: 'grace@example.com',
      email_verified: true,
      // identity.roles in examples/demo.yaml makes this group admin.
      groups: ['hourglass-admins'],
    },
    amr: ['pwd', 'otp'],
  },
];

export interface StartDemoIdpOptions {
  /** Default 8421 (DEMO_IDP_PORT); 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where Hourglass is reached (its server.publicUrl), for the client's redirect URI. Default http://127.0.0.1:8420. */
  hourglassUrl?: string;
}

export function startDemoIdp(opts: StartDemoIdpOptions = {}): Promise<OidcProviderHandle> {
  const hourglassUrl = (opts.hourglassUrl ?? DEMO_HOURGLASS_URL).replace(/\/+$/, '');
  return startOidcProvider({
    port: opts.port ?? DEMO_IDP_PORT,
    ...(opts.host ? { host: opts.host } : {}),
    accounts: DEMO_ACCOUNTS.map((a) => ({ ...a, claims: { ...a.claims } })),
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        client_secret: DEMO_CLIENT_SECRET,
        client_name: 'Hourglass demo',
        redirect_uris: [`${hourglassUrl}/v1/auth/oidc/${DEMO_PROVIDER}/callback`],
        grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
      },
    ],
    // Sessions at the IdP last a working day, so trying things does not ask for the password each hour.
    ttl: { Session: 8 * 3600 },
  });
}

/** HOURGLASS_DEMO_IDP_PORT, or the default; a bad value is an error, not a silent default. */
export function demoIdpPort(env: NodeJS.ProcessEnv): number {
  const raw = env.HOURGLASS_DEMO_IDP_PORT;
  if (raw === undefined || raw === '') return DEMO_IDP_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`HOURGLASS_DEMO_IDP_PORT must be a port number (1-65535), got ${JSON.stringify(raw)}`);
  return port;
}

function usage(issuer: string, port: number): string {
  const hg = DEMO_HOURGLASS_URL;
  const rows = DEMO_ACCOUNTS.map((a) => {
    const groups = (a.claims.groups as string[]).join(', ');
    const manager = a.claims.manager ? `, manager ${String(a.claims.manager)}` : '';
    return `  ${String(a.claims.preferred_username).padEnd(19)} ${a.password.padEnd(21)} groups ${groups}${manager}`;
  });
  return [
    '',
    `Demo OpenID provider on ${issuer}: for trying SSO locally only, never for production.`,
    `examples/demo.yaml signs in with it as provider "${DEMO_PROVIDER}". Start Hourglass with \`npm start\` in another terminal` +
      (port === DEMO_IDP_PORT ? '.' : `, with HOURGLASS_DEMO_IDP_PORT=${port} there too.`),
    '',
    'Accounts (sign in with the e-mail address and the password):',
    ...rows,
    '  grace is an Hourglass admin: identity.roles in examples/demo.yaml gives group hourglass-admins the role admin.',
    '',
    'Sign in in a browser:',
    `  ${hg}/v1/auth/oidc/${DEMO_PROVIDER}/login?returnTo=/v1/auth/session`,
    'Sign in from the CLI (it shows a code to enter at the provider), then ask for access as erin:',
    `  npx hourglass login --url ${hg} --sso ${DEMO_PROVIDER}`,
    '  npx hourglass request demo-db/admin --for 1h --reason "fix index"   # frank (sre-leads) approves it',
    '',
    'Ctrl-C stops it.',
    '',
  ].join('\n');
}

const POLLING = new Set(['authorization_pending', 'slow_down']);

async function main(): Promise<void> {
  let idp: OidcProviderHandle;
  let port = DEMO_IDP_PORT;
  try {
    port = demoIdpPort(process.env);
    idp = await startDemoIdp({ port });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? `port ${port} is in use (is the demo IdP running already? HOURGLASS_DEMO_IDP_PORT picks another)` : e.message;
    process.stderr.write(`demo-idp: ${why}\n`);
    process.exitCode = 1;
    return;
  }
  // The provider keeps its errors quiet for tests; someone trying the demo wants to see them, but
  // not the device flow's polls before the code is entered.
  const record = idp.errors.push.bind(idp.errors);
  idp.errors.push = (...errors) => {
    for (const e of errors) {
      if (!POLLING.has(e.error)) process.stderr.write(`demo-idp: ${e.event}: ${e.error}${e.description ? ` (${e.description})` : ''}\n`);
    }
    return record(...errors);
  };
  process.stdout.write(usage(idp.issuer, port));
  const stop = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    void idp.stop().then(() => process.stdout.write('demo-idp: stopped\n'));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
