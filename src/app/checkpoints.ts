/**
 * Signed audit checkpoints. Every `everyEvents` chained events, or every `intervalMs` while events
 * arrive, the chain head `{seq, hash, at, keyId}` is signed with an Ed25519 key, kept in the store
 * and shipped outside it (a file, a webhook). A checkpoint held outside the database is what
 * catches someone who rewrites the whole database, hashes included: the rewritten chain verifies
 * on its own, but its hash at a checkpoint's seq is no longer the signed one.
 *
 * What is signed: the UTF-8 bytes of the canonical JSON (keys sorted, no whitespace) of
 * `{"at":ISO-8601,"hash":HEX,"keyId":HEX16,"seq":N}`; the signature is base64. The key id is the
 * first 16 hex digits of SHA-256 over the public key's SPKI DER encoding.
 *
 * This module holds the pure parts (message, signature check, parsing of shipped lines) and the
 * use cases over narrow ports; the key, the table and the shipping live in adapters.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../core/audit-chain.js';
import { HgError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { CheckpointSettings } from '../config/types.js';
import type { AuditService, VerifyReport } from './audit.js';
import { formatHead } from './audit.js';
import type { AppDeps } from './context.js';
import type { BackgroundWorker } from './ports.js';

// ---- shapes ---------------------------------------------------------------------------------------

/** The signed part. `at` is ISO-8601 UTC with milliseconds, exactly as signed. */
export interface CheckpointBody {
  seq: number;
  hash: string;
  at: string;
  keyId: string;
}

export interface SignedCheckpoint extends CheckpointBody {
  /** Base64 Ed25519 signature over `checkpointMessage(body)`. */
  signature: string;
}

/** One line of a checkpoint file (and the webhook body): everything needed to check it offline. */
export interface CheckpointLine extends SignedCheckpoint {
  /** PEM (SPKI) of the key that signed it. */
  publicKey?: string;
}

/** A checkpoint as the store keeps it: `at` in epoch ms, and where it has been shipped (target -> epoch ms). */
export interface StoredCheckpoint {
  seq: number;
  hash: string;
  at: number;
  keyId: string;
  signature: string;
  shipped: Record<string, number>;
}

// ---- pure functions -------------------------------------------------------------------------------

/** The exact text that is signed. */
export function checkpointMessage(cp: CheckpointBody): string {
  return canonicalJson({ seq: cp.seq, hash: cp.hash, at: cp.at, keyId: cp.keyId });
}

/** First 16 hex digits of SHA-256 over the SPKI DER of an Ed25519 public key. */
export function checkpointKeyId(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

export type SignatureCheck = { ok: true; keyId: string } | { ok: false; keyId?: string; problem: string };

/**
 * Checks one checkpoint's signature against a public key (PEM, SPKI). Pure and offline: the CLI
 * uses it for `hourglass audit verify --checkpoints FILE`. Never throws; a malformed key or
 * checkpoint is reported as a problem. It does not say whether the key is one you trust:
 * compare the returned `keyId` with the one you pinned.
 */
export function verifyCheckpointSignature(cp: SignedCheckpoint, publicKeyPem: string): SignatureCheck {
  let key: KeyObject;
  try {
    key = createPublicKey(publicKeyPem);
  } catch {
    return { ok: false, problem: 'the public key is not a PEM public key' };
  }
  if (key.asymmetricKeyType !== 'ed25519') return { ok: false, problem: `the public key is ${key.asymmetricKeyType ?? 'not asymmetric'}, not Ed25519` };
  const keyId = checkpointKeyId(key);
  if (cp.keyId !== keyId) return { ok: false, keyId, problem: `signed by key ${String(cp.keyId)}, but this public key is ${keyId}` };
  if (typeof cp.signature !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(cp.signature)) {
    return { ok: false, keyId, problem: 'the signature is not base64' };
  }
  const signature = Buffer.from(cp.signature, 'base64');
  let good = false;
  try {
    good = signature.length === 64 && verify(null, Buffer.from(checkpointMessage(cp), 'utf8'), key, signature);
  } catch {
    good = false;
  }
  return good ? { ok: true, keyId } : { ok: false, keyId, problem: 'the signature does not match the checkpoint' };
}

function isCheckpointLine(v: unknown): v is CheckpointLine {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    typeof c.seq === 'number' &&
    Number.isSafeInteger(c.seq) &&
    c.seq > 0 &&
    typeof c.hash === 'string' &&
    /^[0-9a-f]{64}$/.test(c.hash) &&
    typeof c.at === 'string' &&
    typeof c.keyId === 'string' &&
    typeof c.signature === 'string' &&
    (c.publicKey === undefined || typeof c.publicKey === 'string')
  );
}

/**
 * Parses a checkpoint file (JSON Lines, as the server appends it). Blank lines are skipped; a bad
 * line is an HG_INVALID_INPUT naming its line number. Only the checkpoint fields are kept.
 */
export function parseCheckpointLines(text: string): CheckpointLine[] {
  const out: CheckpointLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new HgError('HG_INVALID_INPUT', `checkpoint line ${i + 1} is not JSON`);
    }
    if (!isCheckpointLine(value)) {
      throw new HgError('HG_INVALID_INPUT', `checkpoint line ${i + 1} needs seq, hash (64 hex), at, keyId, signature and optionally publicKey`);
    }
    const { seq, hash, at, keyId, signature, publicKey } = value;
    out.push({ seq, hash, at, keyId, signature, ...(publicKey !== undefined ? { publicKey } : {}) });
  }
  return out;
}

// ---- ports ----------------------------------------------------------------------------------------

/** The signing key. The private half never leaves the adapter. */
export interface CheckpointSigner {
  readonly keyId: string;
  /** SPKI PEM of the public key. */
  readonly publicKeyPem: string;
  /** Base64 Ed25519 signature over the UTF-8 bytes of `message`. */
  sign(message: string): string;
}

export interface CheckpointStore {
  /** The checkpoint with the highest seq. */
  latest(): Promise<StoredCheckpoint | undefined>;
  /** False when a checkpoint at that seq exists already (another server signed it first). */
  insert(cp: StoredCheckpoint): Promise<boolean>;
  /** Oldest first, seq strictly after `after`. */
  list(opts: { after?: number; limit: number }): Promise<StoredCheckpoint[]>;
  /** Checkpoints (seq strictly after `after`) not yet shipped to every one of `targets`, oldest first. */
  unshipped(targets: readonly string[], limit: number, after?: number): Promise<StoredCheckpoint[]>;
  setShipped(seq: number, shipped: Record<string, number>): Promise<void>;
}

/** Somewhere outside the database a checkpoint line goes (`file`, `webhook`). Throws on failure. */
export interface CheckpointShipper {
  readonly name: string;
  ship(line: CheckpointLine): Promise<void>;
}

export interface CheckpointLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

// ---- use cases ------------------------------------------------------------------------------------

export interface CheckpointListItem {
  seq: number;
  hash: string;
  at: string;
  keyId: string;
  signature: string;
  /** PEM of the signing key when it is the key configured now; null for older keys. */
  publicKey: string | null;
  /** target -> ISO time it was shipped there. */
  shipped: Record<string, string>;
}

function listItem(r: StoredCheckpoint, key: CheckpointSigner | undefined): CheckpointListItem {
  return {
    seq: r.seq,
    hash: r.hash,
    at: isoAt(r.at),
    keyId: r.keyId,
    signature: r.signature,
    publicKey: key && key.keyId === r.keyId ? key.publicKeyPem : null,
    shipped: Object.fromEntries(Object.entries(r.shipped).map(([k, v]) => [k, isoAt(v)])),
  };
}

export interface CheckpointVerifyInput {
  checkpoints: CheckpointLine[];
  /** Used for checkpoints that carry no publicKey of their own. */
  publicKey?: string;
  /** When given, a checkpoint signed by any other key fails. */
  trustedKeyIds?: string[];
  /** Verify the chain up to the newest checkpoint too (default). Batches after the first may skip it. */
  verifyChain?: boolean;
}

export interface CheckpointVerifyResult {
  ok: boolean;
  checked: number;
  /** The chain verification with the newest checkpoint as the expected head; null when skipped. */
  chain: VerifyReport | null;
  failures: { seq: number; problem: string }[];
  /** The keys the signatures were checked with: compare them with the key id you pinned. */
  keys: { keyId: string; checkpoints: number; serverKey: boolean }[];
}

/** Reading and checking checkpoints (for the HTTP routes); CheckpointWorker signs and ships them. */
export class CheckpointService {
  constructor(
    private readonly deps: AppDeps,
    private readonly audit: AuditService,
    private readonly store: CheckpointStore,
    /** The key configured now; undefined when checkpoints are not configured. Throws when it cannot be loaded. */
    private readonly signer: () => CheckpointSigner | undefined,
  ) {}

  /** The configured key, or HG_NOT_FOUND when checkpoints are not configured. */
  publicKey(actor: Principal): { keyId: string; publicKey: string; algorithm: 'Ed25519' } {
    this.audit.assertReader(actor);
    const key = this.signer();
    if (!key) throw new HgError('HG_NOT_FOUND', 'audit checkpoints are not configured (audit.checkpoints)');
    return { keyId: key.keyId, publicKey: key.publicKeyPem, algorithm: 'Ed25519' };
  }

  async list(actor: Principal, q: { after?: number; limit: number }): Promise<{ checkpoints: CheckpointListItem[]; nextCursor: string | null }> {
    this.audit.assertReader(actor);
    const rows = await this.store.list(q);
    const key = this.currentKeyOrUndefined();
    const checkpoints = rows.map((r) => listItem(r, key));
    const last = rows.at(-1);
    return { checkpoints, nextCursor: rows.length === q.limit && last ? String(last.seq) : null };
  }

  /**
   * The newest checkpoint (null before the first is signed), whether checkpoints are configured,
   * and the key id signing now (null when not configured or the key cannot be loaded): what a
   * status page shows without paging through every checkpoint.
   */
  async latest(actor: Principal): Promise<{ configured: boolean; keyId: string | null; checkpoint: CheckpointListItem | null }> {
    this.audit.assertReader(actor);
    let configured = true;
    let key: CheckpointSigner | undefined;
    try {
      key = this.signer();
      configured = key !== undefined;
    } catch {
      // Configured, but the key cannot be loaded: the worker reports why; the status shows no key id.
    }
    const row = await this.store.latest();
    return { configured, keyId: key?.keyId ?? null, checkpoint: row ? listItem(row, key) : null };
  }

  /**
   * Checks checkpoints held outside the database against the chain: each signature (with the
   * checkpoint's own publicKey, the request's, or the server's key), and that the chain's hash at
   * each checkpoint's seq is the signed hash. The chain itself is verified up to its head with the
   * newest checkpoint as the expected head, so a truncated chain fails too.
   */
  async verify(actor: Principal, input: CheckpointVerifyInput): Promise<CheckpointVerifyResult> {
    this.audit.assertReader(actor);
    if (input.checkpoints.length === 0) throw new HgError('HG_INVALID_INPUT', 'checkpoints: give at least one checkpoint');
    const serverKey = this.currentKeyOrUndefined();
    const trusted = input.trustedKeyIds ? new Set(input.trustedKeyIds) : undefined;
    const failures: { seq: number; problem: string }[] = [];
    const keys = new Map<string, number>();

    const sorted = [...input.checkpoints].sort((a, b) => a.seq - b.seq);
    const newest = sorted.at(-1)!;
    let chain: VerifyReport | null = null;
    if (input.verifyChain !== false) {
      chain = await this.audit.verify({ expectHead: formatHead(newest.seq, newest.hash) });
    }

    for (const cp of sorted) {
      const pem = cp.publicKey ?? input.publicKey ?? (serverKey && serverKey.keyId === cp.keyId ? serverKey.publicKeyPem : undefined);
      if (!pem) {
        failures.push({ seq: cp.seq, problem: `no public key for key id ${cp.keyId}: give publicKey (it is not the server's key)` });
      } else {
        const check = verifyCheckpointSignature(cp, pem);
        if (!check.ok) failures.push({ seq: cp.seq, problem: check.problem });
        else {
          keys.set(check.keyId, (keys.get(check.keyId) ?? 0) + 1);
          if (trusted && !trusted.has(check.keyId)) failures.push({ seq: cp.seq, problem: `signed by key ${check.keyId}, which is not in trustedKeyIds` });
        }
      }
      const [link] = await this.deps.store.readChain(cp.seq, 1);
      if (!link || link.seq !== cp.seq) {
        failures.push({ seq: cp.seq, problem: 'the chain has no event at this seq: truncated or deleted' });
      } else if (link.hash !== cp.hash) {
        failures.push({ seq: cp.seq, problem: 'the chain has a different hash at this seq: history was rewritten after the checkpoint was signed' });
      }
    }
    return {
      ok: failures.length === 0 && (chain === null || chain.ok),
      checked: sorted.length,
      chain,
      failures,
      keys: [...keys].map(([keyId, checkpoints]) => ({ keyId, checkpoints, serverKey: serverKey?.keyId === keyId })),
    };
  }

  private currentKeyOrUndefined(): CheckpointSigner | undefined {
    try {
      return this.signer();
    } catch {
      return undefined;
    }
  }
}

export interface CheckpointWorkerDeps {
  app: AppDeps;
  audit: AuditService;
  store: CheckpointStore;
  /** The key for these settings (throws when it cannot be loaded). */
  signer: (settings: CheckpointSettings) => CheckpointSigner;
  /** Where checkpoints go outside the database, for these settings. */
  shippers: (settings: CheckpointSettings) => CheckpointShipper[];
  /** Settings in force; undefined turns the worker off. Read on every pass, so a reload applies. */
  settings: () => CheckpointSettings | undefined;
  log?: CheckpointLog;
}

const SHIP_BATCH = 100;
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 5 * 60_000;

/** Shipping state of one target (`file`, `webhook`). */
interface TargetState {
  /** Checkpoints it has not had may exist: look (on the first pass, after signing, after a failure). */
  dirty: boolean;
  /** Every checkpoint up to this seq has been shipped there (saves rescanning old ones). */
  through: number;
  failures: number;
  retryAt: number;
  lastError?: string;
}

/**
 * Signs the chain head when due and ships checkpoints. A pass with nothing to do costs two
 * indexed lookups (the chain head and the newest checkpoint). Each target gets checkpoints in
 * seq order; when one fails it is retried on later passes with backoff (1 s doubling to 5 min)
 * while the other targets carry on. Checkpoints are signed and stored first, so nothing is lost
 * while a target is down, and a target added later gets the older checkpoints too.
 */
export class CheckpointWorker implements BackgroundWorker {
  readonly name = 'audit-checkpoints';
  /** When the interval clock started, if no checkpoint exists yet (the first pass). */
  private startedAt: number | undefined;
  private readonly targets = new Map<string, TargetState>();

  constructor(private readonly deps: CheckpointWorkerDeps) {}

  /** The last shipping failure per target still failing, e.g. `webhook: the checkpoint webhook answered 503`. */
  get lastError(): string | undefined {
    const failing = [...this.targets].filter(([, t]) => t.lastError).map(([name, t]) => `${name}: ${t.lastError}`);
    return failing.length ? failing.join('; ') : undefined;
  }

  async runOnce(): Promise<void> {
    const settings = this.deps.settings();
    if (!settings) return;
    await this.signIfDue(settings, false);
    await this.shipPending(settings);
  }

  /**
   * For shutdown: signs a final checkpoint if events arrived since the last one, and tries once more to ship what is pending. Returns the checkpoint signed, if any.
   */
  async flush(): Promise<SignedCheckpoint | undefined> {
    const settings = this.deps.settings();
    if (!settings) return undefined;
    const signed = await this.signIfDue(settings, true);
    for (const t of this.targets.values()) t.retryAt = 0;
    await this.shipPending(settings);
    return signed;
  }

  private async signIfDue(settings: CheckpointSettings, force: boolean): Promise<SignedCheckpoint | undefined> {
    const now = this.deps.app.clock.now();
    this.startedAt ??= now;
    const head = await this.deps.app.store.auditHead();
    if (!head) return undefined;
    const last = await this.deps.store.latest();
    const fresh = head.seq - (last?.seq ?? 0);
    if (fresh <= 0) return undefined;
    const since = last?.at ?? this.startedAt;
    const due = force || (settings.everyEvents > 0 && fresh >= settings.everyEvents) || (settings.intervalMs > 0 && now - since >= settings.intervalMs);
    if (!due) return undefined;

    const key = this.deps.signer(settings);
    const body: CheckpointBody = { seq: head.seq, hash: head.hash, at: isoAt(now), keyId: key.keyId };
    const signed: SignedCheckpoint = { ...body, signature: key.sign(checkpointMessage(body)) };
    const inserted = await this.deps.store.insert({
      seq: signed.seq,
      hash: signed.hash,
      at: now,
      keyId: signed.keyId,
      signature: signed.signature,
      shipped: {},
    });
    if (!inserted) return undefined; // another server signed this head first; it ships its own
    for (const t of this.targets.values()) t.dirty = true;
    this.deps.log?.info({ seq: signed.seq, keyId: signed.keyId }, 'audit checkpoint signed');
    return signed;
  }

  private async shipPending(settings: CheckpointSettings): Promise<void> {
    const shippers = this.deps.shippers(settings);
    for (const shipper of shippers) {
      let state = this.targets.get(shipper.name);
      if (!state) {
        state = { dirty: true, through: 0, failures: 0, retryAt: 0 };
        this.targets.set(shipper.name, state);
      }
      if (!state.dirty || this.deps.app.clock.now() < state.retryAt) continue;
      await this.shipTo(shipper, state, this.deps.signer(settings));
    }
  }

  private async shipTo(shipper: CheckpointShipper, state: TargetState, key: CheckpointSigner): Promise<void> {
    for (;;) {
      const pending = await this.deps.store.unshipped([shipper.name], SHIP_BATCH, state.through);
      for (const cp of pending) {
        const line: CheckpointLine = {
          seq: cp.seq,
          hash: cp.hash,
          at: isoAt(cp.at),
          keyId: cp.keyId,
          signature: cp.signature,
          ...(cp.keyId === key.keyId ? { publicKey: key.publicKeyPem } : {}),
        };
        try {
          await shipper.ship(line);
        } catch (err) {
          // Keep the order at the target: later checkpoints wait for this one.
          state.failures += 1;
          state.retryAt = this.deps.app.clock.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (state.failures - 1));
          state.lastError = (err as Error).message;
          this.deps.log?.warn({ seq: cp.seq, target: shipper.name, err: state.lastError }, 'audit checkpoint not shipped; retrying later');
          return;
        }
        await this.deps.store.setShipped(cp.seq, { ...cp.shipped, [shipper.name]: this.deps.app.clock.now() });
        state.through = cp.seq;
      }
      if (pending.length < SHIP_BATCH) break;
    }
    state.dirty = false;
    state.failures = 0;
    state.retryAt = 0;
    delete state.lastError;
  }
}
