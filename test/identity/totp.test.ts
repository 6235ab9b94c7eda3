// The TOTP step-up factor against an independent implementation, Debian's oathtool (OATH
// Toolkit), and the RFC 6238 test vectors; and the recovery codes.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { promisify } from 'node:util';
import { Secret, TOTP, URI } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { matchRecoveryCode, newRecoveryCodes, RECOVERY_CODE_BITS } from '../../src/adapters/mfa/recovery-codes.js';
import { newTotpSecret, otpauthUri, qrSvg, totpCode, verifyTotp } from '../../src/adapters/mfa/totp.js';

const OATHTOOL = '/usr/bin/oathtool';
try {
  accessSync(OATHTOOL, constants.X_OK);
} catch {
  throw new Error(`${OATHTOOL} is missing: install the Debian package oathtool (scripts/install-test-deps.sh)`);
}
const run = promisify(execFile);

/** oathtool's code for the secret at a whole second since the epoch. */
async function oathtool(secretBase32: string, epochSeconds: number, digits = 6): Promise<string> {
  const { stdout } = await run(OATHTOOL, ['--totp', '-b', '-d', String(digits), '--now', `@${epochSeconds}`, secretBase32]);
  return stdout.trim();
}

// RFC 6238 appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
const RFC_SECRET = Secret.fromLatin1('12345678901234567890').base32;
const RFC_VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];
const step = (s: number) => Math.floor(s / 30);

describe('TOTP', () => {
  it('encodes the RFC 6238 seed as the known base32 string', () => {
    expect(RFC_SECRET).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });

  it('generates the codes oathtool and RFC 6238 give at the same instants', async () => {
    for (const [t, rfc8] of RFC_VECTORS) {
      expect(await oathtool(RFC_SECRET, t, 8)).toBe(rfc8);
      const ours = totpCode(RFC_SECRET, t * 1000);
      expect(ours).toBe(rfc8.slice(-6));
      expect(ours).toBe(await oathtool(RFC_SECRET, t));
    }
    const { secretBase32 } = newTotpSecret();
    for (const t of [0, 29, 30, 1700000000, 1700000029, 1893456000]) {
      expect(totpCode(secretBase32, t * 1000 + 999)).toBe(await oathtool(secretBase32, t));
    }
  });

  it("accepts oathtool's code at its instant and ±30 s, not at ±60 s or ±90 s", async () => {
    const { secretBase32 } = newTotpSecret();
    const record = { secretBase32, lastUsedStep: null };
    for (const t of [1111111109, 1700000015, 1800000000]) {
      const code = await oathtool(secretBase32, t);
      expect(verifyTotp(record, code, t * 1000)).toBe(step(t));
      expect(verifyTotp(record, code, (t + 30) * 1000)).toBe(step(t));
      expect(verifyTotp(record, code, (t - 30) * 1000)).toBe(step(t));
      expect(verifyTotp(record, code, (t + 60) * 1000)).toBeNull();
      expect(verifyTotp(record, code, (t - 60) * 1000)).toBeNull();
      expect(verifyTotp(record, code, (t + 90) * 1000)).toBeNull();
      expect(verifyTotp(record, code, (t - 90) * 1000)).toBeNull();
    }
  });

  it('accepts the RFC vectors and refuses a wrong code', () => {
    for (const [t, rfc8] of RFC_VECTORS) {
      const record = { secretBase32: RFC_SECRET, lastUsedStep: null };
      expect(verifyTotp(record, rfc8.slice(-6), t * 1000)).toBe(step(t));
      const wrong = String((Number(rfc8.slice(-6)) + 1) % 1e6).padStart(6, '0');
      expect(verifyTotp(record, wrong, t * 1000)).toBeNull();
    }
  });

  it('refuses a code of a step at or before lastUsedStep', async () => {
    const { secretBase32 } = newTotpSecret();
    const t = 1700000010;
    const code = await oathtool(secretBase32, t);
    const used = verifyTotp({ secretBase32, lastUsedStep: null }, code, t * 1000);
    expect(used).toBe(step(t));
    // The same code again, at once and later in the window.
    expect(verifyTotp({ secretBase32, lastUsedStep: used }, code, t * 1000)).toBeNull();
    expect(verifyTotp({ secretBase32, lastUsedStep: used }, code, (t + 30) * 1000)).toBeNull();
    // The previous step's code, still inside the window.
    const earlier = await oathtool(secretBase32, t - 30);
    expect(verifyTotp({ secretBase32, lastUsedStep: null }, earlier, t * 1000)).toBe(step(t) - 1);
    expect(verifyTotp({ secretBase32, lastUsedStep: used }, earlier, t * 1000)).toBeNull();
    // The next step's code is still accepted once the current one was used.
    const next = await oathtool(secretBase32, t + 30);
    expect(verifyTotp({ secretBase32, lastUsedStep: used }, next, t * 1000)).toBe(step(t) + 1);
  });

  it('refuses input that is not six digits, without throwing', () => {
    const record = { secretBase32: RFC_SECRET, lastUsedStep: null };
    const code = totpCode(RFC_SECRET, 59_000);
    for (const bad of ['', '28708', '2870822', ` ${code}`, `${code}\n`, '28 082', '２８７０８２', 'abcdef', '-28708', '287.82', '94287082']) {
      expect(verifyTotp(record, bad, 59_000)).toBeNull();
    }
    expect(verifyTotp(record, undefined as unknown as string, 59_000)).toBeNull();
  });

  it('refuses a malformed or short secret without quoting it', () => {
    for (const secretBase32 of ['', 'GEZDGNBVGY3TQOJQ', 'gezdgnbvgy3tqojqgezdgnbvgy3tqojq', 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1']) {
      expect(() => verifyTotp({ secretBase32, lastUsedStep: null }, '123456', 59_000)).toThrow(/^The TOTP secret is malformed\.$/);
    }
  });

  it('makes 160-bit secrets from the random source', () => {
    const a = newTotpSecret();
    expect(a.secretBase32).toMatch(/^[A-Z2-7]{32}$/);
    expect(Secret.fromBase32(a.secretBase32).bytes).toHaveLength(20);
    expect(newTotpSecret().secretBase32).not.toBe(a.secretBase32);
    const fixed = newTotpSecret((n) => Buffer.from('12345678901234567890'.slice(0, n), 'latin1'));
    expect(fixed.secretBase32).toBe(RFC_SECRET);
    expect(() => newTotpSecret(() => Buffer.alloc(10))).toThrow(/wrong number of bytes/);
  });

  it('writes an otpauth URI that otpauth parses back, and an SVG QR code', async () => {
    const { secretBase32 } = newTotpSecret();
    const uri = otpauthUri({ issuer: 'Hourglass Prod', account: 'alice@example.test', secretBase32 });
    expect(uri).toMatch(/^otpauth:\/\/totp\/Hourglass%20Prod:alice%40example\.test\?/);
    const parsed = URI.parse(uri);
    expect(parsed).toBeInstanceOf(TOTP);
    const totp = parsed as TOTP;
    expect(totp.issuer).toBe('Hourglass Prod');
    expect(totp.label).toBe('alice@example.test');
    expect(totp.secret.base32).toBe(secretBase32);
    expect([totp.algorithm, totp.digits, totp.period]).toEqual(['SHA1', 6, 30]);
    expect(totp.generate({ timestamp: 1700000000_000 })).toBe(await oathtool(secretBase32, 1700000000));
    expect(() => otpauthUri({ issuer: 'a:b', account: 'alice', secretBase32 })).toThrow(/colon/);
    expect(() => otpauthUri({ issuer: 'Hourglass', account: '', secretBase32 })).toThrow(/account/);

    const svg = await qrSvg(uri);
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.trimEnd()).toMatch(/<\/svg>$/);
  });
});

describe('recovery codes', () => {
  it('are distinct, grouped and of the documented entropy', () => {
    expect(RECOVERY_CODE_BITS).toBe(80);
    const { codes, hashes } = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(hashes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
    // 16 symbols of a 32-symbol alphabet: log2(32^16) = 80 bits.
    expect(codes[0]!.replace(/-/g, '').length * Math.log2(32)).toBe(RECOVERY_CODE_BITS);
    expect(new Set(codes).size).toBe(10);
    expect(new Set(hashes).size).toBe(10);
    for (const [i, hash] of hashes.entries()) expect(hash).not.toContain(codes[i]!.replace(/-/g, ''));
    expect(newRecoveryCodes(3).codes).toHaveLength(3);
    for (const bad of [0, -1, 1.5, 101, Number.NaN]) expect(() => newRecoveryCodes(bad)).toThrow(/1 to 100/);
  });

  it('use every symbol at every position about equally', () => {
    const counts = new Map<string, number>();
    const codes = Array.from({ length: 200 }, () => newRecoveryCodes(10).codes).flat();
    for (const code of codes) for (const c of code.replace(/-/g, '')) counts.set(c, (counts.get(c) ?? 0) + 1);
    // 2000 codes × 16 symbols / 32 = 1000 expected per symbol; ±20% is over 6 standard deviations.
    expect(counts.size).toBe(32);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(200);
    const firstSymbols = new Set(codes.map((c) => c[0]));
    expect(firstSymbols.size).toBe(32);
  });

  it('each match once, by index, once the caller marks it used', () => {
    const { codes, hashes } = newRecoveryCodes();
    const stored: (string | null)[] = [...hashes];
    for (const [i, code] of codes.entries()) {
      expect(matchRecoveryCode(code, stored)).toBe(i);
      stored[i] = null;
      expect(matchRecoveryCode(code, stored)).toBeNull();
    }
  });

  it('normalise case, spaces, dashes and look-alike letters', () => {
    const { codes, hashes } = newRecoveryCodes(1);
    const code = codes[0]!;
    const plain = code.replace(/-/g, '');
    for (const variant of [
      plain,
      code.toUpperCase(),
      ` ${plain.match(/.{2}/g)!.join(' ')} `,
      `${plain.slice(0, 8)}--${plain.slice(8)}`,
      plain.replace(/0/g, 'O').replace(/1/g, 'l'),
    ]) {
      expect(matchRecoveryCode(variant, hashes)).toBe(0);
    }
  });

  it('refuse wrong codes and malformed input or hashes', () => {
    const { codes, hashes } = newRecoveryCodes(5);
    const other = newRecoveryCodes(5).codes;
    for (const code of other) expect(matchRecoveryCode(code, hashes)).toBeNull();
    const plain = codes[0]!.replace(/-/g, '');
    const flipped = plain.slice(0, 15) + (plain[15] === 'z' ? 'y' : 'z');
    for (const bad of [
      flipped,
      plain.slice(0, 15),
      `${plain}0`,
      `${plain.slice(0, 15)}u`,
      '',
      `${codes[0]}${' '.repeat(60)}`,
      undefined as unknown as string,
    ]) {
      expect(matchRecoveryCode(bad, hashes)).toBeNull();
    }
    // A corrupt entry never matches and does not hide the others.
    const corrupt = ['sha256$xx$yy', 'plain', hashes[0]!.replace('sha256', 'md5'), ...hashes.slice(1)];
    expect(matchRecoveryCode(codes[0]!, corrupt)).toBeNull();
    expect(matchRecoveryCode(codes[1]!, corrupt)).toBe(3);
    expect(matchRecoveryCode(codes[0]!, [])).toBeNull();
  });
});
