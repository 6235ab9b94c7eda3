/**
 * Failed authentications, limited per source address (`req.ip`: the socket address, or the
 * client's address from X-Forwarded-For when `server.trustedProxies` lists the proxy).
 *
 * Each address that has failed has a token bucket: `burst` tokens, refilled continuously at
 * `perMinute`; a failure takes one. While the bucket holds less than one token, every
 * authenticated route answers 429 from that address before the token is even looked at. There is
 * no lockout: the bucket refills by itself, refused attempts cost nothing, no account is ever
 * locked, and one address's failures never touch another's bucket.
 *
 * Only failures create buckets, and a full bucket is the same as none, so the map holds only
 * addresses that failed recently; it is capped (the address that failed longest ago goes first),
 * so an attacker with many addresses cannot grow memory without bound.
 */
import { HgError } from '../core/errors.js';
import type { Clock } from '../app/ports.js';

export interface AuthFailureSettings {
  burst: number;
  perMinute: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (clock ms). */
  at: number;
}

/** Addresses tracked at most (about 100 bytes each). */
export const MAX_TRACKED_ADDRESSES = 100_000;

/** Seconds the error handler sends as Retry-After. */
export interface RetryAfter {
  retryAfterSeconds: number;
}

/** HG_RATE_LIMITED carrying the Retry-After the error handler sends. */
export function rateLimited(retryAfterSeconds: number): HgError & RetryAfter {
  return Object.assign(new HgError('HG_RATE_LIMITED', 'too many requests; retry later'), { retryAfterSeconds });
}

/** The limiter as routes that check a credential of their own use it (server.authFailures). */
export interface CredentialBudget {
  /** 0 when `address` may try a credential; else the whole seconds to wait (counted as a refusal). */
  refusedFor(address: string): number;
  /** Records a wrong credential from `address`. */
  fail(address: string): void;
}

/**
 * Runs a route's own credential check within the address's budget: refused with 429 at once while
 * the budget is spent, and a failure counts against it (those `counts` says are wrong credentials).
 */
export async function withinBudget<T>(
  budget: CredentialBudget,
  address: string,
  check: () => Promise<T>,
  counts: (err: unknown) => boolean = () => true,
): Promise<T> {
  const wait = budget.refusedFor(address);
  if (wait > 0) throw rateLimited(wait);
  try {
    return await check();
  } catch (err) {
    if (counts(err)) budget.fail(address);
    throw err;
  }
}

export class AuthFailureLimiter {
  /** In order of last failure (a failure moves its address to the end). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly settings: () => AuthFailureSettings,
    private readonly clock: Clock,
    private readonly maxAddresses = MAX_TRACKED_ADDRESSES,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  /** 0 when `address` may try to authenticate; else whole seconds until it may again. */
  retryAfter(address: string): number {
    const b = this.buckets.get(address);
    if (b === undefined) return 0;
    const s = this.settings();
    if (!enabled(s)) {
      this.buckets.clear(); // turned off by a reload
      return 0;
    }
    const now = this.clock.now();
    refill(b, s, now);
    if (b.tokens >= s.burst) {
      this.buckets.delete(address);
      return 0;
    }
    if (b.tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - b.tokens) * 60) / s.perMinute));
  }

  /** Records a failed authentication from `address`. */
  fail(address: string): void {
    const s = this.settings();
    if (!enabled(s)) return;
    const now = this.clock.now();
    let b = this.buckets.get(address);
    if (b === undefined) {
      if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: s.burst, at: now };
    } else {
      refill(b, s, now);
      this.buckets.delete(address);
    }
    // Two requests may pass the check together and both fail: never below empty.
    b.tokens = Math.max(0, b.tokens - 1);
    this.buckets.set(address, b);
    this.sweep(s, now);
  }

  /** Drops a few refilled buckets from the front (those that failed longest ago): O(1) per failure. */
  private sweep(s: AuthFailureSettings, now: number): void {
    for (let i = 0; i < 2; i++) {
      const first = this.buckets.entries().next();
      if (first.done) return;
      const [address, b] = first.value;
      refill(b, s, now);
      if (b.tokens < s.burst) return;
      this.buckets.delete(address);
    }
  }
}

const enabled = (s: AuthFailureSettings) => s.burst > 0 && s.perMinute > 0;

function refill(b: Bucket, s: AuthFailureSettings, now: number): void {
  // A clock set back never strands a bucket: refilling simply restarts from now.
  const elapsed = Math.max(0, now - b.at);
  b.tokens = Math.min(s.burst, b.tokens + (elapsed * s.perMinute) / 60_000);
  b.at = now;
}
