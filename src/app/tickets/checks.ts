/**
 * Tickets checked against their system: at submission (the ticket exists and is in an allowed
 * state; its summary is kept for approvers), again at every approval, and while the access lasts
 * (the watcher in watch.ts). An unreachable system refuses the request or approval (fail closed);
 * a ticket that left its states ends the access.
 */
import { HgError } from '../../core/errors.js';
import type { AccessRequest, PolicyTerms } from '../../core/types.js';
import type { HourglassConfig } from '../../config/types.js';
import type { AppDeps } from '../context.js';
import type { TicketInfo, TicketSystem } from './ports.js';

export type TicketFacts = NonNullable<AccessRequest['ticketInfo']>;

/** The systems tickets of these terms are checked in, once each, with their allowed states. */
function checksOf(terms: readonly Pick<PolicyTerms, 'ticket'>[]) {
  const out = new Map<string, { states?: string[] }>();
  for (const t of terms) {
    if (!t.ticket) continue;
    const seen = out.get(t.ticket.system);
    // Two policies on one system: the ticket must be in a state both allow.
    const states = seen?.states && t.ticket.states ? seen.states.filter((s) => t.ticket!.states!.some((x) => same(s, x))) : (t.ticket.states ?? seen?.states);
    out.set(t.ticket.system, states ? { states } : {});
  }
  return out;
}

const same = (a: string, b: string) => a.localeCompare(b, undefined, { sensitivity: 'accent' }) === 0;

/** Why this ticket may not be used (or back the access) under these states; undefined when it may. */
export function ticketProblem(key: string, system: string, found: TicketInfo | undefined, states: readonly string[] | undefined): string | undefined {
  if (!found) return `ticket ${key} was not found in ${system}`;
  if (states && !states.some((s) => same(s, found.state))) return `ticket ${key} is ${found.state} in ${system}; allowed: ${states.join(', ')}`;
  return undefined;
}

export class TicketChecks {
  constructor(
    private readonly deps: AppDeps,
    private readonly systems: readonly TicketSystem[],
  ) {}

  /** The ticket as the system tells it now; HG_TICKET_UNAVAILABLE when it cannot be asked. */
  async lookup(config: HourglassConfig, system: string, key: string): Promise<TicketInfo | undefined> {
    const settings = config.tickets.find((t) => t.name === system);
    const kind = settings ? this.systems.find((s) => s.kind === settings.type) : undefined;
    if (!settings || !kind) throw new HgError('HG_TICKET_UNAVAILABLE', `ticket system ${system} is not configured`);
    try {
      const r = await kind.lookup(key, settings, config);
      return r.found ? r.ticket : undefined;
    } catch (err) {
      throw new HgError('HG_TICKET_UNAVAILABLE', `ticket system ${system} could not be asked about ${key}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Checks `ticket` against every system the terms name; the facts kept on the request (the first
   * system's). Refused with HG_TERMS_NOT_MET when it is missing or in another state.
   */
  async check(terms: readonly Pick<PolicyTerms, 'ticket'>[], ticket: string | undefined): Promise<TicketFacts | undefined> {
    const checks = checksOf(terms);
    if (checks.size === 0 || !ticket) return undefined;
    const config = this.deps.config.current();
    let facts: TicketFacts | undefined;
    for (const [system, { states }] of checks) {
      const found = await this.lookup(config, system, ticket);
      const problem = ticketProblem(ticket, system, found, states);
      if (problem) throw new HgError('HG_TERMS_NOT_MET', problem, { details: { ticket, system, state: found?.state ?? null } });
      facts ??= {
        system,
        key: ticket,
        summary: found!.summary,
        state: found!.state,
        ...(found!.url ? { url: found!.url } : {}),
        checkedAt: this.deps.clock.now(),
      };
    }
    return facts;
  }
}
