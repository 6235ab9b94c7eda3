// The SCIM representation, input validation, listing and discovery; and the request sequences Entra ID
// and Okta document sending (test/fixtures/scim), replayed through filter, PATCH and validation.
import { describe, expect, it } from 'vitest';
import { loadScimFixture, type ScimFixture } from '../support/scim-fixtures.js';
import { resourceTypes, schemaById, schemas, serviceProviderConfig } from '../../src/adapters/identity/scim/discovery.js';
import { compileFilter } from '../../src/adapters/identity/scim/filter.js';
import { listResponse, parseListQuery, project } from '../../src/adapters/identity/scim/list.js';
import { applyPatch } from '../../src/adapters/identity/scim/patch.js';
import {
  etagOf,
  groupInput,
  groupToJson,
  matchesIfMatch,
  userInput,
  userToJson,
  type ScimGroupRecord,
  type ScimJson,
  type ScimUserRecord,
} from '../../src/adapters/identity/scim/resources.js';
import { ENTERPRISE_USER_SCHEMA, type AttributeDef, type ResourceType } from '../../src/adapters/identity/scim/schema.js';
import { ScimError, scimErrorBody } from '../../src/adapters/identity/scim/scim-error.js';

const BASE = 'https://hourglass.example/scim/v2/';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

function scimError(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScimError) return e;
    throw e;
  }
  throw new Error('expected a ScimError');
}

// ---- fixtures -----------------------------------------------------------------------------------

type Fixture = ScimFixture;
const load = loadScimFixture;

function store(type: ResourceType, id: string, body: unknown, version: number): ScimJson {
  const times = { created: T0, lastModified: T0 + version * 1000, version };
  return type === 'User'
    ? userToJson({ id, ...userInput(body), groups: [], ...times } as ScimUserRecord, BASE)
    : groupToJson({ id, ...groupInput(body), ...times } as ScimGroupRecord, BASE);
}

function replay(fixture: Fixture) {
  for (const { resourceType, id, steps } of fixture.sequences) {
    describe(`${resourceType} ${id}`, () => {
      let current: ScimJson | undefined;
      let version = 0;
      for (const step of steps) {
        it(step.doc, () => {
          const { request, expect: want } = step;
          if (request.method === 'GET') {
            const q = parseListQuery(request.query ?? {});
            expect({ startIndex: q.startIndex, count: q.count }).toEqual({ startIndex: want.startIndex, count: want.count });
            const matches = current !== undefined && (q.filter === undefined || compileFilter(q.filter, resourceType)(current));
            expect(matches).toBe(want.matches);
            if (want.projected) expect(Object.keys(project(current!, q.attributes, q.excludedAttributes)).sort()).toEqual([...want.projected].sort());
            return;
          }
          if (want.error) {
            const before = structuredClone(current);
            const e = scimError(() => applyPatch(current!, request.body, resourceType));
            expect({ status: e.status, scimType: e.scimType }).toEqual(want.error);
            expect(current).toEqual(before);
            return;
          }
          version += 1;
          if (request.method === 'PATCH') {
            const before = structuredClone(current);
            const patched = applyPatch(current!, request.body, resourceType);
            expect(current).toEqual(before);
            current = store(resourceType, id, patched, version);
          } else {
            current = store(resourceType, id, request.body, version);
          }
          expect(current).toMatchObject(want.resource ?? {});
          for (const key of want.absent ?? []) expect(current).not.toHaveProperty([key]);
        });
      }
    });
  }
}

describe('Entra ID documented requests', () => {
  const fixture = load('entra-id.json');
  it('cites its sources', () => expect(fixture.source.every((s) => s.startsWith('https://learn.microsoft.com/'))).toBe(true));
  replay(fixture);
});

describe('Okta documented requests', () => {
  const fixture = load('okta.json');
  it('cites its sources', () => expect(fixture.source[0]).toMatch(/^https:\/\/developer\.okta\.com\//));
  replay(fixture);
});

// ---- representation -----------------------------------------------------------------------------

const USER: ScimUserRecord = {
  id: 'u-1',
  externalId: 'ext-1',
  userName: 'ada@example.com',
  name: { givenName: 'Ada', familyName: 'Lovelace' },
  emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
  active: true,
  department: 'Engines',
  manager: 'u-0',
  groups: [{ value: 'g-1', display: 'Admins' }],
  created: T0,
  lastModified: T0 + 60_000,
  version: 7,
};

describe('userToJson and groupToJson', () => {
  it('writes meta, the enterprise extension, references, and no nulls', () => {
    const json = userToJson(USER, BASE);
    expect(json).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE_USER_SCHEMA],
      id: 'u-1',
      externalId: 'ext-1',
      userName: 'ada@example.com',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      active: true,
      emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
      groups: [{ value: 'g-1', $ref: 'https://hourglass.example/scim/v2/Groups/g-1', display: 'Admins' }],
      [ENTERPRISE_USER_SCHEMA]: { department: 'Engines', manager: { value: 'u-0', $ref: 'https://hourglass.example/scim/v2/Users/u-0' } },
      meta: {
        resourceType: 'User',
        created: '2026-03-01T10:00:00.000Z',
        lastModified: '2026-03-01T10:01:00.000Z',
        location: 'https://hourglass.example/scim/v2/Users/u-1',
        version: 'W/"7"',
      },
    });
  });

  it('leaves the extension out when it has no values', () => {
    const json = userToJson({ ...USER, department: undefined, manager: undefined, groups: [], emails: [] }, BASE);
    expect(json.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User']);
    expect(json).not.toHaveProperty([ENTERPRISE_USER_SCHEMA]);
    expect(json).not.toHaveProperty('emails');
    expect(json).not.toHaveProperty('groups');
    expect(JSON.stringify(json)).not.toContain('null');
  });

  it('round-trips a user through userInput', () => {
    const { id: _id, groups: _groups, created: _c, lastModified: _l, version: _v, ...fields } = USER;
    expect(userInput(userToJson(USER, BASE))).toEqual(fields);
  });

  it('writes a group with its members', () => {
    const g: ScimGroupRecord = { id: 'g-1', displayName: 'Admins', members: [{ value: 'u-1', display: 'Ada' }], created: T0, lastModified: T0, version: 1 };
    expect(groupToJson(g, BASE)).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      members: [{ value: 'u-1', $ref: 'https://hourglass.example/scim/v2/Users/u-1', display: 'Ada' }],
      meta: { resourceType: 'Group', location: 'https://hourglass.example/scim/v2/Groups/g-1', version: 'W/"1"' },
    });
  });
});

// ---- validation ---------------------------------------------------------------------------------

const CORE = ['urn:ietf:params:scim:schemas:core:2.0:User'];

describe('userInput', () => {
  it('defaults active to true, takes string booleans and attribute names in any case', () => {
    expect(userInput({ schemas: CORE, userName: 'a' }).active).toBe(true);
    expect(userInput({ schemas: CORE, userName: 'a', active: 'False' }).active).toBe(false);
    expect(userInput({ SCHEMAS: CORE, USERNAME: 'a', Active: 'TRUE', Name: { GIVENNAME: 'A' } })).toMatchObject({
      userName: 'a',
      active: true,
      name: { givenName: 'A' },
    });
  });

  it('ignores attributes it does not keep and read-only ones', () => {
    const input = userInput({ schemas: CORE, userName: 'a', id: 'x', meta: {}, groups: [{ value: 'g' }], password: 'secret', nickName: 'n' });
    expect(input).toEqual({ userName: 'a', active: true, emails: [] });
  });

  it.each([
    [{ schemas: CORE }, 'invalidValue'],
    [{ schemas: CORE, userName: '   ' }, 'invalidValue'],
    [{ schemas: CORE, userName: 'x'.repeat(257) }, 'invalidValue'],
    [{ schemas: CORE, userName: 'a\nb' }, 'invalidValue'],
    [{ schemas: CORE, userName: 7 }, 'invalidValue'],
    [{ schemas: CORE, userName: 'a', active: 'yes' }, 'invalidValue'],
    [{ schemas: CORE, userName: 'a', emails: [{ value: 'not an address' }] }, 'invalidValue'],
    [
      {
        schemas: CORE,
        userName: 'a',
        emails: [
          { value: 'a@x', primary: true },
          { value: 'b@x', primary: 'True' },
        ],
      },
      'invalidValue',
    ],
    [{ schemas: [...CORE, 'urn:example:custom'], userName: 'a' }, 'invalidValue'],
    [{ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], userName: 'a' }, 'invalidValue'],
    [{ userName: 'a' }, 'invalidSyntax'],
    [{ schemas: CORE, userName: 'a', UserName: 'b' }, 'invalidSyntax'],
    [[], 'invalidSyntax'],
  ])('refuses %j (%s)', (body, scimType) => {
    const e = scimError(() => userInput(body));
    expect(e.status).toBe(400);
    expect(e.scimType).toBe(scimType);
  });

  it('accepts userName at 256 characters and the manager as an id or { value }', () => {
    expect(userInput({ schemas: CORE, userName: 'x'.repeat(256) }).userName).toHaveLength(256);
    const ext = (manager: unknown) => userInput({ schemas: [...CORE, ENTERPRISE_USER_SCHEMA], userName: 'a', [ENTERPRISE_USER_SCHEMA]: { manager } }).manager;
    expect(ext('m-1')).toBe('m-1');
    expect(ext({ value: 'm-2', $ref: 'x' })).toBe('m-2');
    expect(ext('')).toBeUndefined();
  });
});

describe('groupInput', () => {
  const G = ['urn:ietf:params:scim:schemas:core:2.0:Group'];
  it('requires displayName, drops duplicate members and refuses group members', () => {
    expect(scimError(() => groupInput({ schemas: G })).scimType).toBe('invalidValue');
    expect(
      groupInput({ schemas: G, displayName: 'd', members: [{ value: 'a' }, { value: 'a', display: 'again' }, { value: 'b', type: 'User' }] }).members,
    ).toEqual([{ value: 'a' }, { value: 'b' }]);
    expect(scimError(() => groupInput({ schemas: G, displayName: 'd', members: [{ value: 'g', type: 'Group' }] })).scimType).toBe('invalidValue');
  });
});

describe('etags', () => {
  it('compares weakly, takes * and lists, and a missing header', () => {
    expect(etagOf(3)).toBe('W/"3"');
    expect(matchesIfMatch('W/"3"', 3)).toBe(true);
    expect(matchesIfMatch('"3"', 3)).toBe(true);
    expect(matchesIfMatch('*', 3)).toBe(true);
    expect(matchesIfMatch('W/"2", W/"3"', 3)).toBe(true);
    expect(matchesIfMatch(undefined, 3)).toBe(true);
    expect(matchesIfMatch('W/"2"', 3)).toBe(false);
    expect(matchesIfMatch('3', 3)).toBe(false);
    expect(matchesIfMatch('W/"33"', 3)).toBe(false);
    expect(matchesIfMatch('', 3)).toBe(false);
  });
});

// ---- listing ------------------------------------------------------------------------------------

describe('parseListQuery and listResponse', () => {
  it('defaults, clamps and caps', () => {
    expect(parseListQuery({})).toEqual({ startIndex: 1, count: 100 });
    expect(parseListQuery({ startIndex: '0', count: '-4' })).toEqual({ startIndex: 1, count: 0 });
    expect(parseListQuery({ startIndex: '-3', count: '1000' })).toEqual({ startIndex: 1, count: 200 });
    expect(
      parseListQuery({ startIndex: '101', count: '100', filter: 'userName eq "a"', attributes: 'userName, name.givenName', excludedAttributes: '' }),
    ).toEqual({
      startIndex: 101,
      count: 100,
      filter: 'userName eq "a"',
      attributes: ['userName', 'name.givenName'],
    });
  });

  it('refuses non-integers and repeated parameters', () => {
    expect(scimError(() => parseListQuery({ count: 'ten' })).scimType).toBe('invalidValue');
    expect(scimError(() => parseListQuery({ startIndex: '1.5' })).scimType).toBe('invalidValue');
    expect(scimError(() => parseListQuery({ filter: ['a', 'b'] })).scimType).toBe('invalidValue');
  });

  it('answers integers in the envelope', () => {
    expect(listResponse([{ id: 'a' }], 5, 3)).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 5,
      startIndex: 3,
      itemsPerPage: 1,
      Resources: [{ id: 'a' }],
    });
  });
});

describe('project', () => {
  const json = userToJson(USER, BASE);
  it('returns id, schemas and meta whatever is asked', () => {
    expect(Object.keys(project(json, ['userName']))).toEqual(['schemas', 'id', 'userName', 'meta']);
    expect(project(json, undefined, ['id', 'meta', 'schemas'])).toEqual(json);
  });

  it('selects sub-attributes and extension attributes by URN, case-insensitively', () => {
    const p = project(json, ['NAME.givenName', `${ENTERPRISE_USER_SCHEMA.toUpperCase()}:department`, 'urn:ietf:params:scim:schemas:core:2.0:User:active']);
    expect(p).toMatchObject({ name: { givenName: 'Ada' }, active: true, [ENTERPRISE_USER_SCHEMA]: { department: 'Engines' } });
    expect(p.name).toEqual({ givenName: 'Ada' });
    expect(p[ENTERPRISE_USER_SCHEMA]).toEqual({ department: 'Engines' });
    expect(p).not.toHaveProperty('userName');
  });

  it('excludes attributes, sub-attributes and a whole extension', () => {
    const p = project(json, undefined, ['emails.type', 'groups', ENTERPRISE_USER_SCHEMA]);
    expect(p.emails).toEqual([{ value: 'ada@example.com', primary: true }]);
    expect(p).not.toHaveProperty('groups');
    expect(p).not.toHaveProperty([ENTERPRISE_USER_SCHEMA]);
    expect(p.userName).toBe('ada@example.com');
  });
});

// ---- discovery ----------------------------------------------------------------------------------

describe('discovery', () => {
  it('says what is supported', () => {
    expect(serviceProviderConfig(BASE)).toMatchObject({
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 200 },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: true },
      authenticationSchemes: [{ type: 'oauthbearertoken' }],
      meta: { location: 'https://hourglass.example/scim/v2/ServiceProviderConfig' },
    });
  });

  const attribute = (schemaId: string, path: string): AttributeDef => {
    const [name, sub] = path.split('.');
    const top = schemaById(BASE, schemaId)!.attributes.find((a) => a.name === name)!;
    return sub ? top.subAttributes!.find((a) => a.name === sub)! : top;
  };

  it('serves the schemas with RFC 7643 caseExact and mutability', () => {
    const list = schemas(BASE);
    expect(list.totalResults).toBe(3);
    expect(list.Resources.map((s) => s.id)).toEqual([
      'urn:ietf:params:scim:schemas:core:2.0:User',
      ENTERPRISE_USER_SCHEMA,
      'urn:ietf:params:scim:schemas:core:2.0:Group',
    ]);
    const user = 'urn:ietf:params:scim:schemas:core:2.0:User';
    expect(attribute(user, 'userName')).toMatchObject({ caseExact: false, required: true, uniqueness: 'server' });
    expect(attribute(user, 'emails.value').caseExact).toBe(false);
    expect(attribute(user, 'groups').mutability).toBe('readOnly');
    expect(attribute('urn:ietf:params:scim:schemas:core:2.0:Group', 'members.value').caseExact).toBe(true);
    expect(attribute(ENTERPRISE_USER_SCHEMA, 'manager.value').caseExact).toBe(true);
    expect(JSON.stringify(list)).not.toContain('null');
    expect(schemaById(BASE, 'urn:nope')).toBeUndefined();
  });

  it('serves the resource types', () => {
    expect(resourceTypes(BASE).Resources).toMatchObject([
      { id: 'User', endpoint: '/Users', schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }] },
      { id: 'Group', endpoint: '/Groups' },
    ]);
  });
});

describe('scimErrorBody', () => {
  it('carries the status as a string and the scimType', () => {
    expect(scimErrorBody(new ScimError(400, 'invalidFilter', 'Unknown attribute "x".'))).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      scimType: 'invalidFilter',
      detail: 'Unknown attribute "x".',
    });
    expect(scimErrorBody(new ScimError(404, undefined, 'No such User.'))).not.toHaveProperty('scimType');
  });
});
