/**
 * A moment as people read it: relative (`5 minutes ago`), with the local date and time in the
 * viewer's zone beside it. `past`: it has happened (created, last seen), so a `now` a few seconds
 * old never makes it read as `in 2 seconds`.
 */
import { localTime, relativeTime } from '../lib/time.js';

export function When({ at, now, past = false }: { at: string; now: number; past?: boolean }) {
  const ms = Date.parse(at);
  return (
    <time dateTime={at}>
      {relativeTime(past ? Math.min(ms, now) : ms, now)} <span className="local-time">({localTime(ms)})</span>
    </time>
  );
}
