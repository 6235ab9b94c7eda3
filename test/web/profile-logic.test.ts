// The Profile page's pure logic (web/src/lib/profile.ts): the scopes match the server's and are
// explained as docs/identity.md explains them, the new-token form's checks, how sessions are
// described and ordered, the TOTP secret and QR code as shown, and the recovery codes file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCOPES } from '../../src/http/route.js';
import {
  amrText,
  describeUserAgent,
  groupSecret,
  recoveryCodesFileName,
  recoveryCodesText,
  SCOPE_INFO,
  SCOPE_ORDER,
  sessionTitle,
  sortSessions,
  sourceText,
  svgDataUri,
  TOKEN_LIFETIMES,
  tokenRequest,
} from '../../web/src/lib/profile.js';

const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36';
const SAFARI_IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const EDGE_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0';

describe('scopes', () => {
  it('are exactly the server’s, in its order, each explained as docs/identity.md’s table says', () => {
    expect(SCOPE_ORDER).toEqual([...SCOPES]);
    const doc = readFileSync(new URL('../../docs/identity.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('### Scopes'), doc.indexOf('## Machine principals'));
    const rows = Object.fromEntries([...section.matchAll(/^\| `(\w+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]!.replaceAll('`', '')]));
    expect(rows).toEqual(SCOPE_INFO);
  });
});

describe('the new-token form', () => {
  it('asks for a name and a scope; sends scopes in the server’s order and leaves the lifetime to the server when none is chosen', () => {
    expect(tokenRequest({ name: '  ', scopes: [], expiresIn: '' })).toEqual({
      ok: false,
      problems: { name: 'Give the token a name, so you know later what uses it.', scopes: 'Choose at least one scope.' },
    });
    expect(tokenRequest({ name: 'x'.repeat(101), scopes: ['read'], expiresIn: '' })).toEqual({ ok: false, problems: { name: 'At most 100 characters.' } });
    expect(tokenRequest({ name: ' ci deploy ', scopes: ['approve', 'read'], expiresIn: '' })).toEqual({
      ok: true,
      body: { name: 'ci deploy', scopes: ['read', 'approve'] },
    });
    expect(tokenRequest({ name: 'ci', scopes: ['read'], expiresIn: '7d' })).toEqual({ ok: true, body: { name: 'ci', scopes: ['read'], expiresIn: '7d' } });
  });
  it('offers lifetimes the server parses, within the default maxLifetime (90d), the default first', () => {
    expect(TOKEN_LIFETIMES[0]!.value).toBe('');
    expect(TOKEN_LIFETIMES.slice(1).map((l) => l.value)).toEqual(['1d', '7d', '30d', '90d']);
  });
});

describe('sessions', () => {
  it('name the browser and system from the User-Agent; an unknown one is shown as it is, shortened', () => {
    expect(describeUserAgent(CHROME_LINUX)).toBe('Chrome on Linux');
    expect(describeUserAgent(SAFARI_IOS)).toBe('Safari on iOS');
    expect(describeUserAgent(FIREFOX_WIN)).toBe('Firefox on Windows');
    expect(describeUserAgent(EDGE_MAC)).toBe('Edge on macOS');
    expect(describeUserAgent('hourglass-cli/0.1.0 node/20.19.2')).toBe('hourglass-cli/0.1.0 node/20.19.2');
    expect(describeUserAgent('x'.repeat(200))).toHaveLength(80);
    expect(describeUserAgent(undefined)).toBeUndefined();
    expect(sessionTitle({ client: 'browser', userAgent: CHROME_LINUX })).toBe('Browser session, Chrome on Linux');
    expect(sessionTitle({ client: 'cli' })).toBe('Command-line session');
  });
  it('say how they signed in', () => {
    expect(amrText(['pwd'])).toBe('password (pwd)');
    expect(amrText(['pwd', 'otp', 'x-custom'])).toBe('password, one-time code, x-custom (pwd, otp, x-custom)');
    expect(amrText([])).toBe('not reported');
    expect(sourceText('password')).toBe('a local password');
    expect(sourceText('corp')).toBe('corp');
  });
  it('list this session first, then the most recently seen', () => {
    const s = (id: string, lastSeenAt: string, current?: boolean) => ({ id, lastSeenAt, ...(current ? { current } : {}) });
    const sorted = sortSessions([s('a', '2026-01-01T10:00:00Z'), s('b', '2026-01-01T12:00:00Z'), s('me', '2026-01-01T09:00:00Z', true)]);
    expect(sorted.map((x) => x.id)).toEqual(['me', 'b', 'a']);
  });
});

describe('MFA', () => {
  it('groups the TOTP secret in fours for typing by hand', () => {
    expect(groupSecret('JBSWY3DPEHPK3PXPJBSWY3DP')).toBe('JBSW Y3DP EHPK 3PXP JBSW Y3DP');
    expect(groupSecret('ABCDE')).toBe('ABCD E');
  });
  it('shows the QR code as a data: image, the SVG escaped whole', () => {
    const uri = svgDataUri('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1"/></svg>#');
    expect(uri.startsWith('data:image/svg+xml;charset=utf-8,%3Csvg')).toBe(true);
    expect(decodeURIComponent(uri.slice(uri.indexOf(',') + 1))).toBe('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1"/></svg>#');
  });
  it('saves the recovery codes as a text file that says whose they are', () => {
    const text = recoveryCodesText(['aaaa-bbbb-cccc-dddd', 'eeee-ffff-gggg-hhhh'], 'alice', new Date('2026-12-03T10:00:00Z'), 'https://hg.example.com');
    expect(text.split('\n')).toEqual([
      'Hourglass recovery codes for alice',
      'https://hg.example.com, made 2026-12-03T10:00:00.000Z',
      '',
      'Each code works once, instead of your authenticator app or security key.',
      'New codes replace these; keep them somewhere safe.',
      '',
      'aaaa-bbbb-cccc-dddd',
      'eeee-ffff-gggg-hhhh',
      '',
    ]);
    expect(recoveryCodesFileName('erin@example.com')).toBe('hourglass-recovery-codes-erin@example.com.txt'.replace('@', '_'));
  });
});
