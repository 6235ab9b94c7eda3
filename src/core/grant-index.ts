/**
 * Live grants in memory, for /v1/check without a database round trip. Pure: the app layer
 * (src/app/check-index.ts) feeds it from the store and decides whether it is current enough to
 * answer. Exact at `expiresAt` whatever it was fed: a lookup compares each grant's end with the
 * `now` it is given, so an entry past its end is never an answer, even before the expiry reaches
 * the index.
 *
 * One map entry per (principal, entitlement). Almost always a single grant: further grants of
 * the same pair (overlapping requests) hang off it in a short list, so the common case costs one
 * small object and no array.
 */

import type { AccessRequest } from './types.js';

export interface IndexedGrant {
  requestId: string;
  expiresAt: number;
}

/** What a request grants now: one grant per entitlement while it is active, none otherwise. */
export function liveGrantsOf(req: AccessRequest): { entitlement: string; expiresAt: number }[] {
  if (req.status !== 'active' || req.expiresAt === undefined) return [];
  const expiresAt = req.expiresAt;
  return req.entitlements.map((entitlement) => ({ entitlement, expiresAt }));
}

class Entry implements IndexedGrant {
  constructor(
    readonly requestId: string,
    readonly expiresAt: number,
    public next: Entry | undefined,
  ) {}
}

/** Not a character principal ids or entitlement names may hold (both are validated names). */
const SEP = '\u0000';

export class GrantIndex {
  private readonly entries = new Map<string, Entry>();
  private count = 0;

  /** Grants held (one per principal, entitlement and request). */
  get size(): number {
    return this.count;
  }

  /** The grant of `entitlement` to `principal` that lasts longest, among those live at `now`. */
  lookup(principal: string, entitlement: string, now: number): IndexedGrant | undefined {
    let best: Entry | undefined;
    for (let e = this.entries.get(principal + SEP + entitlement); e; e = e.next) {
      if (e.expiresAt > now && (!best || e.expiresAt > best.expiresAt)) best = e;
    }
    return best;
  }

  /** Adds one grant (loading, or after `remove`); a grant of the same request and pair is replaced. */
  add(principal: string, entitlement: string, grant: IndexedGrant): void {
    const key = principal + SEP + entitlement;
    const head = this.unlink(this.entries.get(key), grant.requestId);
    this.entries.set(key, new Entry(grant.requestId, grant.expiresAt, head));
    this.count += 1;
  }

  /** Removes the grants of `requestId` to `principal` for these entitlements (those it has). */
  remove(requestId: string, principal: string, entitlements: readonly string[]): void {
    for (const entitlement of entitlements) {
      const key = principal + SEP + entitlement;
      const head = this.entries.get(key);
      if (!head) continue;
      const rest = this.unlink(head, requestId);
      if (rest) this.entries.set(key, rest);
      else this.entries.delete(key);
    }
  }

  /**
   * Sets what one request grants now: its old grants go, `grants` (empty once it has ended) take
   * their place. A request's principal and entitlements never change, so they name every key
   * it can be under.
   */
  replace(requestId: string, principal: string, entitlements: readonly string[], grants: readonly { entitlement: string; expiresAt: number }[]): void {
    this.remove(requestId, principal, entitlements);
    for (const g of grants) this.add(principal, g.entitlement, { requestId, expiresAt: g.expiresAt });
  }

  clear(): void {
    this.entries.clear();
    this.count = 0;
  }

  /** The list without `requestId`'s entry (which is counted off), reusing the other entries. */
  private unlink(head: Entry | undefined, requestId: string): Entry | undefined {
    if (!head) return undefined;
    if (head.requestId === requestId) {
      this.count -= 1;
      return head.next;
    }
    for (let prev = head; prev.next; prev = prev.next) {
      if (prev.next.requestId === requestId) {
        prev.next = prev.next.next;
        this.count -= 1;
        break;
      }
    }
    return head;
  }
}
