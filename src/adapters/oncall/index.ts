/** The on-call schedule kinds (src/app/oncall/ports.ts): one folder each, one line here. */
import type { OnCallSchedule } from '../../app/oncall/ports.js';
import { icalSchedule } from './ical/index.js';
import { opsgenieSchedule } from './opsgenie/index.js';
import { pagerDutySchedule } from './pagerduty/index.js';

/** One per process: each keeps its answers for `cache` (per schedule and minute). */
export const onCallSchedules: readonly OnCallSchedule[] = [pagerDutySchedule(), opsgenieSchedule(), icalSchedule()];

/** The schedule kind of an `oncall[].type`; the config schema admits only these kinds. */
export function onCallScheduleOf(kind: OnCallSchedule['kind']): OnCallSchedule {
  const schedule = onCallSchedules.find((s) => s.kind === kind);
  if (!schedule) throw new Error(`no on-call schedule of kind ${kind}`);
  return schedule;
}
