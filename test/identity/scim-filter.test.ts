// SCIM filters (RFC 7644 3.4.2.2) over the JSON userToJson/groupToJson produce: case rules from the
// schema (RFC 7643 caseExact), types, URN prefixes, value paths, and the errors clients see.
import { describe, expect, it } from 'vitest';
import { compileFilter, MAX_FILTER_LENGTH } from '../../src/adapters/identity/scim/filter.js';
import { groupToJson, userToJson } from '../../src/adapters/identity/scim/resources.js';
import { ScimError, scimErrorBody } from '../../src/adapters/identity/scim/scim-error.js';

const BASE = 'https://hourglass.example/scim/v2';
const user = userToJson(
  {
    id: 'U-Abc',
    externalId: 'Ext-1',
    userName: 'Test_User_dfeef4c5-5681-4387-b016-bdf221e82081',
    displayName: 'Ada Lovelace',
    name: { givenName: 'Ada', familyName: 'Lovelace' },
    emails: [
      { value: 'ada@Work.example', type: 'work', primary: true },
      { value: 'ada@home.example', type: 'home' },
    ],
    active: true,
    employeeNumber: '42',
    manager: '2819c223-7f76-453a-919d-413861904646',
    groups: [{ value: 'g-1', display: 'Admins' }],
    created: Date.parse('2025-06-01T00:00:00Z'),
    lastModified: Date.parse('2026-01-15T12:00:00Z'),
    version: 3,
  },
  BASE,
);
const group = groupToJson({ id: 'g-1', displayName: 'Admins', members: [{ value: 'U-Abc', display: 'Ada' }], created: 0, lastModified: 0, version: 1 }, BASE);

const onUser = (filter: string) => compileFilter(filter, 'User')(user);
const onGroup = (filter: string) => compileFilter(filter, 'Group')(group);

function filterError(filter: string, type: 'User' | 'Group' = 'User'): ScimError {
  try {
    compileFilter(filter, type);
  } catch (e) {
    if (e instanceof ScimError) return e;
    throw e;
  }
  throw new Error(`expected ${filter} to be refused`);
}

describe('string comparison honours caseExact', () => {
  it.each([
    ['userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"', true],
    ['userName eq "TEST_USER_DFEEF4C5-5681-4387-B016-BDF221E82081"', true],
    ['userName eq "test_user_other"', false],
    ['displayName eq "ada lovelace"', true],
    ['emails.value eq "ADA@work.EXAMPLE"', true],
    ['externalId eq "Ext-1"', true],
    ['externalId eq "ext-1"', false],
    ['id eq "U-Abc"', true],
    ['id eq "u-abc"', false],
    ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "2819C223-7F76-453A-919D-413861904646"', false],
  ])('%s -> %s', (filter, want) => expect(onUser(filter)).toBe(want));

  it('members.value is caseExact, displayName is not', () => {
    expect(onGroup('members.value eq "U-Abc"')).toBe(true);
    expect(onGroup('members.value eq "u-abc"')).toBe(false);
    expect(onGroup('members eq "U-Abc"')).toBe(true);
    expect(onGroup('displayName eq "ADMINS"')).toBe(true);
  });
});

describe('operators', () => {
  it.each([
    ['userName sw "test_user"', true],
    ['userName ew "E82081"', true],
    ['userName co "DFEEF4C5"', true],
    ['userName co "zzz"', false],
    ['displayName ne "Ada Lovelace"', false],
    ['displayName ne "Someone"', true],
    ['title ne "CEO"', true],
    ['title pr', false],
    ['name pr', true],
    ['emails pr', true],
    ['displayName gt "Ada"', true],
    ['displayName lt "ADA"', false],
    ['displayName ge "ADA LOVELACE"', true],
    ['displayName le "ada lovelace"', true],
    ['title eq null', true],
    ['displayName eq null', false],
  ])('%s -> %s', (filter, want) => expect(onUser(filter)).toBe(want));

  it('compares dateTimes as instants, whatever their offset', () => {
    expect(onUser('meta.lastModified gt "2026-01-15T11:00:00Z"')).toBe(true);
    expect(onUser('meta.lastModified gt "2026-01-15T13:30:00+02:00"')).toBe(true);
    expect(onUser('meta.lastModified eq "2026-01-15T14:00:00+02:00"')).toBe(true);
    expect(onUser('meta.lastModified lt "2026-01-15T12:00:00Z"')).toBe(false);
    expect(onUser('meta.created le "2025-06-01T00:00:00.000Z"')).toBe(true);
  });

  it('compares booleans, "true" strings included', () => {
    expect(onUser('active eq true')).toBe(true);
    expect(onUser('active eq false')).toBe(false);
    expect(onUser('active ne false')).toBe(true);
    expect(onUser('emails[primary eq true].value eq "ada@work.example"')).toBe(true);
  });
});

describe('logic', () => {
  it('and binds tighter than or; not and parentheses', () => {
    expect(onUser('userName eq "x" or active eq true and title pr')).toBe(false);
    expect(onUser('(userName eq "x" or active eq true) and not (title pr)')).toBe(true);
    expect(onUser('not (active eq true)')).toBe(false);
    expect(onUser('userName eq "x" OR displayName eq "ada lovelace"')).toBe(true);
    expect(onUser('active eq true AND NOT (title pr)')).toBe(true);
  });
});

describe('attribute names', () => {
  it('are case-insensitive and take full URN prefixes', () => {
    expect(onUser('USERNAME EQ "test_user_dfeef4c5-5681-4387-b016-bdf221e82081"')).toBe(true);
    expect(onUser('Name.GivenName eq "ada"')).toBe(true);
    expect(onUser('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "TEST_USER_DFEEF4C5-5681-4387-B016-BDF221E82081"')).toBe(true);
    expect(onUser('URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.familyName eq "lovelace"')).toBe(true);
    expect(onUser('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "2819c223-7f76-453a-919d-413861904646"')).toBe(true);
    expect(onUser('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42"')).toBe(true);
    // Entra ID's sample manager query names the extension attribute unqualified.
    expect(onUser('id eq "U-Abc" and manager eq "2819c223-7f76-453a-919d-413861904646"')).toBe(true);
  });
});

describe('multi-valued attributes and value paths', () => {
  it('match if any value matches', () => {
    expect(onUser('emails.value eq "ada@home.example"')).toBe(true);
    expect(onUser('emails.type eq "other"')).toBe(false);
    expect(onUser('emails co "@home"')).toBe(true);
    expect(onUser('groups.value eq "g-1"')).toBe(true);
  });

  it('hold the conditions of a value path to the same element', () => {
    expect(onUser('emails[type eq "work" and value co "@work"]')).toBe(true);
    expect(onUser('emails[type eq "work" and value co "@home"]')).toBe(false);
    expect(onUser('emails[type eq "home"].value eq "ada@home.example"')).toBe(true);
    expect(onUser('emails[type eq "work"].value eq "ada@home.example"')).toBe(false);
    expect(onUser('emails[type eq "work" or type eq "home"].value ew "home.example"')).toBe(true);
    expect(onUser('emails[type eq "work"].value pr and active eq true')).toBe(true);
    expect(onUser('not (emails[type eq "other"])')).toBe(true);
  });
});

describe('refusals', () => {
  it.each([
    ['nickName eq "x"', 'unknown attribute'],
    ['name.middleName eq "x"', 'unknown sub-attribute'],
    ['urn:example:custom:2.0:User:x eq "y"', 'unknown schema'],
    ['emails[kind eq "work"]', 'unknown sub-attribute in a value path'],
    ['userName eq', 'missing operand'],
    ['userName xx "a"', 'unknown operator'],
    ['(userName eq "a"', 'unbalanced parenthesis'],
    ['userName eq "a")', 'trailing token'],
    ['emails[type eq "work"', 'unclosed value path'],
    ['emails[value[type eq "a"]]', 'nested value path'],
    ['externalId eq jyoung', 'unquoted string'],
    ['userName eq 5', 'number for a string'],
    ['active gt true', 'ordering a boolean'],
    ['active eq "yes"', 'not a boolean'],
    ['meta.created gt "yesterday"', 'not a date'],
    ['meta.created co "2025"', 'substring of a date'],
    ['name eq "Ada"', 'complex without a value sub-attribute'],
    ['displayName co null', 'null with co'],
    ['', 'empty'],
    [`userName eq "${'a'.repeat(MAX_FILTER_LENGTH)}"`, 'too long'],
    [`${'('.repeat(20)}userName eq "a"${')'.repeat(20)}`, 'too deep'],
    [`${'not '.repeat(20)}(userName eq "a")`, 'too deep with not'],
  ])('%s (%s) is invalidFilter', (filter) => {
    const e = filterError(filter);
    expect(scimErrorBody(e)).toMatchObject({ status: '400', scimType: 'invalidFilter' });
  });

  it('refuses User attributes on Groups', () => expect(filterError('userName eq "a"', 'Group').scimType).toBe('invalidFilter'));

  it('accepts nesting up to the limit', () => expect(onUser(`${'('.repeat(12)}active eq true${')'.repeat(12)}`)).toBe(true));
});
