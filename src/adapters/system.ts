import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock, IdGenerator } from '../app/ports.js';

export const systemClock: Clock = { now: () => Date.now() };

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

function base32(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += CROCKFORD[bytes[i]! & 31];
  return out;
}

/**
 * Request ids sort by creation time (10 base32 digits of milliseconds, as in ULID) and carry
 * 80 random bits, so they are unguessable and pagination by id is chronological.
 */
export function createIds(clock: Clock = systemClock): IdGenerator {
  let last = 0;
  return {
    requestId() {
      let t = Math.max(clock.now(), last);
      last = t;
      let time = '';
      for (let i = 0; i < 10; i++) {
        time = CROCKFORD[t % 32] + time;
        t = Math.floor(t / 32);
      }
      return `req_${time}${base32(randomBytes(16), 16)}`;
    },
    eventId: () => randomUUID(),
  };
}
