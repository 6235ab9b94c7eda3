/**
 * A SAML 2.0 service provider for one IdP: AuthnRequests over HTTP-Redirect, Responses over
 * HTTP-POST (Web Browser SSO profile).
 *
 * Split of the work with @node-saml/node-saml 5:
 * - node-saml verifies the XML signature against the configured IdP certificates and hands back
 *   only the bytes the signature covers (its defence against signature wrapping: one assertion,
 *   referenced by its enveloped signature, ID unique in the document). `wantAssertionsSigned`
 *   is on, so a Response signature over an unsigned assertion is refused; it also checks the
 *   audience.
 * - Everything else is checked here, on that verified assertion only (never on the rest of the
 *   posted document): issuer, audience again, bearer SubjectConfirmation (Recipient = ACS,
 *   NotOnOrAfter, InResponseTo), Conditions, AuthnInstant age, NameID format, and replay. Time
 *   comes from `deps.now`, because node-saml reads the system clock (its own time checks are
 *   switched off with acceptedClockSkewMs = -1). InResponseTo is compared with the request id
 *   the caller kept, not node-saml's in-memory cache, so any Hourglass server can take the POST.
 * The unsigned Response envelope is checked too (Destination, Status, Issuer, InResponseTo) as
 * defence in depth; nothing is read from it.
 */
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { SAML, SamlStatusError, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import { HgError } from '../../../core/errors.js';
import { spMetadataXml } from './metadata.js';

/** What Entra ID sends by default (the UPN) and what SimpleSAMLphp sends with `simplesaml.nameidattribute`. */
export const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
/** Configure this to accept whatever NameID format the IdP sends. */
export const NAMEID_UNSPECIFIED = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';

export interface SamlSpSettings {
  /** SP entity id; also the required Audience. */
  entityId: string;
  /** Assertion Consumer Service (HTTP-POST); the required Recipient and Destination. */
  acsUrl: string;
  /** Expected Issuer of the Response and the assertion. */
  idpEntityId: string;
  /** The IdP's HTTP-Redirect SingleSignOnService. */
  idpSsoUrl: string;
  /** Signing certificates of the IdP, PEM or bare base64 (several during a rollover). */
  idpCertificates: string[];
  /**
   * Requested in the AuthnRequest and required of the NameID (default emailAddress: Entra's
   * default and what the test IdP sends). NAMEID_UNSPECIFIED accepts any format.
   */
  nameIdFormat?: string;
  /** Tolerance on every time bound, e.g. 60_000. */
  clockSkewMs: number;
  /** When set, an AuthnInstant older than this is refused (the user must sign in again at the IdP). */
  maxAuthAgeMs?: number;
  /** Optional: sign AuthnRequests (both or neither). */
  signingKeyPem?: string;
  signingCertPem?: string;
  /** Accept unsolicited (IdP-initiated) responses when no request id is expected. Default false. */
  allowIdpInitiated?: boolean;
}

export interface ReplayGuard {
  /**
   * true the first time this id is seen; false when replayed. Must be durable in production.
   * `notOnOrAfter` (epoch ms) is when the id may be forgotten: the assertion can no longer be
   * accepted after it (clock skew already added).
   */
  firstUse(assertionId: string, notOnOrAfter: number): Promise<boolean>;
}

export interface SamlAssertion {
  issuer: string;
  nameId: string;
  nameIdFormat?: string;
  sessionIndex?: string;
  assertionId: string;
  /** Attribute Name -> values, multi-valued attributes in document order. */
  attributes: Record<string, string[]>;
  authnInstant?: number;
  authnContextClassRef?: string;
  /** Epoch ms: the earlier of Conditions and SubjectConfirmationData NotOnOrAfter. */
  notOnOrAfter: number;
  inResponseTo?: string;
}

export interface SamlServiceProvider {
  /** The URL to redirect the browser to (HTTP-Redirect binding), and the AuthnRequest id to keep bound to the browser. */
  loginRedirect(relayState: string): Promise<{ url: string; requestId: string }>;
  /** Validates a posted SAMLResponse; throws HgError('HG_SIGN_IN_REFUSED', reason) on any problem. */
  acceptPost(form: { SAMLResponse?: string; RelayState?: string }, expectedRequestId: string | undefined): Promise<SamlAssertion>;
  /** SP metadata XML. */
  metadata(): string;
}

const NS_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const NS_ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const CM_BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
/** Far above any real Response (Entra's are a few KiB, with hundreds of groups ~100 KiB). */
const MAX_RESPONSE_CHARS = 1024 * 1024;
const MAX_ATTRIBUTE_VALUES = 2000;

const refuse = (reason: string, cause?: unknown): HgError => new HgError('HG_SIGN_IN_REFUSED', reason, cause === undefined ? {} : { cause });

export function createServiceProvider(settings: SamlSpSettings, deps: { now: () => number; replay: ReplayGuard }): SamlServiceProvider {
  const s = { ...settings, nameIdFormat: settings.nameIdFormat ?? NAMEID_EMAIL };
  checkSettings(s);
  s.idpCertificates = s.idpCertificates.map(toPem);
  const base: SamlConfig = {
    issuer: s.entityId,
    callbackUrl: s.acsUrl,
    entryPoint: s.idpSsoUrl,
    idpCert: s.idpCertificates,
    idpIssuer: s.idpEntityId,
    audience: s.entityId,
    identifierFormat: s.nameIdFormat,
    wantAssertionsSigned: true,
    // Entra and SimpleSAMLphp sign the assertion, not always the Response; wantAssertionsSigned requires the assertion's own signature.
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: -1,
    validateInResponseTo: ValidateInResponseTo.never,
    // Asking for PasswordProtectedTransport (node-saml's default) makes Entra refuse (AADSTS75011) users who signed in another way.
    disableRequestedAuthnContext: true,
    ...(s.signingKeyPem && s.signingCertPem ? { privateKey: s.signingKeyPem, publicCert: s.signingCertPem, signatureAlgorithm: 'sha256' as const } : {}),
  };
  const verifier = new SAML(base);

  return {
    async loginRedirect(relayState) {
      const requestId = `_${randomBytes(20).toString('hex')}`;
      // A SAML per request is cheap and lets the caller know the id node-saml puts in the AuthnRequest.
      const url = await new SAML({ ...base, generateUniqueId: () => requestId }).getAuthorizeUrlAsync(relayState, undefined, {});
      return { url, requestId };
    },

    async acceptPost(form, expectedRequestId) {
      const raw = form.SAMLResponse;
      if (typeof raw !== 'string' || raw.length === 0) throw refuse('the form has no SAMLResponse');
      if (raw.length > MAX_RESPONSE_CHARS || !/^[A-Za-z0-9+/=\r\n]+$/.test(raw)) throw refuse('the SAMLResponse is not base64 of a reasonable size');
      const xml = Buffer.from(raw, 'base64').toString('utf8');
      // SAML never needs a DTD; refusing it rules out entity tricks before any parser sees the text.
      if (/<!DOCTYPE/i.test(xml)) throw refuse('the SAMLResponse contains a DTD');

      let verifiedAssertionXml: string;
      try {
        const { profile } = await verifier.validatePostResponseAsync({ SAMLResponse: raw });
        const assertionXml = profile?.getAssertionXml?.();
        if (!assertionXml) throw new Error('no assertion');
        verifiedAssertionXml = assertionXml;
      } catch (err) {
        throw refuse(libraryReason(err), err);
      }

      const envelope = parseXml(xml).documentElement;
      if (!envelope || !is(envelope, NS_PROTOCOL, 'Response')) throw refuse('the SAMLResponse is not a SAML Response');
      checkEnvelope(envelope, s, expectedRequestId);

      const assertion = parseXml(verifiedAssertionXml).documentElement;
      if (!assertion || !is(assertion, NS_ASSERTION, 'Assertion')) throw refuse('the signed part is not an assertion');
      const result = readAssertion(assertion, s, deps.now(), expectedRequestId);

      if (!(await deps.replay.firstUse(result.assertionId, result.notOnOrAfter + s.clockSkewMs))) throw refuse('the assertion was used before (replay)');
      return result;
    },

    metadata() {
      return spMetadataXml(s);
    },
  };
}

function checkSettings(s: SamlSpSettings & { nameIdFormat: string }): void {
  const bad = (what: string) => new HgError('HG_INVALID_INPUT', `SAML service provider: ${what}`);
  for (const [k, v] of Object.entries({ entityId: s.entityId, acsUrl: s.acsUrl, idpEntityId: s.idpEntityId, idpSsoUrl: s.idpSsoUrl })) {
    if (typeof v !== 'string' || v.length === 0) throw bad(`${k} is required`);
  }
  if (!Array.isArray(s.idpCertificates) || s.idpCertificates.length === 0) throw bad('at least one IdP certificate is required');
  s.idpCertificates.forEach((c, i) => {
    try {
      toPem(c);
    } catch {
      throw bad(`idpCertificates[${i}] is not an X.509 certificate`);
    }
  });
  if (!Number.isFinite(s.clockSkewMs) || s.clockSkewMs < 0) throw bad('clockSkewMs must be a non-negative number');
  if (s.maxAuthAgeMs !== undefined && !(s.maxAuthAgeMs > 0)) throw bad('maxAuthAgeMs must be positive');
  if (Boolean(s.signingKeyPem) !== Boolean(s.signingCertPem)) throw bad('signingKeyPem and signingCertPem go together');
}

/** PEM or bare base64 (as IdP metadata and the Entra portal show it) to a normalised PEM; throws when it is no certificate. */
function toPem(cert: string): string {
  const pem = cert.includes('-----BEGIN') ? cert : `-----BEGIN CERTIFICATE-----\n${cert.replace(/\s+/g, '')}\n-----END CERTIFICATE-----\n`;
  return new X509Certificate(pem).toString();
}

/** A short, secret-free reason for a node-saml failure (its messages can quote IdP text and audiences). */
function libraryReason(err: unknown): string {
  if (err instanceof SamlStatusError) return 'the identity provider did not sign the user in (SAML status not Success)';
  const msg = err instanceof Error ? err.message : '';
  if (/multiple assertions|more than one element|parent element|Too many signatures/i.test(msg))
    return 'the SAMLResponse has a suspicious structure (signature wrapping?)';
  if (/signature/i.test(msg)) return 'the assertion is not signed by a trusted identity provider key';
  if (/audience/i.test(msg)) return 'the assertion is not meant for this service provider (audience)';
  if (/decrypt/i.test(msg)) return 'encrypted assertions are not supported';
  if (/Missing SAML assertion|no assertion/i.test(msg)) return 'the SAMLResponse carries no assertion';
  return 'the SAMLResponse is invalid';
}

function parseXml(xml: string): Document {
  const fail = () => {
    throw refuse('the SAMLResponse is not well-formed XML');
  };
  return new DOMParser({ errorHandler: { warning: () => undefined, error: fail, fatalError: fail } }).parseFromString(xml, 'text/xml');
}

/** The unsigned outer Response: only checked, never read for the result. */
function checkEnvelope(resp: Element, s: SamlSpSettings, expectedRequestId: string | undefined): void {
  if (resp.getAttribute('Version') !== '2.0') throw refuse('the Response is not SAML 2.0');
  const destination = resp.getAttribute('Destination');
  if (destination && destination !== s.acsUrl) throw refuse('the Response is addressed to another endpoint (Destination)');
  const issuer = child(resp, NS_ASSERTION, 'Issuer');
  if (issuer && text(issuer) !== s.idpEntityId) throw refuse('the Response comes from an unexpected issuer');
  const code = child(child(resp, NS_PROTOCOL, 'Status'), NS_PROTOCOL, 'StatusCode')?.getAttribute('Value');
  if (code !== STATUS_SUCCESS) throw refuse('the identity provider did not sign the user in (SAML status not Success)');
  const inResponseTo = resp.getAttribute('InResponseTo');
  if (inResponseTo && expectedRequestId === undefined) throw refuse('the Response answers a sign-in request this browser did not make');
  if (inResponseTo && expectedRequestId !== undefined && !sameSecret(inResponseTo, expectedRequestId)) {
    throw refuse('the Response answers another sign-in request (InResponseTo)');
  }
}

/** Every check on the verified assertion, then what it says. */
function readAssertion(a: Element, s: SamlSpSettings & { nameIdFormat: string }, now: number, expectedRequestId: string | undefined): SamlAssertion {
  const skew = s.clockSkewMs;
  const assertionId = a.getAttribute('ID');
  if (!assertionId || a.getAttribute('Version') !== '2.0') throw refuse('the assertion has no ID or is not SAML 2.0');
  const issuer = text(child(a, NS_ASSERTION, 'Issuer'));
  if (issuer !== s.idpEntityId) throw refuse('the assertion comes from an unexpected issuer');
  const issueInstant = instant(a.getAttribute('IssueInstant'), 'IssueInstant');
  if (issueInstant === undefined) throw refuse('the assertion has no IssueInstant');
  if (issueInstant > now + skew) throw refuse('the assertion is not yet valid (IssueInstant in the future)');

  // Subject: the NameID and exactly one bearer confirmation for this ACS.
  const subject = child(a, NS_ASSERTION, 'Subject');
  const nameIdEl = child(subject, NS_ASSERTION, 'NameID');
  const nameId = text(nameIdEl);
  if (!nameIdEl || !nameId) throw refuse('the assertion names no subject (NameID)');
  const nameIdFormat = nameIdEl.getAttribute('Format') || undefined;
  if (s.nameIdFormat !== NAMEID_UNSPECIFIED && nameIdFormat !== s.nameIdFormat) throw refuse('the NameID has an unexpected format');
  const bearers = children(subject, NS_ASSERTION, 'SubjectConfirmation').filter((c) => c.getAttribute('Method') === CM_BEARER);
  if (bearers.length !== 1) throw refuse('the assertion needs exactly one bearer SubjectConfirmation');
  const scd = child(bearers[0], NS_ASSERTION, 'SubjectConfirmationData');
  if (!scd) throw refuse('the bearer SubjectConfirmation has no data');
  if (scd.getAttribute('Recipient') !== s.acsUrl) throw refuse('the assertion is for another endpoint (Recipient)');
  const scdNotOnOrAfter = instant(scd.getAttribute('NotOnOrAfter'), 'SubjectConfirmationData NotOnOrAfter');
  if (scdNotOnOrAfter === undefined) throw refuse('the bearer SubjectConfirmation has no NotOnOrAfter');
  checkWindow(now, skew, instant(scd.getAttribute('NotBefore'), 'SubjectConfirmationData NotBefore'), scdNotOnOrAfter);
  const inResponseTo = scd.getAttribute('InResponseTo') || undefined;
  if (expectedRequestId !== undefined) {
    if (!inResponseTo || !sameSecret(inResponseTo, expectedRequestId)) throw refuse('the assertion answers another sign-in request (InResponseTo)');
  } else if (!s.allowIdpInitiated) {
    throw refuse('unsolicited (IdP-initiated) sign-in is not allowed');
  } else if (inResponseTo) {
    // It answers a request this browser did not make: someone else's response.
    throw refuse('the assertion answers a sign-in request this browser did not make');
  }

  // Conditions: one element, time window, and every AudienceRestriction names us.
  const conditionsList = children(a, NS_ASSERTION, 'Conditions');
  if (conditionsList.length !== 1) throw refuse('the assertion needs exactly one Conditions element');
  const conditions = conditionsList[0]!;
  const condNotOnOrAfter = instant(conditions.getAttribute('NotOnOrAfter'), 'Conditions NotOnOrAfter');
  checkWindow(now, skew, instant(conditions.getAttribute('NotBefore'), 'Conditions NotBefore'), condNotOnOrAfter);
  const restrictions = children(conditions, NS_ASSERTION, 'AudienceRestriction');
  if (restrictions.length === 0 || !restrictions.every((r) => children(r, NS_ASSERTION, 'Audience').some((x) => text(x) === s.entityId))) {
    throw refuse('the assertion is not meant for this service provider (audience)');
  }

  // AuthnStatement: when and how the user signed in.
  const authn = child(a, NS_ASSERTION, 'AuthnStatement');
  if (!authn) throw refuse('the assertion has no AuthnStatement');
  const authnInstant = instant(authn.getAttribute('AuthnInstant'), 'AuthnInstant');
  if (s.maxAuthAgeMs !== undefined && (authnInstant === undefined || authnInstant < now - s.maxAuthAgeMs - skew)) {
    throw refuse('the sign-in at the identity provider is too old (AuthnInstant)');
  }
  const sessionEnd = instant(authn.getAttribute('SessionNotOnOrAfter'), 'SessionNotOnOrAfter');
  if (sessionEnd !== undefined && now - skew >= sessionEnd) throw refuse('the identity provider session has ended (SessionNotOnOrAfter)');
  const classRef = text(child(child(authn, NS_ASSERTION, 'AuthnContext'), NS_ASSERTION, 'AuthnContextClassRef')) || undefined;
  const sessionIndex = authn.getAttribute('SessionIndex') || undefined;

  return {
    issuer,
    nameId,
    ...(nameIdFormat ? { nameIdFormat } : {}),
    ...(sessionIndex ? { sessionIndex } : {}),
    assertionId,
    attributes: readAttributes(a),
    ...(authnInstant !== undefined ? { authnInstant } : {}),
    ...(classRef ? { authnContextClassRef: classRef } : {}),
    notOnOrAfter: Math.min(scdNotOnOrAfter, condNotOnOrAfter ?? scdNotOnOrAfter),
    ...(inResponseTo ? { inResponseTo } : {}),
  };
}

function checkWindow(now: number, skew: number, notBefore: number | undefined, notOnOrAfter: number | undefined): void {
  if (notBefore !== undefined && now + skew < notBefore) throw refuse('the assertion is not yet valid (NotBefore)');
  if (notOnOrAfter !== undefined && now - skew >= notOnOrAfter) throw refuse('the assertion has expired (NotOnOrAfter)');
}

function readAttributes(a: Element): Record<string, string[]> {
  const out = new Map<string, string[]>();
  let count = 0;
  for (const statement of children(a, NS_ASSERTION, 'AttributeStatement')) {
    for (const attr of children(statement, NS_ASSERTION, 'Attribute')) {
      const name = attr.getAttribute('Name');
      if (!name) continue;
      const values = out.get(name) ?? [];
      for (const v of children(attr, NS_ASSERTION, 'AttributeValue')) {
        // Complex values (child elements) are not strings: skipped rather than flattened.
        if (children(v).length > 0) continue;
        if (++count > MAX_ATTRIBUTE_VALUES) throw refuse('the assertion carries too many attribute values');
        values.push(v.textContent ?? '');
      }
      out.set(name, values);
    }
  }
  // fromEntries defines own properties, so a Name of "__proto__" cannot touch the prototype.
  return Object.fromEntries(out);
}

/** xs:dateTime with a time zone, to epoch ms; absent is undefined, malformed is refused. */
function instant(v: string | null, what: string): number | undefined {
  if (!v) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw refuse(`the assertion has a malformed ${what}`);
  return ms;
}

const sameSecret = (a: string, b: string): boolean => {
  const h = (x: string) => createHash('sha256').update(x, 'utf8').digest();
  return timingSafeEqual(h(a), h(b));
};

const is = (el: Element, ns: string, localName: string): boolean => el.namespaceURI === ns && el.localName === localName;

function children(el: Element | undefined, ns?: string, localName?: string): Element[] {
  const out: Element[] = [];
  if (!el) return out;
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (ns === undefined || localName === undefined || is(n as Element, ns, localName))) out.push(n as Element);
  }
  return out;
}

const child = (el: Element | undefined, ns: string, localName: string): Element | undefined => children(el, ns, localName)[0];

const text = (el: Element | undefined): string => (el?.textContent ?? '').trim();
