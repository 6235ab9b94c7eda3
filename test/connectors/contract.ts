/**
 * The connector contract: every target kind runs this suite against its real server (started
 * by the kind's test harness). A connector that passes creates access that really works,
 * takes it away for real (new logins refused, live sessions ended), and is idempotent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, ConnectorFactory, Credentials, GrantOnTarget } from '../../src/app/connectors.js';
import type { TargetConfig } from '../../src/core/types.js';

export type ProbeResult = 'ok' | 'login-refused' | 'action-refused';

export interface ConnectorFixture {
  factory: ConnectorFactory;
  /** The target as the config loader produced it (defaults applied). */
  target: TargetConfig;
  /** An entitlement whose effect `probe` checks. */
  entitlement: string;
  /** Logs in with the credentials and does what the entitlement allows (and only that). */
  probe(creds: Credentials): Promise<ProbeResult>;
  /** Something the entitlement does NOT allow: must be refused even while the grant is live. */
  probeBeyond(creds: Credentials): Promise<ProbeResult>;
  /** Opens a session that stays open; `alive` runs a trivial command on it. */
  openSession(creds: Credentials): Promise<{ alive(): Promise<boolean>; close(): Promise<void> }>;
  /** Secrets that must never appear in a connector's error messages. */
  secrets: string[];
  teardown(): Promise<void>;
}

let seq = 0;
const grantFor = (f: ConnectorFixture, expiresAt = Date.now() + 3_600_000): GrantOnTarget => ({
  requestId: `req_contract${Date.now().toString(36)}${(seq++).toString(36)}`,
  principal: 'alice',
  target: f.target,
  entitlements: [{ name: f.entitlement, config: f.target.entitlements[f.entitlement] as Record<string, unknown> }],
  expiresAt,
});

export function connectorContract(kind: string, setup: () => Promise<ConnectorFixture>) {
  describe(`connector contract: ${kind}`, () => {
    let f: ConnectorFixture;
    let c: Connector;

    beforeAll(async () => {
      f = await setup();
      c = f.factory.create(f.target, { secretsToScrub: (t) => f.secrets.reduce((s, x) => s.split(x).join('***'), t) });
    });
    afterAll(async () => {
      await c?.close();
      await f?.teardown();
    });

    it('reports healthy and validates its own configuration', async () => {
      expect(await c.health()).toMatchObject({ ok: true });
      expect(f.factory.validate(f.target)).toEqual([]);
    });

    it('grant → the access works, only as far as the entitlement goes → revoke → refused → revoke again is fine', async () => {
      const g = grantFor(f);
      const { credentials } = await c.grant(g);
      expect(credentials).toBeDefined();
      expect(await f.probe(credentials!)).toBe('ok');
      expect(await f.probeBeyond(credentials!)).not.toBe('ok');
      await c.revoke(g);
      expect(await f.probe(credentials!)).toBe('login-refused');
      await c.revoke(g);
    });

    it('granting twice (a retry after a crash) leaves one working account', async () => {
      const g = grantFor(f);
      await c.grant(g);
      const { credentials } = await c.grant(g);
      expect(await f.probe(credentials!)).toBe('ok');
      const mine = (await c.list()).filter((x) => x.requestId === g.requestId);
      expect(mine).toHaveLength(1);
      await c.revoke(g);
      expect((await c.list()).filter((x) => x.requestId === g.requestId)).toHaveLength(0);
    });

    it('extend keeps the access working', async () => {
      const g = grantFor(f, Date.now() + 60_000);
      const { credentials } = await c.grant(g);
      await c.extend({ ...g, expiresAt: g.expiresAt + 3_600_000 });
      expect(await f.probe(credentials!)).toBe('ok');
      await c.revoke(g);
    });

    it('list shows what a live grant holds, in the words `expected` uses', async () => {
      const g = grantFor(f);
      await c.grant(g);
      const found = (await c.list()).find((x) => x.requestId === g.requestId);
      expect(found).toBeDefined();
      for (const want of c.expected(g)) expect(found!.holds).toContain(want);
      await c.revoke(g);
    });

    it('overlapping grants of the same entitlement are independent', async () => {
      const a = grantFor(f);
      const b = grantFor(f);
      const ca = (await c.grant(a)).credentials!;
      const cb = (await c.grant(b)).credentials!;
      await c.revoke(a);
      expect(await f.probe(ca)).toBe('login-refused');
      expect(await f.probe(cb)).toBe('ok');
      await c.revoke(b);
    });

    it('live sessions end at revoke when the connector says it can end them', async () => {
      const g = grantFor(f);
      const { credentials } = await c.grant(g);
      const session = await f.openSession(credentials!);
      try {
        expect(await session.alive()).toBe(true);
        await c.revoke(g);
        if (c.capabilities.endsSessions) expect(await session.alive()).toBe(false);
      } finally {
        await session.close().catch(() => {});
      }
    });

    it('removes an orphan found by list', async () => {
      const g = grantFor(f);
      const { credentials } = await c.grant(g);
      const found = (await c.list()).find((x) => x.requestId === g.requestId)!;
      await c.removeOrphan(found);
      expect(await f.probe(credentials!)).toBe('login-refused');
      expect((await c.list()).find((x) => x.requestId === g.requestId)).toBeUndefined();
    });

    it('the target itself refuses the access after expiresAt when the connector says it enforces expiry', async () => {
      if (!c.capabilities.enforcesExpiry) return;
      const g = grantFor(f, Date.now() + 1500);
      const { credentials } = await c.grant(g);
      expect(await f.probe(credentials!)).toBe('ok');
      await new Promise((r) => setTimeout(r, 2500));
      expect(await f.probe(credentials!)).toBe('login-refused');
      await c.revoke(g);
    });

    it('errors never carry secrets', async () => {
      const bad: GrantOnTarget = { ...grantFor(f), entitlements: [{ name: 'nope', config: { roles: ['no_such_role_x'], privileges: ['SELECT ON no_such_db_x.*'], acl: '+nosuchcommand' } }] };
      const err = await c.grant(bad).then(
        () => undefined,
        (e: Error) => e,
      );
      await c.revoke(bad).catch(() => {});
      if (err) for (const secret of f.secrets) expect(err.message).not.toContain(secret);
    });
  });
}
