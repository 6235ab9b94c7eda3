/**
 * The in-memory target kind of test/support/memory-connector.ts passes the connector contract
 * the real kinds pass, so the use-case tests that run on it (test/app/access-work.test.ts,
 * test/app/reconcile.test.ts) test against a connector that behaves like one. Run twice: with
 * every capability, and with none of the optional ones (the cases that do not apply are not
 * generated, and the ones that replace them run).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { TargetConfig } from '../../src/core/types.js';
import { createMemoryKind, type MemoryKind } from '../support/memory-connector.js';
import { connectorContract, type ConnectorFixture } from './contract.js';

function targetOf(kind: MemoryKind): TargetConfig {
  const yaml = `
credentials: { key: ${randomBytes(32).toString('base64')} }
targets:
  mem:
    type: ${kind.factory.kind}
    entitlements:
      read: { holds: [read] }
      write: { holds: [read, write] }
`;
  return parseConfig(yaml, {}, 'memory.yaml', [...connectorFactories, kind.factory]).targets.mem!;
}

function fixture(kind: MemoryKind): ConnectorFixture {
  const target = targetOf(kind);
  const server = kind.target(target.name);
  return {
    factory: kind.factory,
    target,
    entitlement: 'read',
    probe: async (creds) => server.use(creds, 'read'),
    probeBeyond: async (creds) => server.use(creds, 'write'),
    openSession: async (creds) => server.openSession(creds),
    secrets: [],
    refused: { holds: ['no_such_privilege'] },
    teardown: async () => {},
  };
}

const full = createMemoryKind();
connectorContract('memory', { issuesCredentials: true, endsSessions: true, enforcesExpiry: true, canList: true }, async () => fixture(full));

const bare = createMemoryKind({ kind: 'memory-bare', capabilities: { endsSessions: false, enforcesExpiry: false, canList: false } });
connectorContract('memory (no optional capabilities)', { issuesCredentials: true, endsSessions: false, enforcesExpiry: false, canList: false }, async () =>
  fixture(bare),
);

describe('memory target knobs', () => {
  const kind = createMemoryKind({ kind: 'memory-knobs' });
  const target = targetOf(kind);
  const server = kind.target(target.name);
  const connector = kind.factory.create(target, { secretsToScrub: (t) => t });
  const grant = (requestId: string) => ({
    requestId,
    principal: 'alice',
    target,
    entitlements: [{ name: 'read', config: { holds: ['read'] } }],
    expiresAt: Date.now() + 60_000,
  });

  it('fails the next N calls of the verbs asked for, then works; records every call', async () => {
    server.failNext(2, { verbs: ['grant'] });
    await expect(connector.grant(grant('req_k1'))).rejects.toMatchObject({
      code: 'HG_TARGET_UNAVAILABLE',
      message: 'target "mem": grant: connection refused (injected)',
    });
    await connector.revoke(grant('req_k1'));
    await expect(connector.grant(grant('req_k1'))).rejects.toThrow(/injected/);
    expect((await connector.grant(grant('req_k1'))).credentials).toBeDefined();
    expect(server.calls.map((c) => c.verb)).toEqual(['grant', 'revoke', 'grant', 'grant']);
    expect(server.callsOf('grant', 'req_k1')).toHaveLength(3);
    expect(server.holdsOf('req_k1')).toEqual(['read']);
  });

  it('holds a call until it is released or failed', async () => {
    const held = server.hold(['revoke']);
    let done = false;
    const p = connector.revoke(grant('req_k1')).then(() => (done = true));
    await held.arrived;
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    expect(server.holdsOf('req_k1')).toEqual(['read']);
    held.release();
    await p;
    expect(server.holdsOf('req_k1')).toBeUndefined();

    const failing = server.hold();
    const q = connector.grant(grant('req_k2'));
    await failing.arrived;
    failing.fail('timed out');
    await expect(q).rejects.toThrow('target "mem": grant: timed out');
    expect(server.holdsOf('req_k2')).toBeUndefined();
  });
});
