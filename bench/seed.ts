/**
 * Seeds a SQLite store with active grants before the server starts (the server then holds the
 * SQLite file exclusively); check-throughput does it in a child process.
 *
 * The first grant goes through the real use case (RequestService.submit). The rest take the
 * same path minus the per-request transaction: the real policy evaluation (evaluateRequest),
 * the same construction (newRequest), the real lifecycle transition (lifecycle.open) and the real store writes (insertRequest,
 * which maintains the grants index, and appendAudit), committed 1,000 to a transaction. A check
 * compares each seeded row's shape with the reference row, so the fast path cannot drift from
 * what the server writes. The audit chain is then linked and verified, as a running server
 * would have done, so the server under test starts from a verified chain.
 */
import { factsFor, stamp } from '../src/app/context.js';
import type { Hourglass } from '../src/app/hourglass.js';
import { createHourglass } from '../src/compose.js';
import { newRequest } from '../src/app/requests.js';
import { connectorFactories } from '../src/adapters/connectors/index.js';
import { parseConfig } from '../src/config/load-config.js';
import { parseDuration } from '../src/core/duration.js';
import * as lifecycle from '../src/core/lifecycle.js';
import { evaluateRequest } from '../src/core/policy.js';
import type { AccessRequest, Principal } from '../src/core/types.js';

export interface SeedItem {
  principal: Principal;
  entitlement: string;
  duration: string;
  /** The clock the submission sees (epoch ms). */
  now: number;
}

export interface SeedReport {
  requests: number;
  seedMs: number;
  chainMs: number;
  auditEvents: number;
}

const REASON = 'benchmark seed';
const SOURCE_IP = '10.0.0.1';
const BATCH = 1000;

const shape = (req: AccessRequest) => Object.keys(req).sort().join(',');
const shapeDiff = (want: string, got: AccessRequest) => {
  const a = new Set(want.split(','));
  const b = new Set(Object.keys(got));
  return `missing [${[...a].filter((k) => !b.has(k)).join(', ')}], extra [${[...b].filter((k) => !a.has(k)).join(', ')}]`;
};

export async function seedActiveGrants(opts: { storePath: string; yaml: string; count: number; item: (i: number) => SeedItem }): Promise<SeedReport> {
  const config = parseConfig(opts.yaml, {}, 'bench.yaml', connectorFactories);
  let t = Date.now();
  const clock = { now: () => t };
  const hg = await createHourglass(config, {}, { clock, storeUrl: `sqlite:${opts.storePath}`, metrics: false, http: false });
  const { app } = hg;
  const store = hg.stores.store;
  try {
    const started = performance.now();
    const first = opts.item(0);
    t = first.now;
    const { request: reference } = await app.requests.submit(
      first.principal,
      { entitlements: [first.entitlement], duration: first.duration, reason: REASON },
      { sourceIp: SOURCE_IP },
    );
    if (reference.status !== 'active') throw new Error(`seed request is ${reference.status}, expected active`);
    const expectedShape = shape(reference);

    for (let from = 1; from < opts.count; from += BATCH) {
      const outcomes: { outcome: lifecycle.Outcome; now: number }[] = [];
      for (let i = from; i < Math.min(opts.count, from + BATCH); i++) {
        const it = opts.item(i);
        t = it.now;
        outcomes.push({ outcome: open(app, it), now: it.now });
      }
      await store.transaction(async (tx) => {
        for (const { outcome, now } of outcomes) {
          if (outcome.request.status !== 'active' || shape(outcome.request) !== expectedShape) {
            throw new Error(
              `a fast-seeded request differs from one submitted through the API (${outcome.request.status}; ${shapeDiff(expectedShape, outcome.request)}): ` +
                'bring open() in bench/seed.ts in line with RequestService.submit',
            );
          }
          await tx.insertRequest(outcome.request);
          await tx.appendAudit(stamp(app.deps, outcome.events, now, config.policyHash));
        }
      });
    }
    const seedMs = performance.now() - started;
    const chainStart = performance.now();
    const report = await app.audit.verifyIncrementally();
    if (!report.ok) throw new Error(`seeded audit chain does not verify: ${report.problem}`);
    return { requests: opts.count, seedMs: Math.round(seedMs), chainMs: Math.round(performance.now() - chainStart), auditEvents: report.count };
  } finally {
    await hg.close();
  }
}

/** RequestService.submit's steps for one entitlement, without its transaction: evaluate, build (newRequest), open. */
function open(app: Hourglass, it: SeedItem): lifecycle.Outcome {
  const config = app.deps.config.current();
  const now = it.now;
  const verdict = evaluateRequest(config.policies, {
    requester: it.principal,
    entitlements: [it.entitlement],
    durationMs: parseDuration(it.duration),
    reason: REASON,
    sourceIp: SOURCE_IP,
    breakGlass: false,
    now,
  });
  if (!verdict.ok) throw new Error(`seed request refused: ${verdict.message}`);
  const request = newRequest({
    id: app.deps.ids.requestId(),
    requester: it.principal.id,
    entitlements: [it.entitlement],
    verdict,
    policyHash: config.policyHash,
    now,
    reason: REASON,
    sourceIp: SOURCE_IP,
  });
  return lifecycle.open(request, factsFor(config, request.entitlements, now));
}
