/**
 * On-call schedules: who is on call now, as e-mail addresses, from PagerDuty, Opsgenie or an
 * iCalendar feed. A schedule kind is one folder in src/adapters/oncall/ and one line in its index.ts.
 * Principals are matched by e-mail address (docs/integrations.md, "On-call").
 */
import type { HourglassConfig, OnCallSettings } from '../../config/types.js';

export interface OnCallSchedule {
  readonly kind: 'pagerduty' | 'opsgenie' | 'ical';
  /**
   * The e-mail addresses of whoever is on call at `at` (lower-cased, deduplicated). Throws (a plain
   * Error, message without secrets) when the schedule cannot be read: callers fail closed.
   */
  onCallAt(at: number, settings: OnCallSettings, config: HourglassConfig): Promise<string[]>;
}
