/** Which configuration changes would strand access (pure: configurations and requests in, problems out). */
import { describe, expect, it } from 'vitest';
import {
  entitlementsAtRisk,
  knownPrincipals,
  refuseStrandedAccess,
  strandedAccess,
  unconfiguredEntitlements,
  unconfiguredTargets,
  unknownPrincipals,
} from '../../src/app/config-change.js';
import { configDirectory, fixedConfig } from '../../src/app/directory.js';
import type { HeldAccess } from '../../src/app/ports.js';
import { configFromYaml } from '../support/app-harness.js';
import { policiesYaml } from '../fixtures/policies.js';

const current = configFromYaml(policiesYaml());
/** The held-access rows of one request (one per entitlement), as the store gives them. */
const req = (id: string, entitlements: string[], requester = 'alice', open = true): HeldAccess[] =>
  entitlements.map((entitlement) => ({ requestId: id, requester, entitlement, open }));
const without = (edit: (y: string) => string) => configFromYaml(edit(policiesYaml()));

describe('strandedAccess', () => {
  it('allows any change when nothing holds access there', () => {
    const dropped = without((y) => y.replace(/  cache:\n    type: hourglass\n    entitlements:\n      read: \{\}\n/, '').replace(/, cache\/read/g, ''));
    expect(Object.keys(dropped.targets)).toEqual(['db']);
    expect(strandedAccess(current, dropped, req('r1', ['db/read']))).toEqual([]);
  });

  it('names a dropped target and every request holding it (five shown, the rest counted)', () => {
    const dropped = without((y) => y.replace(/  cache:\n    type: hourglass\n    entitlements:\n      read: \{\}\n/, '').replace(/, cache\/read/g, ''));
    const holding = Array.from({ length: 7 }, (_, i) => req(`r${i}`, ['cache/read', 'db/read'])).flat();
    const problems = strandedAccess(current, dropped, holding);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toEqual(['targets', 'cache']);
    expect(problems[0]!.message).toMatch(/target cache is gone from the file .* holds access for r0, r1, r2, r3, r4 and 2 more/);
  });

  it('names an entitlement that is gone, and a target whose type changes', () => {
    const noAdmin = without((y) => y.replace('      admin: { description: admin }\n', '').replace(/db\/admin/g, 'db/write'));
    expect(strandedAccess(current, noAdmin, req('r1', ['db/admin'])).map((p) => p.path)).toEqual([['targets', 'db', 'entitlements', 'admin']]);
    const retyped = { ...current, targets: { ...current.targets, cache: { ...current.targets.cache!, type: 'redis' } } };
    expect(strandedAccess(current, retyped, req('r2', ['cache/read'])).map((p) => p.path)).toEqual([['targets', 'cache', 'type']]);
  });

  it('refuses with HG_CONFIG_INVALID and one problem per path', () => {
    expect(() => refuseStrandedAccess([])).not.toThrow();
    expect(() => refuseStrandedAccess([{ path: ['targets', 'cache'], message: 'm' }])).toThrow(
      expect.objectContaining({ code: 'HG_CONFIG_INVALID', details: { problems: [{ path: 'targets.cache', message: 'm' }] } }),
    );
  });
});

describe('unknownPrincipals and unconfiguredTargets', () => {
  it('names requesters of open requests that the configuration does not name, once each', async () => {
    const known = await knownPrincipals(configDirectory(fixedConfig(current)));
    expect(unknownPrincipals(known, ['alice', 'gone', 'constructor', 'gone'])).toEqual(['constructor', 'gone']);
  });

  it('names targets that hold access but are not configured, ended requests whose removal waits included', () => {
    const held = [...req('a', ['db/read']), ...req('b', ['old/read'], 'alice', false), ...req('c', ['old/write', 'db/read'])];
    expect(Object.fromEntries(unconfiguredTargets(current, held))).toEqual({ old: ['b', 'c'] });
  });
});

describe('entitlementsAtRisk and unconfiguredEntitlements', () => {
  // The store reads held rows only for these entitlements: judging that subset must give what
  // judging every held row gives, for every kind of change.
  const held = [
    ...req('a', ['db/read', 'cache/read']),
    ...req('b', ['db/admin'], 'bob'),
    ...req('c', ['cache/read'], 'carol', false),
    ...req('d', ['old/read', 'db/write'], 'dave'),
  ];
  const entitlements = [...new Set(held.map((h) => h.entitlement))];
  const only = (wanted: string[]) => held.filter((h) => wanted.includes(h.entitlement));
  const changes = {
    same: current,
    droppedTarget: without((y) => y.replace(/  cache:\n    type: hourglass\n    entitlements:\n      read: \{\}\n/, '').replace(/, cache\/read/g, '')),
    droppedEntitlement: without((y) => y.replace('      admin: { description: admin }\n', '').replace(/db\/admin/g, 'db/write')),
    retyped: { ...current, targets: { ...current.targets, cache: { ...current.targets.cache!, type: 'redis' } } },
  };

  it('keeps exactly the problems strandedAccess finds in all held rows', () => {
    for (const [name, next] of Object.entries(changes)) {
      const atRisk = entitlementsAtRisk(current, next, entitlements);
      expect(strandedAccess(current, next, only(atRisk)), name).toEqual(strandedAccess(current, next, held));
    }
    expect(entitlementsAtRisk(current, current, entitlements)).toEqual(['old/read']);
    expect(entitlementsAtRisk(current, changes.retyped, entitlements).sort()).toEqual(['cache/read', 'old/read']);
  });

  it('keeps exactly the targets unconfiguredTargets finds in all held rows', () => {
    expect(unconfiguredEntitlements(current, entitlements)).toEqual(['old/read']);
    expect(unconfiguredTargets(current, only(unconfiguredEntitlements(current, entitlements)))).toEqual(unconfiguredTargets(current, held));
  });
});
