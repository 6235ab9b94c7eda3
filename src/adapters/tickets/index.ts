/** The ticket system kinds (src/app/tickets/ports.ts): one folder each, one line here. */
import type { TicketSystem } from '../../app/tickets/ports.js';
import { httpTickets } from './http/index.js';
import { jiraTickets } from './jira/index.js';
import { serviceNowTickets } from './servicenow/index.js';

export const ticketSystems: readonly TicketSystem[] = [jiraTickets(), serviceNowTickets(), httpTickets()];

/** The system of a `tickets[].type`; the config schema admits only these kinds. */
export function ticketSystemOf(kind: TicketSystem['kind']): TicketSystem {
  const system = ticketSystems.find((s) => s.kind === kind);
  if (!system) throw new Error(`no ticket system of kind ${kind}`);
  return system;
}
