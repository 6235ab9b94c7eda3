/**
 * The attributes Hourglass keeps for SCIM Users and Groups, as RFC 7643 attribute definitions. One
 * source for the filter (which attributes exist, caseExact), PATCH (mutability, multiValued) and the
 * /Schemas discovery endpoint, so what we advertise is what we do. Only attributes we store are listed:
 * anything else a client sends is ignored (RFC 7643 3.1 lets a service provider drop what it does not
 * support).
 */
export type ResourceType = 'User' | 'Group';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export type AttributeType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex';
export type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
export type Returned = 'always' | 'never' | 'default' | 'request';
export type Uniqueness = 'none' | 'server' | 'global';

export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: Mutability;
  returned: Returned;
  uniqueness: Uniqueness;
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDef[];
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDef[];
}

type AttributeOptions = Partial<Omit<AttributeDef, 'name' | 'type' | 'description'>>;

function attr(name: string, type: AttributeType, description: string, opts: AttributeOptions = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...opts,
  };
}

const ref = (description: string, referenceTypes: string[], opts: AttributeOptions = {}) =>
  attr('$ref', 'reference', description, { referenceTypes, caseExact: true, ...opts });

/** RFC 7643 3.1: id, externalId and meta belong to every resource and are not listed in a Schema resource. */
export const COMMON_ATTRIBUTES: AttributeDef[] = [
  attr('id', 'string', 'Unique identifier for the resource, assigned by the service provider.', {
    caseExact: true,
    mutability: 'readOnly',
    returned: 'always',
    uniqueness: 'server',
  }),
  attr('externalId', 'string', "The provisioning client's identifier for the resource.", { caseExact: true }),
  attr('meta', 'complex', 'Resource metadata.', {
    mutability: 'readOnly',
    subAttributes: [
      attr('resourceType', 'string', 'The name of the resource type.', { caseExact: true, mutability: 'readOnly' }),
      attr('created', 'dateTime', 'When the resource was added.', { mutability: 'readOnly' }),
      attr('lastModified', 'dateTime', 'When the resource was last updated.', { mutability: 'readOnly' }),
      attr('location', 'reference', 'The URI of the resource.', { caseExact: true, mutability: 'readOnly', referenceTypes: ['uri'] }),
      attr('version', 'string', 'The weak entity tag of the resource.', { caseExact: true, mutability: 'readOnly' }),
    ],
  }),
];

export const USER_SCHEMA_DEF: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'string', 'Unique identifier for the User, used to sign in. REQUIRED.', { required: true, uniqueness: 'server' }),
    attr('name', 'complex', "The components of the user's name.", {
      subAttributes: [
        attr('formatted', 'string', 'The full name, formatted for display.'),
        attr('familyName', 'string', 'The family name.'),
        attr('givenName', 'string', 'The given name.'),
      ],
    }),
    attr('displayName', 'string', 'The name of the User, suitable for display.'),
    attr('title', 'string', "The user's title, such as 'Vice President'."),
    attr('active', 'boolean', "The User's administrative status; false ends their access."),
    attr('emails', 'complex', 'Email addresses for the User.', {
      multiValued: true,
      subAttributes: [
        attr('value', 'string', 'The email address.'),
        attr('type', 'string', "A label: 'work', 'home' or 'other'.", { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'boolean', 'Whether this is the primary address; at most one is.'),
      ],
    }),
    attr('groups', 'complex', 'The groups the User belongs to, maintained through the Group resource.', {
      multiValued: true,
      mutability: 'readOnly',
      subAttributes: [
        attr('value', 'string', 'The id of the Group.', { caseExact: true, mutability: 'readOnly' }),
        ref('The URI of the Group.', ['Group'], { mutability: 'readOnly' }),
        attr('display', 'string', "The Group's displayName.", { mutability: 'readOnly' }),
        attr('type', 'string', "'direct' or 'indirect'.", { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
      ],
    }),
  ],
};

export const ENTERPRISE_USER_SCHEMA_DEF: SchemaDef = {
  id: ENTERPRISE_USER_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('employeeNumber', 'string', 'Identifier assigned to a person by the organization.'),
    attr('department', 'string', 'The name of a department.'),
    attr('manager', 'complex', "The User's manager.", {
      subAttributes: [
        attr('value', 'string', 'The id of the manager (a SCIM User id).', { caseExact: true }),
        ref('The URI of the manager.', ['User']),
        attr('displayName', 'string', "The manager's displayName.", { mutability: 'readOnly' }),
      ],
    }),
  ],
};

export const GROUP_SCHEMA_DEF: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'string', 'A human-readable name for the Group. REQUIRED.', { required: true }),
    attr('members', 'complex', 'A list of members of the Group.', {
      multiValued: true,
      subAttributes: [
        attr('value', 'string', 'The id of the member (a SCIM User id).', { caseExact: true, mutability: 'immutable' }),
        ref('The URI of the member.', ['User'], { mutability: 'immutable' }),
        attr('display', 'string', "The member's name, for display."),
        attr('type', 'string', "The member's resource type.", { mutability: 'immutable', canonicalValues: ['User'] }),
      ],
    }),
  ],
};

export const ALL_SCHEMAS: SchemaDef[] = [USER_SCHEMA_DEF, ENTERPRISE_USER_SCHEMA_DEF, GROUP_SCHEMA_DEF];

export function coreSchema(type: ResourceType): SchemaDef {
  return type === 'User' ? USER_SCHEMA_DEF : GROUP_SCHEMA_DEF;
}

export function extensionSchemas(type: ResourceType): SchemaDef[] {
  return type === 'User' ? [ENTERPRISE_USER_SCHEMA_DEF] : [];
}

/** Where an attribute lives: `extension` is set for one kept under its schema URN in the JSON. */
export interface AttributeLocation {
  attr: AttributeDef;
  extension?: string;
}

export interface ResolvedAttribute extends AttributeLocation {
  sub?: AttributeDef;
}

const byName = (defs: AttributeDef[] | undefined, name: string) => defs?.find((d) => d.name.toLowerCase() === name.toLowerCase());

/**
 * Splits a schema URN prefix off an attribute path (RFC 7644 3.10, case-insensitive). `schema` is
 * undefined when there is no prefix, and `rest` is '' when the path is the schema URN itself (an
 * extension as a whole). A path naming an unknown URN yields null.
 */
export function splitSchemaUrn(path: string, type: ResourceType): { schema?: SchemaDef; rest: string } | null {
  if (!/^urn:/i.test(path)) return { rest: path };
  const lower = path.toLowerCase();
  for (const schema of [coreSchema(type), ...extensionSchemas(type)]) {
    const id = schema.id.toLowerCase();
    if (lower === id) return { schema, rest: '' };
    if (lower.startsWith(`${id}:`)) return { schema, rest: path.slice(id.length + 1) };
  }
  return null;
}

/**
 * Finds a top-level attribute by name, case-insensitively (RFC 7643 2.1). Without a schema the core
 * schema and the common attributes are searched, then the extensions: Entra ID's sample requests send
 * `manager` unqualified, and the names do not collide.
 */
export function findAttribute(type: ResourceType, name: string, schema?: SchemaDef): AttributeLocation | undefined {
  const core = coreSchema(type);
  if (schema === undefined || schema === core) {
    const found = byName(core.attributes, name) ?? byName(COMMON_ATTRIBUTES, name);
    if (found) return { attr: found };
    if (schema === core) return undefined;
  }
  for (const ext of schema === undefined ? extensionSchemas(type) : [schema]) {
    const found = byName(ext.attributes, name);
    if (found) return { attr: found, extension: ext.id };
  }
  return undefined;
}

export function findSubAttribute(attribute: AttributeDef, name: string): AttributeDef | undefined {
  return byName(attribute.subAttributes, name);
}

export const ATTRIBUTE_NAME = /^(?:\$ref|[A-Za-z][\w-]*)$/;

/**
 * Resolves `[urn:...:]attr[.sub]` (no value filter). Returns undefined for a well-formed path naming
 * an attribute we do not keep, and throws nothing: callers decide whether unknown is an error.
 */
export function resolveAttributePath(type: ResourceType, path: string): ResolvedAttribute | undefined {
  const split = splitSchemaUrn(path, type);
  if (split === null || split.rest === '') return undefined;
  const [name, subName, more] = split.rest.split('.');
  if (name === undefined || more !== undefined || !ATTRIBUTE_NAME.test(name)) return undefined;
  const location = findAttribute(type, name, split.schema);
  if (location === undefined) return undefined;
  if (subName === undefined) return location;
  const sub = findSubAttribute(location.attr, subName);
  return sub === undefined ? undefined : { ...location, sub };
}

/** true/false, and the strings "true"/"false" in any case, which Entra ID sends for booleans (its SCIM compliance notes). */
export function toBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const lower = v.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return undefined;
}
