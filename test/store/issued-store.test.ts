/**
 * Credentials issued on request, on both dialects: serials are unique and ascending, a
 * revocation moves the target's version on exactly once, what has expired never enters the
 * list, agents' reports keep when a version was first applied, and an issue racing an end of
 * the grant either lands before it (and is revoked with it) or is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type OpenedStore } from '../../src/adapters/store/open-store.js';
import type { IssuedRecord } from '../../src/app/ports.js';
import type { AccessRequest } from '../../src/core/types.js';
import { writeTx } from '../support/store-writes.js';
import { freshStoreUrl, T0, type Dialect, type StoreHandle } from '../support/app-harness.js';

const HOUR = 3_600_000;

const record = (requestId: string, patch: Partial<IssuedRecord> = {}): IssuedRecord => ({
  target: 'hosts',
  requestId,
  principal: 'alice',
  entitlement: 'login',
  ref: 'SHA256:abc',
  issuedAt: T0,
  expiresAt: T0 + HOUR,
  ...patch,
});

const request = (id: string, version = 1): AccessRequest => ({
  id,
  status: 'active',
  access: 'present',
  requester: 'alice',
  entitlements: ['hosts/login'],
  durationMs: HOUR,
  requestedAt: T0,
  activatedAt: T0,
  expiresAt: T0 + HOUR,
  approvals: [],
  policies: { 'hosts/login': 'p' },
  terms: [],
  policyHash: 'h',
  breakGlass: false,
  reviewAlerted: false,
  extensions: [],
  version,
});

describe.each<Dialect>(['sqlite', 'postgres'])('issued credentials: %s', (dialect) => {
  let handle: StoreHandle;
  let s: OpenedStore;

  beforeAll(async () => {
    handle = await freshStoreUrl(dialect);
    s = await openStore(handle.url, { cwd: process.cwd() });
  });
  afterAll(async () => {
    await s?.close();
    await handle?.cleanup();
  });

  it('gives unique ascending serials, and revokes a request once, moving the version on once', async () => {
    const serials: number[] = [];
    for (const id of ['r1', 'r1', 'r2', 'r3']) serials.push(await s.store.transaction((tx) => tx.recordIssued(record(id))));
    expect(new Set(serials).size).toBe(4);
    expect([...serials].sort((a, b) => a - b)).toEqual(serials);
    expect(serials[0]).toBeGreaterThanOrEqual(1);
    expect(await s.issued.revocationState('hosts')).toEqual({ version: 0, changedAt: 0 });

    expect(await s.issued.revokeFor('hosts', 'r1', T0 + 10)).toBe(2);
    expect(await s.issued.revokeFor('hosts', 'r1', T0 + 20)).toBe(0);
    expect(await s.issued.revocationState('hosts')).toEqual({ version: 1, changedAt: T0 + 10 });
    expect(await s.issued.revokedSerials('hosts', T0 + 30)).toEqual(serials.slice(0, 2));
    // Another target's list is its own.
    expect(await s.issued.revokedSerials('other', T0 + 30)).toEqual([]);
    await s.issued.revokeFor('hosts', 'r2', T0 + 40);
    expect((await s.issued.revocationState('hosts')).version).toBe(2);
    // Once expired, a serial leaves the list (the certificate is refused by its own validity).
    expect(await s.issued.revokedSerials('hosts', T0 + HOUR)).toEqual([]);
  });

  it('does not revoke what has expired already, and so does not move the version', async () => {
    await s.store.transaction((tx) => tx.recordIssued(record('r4', { target: 'short', expiresAt: T0 + 1000 })));
    expect(await s.issued.revokeFor('short', 'r4', T0 + 2000)).toBe(0);
    expect((await s.issued.revocationState('short')).version).toBe(0);
  });

  it('keeps when a host first applied its version', async () => {
    await s.issued.recordAgentReport({ target: 'hosts', host: 'web-1', agent: 'a', version: 1, at: T0 + 100 });
    await s.issued.recordAgentReport({ target: 'hosts', host: 'web-1', agent: 'a', version: 1, at: T0 + 200 });
    expect(await s.issued.agentReports('hosts')).toMatchObject([{ host: 'web-1', version: 1, seenAt: T0 + 200, appliedAt: T0 + 100, alertedVersion: null }]);
    await s.issued.recordAgentReport({ target: 'hosts', host: 'web-1', agent: 'a', version: 2, at: T0 + 300 });
    await s.issued.markAlerted('hosts', 'web-1', 2);
    expect(await s.issued.agentReports('hosts')).toMatchObject([{ version: 2, seenAt: T0 + 300, appliedAt: T0 + 300, alertedVersion: 2 }]);
  });

  it('finds a credential by its reference, and publishes a signing key while a credential it signed lives', async () => {
    const jwk = (kid: string) => JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: kid, kid });
    await s.store.transaction(async (tx) => {
      await tx.recordSigningKey('api', 'old', jwk('old'));
      await tx.recordSigningKey('api', 'old', jwk('old')); // once per kid
      await tx.recordIssued(record('t1', { target: 'api', ref: 'jti-1', signer: 'old', expiresAt: T0 + 1000 }));
      await tx.recordSigningKey('api', 'new', jwk('new'));
      await tx.recordIssued(record('t2', { target: 'api', ref: 'jti-2', signer: 'new', expiresAt: T0 + 5000 }));
    });
    expect(await s.issued.find('api', 'jti-1')).toMatchObject({ requestId: 't1', signer: 'old', revokedAt: null, expiresAt: T0 + 1000 });
    expect(await s.issued.find('api', 'nope')).toBeUndefined();
    expect(await s.issued.find('hosts', 'jti-1')).toBeUndefined();
    expect((await s.issued.liveSigningKeys('api', T0)).map((k) => JSON.parse(k).kid)).toEqual(['new', 'old']);
    expect((await s.issued.liveSigningKeys('api', T0 + 1000)).map((k) => JSON.parse(k).kid)).toEqual(['new']);
    expect(await s.issued.liveSigningKeys('api', T0 + 5000)).toEqual([]);
    await s.issued.revokeFor('api', 't2', T0 + 10);
    expect((await s.issued.find('api', 'jti-2'))!.revokedAt).toBe(T0 + 10);
  });

  it('lockRequest holds only for the version read', async () => {
    await writeTx(s.store)((tx) => tx.insertRequest(request('r9')));
    expect(await s.store.transaction((tx) => tx.lockRequest(request('r9', 1)))).toBe(true);
    await writeTx(s.store)(async (tx) => expect(await tx.updateRequest(request('r9', 1), { ...request('r9', 2), status: 'revoked' })).toBe(true));
    expect(await s.store.transaction((tx) => tx.lockRequest(request('r9', 1)))).toBe(false);
  });

  if (dialect === 'postgres') {
    it('an issue that locked the request first delays the end, which then sees (and revokes) its serial', async () => {
      await writeTx(s.store)((tx) => tx.insertRequest(request('r10')));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let serial = 0;
      const issuing = s.store.transaction(async (tx) => {
        expect(await tx.lockRequest(request('r10'))).toBe(true);
        serial = await tx.recordIssued(record('r10'));
        await held;
      });
      await new Promise((r) => setTimeout(r, 100));
      // The end of the grant waits for the issuing transaction's row lock.
      let ended = false;
      const ending = writeTx(s.store)((tx) => tx.updateRequest(request('r10'), { ...request('r10', 2), status: 'revoked', access: 'removing' })).then((won) => {
        ended = won;
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(ended).toBe(false);
      release();
      await issuing;
      await ending;
      expect(ended).toBe(true);
      expect(await s.issued.revokeFor('hosts', 'r10', T0 + 10)).toBe(1);
      expect(await s.issued.revokedSerials('hosts', T0 + 20)).toContain(serial);
    });

    it('an issue after the end committed is refused', async () => {
      await writeTx(s.store)((tx) => tx.insertRequest(request('r11')));
      await writeTx(s.store)((tx) => tx.updateRequest(request('r11'), { ...request('r11', 2), status: 'revoked' }));
      expect(await s.store.transaction((tx) => tx.lockRequest(request('r11')))).toBe(false);
    });
  }
});
