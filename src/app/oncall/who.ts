/**
 * Who is on call now, as principals: the schedule's e-mail addresses (its kind's adapter) matched
 * to the principals of the file and of identity sources by their e-mail address, without regard
 * to case. A schedule that cannot be read counts nobody as on call (logged): on-call approval then
 * simply does not apply, and the request waits for its approvers.
 */
import type { HourglassConfig } from '../../config/types.js';
import type { AppLog, PrincipalStore } from '../ports.js';
import type { OnCallSchedule } from './ports.js';

/** Schedule name -> principal ids on call at `at`. */
export type OnCallLookup = (names: readonly string[], at: number) => Promise<Record<string, string[]>>;

export function onCallLookup(config: () => HourglassConfig, kinds: readonly OnCallSchedule[], principals?: PrincipalStore, log?: AppLog): OnCallLookup {
  return async (names, at) => {
    const cfg = config();
    const out: Record<string, string[]> = {};
    let byEmail: Map<string, string> | undefined;
    for (const name of new Set(names)) {
      const settings = cfg.oncall.find((o) => o.name === name);
      const kind = settings ? kinds.find((k) => k.kind === settings.type) : undefined;
      if (!settings || !kind) {
        out[name] = [];
        continue;
      }
      let emails: string[];
      try {
        emails = await kind.onCallAt(at, settings, cfg);
      } catch (err) {
        log?.warn({ schedule: name, err: (err as Error).message }, 'could not read who is on call; nobody counts as on call');
        out[name] = [];
        continue;
      }
      byEmail ??= await emailIndex(cfg, principals);
      out[name] = [...new Set(emails.flatMap((e) => byEmail!.get(e.toLowerCase()) ?? []))];
    }
    return out;
  };
}

/** Lower-cased e-mail -> principal id; the file's principals win over identity sources'. */
async function emailIndex(config: HourglassConfig, principals?: PrincipalStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of (await principals?.active()) ?? []) if (p.email) out.set(p.email.toLowerCase(), p.id);
  for (const p of config.principals) if (p.email) out.set(p.email.toLowerCase(), p.id);
  return out;
}
