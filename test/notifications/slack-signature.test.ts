/** Slack request signatures: Slack's documented example, and every way a forged or stale request is refused. */
import { describe, expect, it } from 'vitest';
import { signSlackRequest, verifySlackSignature } from '../../src/adapters/notifiers/slack/signature.js';

const SECRET = 'b3f0c6a2d8e94f1a7c5b2e8d6a4f0c3e';
const BODY = 'payload=%7B%22type%22%3A%22block_actions%22%7D';
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const TS = String(NOW / 1000);

const check = (over: Partial<Parameters<typeof verifySlackSignature>[0]> = {}) =>
  verifySlackSignature({ signingSecret: SECRET, timestamp: TS, signature: signSlackRequest(SECRET, TS, BODY), rawBody: BODY, now: NOW, ...over });

describe('verifySlackSignature', () => {
  it('matches Slack`s documented example', () => {
    // https://api.slack.com/authentication/verifying-requests-from-slack
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const signature = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', '1531420618', body)).toBe(signature);
    expect(
      verifySlackSignature({ signingSecret: '8f742231b10e8888abcd99yyyzzz85a5', timestamp: '1531420618', signature, rawBody: body, now: 1531420618_000 }),
    ).toEqual({ ok: true });
  });

  it('accepts a fresh request signed with the secret, as a string or as bytes', () => {
    expect(check()).toEqual({ ok: true });
    expect(check({ rawBody: Buffer.from(BODY) })).toEqual({ ok: true });
    expect(check({ now: NOW + 5 * 60_000 })).toEqual({ ok: true });
  });

  it('refuses a tampered body', () => {
    expect(check({ rawBody: BODY.replace('block_actions', 'block_actionz') })).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('refuses a timestamp more than 5 minutes old, or ahead', () => {
    const old = check({ now: NOW + 5 * 60_000 + 1000 });
    expect(old).toMatchObject({ ok: false, reason: expect.stringContaining('5 minutes') });
    const ahead = String(NOW / 1000 + 301);
    expect(check({ timestamp: ahead, signature: signSlackRequest(SECRET, ahead, BODY) })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('5 minutes'),
    });
    // The timestamp is signed: moving it to now breaks the signature.
    expect(check({ timestamp: String(NOW / 1000 + 1) })).toMatchObject({ ok: false, reason: 'signature does not match' });
  });

  it('refuses a signature made with another secret', () => {
    expect(check({ signature: signSlackRequest('another-secret-0123456789abcdef', TS, BODY) })).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('refuses malformed or missing headers', () => {
    const good = signSlackRequest(SECRET, TS, BODY);
    for (const signature of [undefined, '', 'v1=' + good.slice(3), good.slice(0, -2), good + '00', 'v0=' + 'zz'.repeat(32), [good, good]]) {
      expect(check({ signature })).toMatchObject({ ok: false });
    }
    for (const timestamp of [undefined, '', 'yesterday', '-1', `${TS}.5`, ' ' + TS, [TS]]) {
      expect(check({ timestamp })).toMatchObject({ ok: false });
    }
    expect(check({ signingSecret: '' })).toMatchObject({ ok: false });
  });
});
