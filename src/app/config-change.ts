/**
 * What a new configuration may not do to access that exists. A target (or an entitlement) that
 * still holds access cannot leave the file, nor change kind: its grants could no longer be
 * revoked, and Hourglass would never again reach the accounts it created there. Principals may
 * leave: their access ends with the reload (see endAccessOfUnknownPrincipals).
 */
import { formatPath } from '../config/schema.js';
import type { HourglassConfig } from '../config/types.js';
import { HgError } from '../core/errors.js';
import { targetOf } from './context.js';
import type { Directory, HeldAccess } from './ports.js';

export interface ConfigChangeProblem {
  path: (string | number)[];
  message: string;
}

/** Request ids shown per problem; the rest are counted. */
const SHOWN = 5;

function listed(ids: Iterable<string>): string {
  const all = [...ids].sort();
  const shown = all.slice(0, SHOWN).join(', ');
  return all.length > SHOWN ? `${shown} and ${all.length - SHOWN} more` : shown;
}

function grouped(held: readonly HeldAccess[], key: (h: HeldAccess) => string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const h of held) {
    const k = key(h);
    let ids = out.get(k);
    if (!ids) out.set(k, (ids = new Set()));
    ids.add(h.requestId);
  }
  return out;
}

/**
 * Problems with moving from `current` to `next` while `held` access exists (open requests, and
 * ended ones whose removal is not confirmed). Empty: the change is safe.
 */
export function strandedAccess(current: HourglassConfig, next: HourglassConfig, held: readonly HeldAccess[]): ConfigChangeProblem[] {
  const problems: ConfigChangeProblem[] = [];
  const advice = 'end those grants (revoke, or freeze the target) and reload once their access is removed';
  for (const [name, ids] of grouped(held, (h) => targetOf(h.entitlement))) {
    const before = current.targets[name];
    const after = next.targets[name];
    if (!after) {
      problems.push({
        path: ['targets', name],
        message: `target ${name} is gone from the file (removed or renamed) but holds access for ${listed(ids)}: ${advice}`,
      });
    } else if (before && before.type !== after.type) {
      problems.push({
        path: ['targets', name, 'type'],
        message: `target ${name} changes type from ${before.type} to ${after.type} but holds access for ${listed(ids)}: ${advice}`,
      });
    }
  }
  for (const [entitlement, ids] of grouped(held, (h) => h.entitlement)) {
    const t = targetOf(entitlement);
    const role = entitlement.slice(t.length + 1);
    const target = next.targets[t];
    if (!target || target.entitlements[role]) continue; // a missing target is reported above
    problems.push({
      path: ['targets', t, 'entitlements', role],
      message: `entitlement ${entitlement} is gone from the file but holds access for ${listed(ids)}: ${advice}`,
    });
  }
  return problems;
}

export function refuseStrandedAccess(problems: ConfigChangeProblem[]): void {
  if (problems.length === 0) return;
  throw new HgError('HG_CONFIG_INVALID', `the new configuration would strand access on targets: ${problems.map((p) => p.message).join('; ')}`, {
    details: { problems: problems.map((p) => ({ path: formatPath(p.path), message: p.message })) },
  });
}

/** Targets that hold access but are not in `config`, with the requests holding it there. */
export function unconfiguredTargets(config: HourglassConfig, held: readonly HeldAccess[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [target, ids] of grouped(held, (h) => targetOf(h.entitlement))) if (!config.targets[target]) out.set(target, [...ids].sort());
  return out;
}

/**
 * The held entitlements that strandedAccess can find a problem with when moving from `current`
 * to `next`: its target is gone or retyped, or the entitlement is gone. Only their rows need reading.
 */
export function entitlementsAtRisk(current: HourglassConfig, next: HourglassConfig, held: Iterable<string>): string[] {
  return [...held].filter((entitlement) => {
    const t = targetOf(entitlement);
    const before = current.targets[t];
    const after = next.targets[t];
    return !after || (before !== undefined && before.type !== after.type) || !after.entitlements[entitlement.slice(t.length + 1)];
  });
}

/** The held entitlements whose target `config` does not name (unconfiguredTargets needs only their rows). */
export function unconfiguredEntitlements(config: HourglassConfig, held: Iterable<string>): string[] {
  return [...held].filter((entitlement) => !config.targets[targetOf(entitlement)]);
}

/** Requesters of open requests that are not among the ids the directory knows, once each. */
export function unknownPrincipals(known: ReadonlySet<string>, openRequesters: Iterable<string>): string[] {
  return [...new Set([...openRequesters].filter((id) => !known.has(id)))].sort();
}

/**
 * The ids the directory knows, read before a transaction that needs them: a store-backed
 * directory cannot be asked inside one (on SQLite the transaction holds the only connection).
 */
export async function knownPrincipals(directory: Directory): Promise<ReadonlySet<string>> {
  return new Set([...(await directory.all())].map((p) => p.id));
}
