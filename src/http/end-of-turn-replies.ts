/**
 * Replies written together at the end of the event-loop turn instead of one by one as each
 * request is handled (the idea of Redis's before-sleep writes and Netty's flush consolidation).
 *
 * Why: a server that writes each answer the moment it has it wakes the peer once per answer. On
 * a busy server whose clients share its host (sidecars, a local load generator, co-located apps)
 * those wake-ups can cost more than the answer: on the 2-vCPU benchmark VM the write system call took
 * 8-25 µs of a /v1/check's 27-37 µs of server time, most of it waking the idle peer. Written in one burst
 * after every request that arrived in the turn has been handled, the first write wakes the peer
 * and the rest find it awake (bench/check-throughput: about +25 % throughput, and a lower p99 at
 * half that load; see docs/benchmarks.md).
 *
 * The price is bounded: an answer waits for the other requests read in the same turn, at most a
 * few hundred microseconds under full load, and nothing when the server is quiet (a turn with one
 * request flushes at once, before the loop sleeps). Only routes that opt in are deferred (see
 * RouteSpec.endOfTurnReply), and only answers produced synchronously: an awaited answer is
 * already written in a later turn.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** A deferred write: `send` writes the answer; `fail` ends the response when `send` throws. */
interface Pending {
  send(): void;
  fail(err: Error): void;
}

const pending: Pending[] = [];
let scheduled = false;

function defer(p: Pending): void {
  pending.push(p);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

/** Sends `payload` on `reply` in this turn's burst (setImmediate: after the poll phase's I/O callbacks). */
export function replyAtEndOfTurn(reply: FastifyReply, payload: unknown): void {
  // Fastify routes send errors to the error handler; anything escaping it must not cost the
  // other replies in the batch, and this one must not hang: end its connection.
  defer({ send: () => reply.send(payload), fail: (err) => reply.raw.destroy(err) });
}

/** Ends a raw response with `status`, `headers` and `body` in this turn's burst (the check fast path). */
export function endAtEndOfTurn(res: ServerResponse, status: number, headers: string[], body: string): void {
  defer({ send: () => res.writeHead(status, headers).end(body), fail: (err) => res.destroy(err) });
}

function flush() {
  scheduled = false;
  // Taken whole first: a send that synchronously triggers another reply lands in the next burst.
  const batch = pending.splice(0, pending.length);
  for (const p of batch) {
    try {
      p.send();
    } catch (err) {
      p.fail(err as Error);
    }
  }
}
