/**
 * Argument parsers of the client commands. Commander turns a throw of InvalidArgumentError into a
 * usage error (exit 2) that names the option.
 */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { REQUEST_STATUSES } from '../../core/types.js';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('expected a whole number from 1 to 1000');
  return n;
}

export function durationArg(value: string): string {
  try {
    parseDuration(value);
  } catch {
    throw new InvalidArgumentError('expected a duration such as 90s, 15m, 1h30m, 2d or PT1H');
  }
  return value;
}

export function statusList(value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !(REQUEST_STATUSES as readonly string[]).includes(s));
  if (bad.length || list.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${REQUEST_STATUSES.join(', ')}`);
  return list;
}

/** `--at`: an ISO-8601 date-time, or `+DURATION` from now. */
export function parseStartAt(value: string, now: number = Date.now()): string {
  const v = value.trim();
  if (v.startsWith('+')) {
    try {
      return new Date(now + parseDuration(v.slice(1))).toISOString();
    } catch {
      throw new InvalidArgumentError('expected +DURATION (e.g. +30m) or an ISO-8601 date-time');
    }
  }
  const at = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(at))
    throw new InvalidArgumentError('expected an ISO-8601 date-time (2025-03-01T09:00:00Z) or +DURATION (e.g. +30m)');
  return new Date(at).toISOString();
}

/** `policy explain --at`: an ISO-8601 date-time, or `+DURATION` / `-DURATION` from now. */
export function evalTime(value: string): string {
  const v = value.trim();
  if (v.startsWith('-')) return pastTime(v);
  return parseStartAt(v);
}

/** `--since` / `--until`: an ISO-8601 date-time, or `-DURATION` before now. */
export function pastTime(value: string): string {
  const v = value.trim();
  if (v.startsWith('-')) {
    try {
      return new Date(Date.now() - parseDuration(v.slice(1))).toISOString();
    } catch {
      throw new InvalidArgumentError('expected -DURATION (e.g. -1h) or an ISO-8601 date-time');
    }
  }
  const at = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(at)) throw new InvalidArgumentError('expected an ISO-8601 date-time or -DURATION (e.g. -1h)');
  return new Date(at).toISOString();
}

export function splitList(values: string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];
