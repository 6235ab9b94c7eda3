/**
 * The SP metadata document an administrator hands to the IdP (Entra "Upload metadata file",
 * SimpleSAMLphp saml20-sp-remote): entity id, the HTTP-POST ACS, the NameID format,
 * WantAssertionsSigned="true", and the AuthnRequest signing certificate when one is configured.
 */
import { generateServiceProviderMetadata } from '@node-saml/node-saml';

export interface SpMetadataInput {
  entityId: string;
  acsUrl: string;
  nameIdFormat: string;
  signingKeyPem?: string;
  signingCertPem?: string;
}

export function spMetadataXml(m: SpMetadataInput): string {
  return generateServiceProviderMetadata({
    issuer: m.entityId,
    callbackUrl: m.acsUrl,
    identifierFormat: m.nameIdFormat,
    wantAssertionsSigned: true,
    ...(m.signingKeyPem && m.signingCertPem ? { privateKey: m.signingKeyPem, publicCerts: m.signingCertPem, signatureAlgorithm: 'sha256' as const } : {}),
  });
}
