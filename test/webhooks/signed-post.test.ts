/** The guarded, signed POST (SSRF refusals, no redirects, one deadline) and the reference verifier. */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInternalAddress, OutboundRefused, signatureHeader, signedPost } from '../../src/adapters/outbound/signed-post.js';
import { verifyWebhookSignature } from '../../src/adapters/outbound/verify-signature.js';
import { SECRET_A, startReceiver, type Receiver } from './support.js';

let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  await rx.close();
});

const post = (url: string, allowedHosts: string[] = [], extra: Partial<Parameters<typeof signedPost>[0]> = {}) =>
  signedPost({ url, body: '{"hello":"world"}', secret: SECRET_A, timestamp: Math.floor(Date.now() / 1000), timeoutMs: 2000, allowedHosts, ...extra });

describe('signedPost: internal addresses are refused unless allowed', () => {
  const refused = () => [
    `http://127.0.0.1:${rx.port}/ssrf`,
    `http://localhost:${rx.port}/ssrf`,
    `http://LocalHost:${rx.port}/ssrf`,
    'http://169.254.169.254/latest/meta-data/',
    'http://10.1.2.3/',
    'http://192.168.0.1/',
    'http://172.16.0.1/',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    `http://[::1]:${rx.port}/ssrf`,
    `http://[::ffff:127.0.0.1]:${rx.port}/ssrf`,
    `http://[::ffff:169.254.169.254]/`,
    `http://[::127.0.0.1]:${rx.port}/ssrf`,
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    `http://2130706433:${rx.port}/ssrf`,
    `http://0x7f.1:${rx.port}/ssrf`,
  ];

  it('refuses every form of an internal address before connecting', async () => {
    for (const url of refused()) {
      await expect(post(url), url).rejects.toBeInstanceOf(OutboundRefused);
    }
    expect(rx.on('/ssrf')).toHaveLength(0);
  });

  it('refuses other schemes', async () => {
    await expect(post('file:///etc/passwd')).rejects.toBeInstanceOf(OutboundRefused);
    await expect(post('ftp://example.com/')).rejects.toBeInstanceOf(OutboundRefused);
  });

  it('classifies addresses', () => {
    for (const ip of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1', '::ffff:10.0.0.1', '::7f00:1', 'fc00::1', '64:ff9b::a00:1', '::', 'nonsense']) {
      expect(isInternalAddress(ip), ip).toBe(true);
    }
    for (const ip of ['8.8.8.8', '2606:4700::1', '::ffff:8.8.8.8']) expect(isInternalAddress(ip), ip).toBe(false);
  });

  it('sends to a host listed in allowedHosts (exact address, CIDR, or name)', async () => {
    expect((await post(`${rx.url}/allowed-ip`, ['127.0.0.1'])).status).toBe(200);
    expect((await post(`${rx.url}/allowed-cidr`, ['127.0.0.0/8'])).status).toBe(200);
    expect((await post(`http://localhost:${rx.port}/allowed-name`, ['localhost'])).status).toBe(200);
    // Another internal address is still refused with a list in place.
    await expect(post('http://10.0.0.1/', ['127.0.0.0/8'])).rejects.toBeInstanceOf(OutboundRefused);
    expect(rx.on('/allowed-ip')).toHaveLength(1);
    expect(rx.on('/allowed-cidr')).toHaveLength(1);
    expect(rx.on('/allowed-name')).toHaveLength(1);
  });
});

describe('signedPost: the request', () => {
  it('signs timestamp and body; extra headers cannot replace the signature', async () => {
    const ts = 1_767_607_200;
    const res = await post(`${rx.url}/signed`, ['127.0.0.1'], { timestamp: ts, headers: { 'hourglass-signature': 'forged', 'x-extra': '1' } });
    expect(res.status).toBe(200);
    const [got] = rx.on('/signed');
    expect(got!.headers['hourglass-signature']).toBe(signatureHeader(SECRET_A, ts, '{"hello":"world"}'));
    expect(got!.headers['hourglass-timestamp']).toBe(String(ts));
    expect(got!.headers['x-extra']).toBe('1');
    expect(got!.headers['content-type']).toBe('application/json');
    expect(verifyWebhookSignature(SECRET_A, got!.headers['hourglass-signature'] as string, got!.body, ts * 1000)).toBe(true);
  });

  it('does not follow redirects', async () => {
    rx.respond = ({ path }) => (path === '/redirect' ? { status: 302, headers: { location: `${rx.url}/target` } } : 200);
    try {
      expect((await post(`${rx.url}/redirect`, ['127.0.0.1'])).status).toBe(302);
      expect(rx.on('/target')).toHaveLength(0);
    } finally {
      rx.respond = () => 200;
    }
  });

  it('one deadline bounds the exchange, even against a receiver that trickles its headers', async () => {
    const sockets: net.Socket[] = [];
    const trickler = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.write('HTTP/1.1 200 OK\r\n');
      const t = setInterval(() => socket.write('x-slow: 1\r\n'), 50);
      socket.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => trickler.listen(0, '127.0.0.1', r));
    const port = (trickler.address() as AddressInfo).port;
    try {
      const started = Date.now();
      await expect(post(`http://127.0.0.1:${port}/`, ['127.0.0.1'], { timeoutMs: 300 })).rejects.toThrow(/no answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => trickler.close(r));
    }
  });

  it('a refused connection is a network error, not a refusal', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await post(`http://127.0.0.1:${port}/`, ['127.0.0.1']).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(OutboundRefused);
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
  });
});

describe('verifyWebhookSignature', () => {
  const body = '{"id":"x","event":{"type":"grant.activated"}}';
  const t = 1_767_607_200;
  const header = signatureHeader(SECRET_A, t, body);
  const now = t * 1000;

  it('accepts a fresh, correct signature (string or raw bytes)', () => {
    expect(verifyWebhookSignature(SECRET_A, header, body, now)).toBe(true);
    expect(verifyWebhookSignature(SECRET_A, header, Buffer.from(body), now + 299_000)).toBe(true);
  });

  it('rejects a wrong secret, an altered body or timestamp, and malformed headers', () => {
    expect(verifyWebhookSignature('another-secret-0123456789', header, body, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET_A, header, body.replace('activated', 'revoked'), now)).toBe(false);
    expect(verifyWebhookSignature(SECRET_A, header.replace(`t=${t}`, `t=${t + 1}`), body, now)).toBe(false);
    for (const bad of [undefined, '', 'garbage', `t=${t}`, `v1=${'0'.repeat(64)}`, `t=abc,v1=${'0'.repeat(64)}`, `t=${t},v1=zz`]) {
      expect(verifyWebhookSignature(SECRET_A, bad, body, now), String(bad)).toBe(false);
    }
  });

  it('rejects timestamps outside the tolerance, old (replays) or in the future', () => {
    expect(verifyWebhookSignature(SECRET_A, header, body, now + 301_000)).toBe(false);
    expect(verifyWebhookSignature(SECRET_A, header, body, now - 301_000)).toBe(false);
    expect(verifyWebhookSignature(SECRET_A, header, body, now + 59_000, 60)).toBe(true);
    expect(verifyWebhookSignature(SECRET_A, header, body, now + 61_000, 60)).toBe(false);
  });

  it('accepts any of several v1 signatures (secret rotation)', () => {
    const other = signatureHeader('the-new-secret-0123456789', t, body).split(',')[1];
    expect(verifyWebhookSignature(SECRET_A, `${header},${other}`, body, now)).toBe(true);
    expect(verifyWebhookSignature('the-new-secret-0123456789', `${header},${other}`, body, now)).toBe(true);
  });
});
