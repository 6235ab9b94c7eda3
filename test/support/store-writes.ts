/**
 * Store tests write requests directly, below the use cases. The use cases always commit an audit
 * event naming each request whose live grants change (the check index's feed: the store refuses
 * a transaction without one). `writeTx` does the same for such tests: the store's transaction,
 * plus one event per request inserted or updated in it.
 */
import type { Store, StoreTx } from '../../src/app/ports.js';
import type { AccessRequest } from '../../src/core/types.js';
import { T0 } from './app-harness.js';

let n = 0;

export function writeTx(store: Pick<Store, 'transaction'>) {
  return <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> =>
    store.transaction(async (tx) => {
      const written = new Set<string>();
      const recording = new Proxy(tx, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (prop === 'insertRequest' || prop === 'updateRequest') {
            return (req: { id: string }, ...rest: unknown[]) => {
              written.add(req.id);
              return (value as (...a: unknown[]) => unknown).call(target, req, ...rest);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const result = await fn(recording);
      await tx.appendAudit(
        [...written].map((requestId) => ({ id: `evt_written_${++n}`, at: 0, type: 'written.request', actor: 'test', requestId, policyHash: 'h' })),
      );
      return result;
    });
}

/** An active request of alice's for demo-db/read, an hour from T0 (patch anything). */
export function storedRequest(id: string, patch: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id,
    status: 'active',
    access: 'present',
    requester: 'alice',
    entitlements: ['demo-db/read'],
    durationMs: 3_600_000,
    requestedAt: T0,
    activatedAt: T0,
    expiresAt: T0 + 3_600_000,
    approvals: [],
    policies: { 'demo-db/read': 'p' },
    terms: [],
    policyHash: 'h',
    breakGlass: false,
    reviewAlerted: false,
    extensions: [],
    version: 1,
    ...patch,
  };
}
