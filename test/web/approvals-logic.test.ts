// The Approvals inbox's pure logic (web/src/lib/approvals.ts): what an entitlement gives, in
// words per kind; the "select all" state and toggles; a bulk decision's summary.
import { describe, expect, it } from 'vitest';
import {
  bulkSummary,
  grantLines,
  humanKey,
  pruneSelection,
  requestLabel,
  selectionState,
  toggleAll,
  toggleOne,
  valueText,
} from '../../web/src/lib/approvals.js';

describe('what an entitlement gives', () => {
  it("names each kind's settings in words and shows values as text", () => {
    expect(grantLines('postgres', { roles: ['app_read', 'app_write'] })).toEqual([{ label: 'Roles', value: 'app_read, app_write' }]);
    expect(grantLines('ssh', { principals: ['deploy'], extensions: [], verifyRequired: true, sourceAddress: ['10.0.0.0/8'] })).toEqual([
      { label: 'Logins (principals)', value: 'deploy' },
      { label: 'Extensions', value: 'none' },
      { label: 'PIN or touch required', value: 'yes' },
      { label: 'Only from', value: '10.0.0.0/8' },
    ]);
    expect(grantLines('token', { claims: { scope: 'deploy', env: ['prod'], n: 3 } })).toEqual([{ label: 'Claims', value: 'scope=deploy, env=["prod"], n=3' }]);
    expect(grantLines('mariadb', { privileges: ['SELECT ON shop.*'] })).toEqual([{ label: 'Privileges', value: 'SELECT ON shop.*' }]);
    expect(grantLines('redis', { acl: '~app:* +@read' })).toEqual([{ label: 'ACL rules', value: '~app:* +@read' }]);
    // Unknown kinds and keys: the key in words.
    expect(grantLines('custom', { maxRows: 10, read_only: false })).toEqual([
      { label: 'Max rows', value: '10' },
      { label: 'Read only', value: 'no' },
    ]);
    expect(grantLines(null, {})).toEqual([]);
  });

  it('formats keys and values', () => {
    expect(humanKey('sourceAddress')).toBe('Source address');
    expect(humanKey('force-command')).toBe('Force command');
    expect(valueText(null)).toBe('—');
    expect(valueText({})).toBe('none');
    expect(valueText({ a: { b: 1 } })).toBe('a={"b":1}');
  });
});

describe('selection', () => {
  const ids = ['r1', 'r2', 'r3'];
  it('select all is clear, mixed or checked, and toggles between all and none', () => {
    expect(selectionState(new Set(), ids)).toBe('none');
    expect(selectionState(new Set(['r2']), ids)).toBe('some');
    expect(selectionState(new Set(ids), ids)).toBe('all');
    expect(selectionState(new Set(), [])).toBe('none');
    expect([...toggleAll(new Set(['r2']), ids)]).toEqual(ids);
    expect([...toggleAll(new Set(ids), ids)]).toEqual([]);
    expect([...toggleOne(new Set(['r1']), 'r2')].sort()).toEqual(['r1', 'r2']);
    expect([...toggleOne(new Set(['r1']), 'r1')]).toEqual([]);
  });

  it('a request decided elsewhere drops out of the selection', () => {
    expect([...pruneSelection(new Set(['r1', 'gone']), ids)]).toEqual(['r1']);
  });
});

describe('bulk decisions', () => {
  it('sums up what was decided and what was not', () => {
    const outcomes = [
      { id: 'r1', label: 'a', ok: true },
      { id: 'r2', label: 'b', ok: false, message: 'no', code: 'HG_MFA_REQUIRED' },
      { id: 'r3', label: 'c', ok: true },
    ];
    expect(bulkSummary('approve', outcomes)).toBe('2 approved, 1 not decided');
    expect(bulkSummary('deny', outcomes.slice(0, 1))).toBe('1 denied');
    expect(requestLabel({ entitlements: ['api/deploy', 'hosts/login'], requester: 'alice' })).toBe('api/deploy, hosts/login for alice');
  });
});
