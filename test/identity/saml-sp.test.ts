// The SAML service provider against a real IdP (SimpleSAMLphp): the Web SSO flow end to end, and
// every way a posted SAMLResponse must be refused (replay, InResponseTo, audience, recipient,
// issuer, time, tampering, signature wrapping, unknown keys, response-only signatures).
import { execFileSync } from 'node:child_process';
import { createVerify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHgError } from '../../src/core/errors.js';
import { createServiceProvider, type ReplayGuard, type SamlAssertion, type SamlSpSettings } from '../../src/adapters/identity/saml/service-provider.js';
import { samlBrowserLogin, startSamlIdp, type SamlIdp, type SamlPost } from '../support/saml-idp.js';

const SP_ENTITY = 'https://hourglass.test/v1/auth/saml/corp/metadata';
const ACS = 'https://hourglass.test/v1/auth/saml/corp/acs';
const IDP_ENTITY = 'https://idp.corp.test/saml';
const SKEW = 60_000;
const ALICE = {
  username: 'alice',
  password: 'alice-password',
  attributes: { email: ['alice@example.test'], groups: ['eng', 'hg-admins', 'oncall'], displayName: ['Alice A.'] },
};
const USERS = [ALICE];

/** An in-memory ReplayGuard; production backs it by the store. */
function memoryGuard(): ReplayGuard & { seen: Map<string, number> } {
  const seen = new Map<string, number>();
  return {
    seen,
    async firstUse(id, notOnOrAfter) {
      if (seen.has(id)) return false;
      seen.set(id, notOnOrAfter);
      return true;
    },
  };
}

let idp: SamlIdp; // signs assertions (like Entra's default)
let idpNewKey: SamlIdp; // same entity id, another key, signs Response and assertion: a key rollover
let idpResponseOnly: SamlIdp; // signs only the Response, never the assertion

beforeAll(async () => {
  const base = { spEntityId: SP_ENTITY, acsUrl: ACS, users: USERS, entityId: IDP_ENTITY };
  [idp, idpNewKey, idpResponseOnly] = await Promise.all([
    startSamlIdp(base),
    startSamlIdp({ ...base, signResponse: true }),
    startSamlIdp({ ...base, signAssertion: false, signResponse: true }),
  ]);
});

afterAll(async () => {
  await Promise.all([idp?.stop(), idpNewKey?.stop(), idpResponseOnly?.stop()]);
});

function settings(over: Partial<SamlSpSettings> = {}, from: SamlIdp = idp): SamlSpSettings {
  return {
    entityId: SP_ENTITY,
    acsUrl: ACS,
    idpEntityId: IDP_ENTITY,
    idpSsoUrl: from.ssoUrl,
    idpCertificates: [from.certificatePem],
    clockSkewMs: SKEW,
    ...over,
  };
}

function makeSp(over: Partial<SamlSpSettings> = {}, deps: { now?: () => number; replay?: ReplayGuard } = {}, from: SamlIdp = idp) {
  return createServiceProvider(settings(over, from), { now: deps.now ?? (() => Date.now()), replay: deps.replay ?? memoryGuard() });
}

/** A full sign-in at `from` through the SP's redirect: what the browser would post, and the request id. */
async function signIn(from: SamlIdp = idp, relayState = 'rs-1'): Promise<{ post: SamlPost; requestId: string }> {
  const { url, requestId } = await makeSp({}, {}, from).loginRedirect(relayState);
  return { post: await samlBrowserLogin(url, ALICE), requestId };
}

const decode = (post: SamlPost) => Buffer.from(post.SAMLResponse, 'base64').toString('utf8');
const withXml = (post: SamlPost, xml: string): SamlPost => ({ ...post, SAMLResponse: Buffer.from(xml, 'utf8').toString('base64') });
const attr = (xml: string, element: string, name: string): string => {
  const m = new RegExp(`<saml:${element}\\b[^>]*\\b${name}="([^"]+)"`).exec(xml);
  if (!m?.[1]) throw new Error(`no ${element}/@${name} in the response`);
  return m[1];
};
const timeOf = (xml: string, element: string, name: string) => Date.parse(attr(xml, element, name));

async function refused(p: Promise<unknown>, reason: RegExp): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the SAMLResponse to be refused').toBeDefined();
  expect(isHgError(err) && err.code).toBe('HG_SIGN_IN_REFUSED');
  expect((err as Error).message).toMatch(reason);
  return err as Error;
}

describe('SAML SP: the happy path', () => {
  it('redirects with an AuthnRequest, signs in at the IdP and accepts the posted assertion', async () => {
    const guard = memoryGuard();
    const sp = makeSp({}, { replay: guard });
    const { url, requestId } = await sp.loginRedirect('relay-123');

    const u = new URL(url);
    expect(`${u.origin}${u.pathname}`).toBe(idp.ssoUrl);
    expect(u.searchParams.get('RelayState')).toBe('relay-123');
    const request = inflateRawSync(Buffer.from(u.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
    expect(request).toContain(`ID="${requestId}"`);
    expect(request).toContain(`AssertionConsumerServiceURL="${ACS}"`);
    expect(request).toContain(`Destination="${idp.ssoUrl}"`);
    expect(request).toContain(`>${SP_ENTITY}</saml:Issuer>`);
    expect(request).toContain('Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"');
    expect(request).not.toContain('RequestedAuthnContext');

    const post = await samlBrowserLogin(url, ALICE);
    expect(post.action).toBe(ACS);
    expect(post.RelayState).toBe('relay-123');

    const before = Date.now();
    const a: SamlAssertion = await sp.acceptPost(post, requestId);
    expect(a.issuer).toBe(IDP_ENTITY);
    expect(a.nameId).toBe('alice@example.test');
    expect(a.nameIdFormat).toBe('urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    expect(a.attributes).toEqual({ email: ['alice@example.test'], groups: ['eng', 'hg-admins', 'oncall'], displayName: ['Alice A.'] });
    expect(a.sessionIndex).toMatch(/^_/);
    expect(a.assertionId).toMatch(/^_/);
    expect(a.inResponseTo).toBe(requestId);
    expect(a.authnContextClassRef).toBe('urn:oasis:names:tc:SAML:2.0:ac:classes:Password');
    expect(a.authnInstant).toBeGreaterThan(before - 120_000);
    expect(a.authnInstant).toBeLessThanOrEqual(before + 5_000);
    expect(a.notOnOrAfter).toBeGreaterThan(before);
    // The guard keeps the id until the assertion can no longer be accepted anywhere.
    expect(guard.seen.get(a.assertionId)).toBe(a.notOnOrAfter + SKEW);
  });

  it('accepts a Response signed as a whole when the assertion inside is signed too', async () => {
    const { post, requestId } = await signIn(idpNewKey);
    expect(decode(post).match(/<ds:Signature[\s>]/g)).toHaveLength(2);
    const a = await makeSp({}, {}, idpNewKey).acceptPost(post, requestId);
    expect(a.nameId).toBe('alice@example.test');
  });

  it('signs AuthnRequests when a key is configured, and says so in its metadata', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hourglass-saml-sp-key-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'sp.key', '-out', 'sp.crt', '-days', '1', '-subj', '/CN=sp'], {
        cwd: dir,
        stdio: 'ignore',
      });
      const signingKeyPem = readFileSync(join(dir, 'sp.key'), 'utf8');
      const signingCertPem = readFileSync(join(dir, 'sp.crt'), 'utf8');
      const sp = makeSp({ signingKeyPem, signingCertPem });
      const { url, requestId } = await sp.loginRedirect('rs');
      const q = new URL(url).search.slice(1);
      const params = new URLSearchParams(q);
      expect(params.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      const signed = q
        .split('&')
        .filter((p) => !p.startsWith('Signature='))
        .join('&');
      expect(
        createVerify('RSA-SHA256')
          .update(signed)
          .verify(signingCertPem, params.get('Signature') ?? '', 'base64'),
      ).toBe(true);
      // The IdP still signs the user in (it does not require signed requests).
      const a = await sp.acceptPost(await samlBrowserLogin(url, ALICE), requestId);
      expect(a.nameId).toBe('alice@example.test');

      const md = new DOMParser().parseFromString(sp.metadata(), 'text/xml');
      const sso = md.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:metadata', 'SPSSODescriptor')[0];
      expect(sso?.getAttribute('AuthnRequestsSigned')).toBe('true');
      const key = md.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:metadata', 'KeyDescriptor')[0];
      expect(key?.getAttribute('use')).toBe('signing');
      expect(key?.textContent?.replace(/\s+/g, '')).toBe(signingCertPem.replace(/-----[A-Z ]+-----|\s+/g, ''));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SAML SP: metadata', () => {
  it('is XML naming the entity id, the POST ACS, the NameID format and WantAssertionsSigned', () => {
    const xml = makeSp().metadata();
    const errors: string[] = [];
    const doc = new DOMParser({ errorHandler: (_level, msg) => errors.push(msg) }).parseFromString(xml, 'text/xml');
    expect(errors).toEqual([]);
    const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
    const root = doc.documentElement;
    expect(root?.namespaceURI).toBe(MD);
    expect(root?.localName).toBe('EntityDescriptor');
    expect(root?.getAttribute('entityID')).toBe(SP_ENTITY);
    const sso = doc.getElementsByTagNameNS(MD, 'SPSSODescriptor')[0];
    expect(sso?.getAttribute('WantAssertionsSigned')).toBe('true');
    expect(sso?.getAttribute('protocolSupportEnumeration')).toBe('urn:oasis:names:tc:SAML:2.0:protocol');
    const acs = doc.getElementsByTagNameNS(MD, 'AssertionConsumerService')[0];
    expect(acs?.getAttribute('Binding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(acs?.getAttribute('Location')).toBe(ACS);
    expect(doc.getElementsByTagNameNS(MD, 'NameIDFormat')[0]?.textContent).toBe('urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    expect(doc.getElementsByTagNameNS(MD, 'KeyDescriptor')).toHaveLength(0);
  });
});

describe('SAML SP: replay and InResponseTo', () => {
  it('refuses the same SAMLResponse the second time, also at another server sharing the guard', async () => {
    const guard = memoryGuard();
    const { post, requestId } = await signIn();
    await makeSp({}, { replay: guard }).acceptPost(post, requestId);
    await refused(makeSp({}, { replay: guard }).acceptPost(post, requestId), /replay/);
  });

  it('refuses a response to another request', async () => {
    const { post } = await signIn();
    const other = (await makeSp().loginRedirect('x')).requestId;
    await refused(makeSp().acceptPost(post, other), /InResponseTo/);
  });

  it('refuses a solicited response when this browser expects none (lost or stolen cookie), even with IdP-initiated allowed', async () => {
    const { post } = await signIn();
    await refused(makeSp().acceptPost(post, undefined), /did not make/);
    await refused(makeSp({ allowIdpInitiated: true }).acceptPost(post, undefined), /did not make/);
  });

  it('refuses an IdP-initiated response by default and accepts it when allowed', async () => {
    const start = `${idp.ssoUrl}?spentityid=${encodeURIComponent(SP_ENTITY)}`;
    const post = await samlBrowserLogin(start, ALICE);
    expect(decode(post)).not.toContain('InResponseTo=');
    await refused(makeSp().acceptPost(post, undefined), /unsolicited/);
    await refused(makeSp().acceptPost(post, '_some-request'), /InResponseTo/);
    const a = await makeSp({ allowIdpInitiated: true }).acceptPost(post, undefined);
    expect(a.nameId).toBe('alice@example.test');
    expect(a.inResponseTo).toBeUndefined();
  });
});

describe('SAML SP: audience, recipient, issuer', () => {
  it('refuses an assertion for another audience (SP configured with another entity id)', async () => {
    const { post, requestId } = await signIn();
    await refused(makeSp({ entityId: 'https://other.test/metadata' }).acceptPost(post, requestId), /audience/);
  });

  it('refuses a response for another ACS, by the Destination and, with that stripped, by the signed Recipient', async () => {
    const { post, requestId } = await signIn();
    const sp = makeSp({ acsUrl: 'https://other.test/acs' });
    await refused(sp.acceptPost(post, requestId), /Destination/);
    const noDestination = withXml(post, decode(post).replace(/ Destination="[^"]*"/, ''));
    await refused(sp.acceptPost(noDestination, requestId), /Recipient/);
  });

  it('refuses another issuer, by the Response Issuer and, with that stripped, by the signed assertion Issuer', async () => {
    const { post, requestId } = await signIn();
    const sp = makeSp({ idpEntityId: 'https://evil.test/saml' });
    await refused(sp.acceptPost(post, requestId), /issuer/);
    const xml = decode(post);
    const envelopeIssuer = `<saml:Issuer>${IDP_ENTITY}</saml:Issuer>`;
    const stripped = xml.replace(envelopeIssuer, ''); // the first one: the Response's
    expect(stripped.split(envelopeIssuer)).toHaveLength(2);
    await refused(sp.acceptPost(withXml(post, stripped), requestId), /assertion comes from an unexpected issuer/);
  });
});

describe('SAML SP: time, with the clock from deps.now', () => {
  it('accepts up to NotOnOrAfter + skew and refuses after it', async () => {
    const { post, requestId } = await signIn();
    const xml = decode(post);
    const notOnOrAfter = Math.min(timeOf(xml, 'Conditions', 'NotOnOrAfter'), timeOf(xml, 'SubjectConfirmationData', 'NotOnOrAfter'));
    await refused(makeSp({}, { now: () => notOnOrAfter + SKEW }).acceptPost(post, requestId), /expired/);
    const a = await makeSp({}, { now: () => notOnOrAfter + SKEW - 1 }).acceptPost(post, requestId);
    expect(a.notOnOrAfter).toBe(notOnOrAfter);
  });

  it('refuses an assertion not yet valid', async () => {
    const { post, requestId } = await signIn();
    const notBefore = timeOf(decode(post), 'Conditions', 'NotBefore');
    await refused(makeSp({}, { now: () => notBefore - SKEW - 1 }).acceptPost(post, requestId), /not yet valid/);
    await refused(makeSp({ clockSkewMs: 0 }, { now: () => notBefore - 1 }).acceptPost(post, requestId), /not yet valid/);
  });

  it('refuses an AuthnInstant older than maxAuthAgeMs', async () => {
    const { post, requestId } = await signIn();
    const authnInstant = timeOf(decode(post), 'AuthnStatement', 'AuthnInstant');
    const settingsOver = { clockSkewMs: 0, maxAuthAgeMs: 1_000 };
    await refused(makeSp(settingsOver, { now: () => authnInstant + 1_001 }).acceptPost(post, requestId), /too old/);
    const a = await makeSp(settingsOver, { now: () => authnInstant + 1_000 }).acceptPost(post, requestId);
    expect(a.authnInstant).toBe(authnInstant);
  });
});

describe('SAML SP: tampering and signature wrapping', () => {
  it('refuses a changed attribute value in the signed assertion', async () => {
    const { post, requestId } = await signIn();
    const xml = decode(post);
    const tampered = xml.replace('>oncall</saml:AttributeValue>', '>hg-superusers</saml:AttributeValue>');
    expect(tampered).not.toBe(xml);
    await refused(makeSp().acceptPost(withXml(post, tampered), requestId), /not signed by a trusted/);
  });

  it('refuses the assertion with its signature stripped', async () => {
    const { post, requestId } = await signIn();
    const stripped = decode(post).replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '');
    expect(stripped).not.toContain('ds:Signature');
    await refused(makeSp().acceptPost(withXml(post, stripped), requestId), /not signed by a trusted/);
  });

  /** The signed assertion, and an evil copy naming mallory (new ID, same signature element, so the signed one is still referenced by ID). */
  function evilTwin(xml: string) {
    const signed = /<saml:Assertion\b[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0];
    if (!signed) throw new Error('no assertion');
    const evil = signed.replace(/ ID="[^"]+"/, ' ID="_evil"').replace(/>alice@example\.test</g, '>mallory@example.test<');
    expect(evil).toContain('mallory@example.test');
    return { signed, evil };
  }

  const wrappings: [string, (xml: string) => string][] = [
    [
      'an evil assertion before the signed one',
      (xml) => {
        const { signed, evil } = evilTwin(xml);
        return xml.replace(signed, evil.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '') + signed);
      },
    ],
    [
      'the signed assertion moved inside the unsigned evil one',
      (xml) => {
        const { signed, evil } = evilTwin(xml);
        const unsigned = evil.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, '');
        return xml.replace(signed, unsigned.replace('</saml:Subject>', `</saml:Subject>${signed}`));
      },
    ],
    [
      'the signed assertion moved into the evil one, which keeps the signature element',
      (xml) => {
        const { signed, evil } = evilTwin(xml);
        return xml.replace(signed, evil.replace(/<\/saml:Assertion>$/, `${signed}</saml:Assertion>`));
      },
    ],
    [
      'the signed assertion hidden in samlp:Extensions',
      (xml) => {
        const { signed, evil } = evilTwin(xml);
        return xml.replace(signed, evil).replace('<samlp:Status>', `<samlp:Extensions>${signed}</samlp:Extensions><samlp:Status>`);
      },
    ],
  ];

  for (const [name, wrap] of wrappings) {
    it(`refuses XML signature wrapping: ${name}, and never returns the evil NameID`, async () => {
      const { post, requestId } = await signIn();
      const wrapped = wrap(decode(post));
      expect(wrapped).toContain('mallory@example.test');
      const sp = makeSp({}, {}, idp);
      const result = await sp.acceptPost(withXml(post, wrapped), requestId).then(
        (a) => a,
        (e: unknown) => e,
      );
      expect(JSON.stringify(result)).not.toContain('mallory');
      expect(isHgError(result) && result.code).toBe('HG_SIGN_IN_REFUSED');
      expect((result as Error).message).not.toContain('mallory');
      expect((result as Error).message).toMatch(/suspicious structure|not signed by a trusted/);
    });
  }

  it('refuses malformed input without echoing it', async () => {
    const sp = makeSp();
    await refused(sp.acceptPost({}, '_r'), /no SAMLResponse/);
    await refused(sp.acceptPost({ SAMLResponse: 'not base64 !' }, '_r'), /base64/);
    await refused(sp.acceptPost({ SAMLResponse: Buffer.from('<samlp:Response').toString('base64') }, '_r'), /invalid|well-formed/);
    const dtd = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>';
    await refused(sp.acceptPost({ SAMLResponse: Buffer.from(dtd).toString('base64') }, '_r'), /DTD/);
  });
});

describe('SAML SP: keys', () => {
  it('refuses a response signed by a key that is not configured', async () => {
    const { post, requestId } = await signIn(idpNewKey);
    await refused(makeSp({}, {}, idp).acceptPost(post, requestId), /not signed by a trusted/);
  });

  it('during a rollover accepts either configured key, in either order', async () => {
    const both = [idp.certificatePem, idpNewKey.certificatePem];
    for (const from of [idp, idpNewKey]) {
      for (const idpCertificates of [both, [...both].reverse()]) {
        const { post, requestId } = await signIn(from);
        const a = await makeSp({ idpCertificates }, {}, from).acceptPost(post, requestId);
        expect(a.nameId).toBe('alice@example.test');
      }
    }
  });

  it('accepts certificates as bare base64 too', async () => {
    // As the Entra portal and metadata show it: base64 only, here wrapped at 76 columns with spaces.
    const bare = (idp.certificatePem.replace(/-----[A-Z ]+-----|\s+/g, '').match(/.{1,76}/g) ?? []).join('\n  ');
    const { post, requestId } = await signIn();
    expect((await makeSp({ idpCertificates: [bare] }).acceptPost(post, requestId)).nameId).toBe('alice@example.test');
  });

  it('refuses a signed Response whose assertion is unsigned (wantAssertionsSigned)', async () => {
    const { post, requestId } = await signIn(idpResponseOnly);
    const xml = decode(post);
    expect(xml.match(/<ds:Signature[\s>]/g)).toHaveLength(1);
    expect(xml.indexOf('<ds:Signature ')).toBeLessThan(xml.indexOf('<saml:Assertion'));
    await refused(makeSp({}, {}, idpResponseOnly).acceptPost(post, requestId), /not signed by a trusted/);
  });

  it('refuses settings without a usable IdP certificate', () => {
    expect(() => makeSp({ idpCertificates: [] })).toThrow(/at least one IdP certificate/);
    expect(() => makeSp({ idpCertificates: ['bm90IGEgY2VydA=='] })).toThrow(/idpCertificates\[0\]/);
  });
});

describe('the SimpleSAMLphp harness', () => {
  it('refuses a wrong password, and stop() ends the server and removes its directory', async () => {
    const own = await startSamlIdp({ spEntityId: SP_ENTITY, acsUrl: ACS, users: USERS });
    try {
      expect(own.metadataXml).toContain(`entityID="${own.entityId}"`);
      const { url } = await makeSp({ idpEntityId: own.entityId }, {}, own).loginRedirect('rs');
      await expect(samlBrowserLogin(url, { username: 'alice', password: 'wrong' })).rejects.toThrow(/sign-in refused at the IdP/);
    } finally {
      await own.stop();
    }
    expect(existsSync(own.dir)).toBe(false);
    await expect(fetch(own.ssoUrl)).rejects.toThrow();
    await own.stop(); // idempotent
  });
});
