/**
 * The Profile page's pure logic: scopes explained, token lifetimes, how a session is described,
 * the new-token form's checks, and the text of recovery codes to save (docs/identity.md).
 */
/** The server's scopes (SCOPES in src/http/route.ts; test/web/profile-logic.test.ts checks they match). */
export type Scope = 'read' | 'request' | 'approve' | 'check' | 'agent' | 'admin';

/** What each scope reaches, as docs/identity.md ("Scopes") says. */
export const SCOPE_INFO: Record<Scope, string> = {
  read: 'every GET under /v1 except /v1/check; signing sessions and tokens out',
  request: 'submitting requests, cancel, release, extend, credentials; creating tokens',
  approve: 'approve, deny, revoke, review',
  check: 'GET /v1/check, token introspection',
  agent: 'the ssh revocation list of hourglass agent',
  admin: 'every other POST (lock, freeze, reload, redelivery, machine principals)',
};
export const SCOPE_ORDER = Object.keys(SCOPE_INFO) as Scope[];

/** The lifetimes offered; '' leaves it to identity.tokens.defaultLifetime. The server refuses one above maxLifetime. */
export const TOKEN_LIFETIMES: { value: string; label: string }[] = [
  { value: '', label: 'The server default (30 days unless configured)' },
  { value: '1d', label: '1 day' },
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
];

export interface TokenForm {
  name: string;
  scopes: readonly Scope[];
  expiresIn: string;
}

export interface TokenProblems {
  name?: string;
  scopes?: string;
}

/** The form's problems, or the body of POST /v1/tokens. */
export function tokenRequest(f: TokenForm): { ok: true; body: { name: string; scopes: Scope[]; expiresIn?: string } } | { ok: false; problems: TokenProblems } {
  const name = f.name.trim();
  const problems: TokenProblems = {};
  if (!name) problems.name = 'Give the token a name, so you know later what uses it.';
  else if (name.length > 100) problems.name = 'At most 100 characters.';
  if (f.scopes.length === 0) problems.scopes = 'Choose at least one scope.';
  if (problems.name || problems.scopes) return { ok: false, problems };
  // The server's order, whatever order they were ticked in.
  const scopes = SCOPE_ORDER.filter((s) => f.scopes.includes(s));
  return { ok: true, body: { name, scopes, ...(f.expiresIn ? { expiresIn: f.expiresIn } : {}) } };
}

/** `Chrome on Linux` from a User-Agent header; the header itself when it names no known browser (the CLI's). */
export function describeUserAgent(ua: string | undefined): string | undefined {
  if (!ua) return undefined;
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /(Chrome|Chromium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua) && /Version\//.test(ua)
          ? 'Safari'
          : undefined;
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : undefined;
  if (!browser) return ua.length > 80 ? `${ua.slice(0, 79)}…` : ua;
  return os ? `${browser} on ${os}` : browser;
}

const SOURCE_TEXT: Record<string, string> = { password: 'a local password' };

/** How a session signed in, for people: `Demo SSO (oidc)` stays the provider's name; `password` reads as a local password. */
export function sourceText(source: string): string {
  return SOURCE_TEXT[source] ?? source;
}

const AMR_TEXT: Record<string, string> = {
  pwd: 'password',
  mfa: 'multi-factor',
  otp: 'one-time code',
  hwk: 'hardware key',
  swk: 'software key',
  fpt: 'fingerprint',
  face: 'face',
  sms: 'SMS',
  pop: 'proof of possession',
};

/** The session's `amr` (RFC 8176 values) for people: `password, one-time code (pwd, otp)`; `not reported` when empty. */
export function amrText(amr: readonly string[]): string {
  if (amr.length === 0) return 'not reported';
  return `${amr.map((a) => AMR_TEXT[a] ?? a).join(', ')} (${amr.join(', ')})`;
}

/** A session's title: `Browser session` / `Command-line session`, and where it runs when known. */
export function sessionTitle(s: { client: string; userAgent?: string }): string {
  const kind = s.client === 'cli' ? 'Command-line session' : 'Browser session';
  const where = describeUserAgent(s.userAgent);
  return where ? `${kind}, ${where}` : kind;
}

/** This session first, then the most recently seen. */
export function sortSessions<T extends { current?: boolean; lastSeenAt: string }>(sessions: readonly T[]): T[] {
  return [...sessions].sort((a, b) => Number(!!b.current) - Number(!!a.current) || Date.parse(b.lastSeenAt) - Date.parse(a.lastSeenAt));
}

/** The TOTP secret in groups of four, easier to type into an app by hand; apps ignore the spaces. */
export function groupSecret(secret: string): string {
  return secret.replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

/** The QR code as an image URL: an <img> cannot run anything the SVG might carry, and the CSP allows data: images. */
export function svgDataUri(svg: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** The recovery codes as a text file to keep. */
export function recoveryCodesText(codes: readonly string[], principal: string, at: Date, origin: string): string {
  return [
    `Hourglass recovery codes for ${principal}`,
    `${origin}, made ${at.toISOString()}`,
    '',
    'Each code works once, instead of your authenticator app or security key.',
    'New codes replace these; keep them somewhere safe.',
    '',
    ...codes,
    '',
  ].join('\n');
}

export const recoveryCodesFileName = (principal: string) => `hourglass-recovery-codes-${principal.replace(/[^A-Za-z0-9._-]/g, '_')}.txt`;

export const FACTOR_KIND: Record<string, string> = { totp: 'Authenticator app', webauthn: 'Security key or passkey' };

/**
 * Why confirming an authenticator app failed. The server answers HG_MFA_FAILED both for a wrong
 * code from the new app and for a refused proof, so with a proof it cannot say which.
 */
export function confirmRefusedText(withProof: boolean): string {
  return withProof
    ? 'The code from the new app or your confirmation was not accepted. Enter the code the new app shows now and confirm again.'
    : 'That code was not accepted. Enter the code the app shows now (check the time on your phone if it keeps failing).';
}
