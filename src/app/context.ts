import type { AuditDraft, AccessRequest } from '../core/types.js';
import type { Facts, Outcome } from '../core/lifecycle.js';
import { HgError } from '../core/errors.js';
import type { HourglassConfig } from '../config/types.js';
import type { AuditEvent, Clock, ConfigSource, CredentialSealer, Directory, IdGenerator, Metrics, Store, StoreTx } from './ports.js';
import type { StepUp } from './identity/step-up.js';
import type { TicketSystem } from './tickets/ports.js';
import type { OnCallLookup } from './oncall/who.js';

import type { CheckIndex } from './check-index.js';

export interface AppDeps {
  store: Store;
  clock: Clock;
  ids: IdGenerator;
  config: ConfigSource;
  /** Absent: nothing is observed. */
  metrics?: Metrics;
  /** Seals connector credentials at rest; absent: no key configured. */
  sealer?: CredentialSealer;
  /** Who the principals are (directoryOf in directory.ts); absent: the configuration's principals. */
  directory?: Directory;
  /** Checks step-up MFA proofs (src/app/identity/step-up.ts); absent: a policy requiring MFA cannot be met. */
  stepUp?: Pick<StepUp, 'verify'>;
  /** The ticket system kinds (src/adapters/tickets); absent: a policy with `ticket.system` refuses (HG_TICKET_UNAVAILABLE). */
  ticketSystems?: readonly TicketSystem[];
  /** Who is on call now (src/app/oncall/who.ts); absent: nobody is (on-call approval does not apply, on-call tiers ask nobody). */
  onCall?: OnCallLookup;
  /** The in-memory check index, once loaded (src/app/check-index.ts); absent: checks read the store. */
  checkIndex?: Pick<CheckIndex, 'lookup' | 'status'>;
}

export const SYSTEM_ACTOR = 'system';

/** Gives drafts their id, time and policy hash. */
export function stamp(deps: AppDeps, drafts: AuditDraft[], now: number, policyHash: string): AuditEvent[] {
  return drafts.map((d) => ({ ...d, id: deps.ids.eventId(), at: now, policyHash }));
}

/** Writes an outcome: the compare-and-swap on the request and its audit events, in the caller's transaction. */
export async function commitOutcome(deps: AppDeps, tx: StoreTx, prev: AccessRequest, outcome: Outcome, now: number): Promise<boolean> {
  if (!(await tx.updateRequest(prev, outcome.request))) return false;
  await tx.appendAudit(stamp(deps, outcome.events, now, prev.policyHash));
  return true;
}

/** The facts a transition of this request needs at `now` under the configuration in force. */
export function factsFor(config: HourglassConfig, entitlements: readonly string[], now: number): Facts {
  const timeouts = [...new Set(entitlements.map(targetOf))]
    .filter((t) => !config.capabilities[t]?.inline)
    .flatMap((t) => config.targets[t]?.provisioningTimeout ?? []);
  return {
    now,
    inline: isInline(config, entitlements),
    reminders: config.reminders,
    ...(timeouts.length ? { provisioningTimeoutMs: Math.min(...timeouts) } : {}),
  };
}

/** True when every target of these entitlements keeps its grants inside Hourglass (an inline kind). */
export function isInline(config: HourglassConfig, entitlements: readonly string[]): boolean {
  return entitlements.every((e) => config.capabilities[targetOf(e)]?.inline === true);
}

export function targetOf(entitlement: string): string {
  const slash = entitlement.indexOf('/');
  return slash < 0 ? entitlement : entitlement.slice(0, slash);
}

export function concurrentUpdate(): HgError {
  return new HgError('HG_CONCURRENT_UPDATE');
}
