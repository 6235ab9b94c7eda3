/**
 * The discovery endpoints (RFC 7643 5-7, RFC 7644 4): what this server supports, said truthfully,
 * since Entra ID and Okta read it to decide what to send.
 */
import { MAX_COUNT, listResponse, type ListResponse } from './list.js';
import { ALL_SCHEMAS, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, type SchemaDef } from './schema.js';

const trimSlash = (baseUrl: string) => baseUrl.replace(/\/+$/, '');

export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_COUNT },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'A bearer token in the Authorization header, issued by Hourglass to the provisioning client.',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${trimSlash(baseUrl)}/ServiceProviderConfig` },
  };
}

function schemaResource(def: SchemaDef, baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: def.id,
    name: def.name,
    description: def.description,
    attributes: def.attributes,
    meta: { resourceType: 'Schema', location: `${trimSlash(baseUrl)}/Schemas/${def.id}` },
  };
}

export type SchemaResource = ReturnType<typeof schemaResource>;

export function schemas(baseUrl: string): ListResponse<SchemaResource> {
  const all = ALL_SCHEMAS.map((def) => schemaResource(def, baseUrl));
  return listResponse(all, all.length, 1);
}

/** For GET /Schemas/{id}; undefined for an unknown id (a 404). */
export function schemaById(baseUrl: string, id: string): SchemaResource | undefined {
  const def = ALL_SCHEMAS.find((s) => s.id.toLowerCase() === id.toLowerCase());
  return def && schemaResource(def, baseUrl);
}

const RESOURCE_TYPES = [
  {
    id: 'User',
    name: 'User',
    endpoint: '/Users',
    description: 'User Account',
    schema: USER_SCHEMA,
    schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
  },
  { id: 'Group', name: 'Group', endpoint: '/Groups', description: 'Group', schema: GROUP_SCHEMA, schemaExtensions: [] },
];

function resourceTypeResource(t: (typeof RESOURCE_TYPES)[number], baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    ...t,
    meta: { resourceType: 'ResourceType', location: `${trimSlash(baseUrl)}/ResourceTypes/${t.id}` },
  };
}

export type ResourceTypeResource = ReturnType<typeof resourceTypeResource>;

export function resourceTypes(baseUrl: string): ListResponse<ResourceTypeResource> {
  const all = RESOURCE_TYPES.map((t) => resourceTypeResource(t, baseUrl));
  return listResponse(all, all.length, 1);
}

/** For GET /ResourceTypes/{id}; undefined for an unknown id (a 404). */
export function resourceTypeById(baseUrl: string, id: string): ResourceTypeResource | undefined {
  const t = RESOURCE_TYPES.find((r) => r.id.toLowerCase() === id.toLowerCase());
  return t && resourceTypeResource(t, baseUrl);
}
