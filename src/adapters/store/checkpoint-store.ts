/**
 * Where signed audit checkpoints are kept: the `audit_checkpoints` table, and outside the
 * database a JSON Lines file and/or a webhook. Also the factories that wire the checkpoint use
 * cases (src/app/checkpoints.ts) to the key, the table and the shippers.
 */
import { open } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { AuditService } from '../../app/audit.js';
import {
  CheckpointWorker,
  type CheckpointSigner,
  type CheckpointLine,
  type CheckpointLog,
  type CheckpointShipper,
  type CheckpointStore,
  type StoredCheckpoint,
} from '../../app/checkpoints.js';
import type { AppDeps } from '../../app/context.js';
import type { Clock } from '../../app/ports.js';
import type { CheckpointSettings } from '../../config/types.js';
import { loadCheckpointKey } from '../checkpoint-key.js';
import { signedPost } from '../outbound/signed-post.js';
import type { AuditCheckpointsTable, Database } from './schema.js';

// ---- the table ------------------------------------------------------------------------------------

function toCheckpoint(row: AuditCheckpointsTable): StoredCheckpoint {
  let shipped: Record<string, number> = {};
  if (row.shipped) {
    try {
      shipped = JSON.parse(row.shipped) as Record<string, number>;
    } catch {
      shipped = {};
    }
  }
  return { seq: Number(row.seq), hash: row.hash, at: Number(row.at), keyId: row.key_id, signature: row.signature, shipped };
}

const SHIPPED_TARGET = /^[a-z]+$/;

export class KyselyCheckpointStore implements CheckpointStore {
  constructor(private readonly db: Kysely<Database>) {}

  async latest() {
    const row = await this.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row ? toCheckpoint(row) : undefined;
  }

  async insert(cp: StoredCheckpoint) {
    const res = await this.db
      .insertInto('audit_checkpoints')
      .values({ seq: cp.seq, hash: cp.hash, at: cp.at, key_id: cp.keyId, signature: cp.signature, shipped: JSON.stringify(cp.shipped) })
      .onConflict((oc) => oc.column('seq').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async list(q: { after?: number; limit: number }) {
    let query = this.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq').limit(q.limit);
    if (q.after !== undefined) query = query.where('seq', '>', q.after);
    return (await query.execute()).map(toCheckpoint);
  }

  async unshipped(targets: readonly string[], limit: number, after = 0) {
    if (targets.length === 0) return [];
    for (const t of targets) if (!SHIPPED_TARGET.test(t)) throw new Error(`bad shipping target name ${t}`);
    const rows = await this.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('seq', '>', after)
      .where((eb) => eb.or([eb('shipped', 'is', null), ...targets.map((t) => eb('shipped', 'not like', `%"${t}":%`))]))
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toCheckpoint);
  }

  async setShipped(seq: number, shipped: Record<string, number>) {
    await this.db
      .updateTable('audit_checkpoints')
      .set({ shipped: JSON.stringify(shipped) })
      .where('seq', '=', seq)
      .execute();
  }
}

// ---- outside the database -------------------------------------------------------------------------

/** Appends each checkpoint as one JSON line and syncs it to disk before it counts as shipped. */
export function fileShipper(path: string): CheckpointShipper {
  return {
    name: 'file',
    async ship(line: CheckpointLine) {
      mkdirSync(dirname(path), { recursive: true });
      const handle = await open(path, 'a', 0o644);
      try {
        await handle.appendFile(`${JSON.stringify(line)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
  };
}

/**
 * POSTs each checkpoint line (the same JSON as a file line) to a URL, HMAC-signed like event
 * webhooks (`Hourglass-Signature`, header `Hourglass-Event: audit.checkpoint`), with the outbound
 * address guard (`server.allowedHosts`). Any status but 2xx is a failure, retried later.
 */
export function webhookShipper(opts: {
  url: string;
  secret: string;
  allowedHosts: () => readonly string[];
  clock: Clock;
  timeoutMs?: number;
}): CheckpointShipper {
  return {
    name: 'webhook',
    async ship(line: CheckpointLine) {
      const res = await signedPost({
        url: opts.url,
        body: JSON.stringify(line),
        secret: opts.secret,
        timestamp: Math.floor(opts.clock.now() / 1000),
        headers: { 'hourglass-event': 'audit.checkpoint' },
        timeoutMs: opts.timeoutMs ?? 10_000,
        allowedHosts: opts.allowedHosts(),
      });
      if (res.status < 200 || res.status > 299) throw new Error(`the checkpoint webhook answered ${res.status}`);
    },
  };
}

// ---- wiring ---------------------------------------------------------------------------------------

export interface CheckpointWiring {
  /** Base for relative keyFile and file paths (the composition root passes the working directory). */
  cwd: string;
  /** A pino logger fits. */
  log?: CheckpointLog;
  /** Fixed settings; absent: `audit.checkpoints` of the configuration in force. */
  settings?: CheckpointSettings;
}

/**
 * The signing key of `audit.checkpoints` in force now (read on every call, so a reload applies),
 * for the checkpoint use cases (Hourglass `ports.checkpoints.key`).
 */
export function configuredCheckpointKey(deps: Pick<AppDeps, 'config'>, cwd: string): () => CheckpointSigner | undefined {
  return () => {
    const settings = deps.config.current().audit.checkpoints;
    return settings ? loadCheckpointKey(settings, { cwd }) : undefined;
  };
}

/**
 * The background worker that signs and ships checkpoints into `store`; give it to the scheduler.
 * With `opts.settings` it uses those; without, it follows `audit.checkpoints` of the configuration
 * in force (and does nothing while there is none). Call `flush()` on shutdown, after the last
 * due-work pass, to sign a final checkpoint when events arrived since the last one.
 */
export function createCheckpointWorker(deps: AppDeps, store: CheckpointStore, opts: CheckpointWiring): CheckpointWorker {
  const { cwd, settings } = opts;
  const shippersOf = new WeakMap<CheckpointSettings, CheckpointShipper[]>();
  const announced = new WeakSet<object>();
  return new CheckpointWorker({
    app: deps,
    audit: new AuditService(deps),
    store,
    settings: () => settings ?? deps.config.current().audit.checkpoints,
    signer: (s) => {
      const key = loadCheckpointKey(s, { cwd });
      if (!announced.has(key)) {
        announced.add(key);
        if (key.source === 'generated') opts.log?.info({ path: key.path, keyId: key.keyId }, 'generated a new audit checkpoint signing key');
        for (const w of key.warnings) opts.log?.warn({ keyId: key.keyId }, w);
      }
      return key;
    },
    shippers: (s) => {
      let list = shippersOf.get(s);
      if (!list) {
        list = [];
        if (s.file) list.push(fileShipper(resolve(cwd, s.file)));
        if (s.webhook) {
          list.push(
            webhookShipper({ url: s.webhook.url, secret: s.webhook.secret, clock: deps.clock, allowedHosts: () => deps.config.current().server.allowedHosts }),
          );
        }
        shippersOf.set(s, list);
      }
      return list;
    },
    ...(opts.log ? { log: opts.log } : {}),
  });
}
