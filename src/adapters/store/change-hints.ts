/**
 * PostgreSQL LISTEN on the channel every audit-linking commit notifies (kysely-store.ts), on a
 * connection of its own: each notification, and each (re)connect, is a hint to catch up. Only a
 * hint: the check index polls as well, so a lost connection or notification delays nothing past
 * its poll interval. The connection is re-opened after a failure, after `retryMs`.
 */
import pg from 'pg';
import { CHANGES_CHANNEL } from './kysely-store.js';

export interface ChangeHints {
  /** Resolves once the first LISTEN is in place or has failed (the retries go on either way). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function listenForChanges(url: string, onHint: () => void, opts: { retryMs?: number; onError?: (err: Error) => void } = {}): ChangeHints {
  const retryMs = opts.retryMs ?? 1000;
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let firstDone: () => void = () => {};
  const ready = new Promise<void>((r) => (firstDone = r));

  const again = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, retryMs);
    retry.unref();
  };

  const connect = async () => {
    const c = new pg.Client({ connectionString: url });
    client = c;
    const fail = (err: Error) => {
      opts.onError?.(err);
      c.removeAllListeners('notification');
      c.end().catch(() => {});
      if (client === c) client = undefined;
      again();
    };
    c.on('error', fail);
    c.on('end', () => {
      if (client === c) fail(new Error('the change notification connection ended'));
    });
    try {
      await c.connect();
      c.on('notification', () => onHint());
      await c.query(`LISTEN ${CHANGES_CHANNEL}`);
      // Whatever committed while no one listened is read at once.
      onHint();
    } catch (err) {
      if (client === c) fail(err as Error);
    } finally {
      firstDone();
    }
  };

  void connect();
  return {
    ready,
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
