// SCIM PATCH (RFC 7644 3.5.2) over the JSON representation, with what Entra ID and Okta really send;
// every result is checked back through userInput/groupInput, as the routes will.
import { describe, expect, it } from 'vitest';
import { applyPatch, MAX_OPERATIONS, MAX_VALUES_PER_OPERATION, MAX_VALUES_PER_PATCH } from '../../src/adapters/identity/scim/patch.js';
import { groupInput, groupToJson, userInput, userToJson, type ScimJson } from '../../src/adapters/identity/scim/resources.js';
import { ENTERPRISE_USER_SCHEMA, type ResourceType } from '../../src/adapters/identity/scim/schema.js';
import { ScimError } from '../../src/adapters/identity/scim/scim-error.js';

const BASE = 'https://hourglass.example/scim/v2';
const ENT = ENTERPRISE_USER_SCHEMA;
const PATCH_OP = ['urn:ietf:params:scim:api:messages:2.0:PatchOp'];

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}

// Frozen: a PATCH that wrote to its input would throw.
const USER = deepFreeze(
  userToJson(
    {
      id: 'u-1',
      externalId: 'ext-1',
      userName: 'ada@example.com',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ value: 'ada@example.com', type: 'work', primary: true }],
      active: true,
      groups: [{ value: 'g-1', display: 'Admins' }],
      created: 0,
      lastModified: 0,
      version: 1,
    },
    BASE,
  ),
);
const GROUP = deepFreeze(
  groupToJson(
    { id: 'g-1', displayName: 'Admins', members: [{ value: 'u-1', display: 'Ada' }, { value: 'u-2' }], created: 0, lastModified: 0, version: 1 },
    BASE,
  ),
);

const ops = (...Operations: unknown[]) => ({ schemas: PATCH_OP, Operations });
const patchUser = (...o: unknown[]) => applyPatch(USER, ops(...o), 'User');
const patchGroup = (...o: unknown[]) => applyPatch(GROUP, ops(...o), 'Group');
const ext = (json: ScimJson) => json[ENT] as Record<string, unknown> | undefined;

function patchError(resource: ScimJson, body: unknown, type: ResourceType = 'User'): ScimError {
  try {
    applyPatch(resource, body, type);
  } catch (e) {
    if (e instanceof ScimError) return e;
    throw e;
  }
  throw new Error('expected the PATCH to be refused');
}

describe('operations as Entra ID and Okta send them', () => {
  it('takes op names in any case and leaves the input alone', () => {
    const out = patchUser({ op: 'Replace', path: 'displayName', value: 'A' }, { op: 'ADD', path: 'title', value: 'Countess' }, { op: 'remove', path: 'title' });
    expect(out.displayName).toBe('A');
    expect(out).not.toHaveProperty('title');
    expect(USER).not.toHaveProperty('displayName');
    expect(out).not.toBe(USER);
  });

  it.each([
    ['False', false],
    ['false', false],
    ['TRUE', true],
    [false, false],
  ])('takes %j for a boolean', (value, want) => {
    const off = applyPatch(USER, ops({ op: 'Replace', path: 'active', value: false }), 'User');
    expect(applyPatch(off, ops({ op: 'Replace', path: 'active', value }), 'User').active).toBe(want);
    expect(userInput(applyPatch(off, ops({ op: 'replace', value: { active: value } }), 'User')).active).toBe(want);
  });

  it('refuses a boolean it cannot read', () => {
    expect(patchError(USER, ops({ op: 'replace', path: 'active', value: 'yes' })).scimType).toBe('invalidValue');
    expect(patchError(USER, ops({ op: 'replace', path: 'active', value: 0 })).scimType).toBe('invalidValue');
  });

  it('expands path-less values whose keys are paths', () => {
    const out = patchUser({
      op: 'Add',
      value: {
        'name.givenName': 'Augusta',
        'emails[type eq "work"].value': 'augusta@example.com',
        [`${ENT}:department`]: 'Engines',
        [`${ENT}:manager`]: 'm-1',
        title: 'Countess',
      },
    });
    expect(out.name).toEqual({ givenName: 'Augusta', familyName: 'Lovelace' });
    expect(out.emails).toEqual([{ value: 'augusta@example.com', type: 'work', primary: true }]);
    expect(ext(out)).toEqual({ department: 'Engines', manager: { value: 'm-1' } });
    expect(out.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', ENT]);
    expect(out.title).toBe('Countess');
    expect(out).not.toHaveProperty(['name.givenName']);
    expect(userInput(out)).toMatchObject({ department: 'Engines', manager: 'm-1', name: { givenName: 'Augusta' } });
  });

  it('takes a path-less extension object, and the extension URN as a path', () => {
    expect(ext(patchUser({ op: 'replace', value: { [ENT]: { employeeNumber: '7' } } }))).toEqual({ employeeNumber: '7' });
    expect(ext(patchUser({ op: 'add', path: ENT, value: { department: 'D', manager: { value: 'm' } } }))).toEqual({ department: 'D', manager: { value: 'm' } });
  });

  it('takes the manager as an id, as { value }, as a list of one, and by sub-attribute', () => {
    const manager = (...o: unknown[]) => userInput(patchUser(...o)).manager;
    expect(manager({ op: 'Add', path: `${ENT}:manager`, value: '2819c223-7f76-453a-919d-413861904646' })).toBe('2819c223-7f76-453a-919d-413861904646');
    expect(manager({ op: 'replace', path: `${ENT}:manager`, value: { value: 'm-2' } })).toBe('m-2');
    expect(manager({ op: 'Add', path: 'manager', value: [{ $ref: 'http://x/Users/m-3', value: 'm-3' }] })).toBe('m-3');
    expect(manager({ op: 'replace', path: `${ENT.toLowerCase()}:Manager.Value`, value: 'm-4' })).toBe('m-4');
  });

  it('removes the manager, and with the last extension value drops the extension schema', () => {
    const withManager = patchUser({ op: 'add', path: `${ENT}:manager`, value: 'm-1' });
    const out = applyPatch(withManager, ops({ op: 'Remove', path: `${ENT}:manager` }), 'User');
    expect(out).not.toHaveProperty([ENT]);
    expect(out.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User']);
    expect(userInput(out).manager).toBeUndefined();
  });

  it('skips attributes it does not keep, as a POST does', () => {
    const out = patchUser(
      { op: 'Add', path: 'nickName', value: 'Babs' },
      { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '555' },
      { op: 'replace', value: { password: 'secret', locale: 'en' } },
      { op: 'replace', path: 'name.middleName', value: 'M' },
    );
    expect(out).toEqual({ ...USER });
  });
});

describe('value paths', () => {
  it('replaces a sub-attribute of the matching element', () => {
    const two = patchUser({ op: 'add', path: 'emails', value: [{ value: 'ada@home.example', type: 'home' }] });
    const out = applyPatch(two, ops({ op: 'Replace', path: 'emails[type eq "home"].value', value: 'new@home.example' }), 'User');
    expect(out.emails).toEqual([
      { value: 'ada@example.com', type: 'work', primary: true },
      { value: 'new@home.example', type: 'home' },
    ]);
  });

  it('creates the element an equality filter names when none matches', () => {
    const out = patchUser({ op: 'Replace', path: 'emails[type eq "other"].value', value: 'o@example.com' });
    expect(out.emails).toEqual([
      { value: 'ada@example.com', type: 'work', primary: true },
      { type: 'other', value: 'o@example.com' },
    ]);
    const bare = applyPatch(USER, ops({ op: 'remove', path: 'emails' }), 'User');
    expect(applyPatch(bare, ops({ op: 'Add', path: 'emails[type eq "work"].value', value: 'w@example.com' }), 'User').emails).toEqual([
      { type: 'work', value: 'w@example.com' },
    ]);
  });

  it('is noTarget when no element matches a filter it cannot build from', () => {
    const e = patchError(USER, ops({ op: 'replace', path: 'emails[type eq "home" or type eq "other"].value', value: 'x@y' }));
    expect(e.scimType).toBe('noTarget');
    expect(e.detail).toMatch(/^Operations\[0\]: /);
  });

  it('replaces a matching element whole when no sub-attribute is named', () => {
    const out = patchUser({ op: 'replace', path: 'emails[type eq "work"]', value: { value: 'w2@example.com', type: 'work' } });
    expect(out.emails).toEqual([{ value: 'w2@example.com', type: 'work' }]);
  });

  it('keeps one primary value', () => {
    const out = patchUser({ op: 'add', path: 'emails', value: [{ value: 'b@example.com', type: 'home', primary: 'True' }] });
    expect(out.emails).toEqual([
      { value: 'ada@example.com', type: 'work', primary: false },
      { value: 'b@example.com', type: 'home', primary: true },
    ]);
    expect(userInput(out).emails.filter((e) => e.primary)).toHaveLength(1);
  });

  it('removes by filter and refuses a filter matching nothing', () => {
    expect(patchUser({ op: 'remove', path: 'emails[type eq "work"]' }).emails).toEqual([]);
    expect(patchUser({ op: 'remove', path: 'emails[type eq "work"].type' }).emails).toEqual([{ value: 'ada@example.com', primary: true }]);
    expect(patchError(USER, ops({ op: 'remove', path: 'emails[type eq "home"]' })).scimType).toBe('noTarget');
  });
});

describe('group members', () => {
  it('appends without duplicates', () => {
    const out = patchGroup({ op: 'Add', path: 'members', value: [{ value: 'u-2' }, { value: 'u-3', display: 'C' }, { value: 'u-3' }] });
    expect(groupInput(out).members).toEqual([{ value: 'u-1', display: 'Ada' }, { value: 'u-2' }, { value: 'u-3', display: 'C' }]);
  });

  it('tells member ids apart by case (caseExact)', () => {
    expect(groupInput(patchGroup({ op: 'add', path: 'members', value: [{ value: 'U-1' }] })).members.map((m) => m.value)).toEqual(['u-1', 'u-2', 'U-1']);
    expect(patchError(GROUP, ops({ op: 'remove', path: 'members[value eq "U-2"]' }), 'Group').scimType).toBe('noTarget');
  });

  it('removes by value filter, by a value list (Entra ID), and all', () => {
    expect(groupInput(patchGroup({ op: 'remove', path: 'members[value eq "u-2"]' })).members).toEqual([{ value: 'u-1', display: 'Ada' }]);
    expect(groupInput(patchGroup({ op: 'Remove', path: 'members', value: [{ value: 'u-1' }, { value: 'absent' }] })).members).toEqual([{ value: 'u-2' }]);
    expect(groupInput(patchGroup({ op: 'remove', path: 'members' })).members).toEqual([]);
  });

  it("replaces the whole list (Okta's full push)", () => {
    expect(groupInput(patchGroup({ op: 'replace', path: 'members', value: [{ value: 'u-9' }] })).members).toEqual([{ value: 'u-9' }]);
  });

  it('caps the values of one operation and the operations of one PATCH', () => {
    const many = Array.from({ length: MAX_VALUES_PER_OPERATION + 1 }, (_, i) => ({ value: `m-${i}` }));
    expect(patchError(GROUP, ops({ op: 'add', path: 'members', value: many }), 'Group').scimType).toBe('invalidValue');
    expect(patchGroup({ op: 'add', path: 'members', value: many.slice(1) }).members).toHaveLength(MAX_VALUES_PER_OPERATION + 2);
    const tooMany = Array.from({ length: MAX_OPERATIONS + 1 }, () => ({ op: 'add', path: 'displayName', value: 'x' }));
    expect(patchError(GROUP, ops(...tooMany), 'Group').scimType).toBe('invalidSyntax');
    const tooManyValues = Array.from({ length: 11 }, () => ({ op: 'add', path: 'members', value: many.slice(1) }));
    expect(patchError(GROUP, ops(...tooManyValues), 'Group').detail).toContain(`at most ${MAX_VALUES_PER_PATCH} values`);
  });

  it('renames with an unchanged id in the value (Okta), refuses a changed one', () => {
    expect(patchGroup({ op: 'replace', value: { id: 'g-1', displayName: 'Ops' } }).displayName).toBe('Ops');
    expect(patchError(GROUP, ops({ op: 'replace', value: { id: 'g-2', displayName: 'Ops' } }), 'Group').scimType).toBe('mutability');
  });
});

describe('refusals', () => {
  it.each([
    [{ op: 'replace', path: 'id', value: 'u-2' }, 'mutability'],
    [{ op: 'replace', path: 'meta.lastModified', value: '2026-01-01T00:00:00Z' }, 'mutability'],
    [{ op: 'add', path: 'groups', value: [{ value: 'g-2' }] }, 'mutability'],
    [{ op: 'remove', path: 'groups' }, 'mutability'],
    [{ op: 'replace', value: { meta: { version: 'W/"9"' } } }, 'mutability'],
    [{ op: 'remove', path: 'userName' }, 'invalidValue'],
    [{ op: 'replace', path: 'userName', value: null }, 'invalidValue'],
    [{ op: 'replace', path: 'userName', value: 5 }, 'invalidValue'],
    [{ op: 'add', path: 'displayName' }, 'invalidValue'],
    [{ op: 'replace', value: 'active' }, 'invalidValue'],
    [{ op: 'remove' }, 'noTarget'],
    [{ op: 'move', path: 'title' }, 'invalidSyntax'],
    [{ op: 'add', path: 'emails[type eq "work"', value: 'x' }, 'invalidPath'],
    [{ op: 'add', path: 'emails[type zz "work"].value', value: 'x' }, 'invalidPath'],
    [{ op: 'add', path: 'name[givenName eq "Ada"]', value: 'x' }, 'invalidPath'],
    [{ op: 'add', path: 'title.x', value: 'x' }, 'invalidPath'],
    [{ op: 'add', path: 'name..givenName', value: 'x' }, 'invalidPath'],
    [{ op: 'add', path: 'urn:example:custom:2.0:User:x', value: 'x' }, 'invalidPath'],
    [{ op: 'add', path: 'urn:ietf:params:scim:schemas:core:2.0:User', value: {} }, 'invalidPath'],
    [{ op: 'add', path: '', value: 'x' }, 'invalidPath'],
    [{ op: 'add', path: 7, value: 'x' }, 'invalidPath'],
  ])('%j is %s', (operation, scimType) => {
    const e = patchError(USER, ops(operation));
    expect(e.status).toBe(400);
    expect(e.scimType).toBe(scimType);
  });

  it.each([
    [{ schemas: PATCH_OP }, 'invalidSyntax'],
    [{ schemas: PATCH_OP, Operations: [] }, 'invalidSyntax'],
    [{ schemas: PATCH_OP, Operations: {} }, 'invalidSyntax'],
    [{ Operations: [{ op: 'add', path: 'title', value: 'x' }] }, 'invalidSyntax'],
    [{ schemas: PATCH_OP, Operations: ['add'] }, 'invalidSyntax'],
    ['not an object', 'invalidSyntax'],
  ])('body %j is %s', (body, scimType) => expect(patchError(USER, body).scimType).toBe(scimType));

  it('fails whole: an error in a later operation leaves nothing applied', () => {
    const before = structuredClone(USER);
    const e = patchError(USER, ops({ op: 'replace', path: 'displayName', value: 'A' }, { op: 'replace', path: 'id', value: 'x' }));
    expect(e.detail).toMatch(/^Operations\[1\]: /);
    expect(USER).toEqual(before);
  });

  it('leaves value checks it cannot make to userInput', () => {
    const out = patchUser({ op: 'replace', path: 'emails[type eq "work"].value', value: 'not an address' });
    expect(() => userInput(out)).toThrow(ScimError);
  });
});
