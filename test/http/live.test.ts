// GET /v1/live (server-sent events) on SQLite and PostgreSQL, over real HTTP: the requester hears
// of its own requests, an approver of those it may decide, anyone else of nothing; a session that
// signs out loses its stream; the per-principal limit holds; and a change committed by another
// server on the same store arrives too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/app/identity/password.js';
import { createHourglass, type HourglassSystem } from '../../src/compose.js';
import { tokenHash } from '../fixtures/policies.js';
import { freshStoreUrl, token, type Dialect, type StoreHandle } from '../support/app-harness.js';
import { parseConfig } from '../support/config.js';
import { freePort } from '../support/server-process.js';

const yaml = (port: number) => `
server: { listen: "127.0.0.1:${port}", publicUrl: "http://127.0.0.1:${port}" }
principals:
  - { id: alice, groups: [developers], password: "\${ALICE_HASH}", apiTokens: [{ sha256: ${tokenHash('alice')} }] }
  - { id: bob, groups: [sre-leads], apiTokens: [{ sha256: ${tokenHash('bob')} }] }
  - { id: carol, groups: [other], apiTokens: [{ sha256: ${tokenHash('carol')} }] }
targets:
  db: { type: hourglass, entitlements: { admin: {} } }
policies:
  - { name: admin, subjects: { groups: [developers] }, entitlements: [db/admin], maxDuration: 1h, reason: optional, approval: { required: 1, approvers: { groups: [sre-leads] } } }
`;

interface Frame {
  event: string;
  data: any;
}

/** Reads a text/event-stream into frames as they come. */
async function openStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const frames: Frame[] = [];
  let ended = false;
  if (res.status === 200) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) frames.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted by close()
      }
      ended = true;
    })();
  }
  return {
    res,
    frames,
    changes: () => frames.filter((f) => f.event === 'change').map((f) => f.data),
    get ended() {
      return ended;
    },
    close: () => controller.abort(),
  };
}

type Stream = Awaited<ReturnType<typeof openStream>>;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`GET /v1/live on ${dialect}`, () => {
    let handle: StoreHandle;
    let hg: HourglassSystem;
    let other: HourglassSystem;
    let base: string;
    const bearer = (id: string) => ({ authorization: `Bearer ${token(id)}` });
    const api = async (id: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...bearer(id), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as any };
    };

    beforeAll(async () => {
      handle = await freshStoreUrl(dialect);
      const env = { ALICE_HASH: await hashPassword('alice-password') };
      const [port, otherPort] = await Promise.all([freePort(), freePort()]);
      base = `http://127.0.0.1:${port}`;
      hg = await createHourglass(parseConfig(yaml(port), env), env, { metrics: false, storeUrl: handle.url, liveKeepAliveMs: 300 });
      await hg.server!.listen({ host: '127.0.0.1', port });
      if (dialect === 'postgres') {
        // A second server on the same store: its commits reach the first one's streams by polling.
        other = await createHourglass(parseConfig(yaml(otherPort), env), env, { metrics: false, storeUrl: handle.url });
        await other.server!.listen({ host: '127.0.0.1', port: otherPort });
      }
    }, 60_000);
    afterAll(async () => {
      await other?.close();
      await hg?.close();
      await handle?.cleanup();
    });

    it('tells the requester of its own request and an approver of one it may decide; others hear nothing', async () => {
      const [alice, bob, carol] = (await Promise.all(['alice', 'bob', 'carol'].map((id) => openStream(`${base}/v1/live`, bearer(id))))) as [
        Stream,
        Stream,
        Stream,
      ];
      expect(alice.res.status).toBe(200);
      expect(alice.res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      await expect.poll(() => alice.frames[0]).toEqual({ event: 'hello', data: { principal: 'alice' } });
      const asked = await api('alice', 'POST', '/v1/requests', { entitlements: ['db/admin'], duration: '30m' });
      expect(asked.status).toBe(201);
      const id = asked.body.id as string;
      await expect.poll(() => alice.changes()).toContainEqual(expect.objectContaining({ topic: 'mine', requestId: id, type: 'request.submitted' }));
      await expect.poll(() => bob.changes()).toContainEqual(expect.objectContaining({ topic: 'approvals', requestId: id, type: 'request.submitted' }));
      expect((await api('bob', 'POST', `/v1/requests/${id}/approve`, {})).status).toBe(200);
      await expect.poll(() => alice.changes().map((c) => c.type)).toEqual(expect.arrayContaining(['request.approved', 'grant.activated']));
      expect(carol.changes()).toEqual([]);
      // A message names the request and the event, nothing of what is in it.
      expect(Object.keys(alice.changes()[0]).sort()).toEqual(['at', 'requestId', 'topic', 'type']);
      for (const s of [alice, bob, carol]) s.close();
    });

    it('a session that signs out loses its stream at the next keep-alive', async () => {
      const signIn = await fetch(`${base}/v1/auth/password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ principal: 'alice', password: 'alice-password' }),
      });
      const cookie = String(signIn.headers.get('set-cookie')).split(';')[0]!;
      const { csrfToken } = (await signIn.json()) as { csrfToken: string };
      const stream = await openStream(`${base}/v1/live`, { cookie });
      expect(stream.res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 700)); // keep-alives pass while signed in
      expect(stream.ended).toBe(false);
      expect(
        (
          await fetch(`${base}/v1/auth/logout`, {
            method: 'POST',
            headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
            body: '{}',
          })
        ).status,
      ).toBe(200);
      await expect.poll(() => stream.frames.at(-1), { timeout: 5000 }).toEqual({ event: 'end', data: { reason: 'signed out' } });
      await expect.poll(() => stream.ended).toBe(true);
    });

    it('refuses a stranger, and more than 5 streams for one principal', async () => {
      expect((await openStream(`${base}/v1/live`, {})).res.status).toBe(401);
      const open = await Promise.all(Array.from({ length: 5 }, () => openStream(`${base}/v1/live`, bearer('carol'))));
      expect(open.map((s) => s.res.status)).toEqual([200, 200, 200, 200, 200]);
      const sixth = await openStream(`${base}/v1/live`, bearer('carol'));
      expect(sixth.res.status).toBe(429);
      expect(((await sixth.res.json()) as any).error.code).toBe('HG_RATE_LIMITED');
      for (const s of open) s.close();
      // Closed streams free their places.
      await expect
        .poll(async () => {
          const s = await openStream(`${base}/v1/live`, bearer('carol'));
          s.close();
          return s.res.status;
        })
        .toBe(200);
    });

    if (dialect === 'postgres') {
      it('a change committed by another server on the same store arrives too', async () => {
        const alice = await openStream(`${base}/v1/live`, bearer('alice'));
        await expect.poll(() => alice.frames.length).toBeGreaterThan(0);
        const otherBase = `http://127.0.0.1:${(other.server!.server.address() as { port: number }).port}`;
        const res = await fetch(`${otherBase}/v1/requests`, {
          method: 'POST',
          headers: { ...bearer('alice'), 'content-type': 'application/json' },
          body: JSON.stringify({ entitlements: ['db/admin'], duration: '10m' }),
        });
        const id = ((await res.json()) as { id: string }).id;
        await expect.poll(() => alice.changes(), { timeout: 5000 }).toContainEqual(expect.objectContaining({ topic: 'mine', requestId: id }));
        alice.close();
      });
    }
  });
}
