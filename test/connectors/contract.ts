/**
 * The connector contract: every target kind runs this suite against its real server (started
 * by the kind's test harness; the in-memory connector of test/support runs it too). A connector
 * that passes creates access that really works, takes it away for real (new logins refused,
 * live sessions ended), and is idempotent.
 *
 * The cases are built from the capabilities the kind declares (and the first case checks the
 * connector reports exactly those): a case that does not apply to a kind is not generated, so
 * every case that runs asserts something.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, ConnectorFactory, Credentials, Granted, GrantOnTarget, IssueInput, Reconcilable } from '../../src/app/connectors.js';
import { HgError } from '../../src/core/errors.js';
import type { TargetCapabilities, TargetConfig } from '../../src/core/types.js';

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
  /** An entitlement's configuration the target itself refuses at grant (a role, privilege or rule it does not have). */
  refused: Record<string, unknown>;
  /**
   * Kinds that issue on request (ssh): what the requester sends, and how the revocation of a
   * request's issued serials reaches the target (the access worker marks them revoked; for ssh,
   * the agent installs the list). The suite then issues credentials through `issuer` and calls
   * `revoked` after every `revoke`, as the app does.
   */
  onDemand?: { input: IssueInput; revoked(serials: readonly number[]): Promise<void> };
  /** server.allowedHosts for kinds that POST to an address (webhook: the loopback receiver). */
  allowedHosts?: readonly string[];
  teardown(): Promise<void>;
}

/** What a kind's grants on the contract's target can do: decides which cases are generated. */
export type ContractCapabilities = Omit<TargetCapabilities, 'inline'>;

let seq = 0;
const grantFor = (f: ConnectorFixture, expiresAt = Date.now() + 3_600_000): GrantOnTarget => ({
  requestId: `req_contract${Date.now().toString(36)}${(seq++).toString(36)}`,
  principal: 'alice',
  target: f.target,
  entitlements: [{ name: f.entitlement, config: f.target.entitlements[f.entitlement] as Record<string, unknown> }],
  expiresAt,
});

export function connectorContract(kind: string, caps: ContractCapabilities, setup: () => Promise<ConnectorFixture>) {
  describe(`connector contract: ${kind}`, () => {
    let f: ConnectorFixture;
    let c: Connector;

    beforeAll(async () => {
      f = await setup();
      c = f.factory.create(f.target, {
        secretsToScrub: (t) => f.secrets.reduce((s, x) => s.split(x).join('***'), t),
        ...(f.allowedHosts ? { allowedHosts: () => f.allowedHosts! } : {}),
      });
    });
    afterAll(async () => {
      await c?.close();
      await f?.teardown();
    });

    /** The grant as the access worker hands it back to revoke and extend: with the handle grant returned, if any. */
    const withHandle = (g: GrantOnTarget, granted: Granted): GrantOnTarget => {
      if (granted.handle !== undefined) expect(typeof granted.handle).toBe('string');
      return granted.handle !== undefined ? { ...g, handle: granted.handle } : g;
    };

    /** Serials issued per request, and every serial revoked so far (a revocation list holds them all). */
    let serial = 0;
    const issuedTo = new Map<string, number[]>();
    const revokedSerials: number[] = [];

    /**
     * The credentials of a grant: present exactly when the kind issues them at grant (the probes
     * get `{}` otherwise); a kind that issues on request issues them now, each with a serial.
     */
    const credentialsOf = async (granted: Granted, g?: GrantOnTarget): Promise<Credentials> => {
      if (caps.issuesCredentials) expect(granted.credentials).toBeDefined();
      else expect(granted.credentials).toBeUndefined();
      if (!caps.issuesOnDemand) return granted.credentials ?? {};
      expect(c.issuer).toBeDefined();
      const prepared = c.issuer!.prepare(g!, f.onDemand!.input, Date.now());
      const serials = prepared.map(() => ++serial);
      issuedTo.set(g!.requestId, [...(issuedTo.get(g!.requestId) ?? []), ...serials]);
      return { issued: await Promise.all(prepared.map((p, i) => p.sign(serials[i]!))) };
    };

    /** revoke as the access worker does it: issued credentials revoked first, then the connector. */
    const revoke = async (g: GrantOnTarget) => {
      if (caps.issuesOnDemand) {
        revokedSerials.push(...(issuedTo.get(g.requestId) ?? []));
        issuedTo.delete(g.requestId);
        await f.onDemand!.revoked(revokedSerials);
      }
      await c.revoke(g);
    };

    it('reports healthy, validates its own configuration, and has the capabilities this suite was built for', async () => {
      // An issuer is there exactly when the kind says it issues on request.
      expect(c.issuer !== undefined).toBe(caps.issuesOnDemand === true);
      expect(await c.health()).toMatchObject({ ok: true });
      expect(f.factory.validate(f.target)).toEqual([]);
      expect({ ...c.capabilities, inline: undefined }).toEqual({ ...caps, inline: undefined });
      expect({ ...f.factory.capabilities(f.target), inline: undefined }).toEqual({ ...caps, inline: undefined });
      // Reconciliation is there exactly when the kind says it can list.
      expect(c.reconciliation !== undefined).toBe(caps.canList);
    });

    it('grant → the access works, only as far as the entitlement goes → revoke → refused → revoke again is fine', async () => {
      const asked = grantFor(f);
      const granted = await c.grant(asked);
      const g = withHandle(asked, granted);
      const credentials = await credentialsOf(granted, g);
      expect(await f.probe(credentials)).toBe('ok');
      expect(await f.probeBeyond(credentials)).not.toBe('ok');
      await revoke(g);
      expect(await f.probe(credentials)).toBe('login-refused');
      await revoke(g);
    });

    it('extend keeps the access working', async () => {
      const asked = grantFor(f, Date.now() + 60_000);
      const granted = await c.grant(asked);
      const g = withHandle(asked, granted);
      const credentials = await credentialsOf(granted, g);
      await c.extend({ ...g, expiresAt: g.expiresAt + 3_600_000 });
      expect(await f.probe(credentials)).toBe('ok');
      await revoke(g);
    });

    it('overlapping grants of the same entitlement are independent', async () => {
      const a = grantFor(f);
      const b = grantFor(f);
      const ca = await credentialsOf(await c.grant(a), a);
      const cb = await credentialsOf(await c.grant(b), b);
      await revoke(a);
      expect(await f.probe(ca)).toBe('login-refused');
      expect(await f.probe(cb)).toBe('ok');
      await revoke(b);
    });

    it('errors never carry secrets: a grant the target refuses fails, scrubbed', async () => {
      const bad: GrantOnTarget = { ...grantFor(f), entitlements: [{ name: 'nope', config: f.refused }] };
      const outcome = await c.grant(bad).then(
        () => 'granted' as const,
        (e: unknown) => e,
      );
      await c.revoke(bad).catch(() => {});
      expect(outcome).toBeInstanceOf(HgError);
      for (const secret of f.secrets) expect((outcome as HgError).message).not.toContain(secret);
    });

    if (caps.canList) {
      const r = (): Reconcilable => c.reconciliation!;

      it('granting twice (a retry after a crash) leaves one working account', async () => {
        const g = grantFor(f);
        await c.grant(g);
        const credentials = await credentialsOf(await c.grant(g));
        expect(await f.probe(credentials)).toBe('ok');
        const mine = (await r().list()).filter((x) => x.requestId === g.requestId);
        expect(mine).toHaveLength(1);
        // No handle: the crash lost what grant returned; revoke must still remove all of it.
        await c.revoke(g);
        expect((await r().list()).filter((x) => x.requestId === g.requestId)).toHaveLength(0);
      });

      it('list shows what a live grant holds, in the words `expected` uses', async () => {
        const g = grantFor(f);
        await c.grant(g);
        const found = (await r().list()).find((x) => x.requestId === g.requestId);
        expect(found).toBeDefined();
        const expected = r().expected(g);
        expect(expected.length).toBeGreaterThan(0);
        for (const want of expected) expect(found!.holds).toContain(want);
        await c.revoke(g);
      });

      it('removes an orphan found by list', async () => {
        const g = grantFor(f);
        const credentials = await credentialsOf(await c.grant(g));
        const found = (await r().list()).find((x) => x.requestId === g.requestId)!;
        await r().removeOrphan(found);
        expect(await f.probe(credentials)).toBe('login-refused');
        expect((await r().list()).find((x) => x.requestId === g.requestId)).toBeUndefined();
      });
    } else {
      it('granting twice (a retry after a crash) leaves working access that one revoke removes', async () => {
        const g = grantFor(f);
        await c.grant(g);
        const credentials = await credentialsOf(await c.grant(g), g);
        expect(await f.probe(credentials)).toBe('ok');
        // No handle: the crash lost what grant returned; revoke must still remove all of it.
        await revoke(g);
        expect(await f.probe(credentials)).toBe('login-refused');
      });
    }

    if (caps.endsSessions) {
      it('live sessions end at revoke', async () => {
        const g = grantFor(f);
        const credentials = await credentialsOf(await c.grant(g));
        const session = await f.openSession(credentials);
        try {
          expect(await session.alive()).toBe(true);
          await c.revoke(g);
          expect(await session.alive()).toBe(false);
        } finally {
          await session.close().catch(() => {});
        }
      });
    }

    if (caps.enforcesExpiry) {
      it('the target itself refuses the access after expiresAt', async () => {
        const g = grantFor(f, Date.now() + 2500);
        const credentials = await credentialsOf(await c.grant(g), g);
        expect(await f.probe(credentials)).toBe('ok');
        // Whole seconds (certificates): the end may be up to a second earlier than asked, never later.
        await new Promise((r) => setTimeout(r, 3500));
        expect(await f.probe(credentials)).toBe('login-refused');
        await c.revoke(g);
      });
    }
  });
}
