import { describe, expect, it } from 'vitest';
import { HIDDEN, REDACTED, redact } from '../../src/core/redact.js';

describe('redact', () => {
  it('replaces every occurrence of every secret, longer secrets first', () => {
    expect(redact('pw=abcd1234 again abcd1234', ['abcd1234'])).toBe(`pw=${HIDDEN} again ${HIDDEN}`);
    // "abcd" inside "abcd1234" must not leave "1234" behind.
    expect(redact('x abcd1234 y abcd', ['abcd', 'abcd1234'])).toBe('x *** y ***');
  });

  it('skips empty secrets and takes another marker', () => {
    expect(redact('nothing here', ['', 'zzz'])).toBe('nothing here');
    expect(redact('token s3cr3t', new Set(['s3cr3t']), REDACTED)).toBe('token [redacted]');
  });
});
