// identity.saml: defaults derived from server.publicUrl, and every refusal a newcomer would hit
// while connecting a SAML IdP.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MFA_CONTEXTS } from '../../src/config/sections/identity-saml.js';
import { configProblems, parseConfig } from '../support/config.js';

let dir: string;
let pem: string;
let bare: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hourglass-saml-config-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=idp'], {
    cwd: dir,
    stdio: 'ignore',
  });
  pem = readFileSync(join(dir, 'c.pem'), 'utf8');
  // What IdP metadata and the Entra portal show: the base64 alone.
  bare = pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, '');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const yaml = (entries: string, server = 'server: { publicUrl: "https://hg.example.com/" }', more = '') =>
  `${server}\nidentity:\n${more}  saml:\n${entries}\ntargets: {}\npolicies: []\n`;
const entry = (extra = '', cert = () => JSON.stringify(pem)) =>
  `    - { name: corp, idp: { entityId: "https://idp.example.com/saml", ssoUrl: "https://idp.example.com/sso", certificates: [${cert()}] }${extra} }`;

const problems = configProblems;

describe('identity.saml configuration', () => {
  it('has safe defaults, derived from server.publicUrl and the name', () => {
    const c = parseConfig(yaml(entry()));
    expect(c.identity.saml).toEqual([
      {
        name: 'corp',
        displayName: 'corp',
        idp: { entityId: 'https://idp.example.com/saml', ssoUrl: 'https://idp.example.com/sso', certificates: [pem.trim()] },
        entityId: 'https://hg.example.com/v1/auth/saml/corp/metadata',
        acsUrl: 'https://hg.example.com/v1/auth/saml/corp/acs',
        nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        attributes: {},
        clockSkewMs: 60_000,
        allowIdpInitiated: false,
        mfaContexts: DEFAULT_MFA_CONTEXTS,
      },
    ]);
    expect(DEFAULT_MFA_CONTEXTS).toContain('http://schemas.microsoft.com/claims/multipleauthn');
    expect(parseConfig('targets: {}\npolicies: []\n').identity.saml).toEqual([]);
  });

  it('reads every key', () => {
    const c = parseConfig(
      yaml(
        entry(
          ', displayName: Corp, entityId: "urn:hourglass:corp", nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", ' +
            'attributes: { principal: uid, groups: memberOf, manager: manager, displayName: cn, email: mail, authnMethods: amr }, ' +
            'clockSkew: 2m, maxAuthAge: 1h, allowIdpInitiated: true, mfaContexts: [mfa]',
          () => JSON.stringify(bare),
        ),
      ),
    ).identity.saml[0]!;
    expect(c).toMatchObject({
      displayName: 'Corp',
      entityId: 'urn:hourglass:corp',
      acsUrl: 'https://hg.example.com/v1/auth/saml/corp/acs',
      nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      attributes: { principal: 'uid', groups: 'memberOf', manager: 'manager', displayName: 'cn', email: 'mail', authnMethods: 'amr' },
      clockSkewMs: 120_000,
      maxAuthAgeMs: 3_600_000,
      allowIdpInitiated: true,
      mfaContexts: ['mfa'],
    });
    expect(c.idp.certificates).toEqual([bare]);
  });

  it('refuses what would make SAML sign-in unsafe or impossible', () => {
    expect(problems(yaml(entry(), 'server: {}'))).toEqual([expect.stringMatching(/^server\.publicUrl: is needed by identity\.saml/)]);
    expect(problems(yaml(entry(), undefined, '').replace('https://idp.example.com/sso', 'http://idp.example.com/sso'))).toEqual([
      expect.stringMatching(/idp\.ssoUrl: must be an https:\/\/ URL \(http:\/\/ only for a loopback address\)/),
    ]);
    expect(problems(yaml(entry()).replace('https://idp.example.com/sso', 'http://127.0.0.1:9000/sso'))).toEqual([]);
    expect(problems(yaml(entry('', () => '')))).toEqual([expect.stringMatching(/idp\.certificates: must list at least one signing certificate/)]);
    expect(problems(yaml(entry('', () => '"MIIBnotacert"')))).toEqual([expect.stringMatching(/idp\.certificates\[0\]: is not an X\.509 certificate/)]);
    expect(problems(yaml(entry('', () => Array(5).fill(JSON.stringify(pem)).join(', '))))).toEqual([expect.stringMatching(/at most 4 certificates/)]);
    expect(problems(yaml(`${entry()}\n${entry()}`))).toEqual([expect.stringMatching(/saml\[1\]\.name: duplicate provider name/)]);
    // A name is unique across OIDC and SAML: one login page lists both.
    const oidc = '  oidc:\n    - { name: corp, issuer: "https://login.example.com", clientId: hg, clientSecret: s3cret }\n';
    expect(problems(yaml(entry(), undefined, oidc))).toEqual([
      expect.stringMatching(/saml\[0\]\.name: duplicate provider name "?corp"? \(names are unique across/),
    ]);
    expect(problems(yaml(entry(', clockSkew: 10m')))).toEqual([expect.stringMatching(/clockSkew: must be between 0s and 5m/)]);
    expect(problems(yaml(entry(', maxAuthAge: 10s')))).toEqual([expect.stringMatching(/maxAuthAge: must be between 1m and 30d/)]);
    expect(problems(yaml(entry(', attributes: { group: memberOf }')))[0]).toMatch(/attributes.*group/);
    expect(problems(yaml(entry().replace('name: corp', 'name: Corp'))).join()).toMatch(/name: must be 1-40 characters/);
    expect(problems(yaml('    - { name: corp }'))[0]).toMatch(/saml\[0\]\.idp/);
    expect(problems(yaml('    - corp'))).toEqual([expect.stringMatching(/saml\[0\]: must be a mapping/)]);
  });
});
