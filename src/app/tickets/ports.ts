/**
 * Change management: the ticket or incident a request names, as its system tells it. A ticket
 * system kind (jira, servicenow, http) is one folder in src/adapters/tickets/ and one line in its
 * index.ts. docs/integrations.md, "Change management", describes them for operators.
 */
import type { HourglassConfig, TicketSystemSettings } from '../../config/types.js';

/** A ticket as Hourglass keeps and shows it (never its description or comments: only what approvers need). */
export interface TicketInfo {
  /** The key the requester gave (`OPS-123`, `CHG0030001`). */
  key: string;
  /** One line, cut to 200 characters. */
  summary: string;
  /** The state as the system names it (`In Progress`, `Implement`, `closed`). */
  state: string;
  /** The ticket's page for people. */
  url?: string;
}

/** A lookup's answer: the ticket, or `missing` (the system says there is no such ticket). */
export type TicketLookup = { found: true; ticket: TicketInfo } | { found: false };

export interface TicketSystem {
  readonly kind: 'jira' | 'servicenow' | 'http';
  /** Reads one ticket. Throws (a plain Error, message without secrets) when the system cannot be asked. */
  lookup(key: string, settings: TicketSystemSettings, config: HourglassConfig): Promise<TicketLookup>;
  /** Adds a comment (Jira comment, ServiceNow work note, generic POST). Throws when it could not. */
  comment(key: string, text: string, settings: TicketSystemSettings, config: HourglassConfig): Promise<void>;
}
