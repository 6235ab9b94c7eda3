import { HgError } from './errors.js';

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
const COMPACT = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const ISO = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/**
 * Parses "90s", "15m", "1h30m", "2d" or ISO-8601 "PT1H"/"P1DT2H" into milliseconds.
 * Months and years are refused on purpose: their length depends on the calendar.
 */
export function parseDuration(input: string): number {
  const text = input.trim();
  const m = COMPACT.exec(text) ?? ISO.exec(text.toUpperCase());
  if (!text || !m || m.slice(1).every((g) => g === undefined) || text.toUpperCase().endsWith('T')) {
    throw new HgError('HG_INVALID_INPUT', `invalid duration "${input}": use forms like 90s, 15m, 1h30m, 2d or PT1H`);
  }
  const [d, h, min, s] = m.slice(1).map((g) => Number(g ?? 0)) as [number, number, number, number];
  const ms = d * UNIT_MS.d! + h * UNIT_MS.h! + min * UNIT_MS.m! + s * UNIT_MS.s!;
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new HgError('HG_INVALID_INPUT', `invalid duration "${input}": must be positive`);
  }
  return ms;
}

/** Formats milliseconds compactly ("1h30m"); the inverse of parseDuration for whole seconds. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  let rest = Math.round(ms / 1000);
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  // Sub-second remainders only arise from extensions or arithmetic; say them exactly.
  return out || `${ms}ms`;
}
