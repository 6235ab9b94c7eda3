import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { HgError } from '../../src/core/errors.js';
import { DAY, HOUR, MINUTE, SECOND } from '../support/builders.js';

function parseError(input: string): HgError {
  try {
    parseDuration(input);
  } catch (e) {
    expect(e).toBeInstanceOf(HgError);
    return e as HgError;
  }
  throw new Error(`parseDuration(${JSON.stringify(input)}) did not throw`);
}

describe('parseDuration', () => {
  it.each([
    ['90s', 90 * SECOND],
    ['1s', SECOND],
    ['15m', 15 * MINUTE],
    ['1h', HOUR],
    ['1h30m', HOUR + 30 * MINUTE],
    ['2d', 2 * DAY],
    ['1d2h3m4s', DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND],
    ['2d12h', 2 * DAY + 12 * HOUR],
    ['1h0m', HOUR],
    ['0h5m', 5 * MINUTE],
    ['120m', 2 * HOUR],
    ['36h', 36 * HOUR],
    ['007m', 7 * MINUTE],
  ])('compact form %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['PT1H', HOUR],
    ['PT15M', 15 * MINUTE],
    ['PT90S', 90 * SECOND],
    ['PT1H30M', HOUR + 30 * MINUTE],
    ['PT1H30M15S', HOUR + 30 * MINUTE + 15 * SECOND],
    ['P1D', DAY],
    ['P1DT2H', DAY + 2 * HOUR],
    ['P2DT0H5M', 2 * DAY + 5 * MINUTE],
    ['pt1h', HOUR],
    ['p1dt2h', DAY + 2 * HOUR],
  ])('ISO-8601 form %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('ignores surrounding whitespace', () => {
    expect(parseDuration('  15m ')).toBe(15 * MINUTE);
    expect(parseDuration('\tPT1H\n')).toBe(HOUR);
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['1x', 'unknown unit'],
    ['15', 'no unit'],
    ['m', 'unit without number'],
    ['h1', 'unit before number'],
    ['30m1h', 'units out of order'],
    ['1h1h', 'repeated unit'],
    ['1.5h', 'fraction'],
    ['1h 30m', 'inner space'],
    ['PT', 'ISO with no fields'],
    ['P', 'bare P'],
    ['P1DT', 'ISO with empty time part'],
    ['T1H', 'ISO without P'],
    ['P1H', 'ISO hours without T'],
    ['PT1D', 'ISO days inside the time part'],
    ['-5m', 'negative compact'],
    ['-PT5M', 'negative ISO'],
    ['PT-5M', 'negative ISO field'],
    ['+5m', 'signed'],
    ['1mo', 'months (compact)'],
    ['1M', 'capital M is not months or minutes in compact form'],
    ['P1M', 'months (ISO)'],
    ['P1Y', 'years (ISO)'],
    ['1y', 'years (compact)'],
    ['P1W', 'weeks (ISO)'],
    ['1w', 'weeks (compact)'],
    ['one hour', 'words'],
  ])('rejects %j (%s) with HG_INVALID_INPUT', (text) => {
    const err = parseError(text);
    expect(err.code).toBe('HG_INVALID_INPUT');
    expect(err.message).toContain('invalid duration');
  });

  it.each(['0s', '0m', '0h0m0s', 'PT0S', 'P0D', 'P0DT0H'])('rejects the zero duration %j', (text) => {
    const err = parseError(text);
    expect(err.code).toBe('HG_INVALID_INPUT');
    expect(err.message).toMatch(/positive/);
  });

  it('rejects a duration too large to be exact', () => {
    expect(parseError('999999999999999999d').code).toBe('HG_INVALID_INPUT');
  });
});

describe('formatDuration', () => {
  it.each([
    [SECOND, '1s'],
    [90 * SECOND, '1m30s'],
    [15 * MINUTE, '15m'],
    [HOUR, '1h'],
    [HOUR + 30 * MINUTE, '1h30m'],
    [2 * DAY, '2d'],
    [DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND, '1d2h3m4s'],
    [DAY + 5 * SECOND, '1d5s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('formats zero and negative values as 0s', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(-5 * MINUTE)).toBe('0s');
  });

  it('rounds to whole seconds', () => {
    expect(formatDuration(90_400)).toBe('1m30s');
    expect(formatDuration(90_600)).toBe('1m31s');
    expect(formatDuration(59_999)).toBe('1m');
  });

  it('never returns an empty string for a positive duration below half a second', () => {
    // Used in policy refusal messages ("duration  is below the minimum ..."): an empty string is never right.
    expect(formatDuration(1)).not.toBe('');
    expect(formatDuration(499)).not.toBe('');
  });

  it('is the inverse of parseDuration for whole seconds', () => {
    // Deterministic sweep over a wide range of whole-second durations.
    let seconds = 1;
    for (let i = 0; i < 500; i++) {
      const ms = seconds * 1000;
      expect(parseDuration(formatDuration(ms))).toBe(ms);
      seconds = (seconds * 7 + 13) % (40 * 86_400) || 1;
    }
  });

  it('parse then format gives the canonical compact form', () => {
    expect(formatDuration(parseDuration('PT90M'))).toBe('1h30m');
    expect(formatDuration(parseDuration('P1DT2H'))).toBe('1d2h');
    expect(formatDuration(parseDuration('90s'))).toBe('1m30s');
    expect(formatDuration(parseDuration('48h'))).toBe('2d');
  });
});
