// The e-mail channel against a real SMTP server (test/support/smtp-server.ts): STARTTLS + AUTH,
// implicit TLS, a relay without STARTTLS, refused logins and unusable addresses.
import { afterEach, describe, expect, it } from 'vitest';
import type { HourglassConfig, EmailSettings } from '../../src/config/types.js';
import type { MessageChannel, SendInput } from '../../src/app/notifications/ports.js';
import { describeSmtpError, emailChannel, plausibleAddress } from '../../src/adapters/notifiers/email/index.js';
import { startSmtpServer, type SmtpServer } from '../support/smtp-server.js';

const PASSWORD = 'correct horse battery staple';

const configWith = (email: EmailSettings): HourglassConfig =>
  ({ notifications: { email, teams: [], routes: [], linkLifetimeMs: 0 } }) as unknown as HourglassConfig;

const settings = (server: SmtpServer, over: Partial<EmailSettings> = {}): EmailSettings => ({
  host: '127.0.0.1',
  port: server.port,
  security: 'starttls',
  user: 'hourglass',
  password: PASSWORD,
  from: 'Hourglass <access@hourglass.example>',
  ca: server.ca,
  timeoutMs: 5_000,
  ...over,
});

const input = (over: Partial<SendInput> = {}): SendInput => ({
  notificationId: 'n-42',
  deliveryId: 'n-42.1',
  destination: 'email',
  recipient: { principal: 'alice', displayName: 'Alice Doe', email: 'alice@example.com' },
  message: {
    topic: 'approval.requested',
    subject: 'Approve access to prod-db for bob',
    text: 'Bob asks for prod-db:read for 1h.',
    html: '<p>Bob asks for <b>prod-db:read</b> for 1h.</p>',
    facts: [],
  },
  ...over,
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(
  opts: Parameters<typeof startSmtpServer>[0] = { users: { hourglass: PASSWORD } },
): Promise<{ server: SmtpServer; channel: MessageChannel }> {
  const server = await startSmtpServer(opts);
  cleanups.push(() => server.close());
  const channel = emailChannel();
  cleanups.push(async () => channel.close?.());
  return { server, channel };
}

describe('email channel', () => {
  it('delivers over STARTTLS with AUTH: subject, text, html, addresses, headers and Message-ID', async () => {
    const { server, channel } = await setUp();
    const result = await channel.send(input(), configWith(settings(server)));
    expect(result).toMatchObject({ kind: 'sent' });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);

    const [mail] = await server.waitFor(1);
    expect(mail!.subject).toBe('Approve access to prod-db for bob');
    expect(mail!.text?.trim()).toBe('Bob asks for prod-db:read for 1h.');
    expect(mail!.html).toContain('<b>prod-db:read</b>');
    expect(mail!.from?.value).toEqual([{ name: 'Hourglass', address: 'access@hourglass.example' }]);
    const to = Array.isArray(mail!.to) ? mail!.to[0] : mail!.to;
    expect(to?.value).toEqual([{ name: 'Alice Doe', address: 'alice@example.com' }]);
    expect(mail!.headers.get('x-hourglass-notification')).toBe('n-42');
    expect(mail!.headers.get('x-hourglass-topic')).toBe('approval.requested');
    expect(mail!.messageId).toBe('<n-42.1@hourglass.example>');
    expect(mail!.envelope).toEqual({ from: 'access@hourglass.example', to: ['alice@example.com'] });
    expect(server.authFailures).toBe(0);

    // The pooled connection carries the next message too.
    expect(await channel.send(input({ deliveryId: 'n-42.2' }), configWith(settings(server)))).toMatchObject({ kind: 'sent' });
    expect((await server.waitFor(2))[1]!.messageId).toBe('<n-42.2@hourglass.example>');
  });

  it('a wrong password fails without the password in the message', async () => {
    const { server, channel } = await setUp();
    const wrong = 'not-the-password-0123';
    const result = await channel.send(input(), configWith(settings(server, { password: wrong })));
    expect(result.kind).toBe('failed');
    const message = result.kind === 'failed' ? result.message : '';
    expect(message).toMatch(/^SMTP 535: /);
    expect(message).not.toContain(wrong);
    expect(message).not.toContain(Buffer.from(wrong).toString('base64'));
    expect(server.authFailures).toBeGreaterThanOrEqual(1);
    expect(server.messages).toHaveLength(0);
    expect(channel.secrets(configWith(settings(server, { password: wrong })))).toEqual([wrong]);
  });

  it('security starttls refuses a relay that does not offer STARTTLS (nothing sent in clear)', async () => {
    const { server, channel } = await setUp({ offerStartTls: false });
    const result = await channel.send(input(), configWith(settings(server, { user: undefined, password: undefined })));
    expect(result.kind).toBe('failed');
    expect(result.kind === 'failed' && result.message).toMatch(/STARTTLS/);
    expect(server.messages).toHaveLength(0);
  });

  it('security none sends in clear to a relay without TLS', async () => {
    const { server, channel } = await setUp({ offerStartTls: false });
    const result = await channel.send(input(), configWith(settings(server, { security: 'none', user: undefined, password: undefined, ca: undefined })));
    expect(result).toMatchObject({ kind: 'sent' });
    expect(await server.waitFor(1)).toHaveLength(1);
  });

  it('skips a recipient without an address, and one whose address could inject headers', async () => {
    const { server, channel } = await setUp();
    const config = configWith(settings(server));
    expect(await channel.send(input({ recipient: { principal: 'bob' } }), config)).toMatchObject({ kind: 'skipped', reason: 'no e-mail address for bob' });
    for (const email of [
      'alice@example.com\r\nBcc: mallory@evil.example',
      'alice@example.com\n',
      'Alice <alice@example.com>',
      'a@b@c',
      'alice',
      'alice@',
      'a,b@example.com',
    ]) {
      const result = await channel.send(input({ recipient: { principal: 'alice', email } }), config);
      expect(result.kind, email).toBe('skipped');
    }
    expect(server.messages).toHaveLength(0);
  });

  it('keeps CR/LF in the display name and subject out of the headers', async () => {
    const { server, channel } = await setUp();
    const result = await channel.send(
      input({
        recipient: { principal: 'alice', displayName: 'Alice\r\nBcc: mallory@evil.example', email: 'alice@example.com' },
        message: { ...input().message, subject: 'Hi\r\nBcc: mallory@evil.example' },
      }),
      configWith(settings(server)),
    );
    expect(result).toMatchObject({ kind: 'sent' });
    const [mail] = await server.waitFor(1);
    expect(mail!.bcc).toBeUndefined();
    expect(mail!.envelope.to).toEqual(['alice@example.com']);
  });

  it('security tls speaks TLS from the first byte', async () => {
    const { server, channel } = await setUp({ users: { hourglass: PASSWORD }, secure: true });
    const result = await channel.send(input(), configWith(settings(server, { security: 'tls' })));
    expect(result).toMatchObject({ kind: 'sent' });
    expect((await server.waitFor(1))[0]!.subject).toBe('Approve access to prod-db for bob');
  });

  it('an untrusted certificate fails', async () => {
    const { server, channel } = await setUp();
    const result = await channel.send(input(), configWith(settings(server, { ca: undefined })));
    expect(result.kind).toBe('failed');
    expect(server.messages).toHaveLength(0);
  });

  it('a reload with other settings replaces the pool; equal settings keep it', async () => {
    const { server, channel } = await setUp();
    const first = await startSmtpServer({ users: { hourglass: PASSWORD } });
    cleanups.push(() => first.close());
    expect(await channel.send(input(), configWith(settings(first)))).toMatchObject({ kind: 'sent' });
    expect(await channel.send(input(), configWith({ ...settings(first) }))).toMatchObject({ kind: 'sent' });
    expect(await channel.send(input(), configWith(settings(server)))).toMatchObject({ kind: 'sent' });
    expect(first.messages).toHaveLength(2);
    expect(server.messages).toHaveLength(1);
  });

  it('a refused connection fails with its code', async () => {
    const { server, channel } = await setUp();
    const port = server.port;
    await server.close();
    const result = await channel.send(input(), configWith(settings(server, { port })));
    expect(result).toMatchObject({ kind: 'failed', message: expect.stringContaining('ECONNREFUSED') });
  });

  it('destinations, personal, secrets', () => {
    const channel = emailChannel();
    const none = { notifications: { teams: [], routes: [], linkLifetimeMs: 0 } } as unknown as HourglassConfig;
    expect(channel.destinations(none)).toEqual([]);
    expect(channel.destinations({} as HourglassConfig)).toEqual([]);
    expect(channel.secrets(none)).toEqual([]);
    const config = configWith({ host: 'smtp.example.com', port: 587, security: 'starttls', from: 'a@example.com', timeoutMs: 1000 });
    expect(channel.destinations(config)).toEqual(['email']);
    expect(channel.secrets(config)).toEqual([]);
    expect(channel.personal('email')).toBe(true);
    expect(channel.updatesInPlace).toBe(false);
  });

  it('describeSmtpError keeps the reply and strips the password', () => {
    const err = Object.assign(new Error(`Invalid login: 535 bad ${PASSWORD}`), { code: 'EAUTH', response: `535 5.7.8 bad ${PASSWORD}`, command: 'AUTH PLAIN' });
    expect(describeSmtpError(err, { user: 'u', password: PASSWORD })).toBe('SMTP 535: 5.7.8 bad *** (AUTH PLAIN)');
    const b64 = Buffer.from(`\u0000u\u0000${PASSWORD}`).toString('base64');
    expect(describeSmtpError(new Error(`AUTH PLAIN ${b64}`), { user: 'u', password: PASSWORD })).toBe('AUTH PLAIN ***');
    expect(plausibleAddress('jürgen@bücher.example')).toBe(true);
    expect(plausibleAddress('first.last+tag@sub.example.co.uk')).toBe(true);
  });
});
