// SAML 2.0 sign-in over the real HTTP server against a real IdP (SimpleSAMLphp): the Web SSO
// flow into a cookie session, the SP metadata, the providers list, and the attacks the ACS must
// refuse (replay, login CSRF, another provider's response, tampering, open redirects, a
// principal of the configuration file), each refusal audited.
import { createHash } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityFromAssertion } from '../../src/adapters/identity/saml/attributes.js';
import type { SamlAssertion } from '../../src/adapters/identity/saml/service-provider.js';
import { createHourglass, type HourglassSystem } from '../../src/compose.js';
import { parseConfig } from '../support/config.js';
import { samlBrowserLogin, startSamlIdp, type SamlIdp, type SamlPost } from '../support/saml-idp.js';
import { freePort } from '../support/server-process.js';

const ALICE = {
  username: 'alice',
  password: 'alice-password',
  attributes: { email: ['Alice@Example.test'], groups: ['eng', 'hg-admins'], displayName: ['Alice A.'], manager: ['Bob@Example.test'] },
};
const EVE = { username: 'eve', password: 'eve-password', attributes: { email: ['eve@example.test'], groups: ['contractors'] } };
// Named like the break-glass admin of the configuration file.
const ROOT = { username: 'root', password: 'root-password', attributes: { email: ['admin@example.test'], groups: ['hg-admins'] } };

const APP_TOKEN = 'app-checker-token-0123456789';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let idp: SamlIdp;
let hg: HourglassSystem;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  idp = await startSamlIdp({ spEntityId: `${base}/v1/auth/saml/corp/metadata`, acsUrl: `${base}/v1/auth/saml/corp/acs`, users: [ALICE, EVE, ROOT] });
  const config = parseConfig(`
server: { listen: "127.0.0.1:${port}", publicUrl: "${base}", store: "sqlite::memory:" }
identity:
  roles: [{ group: hg-admins, roles: [auditor] }]
  saml:
    - name: corp
      displayName: Corp SAML
      idp:
        entityId: ${idp.entityId}
        ssoUrl: ${idp.ssoUrl}
        certificates: [${JSON.stringify(idp.certificatePem)}]
      attributes: { groups: groups, displayName: displayName, email: email, manager: manager }
    # The same IdP under another name: its entity id and ACS differ, so corp's responses are not for it.
    - name: other
      idp: { entityId: ${idp.entityId}, ssoUrl: ${idp.ssoUrl}, certificates: [${JSON.stringify(idp.certificatePem)}] }
      allowIdpInitiated: true
principals:
  - { id: admin@example.test, roles: [admin], apiTokens: [{ sha256: "${'0'.repeat(64)}" }] }
  - { id: app, roles: [checker], apiTokens: [{ sha256: "${sha256(APP_TOKEN)}" }] }
targets:
  demo-db: { type: hourglass, entitlements: { read: { description: Read the demo database } } }
policies:
  - name: eng-read
    subjects: { groups: [eng] }
    entitlements: [demo-db/read]
    maxDuration: 1h
    reason: optional
    approval: { required: 0 }
`);
  hg = await createHourglass(config, {}, { metrics: false });
  await hg.server!.listen({ host: '127.0.0.1', port });
}, 60_000);

afterAll(async () => {
  await hg?.close();
  await idp?.stop();
});

const setCookie = (res: Response, name: string): string | undefined => res.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
const pair = (line: string | undefined): string => (line ?? '').split(';')[0]!;

/** GET .../login: the IdP URL and the flow cookie (`hourglass_saml=...`). */
async function startLogin(name = 'corp', returnTo?: string) {
  const res = await fetch(`${base}/v1/auth/saml/${name}/login${returnTo !== undefined ? `?returnTo=${encodeURIComponent(returnTo)}` : ''}`, {
    redirect: 'manual',
  });
  expect(res.status).toBe(302);
  const line = setCookie(res, 'hourglass_saml');
  return { location: res.headers.get('location')!, line: line!, cookie: pair(line) };
}

/** What the IdP's auto-submit form posts, sent as a browser would (with the cookies it holds for Hourglass). */
function postAcs(post: SamlPost, cookie?: string, to = post.action): Promise<Response> {
  const body = new URLSearchParams({ SAMLResponse: post.SAMLResponse, ...(post.RelayState !== undefined ? { RelayState: post.RelayState } : {}) });
  return fetch(to, { method: 'POST', redirect: 'manual', body, headers: cookie ? { cookie } : {} });
}

/** A whole sign-in: the ACS answer, what was posted, and the flow cookie it was posted with. */
async function signIn(user: { username: string; password: string }, returnTo = '/v1/auth/session') {
  const login = await startLogin('corp', returnTo);
  const post = await samlBrowserLogin(login.location, user);
  const res = await postAcs(post, login.cookie);
  return { res, post, flowCookie: login.cookie };
}

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

const audit = async () =>
  (await hg.stores.store.listAudit({ limit: 500 })).events.map((e) => ({ type: e.type, details: e.details as Record<string, unknown> }));

const refusals = async () => (await audit()).filter((e) => e.type === 'auth.sign_in_refused' && String(e.details.provider).startsWith('saml:'));

describe('SAML sign-in', () => {
  it('signs in end to end: a session with the groups from the attribute, the principal provisioned, a policy by group applies', async () => {
    const login = await startLogin('corp', '/v1/auth/session');
    // The flow cookie: sealed, HttpOnly, scoped to this provider's routes, 10 minutes; Lax on loopback http.
    expect(login.line).toMatch(/^hourglass_saml=[\w-]{40,};/);
    expect(login.line).toContain('Path=/v1/auth/saml/corp');
    expect(login.line).toContain('HttpOnly');
    expect(login.line).toContain('SameSite=Lax');
    expect(login.line).toContain('Max-Age=600');
    expect(login.location.startsWith(`${idp.ssoUrl}?SAMLRequest=`)).toBe(true);

    const post = await samlBrowserLogin(login.location, ALICE);
    expect(post.action).toBe(`${base}/v1/auth/saml/corp/acs`);
    const res = await postAcs(post, login.cookie);
    expect(res.status, await res.clone().text()).toBe(303);
    expect(res.headers.get('location')).toBe('/v1/auth/session');
    // The flow cookie is spent, the session cookie set.
    expect(setCookie(res, 'hourglass_saml')).toContain('Max-Age=0');
    const session = setCookie(res, 'hourglass_session')!;
    expect(session).toMatch(/^hourglass_session=hgs_/);
    expect(session).toContain('HttpOnly');
    expect(session).toContain('SameSite=Lax');

    const me = await fetch(`${base}/v1/auth/session`, { headers: { cookie: pair(session) } });
    expect(me.status).toBe(200);
    const body = (await me.json()) as { principal: unknown; session: Record<string, unknown>; csrfToken: string };
    // The NameID (an e-mail) names the principal, lower-cased; groups from the attribute; roles from identity.roles.
    expect(body.principal).toEqual({ id: 'alice@example.test', groups: ['eng', 'hg-admins'], roles: ['auditor'] });
    expect(body.session).toMatchObject({ source: 'saml:corp', amr: ['pwd'] });

    const stored = await hg.stores.principals.get('alice@example.test');
    expect(stored).toMatchObject({ source: 'saml:corp', displayName: 'Alice A.', email: 'Alice@Example.test', manager: 'bob@example.test', active: true });
    const events = await audit();
    expect(events.find((e) => e.type === 'principal.provisioned')?.details).toMatchObject({ principal: 'alice@example.test', source: 'saml:corp' });
    expect(events.find((e) => e.type === 'auth.signed_in')?.details).toMatchObject({
      principal: 'alice@example.test',
      provider: 'saml:corp',
      client: 'browser',
      amr: ['pwd'],
    });

    // A policy that names the group from the assertion lets her take access, with the cookie and its CSRF token.
    const submitted = await fetch(`${base}/v1/requests`, {
      method: 'POST',
      headers: { cookie: pair(session), 'content-type': 'application/json', 'x-csrf-token': body.csrfToken },
      body: JSON.stringify({ entitlements: ['demo-db/read'], duration: '30m' }),
    });
    expect(submitted.status, await submitted.clone().text()).toBe(201);
    await expect
      .poll(async () => {
        const check = await fetch(`${base}/v1/check?principal=alice@example.test&entitlement=demo-db/read`, {
          headers: { authorization: `Bearer ${APP_TOKEN}` },
        });
        return ((await check.json()) as { allowed: boolean }).allowed;
      })
      .toBe(true);
  });

  it('serves the SP metadata with the entity id and the ACS URL, and lists SAML providers', async () => {
    const res = await fetch(`${base}/v1/auth/saml/corp/metadata`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/samlmetadata\+xml/);
    const doc = new DOMParser().parseFromString(await res.text(), 'text/xml');
    const md = 'urn:oasis:names:tc:SAML:2.0:metadata';
    expect(doc.documentElement!.localName).toBe('EntityDescriptor');
    expect(doc.documentElement!.getAttribute('entityID')).toBe(`${base}/v1/auth/saml/corp/metadata`);
    const acs = doc.getElementsByTagNameNS(md, 'AssertionConsumerService')[0]!;
    expect(acs.getAttribute('Location')).toBe(`${base}/v1/auth/saml/corp/acs`);
    expect(acs.getAttribute('Binding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(doc.getElementsByTagNameNS(md, 'SPSSODescriptor')[0]!.getAttribute('WantAssertionsSigned')).toBe('true');
    expect(doc.getElementsByTagNameNS(md, 'NameIDFormat')[0]!.textContent).toBe('urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    expect((await fetch(`${base}/v1/auth/saml/nope/metadata`)).status).toBe(404);

    const providers = await fetch(`${base}/v1/auth/providers`).then((r) => r.json());
    expect(providers).toEqual({
      providers: [
        { name: 'corp', displayName: 'Corp SAML', kind: 'saml', login: '/v1/auth/saml/corp/login' },
        { name: 'other', displayName: 'other', kind: 'saml', login: '/v1/auth/saml/other/login' },
      ],
    });
  });

  it('refuses a replayed SAMLResponse, even posted with a copy of its flow cookie', async () => {
    const first = await signIn(EVE);
    expect(first.res.status).toBe(303);
    const again = await postAcs(first.post, first.flowCookie);
    expect(again.status).toBe(401);
    const error = await errorOf(again);
    expect(error.code).toBe('HG_SIGN_IN_REFUSED');
    expect(error.message).toMatch(/used before \(replay\)/);
    expect(setCookie(again, 'hourglass_session')).toBeUndefined();
  });

  it('refuses a response posted without the flow cookie, or into another sign-in (login CSRF)', async () => {
    // The attacker signs in as themselves at the IdP and keeps the form, to auto-submit it from their site.
    const attacker = await startLogin();
    const planted = await samlBrowserLogin(attacker.location, EVE);
    // A victim with no sign-in in progress.
    const bare = await postAcs(planted);
    expect(bare.status).toBe(401);
    expect((await errorOf(bare)).message).toMatch(/no sign-in was started in this browser/);
    // A victim who started a sign-in of their own: the response answers the attacker's request.
    const victim = await startLogin();
    const crossed = await postAcs(planted, victim.cookie);
    expect(crossed.status).toBe(401);
    expect((await errorOf(crossed)).message).toMatch(/InResponseTo/);
    expect(setCookie(crossed, 'hourglass_session')).toBeUndefined();
    // A forged or expired flow cookie counts as none.
    const forged = await postAcs(planted, 'hourglass_saml=AAAA' + 'x'.repeat(60));
    expect(forged.status).toBe(401);
  });

  it('refuses a response meant for another provider, and a tampered one', async () => {
    const login = await startLogin();
    const post = await samlBrowserLogin(login.location, EVE);
    // Posted to `other` with a flow cookie of `other`: it answers another request and names another ACS and audience.
    const other = await startLogin('other');
    expect(other.line).toContain('Path=/v1/auth/saml/other');
    const wrong = await postAcs(post, other.cookie, `${base}/v1/auth/saml/other/acs`);
    expect(wrong.status).toBe(401);
    // `other` accepts unsolicited responses, yet not one that answers a request and is addressed elsewhere.
    const unsolicited = await postAcs(post, undefined, `${base}/v1/auth/saml/other/acs`);
    expect(unsolicited.status).toBe(401);
    expect((await errorOf(unsolicited)).message).toMatch(/did not make|Destination|Recipient|audience/);

    // Eve makes herself Alice, or adds a group: the signature no longer holds.
    const xml = Buffer.from(post.SAMLResponse, 'base64').toString('utf8');
    for (const changed of [xml.replaceAll('eve@example.test', 'alice@example.test'), xml.replace('>contractors<', '>hg-admins<')]) {
      expect(changed).not.toBe(xml);
      const res = await postAcs({ ...post, SAMLResponse: Buffer.from(changed).toString('base64') }, login.cookie);
      expect(res.status).toBe(401);
      expect((await errorOf(res)).message).toMatch(/not signed by a trusted identity provider key|invalid/);
    }
    // A form that is not one.
    const json = await fetch(`${base}/v1/auth/saml/corp/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: login.cookie },
      body: JSON.stringify({ SAMLResponse: post.SAMLResponse }),
    });
    expect(json.status).toBe(400);
    expect((await errorOf(json)).code).toBe('HG_INVALID_INPUT');
  });

  it('returns only to a path on this server', async () => {
    for (const target of ['//evil.example/steal', '/\\evil.example', 'https://evil.example/']) {
      const { res } = await signIn(ALICE, target);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/');
    }
  });

  it('refuses a principal of the configuration file, and audits every refusal', async () => {
    const before = (await refusals()).length;
    const { res } = await signIn(ROOT);
    expect(res.status).toBe(409);
    const error = await errorOf(res);
    expect(error.code).toBe('HG_IDENTITY_CONFLICT');
    expect(error.message).toMatch(/defined in the configuration file/);
    expect(setCookie(res, 'hourglass_session')).toBeUndefined();
    const all = await refusals();
    expect(all.length).toBe(before + 1);
    expect(all.at(-1)!.details).toMatchObject({ provider: 'saml:corp', principal: 'admin@example.test', reason: expect.stringMatching(/configuration file/) });
    // The earlier tests' refusals are there too, with their reasons.
    const reasons = all.map((e) => String(e.details.reason));
    for (const r of [/replay/, /no sign-in was started/, /InResponseTo/, /trusted identity provider key|invalid/])
      expect(
        reasons.some((x) => r.test(x)),
        String(r),
      ).toBe(true);
  });
});

describe('SAML flow cookie behind https', () => {
  it('is SameSite=None and Secure, since the IdP posts to the ACS from another site', async () => {
    const config = parseConfig(`
server: { publicUrl: "https://hourglass.example.test", store: "sqlite::memory:" }
identity:
  saml:
    - name: corp
      idp: { entityId: ${idp.entityId}, ssoUrl: ${idp.ssoUrl}, certificates: [${JSON.stringify(idp.certificatePem)}] }
targets: {}
policies: []
`);
    const secure = await createHourglass(config, {}, { metrics: false });
    try {
      const res = await secure.server!.inject({ method: 'GET', url: '/v1/auth/saml/corp/login?returnTo=/' });
      expect(res.statusCode).toBe(302);
      const line = [res.headers['set-cookie']].flat().find((l) => String(l).startsWith('hourglass_saml='))!;
      expect(line).toContain('SameSite=None');
      expect(line).toContain('Secure');
      expect(line).toContain('Path=/v1/auth/saml/corp');
      const meta = await secure.server!.inject({ method: 'GET', url: '/v1/auth/saml/corp/metadata' });
      expect(meta.body).toContain('entityID="https://hourglass.example.test/v1/auth/saml/corp/metadata"');
      expect(meta.body).toContain('Location="https://hourglass.example.test/v1/auth/saml/corp/acs"');
    } finally {
      await secure.close();
    }
  });
});

describe('from an assertion to the identity', () => {
  // Parsed in the tests: the certificate is the running IdP's.
  const settingsOf = () =>
    parseConfig(`
server: { publicUrl: "https://hg.example.test" }
identity:
  saml:
    - name: corp
      idp: { entityId: "https://idp.example.test", ssoUrl: "https://idp.example.test/sso", certificates: [${JSON.stringify(idp.certificatePem)}] }
      attributes: { principal: uid, groups: memberOf, authnMethods: "http://schemas.microsoft.com/claims/authnmethodsreferences" }
targets: {}
policies: []
`).identity.saml[0]!;
  const assertion = (over: Partial<SamlAssertion> = {}): SamlAssertion => ({
    issuer: 'https://idp.example.test',
    nameId: 'U-123',
    nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    assertionId: '_a',
    attributes: { uid: ['jdoe'], memberOf: ['eng', 'x'.repeat(300)] },
    authnContextClassRef: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
    notOnOrAfter: 0,
    ...over,
  });

  it('names the principal by the configured attribute, and records MFA from the class or the methods attribute', () => {
    const settings = settingsOf();
    expect(identityFromAssertion(settings, assertion())).toMatchObject({
      provider: 'saml:corp',
      subject: 'U-123',
      principalId: 'jdoe',
      groups: ['eng'],
      amr: ['pwd'],
    });
    const mfa = assertion({
      attributes: { uid: ['jdoe'], 'http://schemas.microsoft.com/claims/authnmethodsreferences': ['http://schemas.microsoft.com/claims/multipleauthn'] },
    });
    expect(identityFromAssertion(settings, mfa)).toMatchObject({ amr: ['mfa'], groups: [] });
    expect(identityFromAssertion(settings, assertion({ authnContextClassRef: 'https://refeds.org/profile/mfa' }))).toMatchObject({
      amr: ['mfa'],
      acr: 'https://refeds.org/profile/mfa',
    });
    expect(identityFromAssertion(settings, assertion({ authnContextClassRef: 'urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos' }))).toMatchObject({ amr: [] });
  });

  it('refuses a missing or ambiguous principal attribute', () => {
    const settings = settingsOf();
    expect(identityFromAssertion(settings, assertion({ attributes: {} }))).toMatch(/sent no uid attribute/);
    expect(identityFromAssertion(settings, assertion({ attributes: { uid: ['a', 'b'] } }))).toMatch(/several values/);
    const proto = { ...settings, attributes: { principal: 'constructor' } };
    expect(identityFromAssertion(proto, assertion())).toMatch(/sent no constructor attribute/);
  });
});
