/**
 * The whole application from the composition root, as `serve` builds it, over a SQLite store in
 * memory, a manual clock, pinned jitter and in-memory targets (test/support/memory-connector.ts)
 * in place of database servers: for the use cases that call targets (access work, reconciliation)
 * when what is tested is their own logic, not a target's.
 */
import { randomBytes } from 'node:crypto';
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import type { AccessRequest, Principal } from '../../src/core/types.js';
import { createHourglass, type HourglassSystem } from '../../src/compose.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { AuditEvent } from '../../src/app/ports.js';
import type { ConnectorFactory } from '../../src/app/connectors.js';
import type { HourglassConfig } from '../../src/config/types.js';
import { T0, principal } from './builders.js';
import { ManualClock } from './manual-clock.js';
import { createMemoryKind, type MemoryKind, type MemoryTarget } from './memory-connector.js';

export const alice: Principal = principal('alice', ['developers']);
export const admin: Principal = principal('admin', [], ['admin', 'auditor']);

/** Two in-memory targets (`mem`, `mem2`) and a self-service policy for both; `targets` adds YAML to each. */
export function memoryYaml(opts: { mem?: string; mem2?: string } = {}): string {
  return `
credentials: { key: "${randomBytes(32).toString('base64')}" }
principals:
  - { id: alice, groups: [developers] }
  - { id: admin, roles: [admin, auditor] }
targets:
  mem:
    type: memory
${opts.mem ?? ''}
    entitlements:
      read: { holds: [read] }
      write: { holds: [read, write] }
  mem2:
    type: memory
${opts.mem2 ?? ''}
    entitlements:
      read: { holds: [read] }
policies:
  - name: dev
    subjects: { groups: [developers] }
    entitlements: [mem/read, mem/write, mem2/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
`;
}

export interface MemorySystem {
  system: HourglassSystem;
  clock: ManualClock;
  kind: MemoryKind;
  mem: MemoryTarget;
  mem2: MemoryTarget;
  /** Submits a self-service request as alice. */
  submit(entitlements: string[], duration?: string): Promise<AccessRequest>;
  /** The request as stored (the API hides accessError and the lease). */
  stored(id: string): Promise<AccessRequest>;
  /** Audit events of one type (and request). */
  events(type: string, requestId?: string): Promise<AuditEvent[]>;
  /** Stops this system and builds a new one over the same store, targets, clock and file (a server restart). Needs `store` to be a file. */
  restart(): Promise<MemorySystem>;
  close(): Promise<void>;
}

/**
 * `store`: the store URL (default a SQLite database in memory; a file, e.g. `sqlite:/tmp/x/hg.db`, to `restart`).
 * `kinds`: more memory kinds (other `kind` names and capabilities) the file may use beside `memory`.
 */
export async function memorySystem(opts: { yaml?: string; now?: number; jitter?: number; store?: string; kinds?: MemoryKind[] } = {}): Promise<MemorySystem> {
  const clock = new ManualClock(opts.now ?? T0);
  const kind = createMemoryKind({ now: () => clock.now() });
  const more = opts.kinds ?? [];
  const factories = [...connectorFactories, kind.factory, ...more.map((k) => k.factory)];
  const parsed = parseConfig(opts.yaml ?? memoryYaml(), {}, 'memory.yaml', factories);
  const config = { ...parsed, server: { ...parsed.server, store: opts.store ?? 'sqlite::memory:', rateLimitPerMinute: 0 } };
  return build(config, clock, kind, factories, opts.jitter ?? 0.5);
}

async function build(config: HourglassConfig, clock: ManualClock, kind: MemoryKind, factories: ConnectorFactory[], jitter: number): Promise<MemorySystem> {
  const system = await createHourglass(config, {}, { clock, metrics: false, http: false, detached: false, random: () => jitter, factories });
  const store = system.stores.store;
  return {
    system,
    clock,
    kind,
    mem: kind.target('mem'),
    mem2: kind.target('mem2'),
    submit: async (entitlements, duration = '1h') => (await system.app.requests.submit(alice, { entitlements, duration })).request,
    stored: async (id) => (await store.getRequest(id))!,
    events: async (type, requestId) => (await store.listAudit({ type, ...(requestId ? { requestId } : {}), limit: 1000 })).events,
    restart: async () => {
      await system.close();
      return build(config, clock, kind, factories, jitter);
    },
    close: () => system.close(),
  };
}
