/**
 * Access tied to its ticket (`ticket.endsWithTicket`): the tickets of open requests are re-read
 * every `pollInterval` of their system, and at once when the system pushes an event about one
 * (`POST /v1/integrations/tickets/NAME/events`: only a hint, the ticket is always re-read from the
 * system). A ticket that left its policy's states, or that the system no longer knows, ends its
 * requests: active and scheduled grants are revoked, pending ones cancelled, by `system`, with the
 * ticket's state as the reason. A system that cannot be asked changes nothing (and is asked again
 * next time): an outage of the ticketing system never ends access on its own.
 */
import type { AccessRequest } from '../../core/types.js';
import type { AppDeps } from '../context.js';
import { endRequests } from '../emergency.js';
import type { AppLog, BackgroundWorker } from '../ports.js';
import { SYSTEM_PRINCIPAL } from '../system-principal.js';
import { ticketProblem, type TicketChecks } from './checks.js';

const OPEN = ['pending', 'scheduled', 'active'] as const;
const PAGE = 500;

/** The states the access of this request may last in, per system (only policies with endsWithTicket). */
function watchedStates(req: AccessRequest): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of req.terms)
    if (t.ticket?.endsWithTicket && t.ticket.states) out.set(t.ticket.system, [...(out.get(t.ticket.system) ?? []), ...t.ticket.states]);
  return out;
}

export class TicketWatch implements BackgroundWorker {
  readonly name = 'tickets';
  private readonly lastPoll = new Map<string, number>();

  constructor(
    private readonly deps: AppDeps,
    private readonly checks: TicketChecks,
    private readonly log?: AppLog,
  ) {}

  /** Each scheduler pass: the systems whose poll interval has passed. */
  async runOnce(): Promise<void> {
    const config = this.deps.config.current();
    const now = this.deps.clock.now();
    const due = config.tickets.filter((t) => now - (this.lastPoll.get(t.name) ?? -Infinity) >= t.pollIntervalMs).map((t) => t.name);
    if (due.length === 0) return;
    for (const name of due) this.lastPoll.set(name, now);
    await this.recheck((system) => due.includes(system));
  }

  /** A pushed event: re-reads this ticket of this system now. Returns how many requests it ended. */
  async pushed(system: string, key: string): Promise<number> {
    return this.recheck((s, k) => s === system && k === key);
  }

  /** Re-reads the tickets of open requests that `select` picks; ends those whose ticket no longer backs them. */
  private async recheck(select: (system: string, key: string) => boolean): Promise<number> {
    const open = await this.openWithTickets();
    const config = this.deps.config.current();
    const verdicts = new Map<string, string | undefined | 'unreachable'>();
    let ended = 0;
    for (const req of open) {
      for (const [system, states] of watchedStates(req)) {
        const key = req.ticket!;
        if (!select(system, key)) continue;
        const cacheKey = `${system}\0${key}\0${states.join('\0')}`;
        if (!verdicts.has(cacheKey)) {
          try {
            verdicts.set(cacheKey, ticketProblem(key, system, await this.checks.lookup(config, system, key), states));
          } catch (err) {
            this.log?.warn({ system, ticket: key, err: (err as Error).message }, 'could not re-check a ticket; its access is left as it is');
            verdicts.set(cacheKey, 'unreachable');
          }
        }
        const problem = verdicts.get(cacheKey);
        if (problem === undefined || problem === 'unreachable') continue;
        const now = this.deps.clock.now();
        const r = await this.deps.store
          .transaction(async (tx) => {
            const current = await tx.getRequest(req.id);
            return current ? endRequests(this.deps, tx, SYSTEM_PRINCIPAL, [current], problem, now) : { revoked: [], cancelled: [] };
          })
          .catch((err: Error) => {
            // Changed meanwhile (approved, released...): the next poll sees it as it is then.
            this.log?.warn({ requestId: req.id, err: err.message }, 'could not end a request whose ticket closed; retried at the next poll');
            return { revoked: [], cancelled: [] };
          });
        ended += r.revoked.length + r.cancelled.length;
        break;
      }
    }
    return ended;
  }

  private async openWithTickets(): Promise<AccessRequest[]> {
    const out: AccessRequest[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await this.deps.store.listRequests({ status: [...OPEN], limit: PAGE, ...(before ? { before } : {}) });
      out.push(...page.filter((r) => r.ticket && watchedStates(r).size > 0));
      if (page.length < PAGE) return out;
      before = page.at(-1)!.id;
    }
  }
}
