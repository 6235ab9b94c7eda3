// Links from notifications, the pure part (web/src/lib/links.ts): the one-time token read from the
// URL's fragment and taken out of it, the request named in the query string, a refusal's reason
// from the server's error, and what the Approvals page, My access and the Slack link say.
import { describe, expect, it } from 'vitest';
import { CHAT_LINK_LIFETIME_MS } from '../../src/app/notifications/links.js';
import { approvalLinkNotice, chatLinkRefusalText, fragmentParam, refusalOf, requestParam, sendable, withoutFragmentParam } from '../../web/src/lib/links.js';

const TOKEN = `hgl_${'A'.repeat(43)}`;

describe('the fragment', () => {
  it('gives the token under its key, whatever else is there', () => {
    expect(fragmentParam(`#link=${TOKEN}`, 'link')).toBe(TOKEN);
    expect(fragmentParam(`link=${TOKEN}`, 'link')).toBe(TOKEN);
    expect(fragmentParam(`#x=1&chat-link=${TOKEN}`, 'chat-link')).toBe(TOKEN);
    expect(fragmentParam(`#chat-link=${TOKEN}`, 'link')).toBeUndefined();
    expect(fragmentParam('#link=', 'link')).toBeUndefined();
    expect(fragmentParam('#main', 'link')).toBeUndefined();
    expect(fragmentParam('', 'link')).toBeUndefined();
  });

  it('loses only that key, and is empty when nothing else was in it', () => {
    expect(withoutFragmentParam(`#link=${TOKEN}`, 'link')).toBe('');
    expect(withoutFragmentParam(`#x=1&link=${TOKEN}`, 'link')).toBe('#x=1');
    expect(withoutFragmentParam('#main', 'link')).toBe('#main');
    expect(withoutFragmentParam('', 'chat-link')).toBe('');
  });

  it('sends tokens up to the server’s body limit only', () => {
    expect(sendable(TOKEN)).toBe(true);
    expect(sendable('x'.repeat(100))).toBe(true);
    expect(sendable('x'.repeat(101))).toBe(false);
  });
});

describe('the query string', () => {
  it('names the request', () => {
    expect(requestParam('?request=r_123')).toBe('r_123');
    expect(requestParam('?a=1&request=r%2F1')).toBe('r/1');
    expect(requestParam('?request=')).toBeUndefined();
    expect(requestParam('')).toBeUndefined();
  });
});

describe('a refused link', () => {
  it('gives its reason from HG_LINK_INVALID only; an unexpected reason counts as unknown', () => {
    for (const reason of ['unknown', 'used', 'expired', 'other_person'] as const) expect(refusalOf('HG_LINK_INVALID', { reason })).toBe(reason);
    expect(refusalOf('HG_LINK_INVALID', { reason: 'strange' })).toBe('unknown');
    expect(refusalOf('HG_LINK_INVALID', undefined)).toBe('unknown');
    expect(refusalOf('HG_FORBIDDEN', { reason: 'used' })).toBeUndefined();
    expect(refusalOf(undefined, undefined)).toBeUndefined();
  });
});

describe('what the Approvals page says', () => {
  it('nothing for a request shown without a link; that it is gone when it is not on the page', () => {
    expect(approvalLinkNotice(undefined, true, 'bob')).toBeUndefined();
    expect(approvalLinkNotice(undefined, false, 'bob')).toEqual({ tone: 'info', text: expect.stringContaining('no longer waiting for your decision') });
  });

  it('an opened link: where it came from', () => {
    expect(approvalLinkNotice({ opened: true }, true, 'bob')).toEqual({ tone: 'info', text: 'Opened from your notification.' });
    expect(approvalLinkNotice({ opened: true }, false, 'bob')?.text).toMatch(/^Opened from your notification\. That request is no longer waiting/);
  });

  it('another person’s link: who is signed in, as a warning', () => {
    const n = approvalLinkNotice({ opened: false, reason: 'other_person' }, true, 'carol');
    expect(n?.tone).toBe('warn');
    expect(n?.text).toMatch(/^This link was sent to someone else; you are signed in as carol\./);
  });

  it('a used, expired or unknown link: why, and whether the request is below', () => {
    expect(approvalLinkNotice({ opened: false, reason: 'used' }, true, 'bob')).toEqual({
      tone: 'info',
      text: 'This link was used already: each link from a notification works once. The request is shown below.',
    });
    expect(approvalLinkNotice({ opened: false, reason: 'expired' }, false, 'bob')?.text).toMatch(/^This link has expired\. That request is no longer waiting/);
    expect(approvalLinkNotice({ opened: false, reason: 'unknown' }, true, 'bob')?.text).toBe(
      'This is not a link Hourglass sent, or it was copied incompletely. The request is shown below.',
    );
  });
});

describe('a refused Slack link', () => {
  it('says how to get a new one', () => {
    expect(chatLinkRefusalText('used')).toMatch(/^This link from Slack was used already\. Press Approve or Deny/);
    expect(chatLinkRefusalText('expired')).toContain('each lasts 15 minutes');
    expect(CHAT_LINK_LIFETIME_MS).toBe(15 * 60_000);
    expect(chatLinkRefusalText('unknown')).toMatch(/^This is not a link Hourglass sent from Slack/);
  });
});
