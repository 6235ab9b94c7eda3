/**
 * Live updates: GET /v1/live (server-sent events) says which requests changed; the lists that
 * show them are read again at once. After a reconnect everything is read again, since changes
 * made meanwhile are not replayed. Polling stays as the fallback (LIVE_REFRESH_MS).
 */
import { useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { mount } from '../lib/base.js';
import { keys } from './hooks.js';

interface LiveChange {
  topic: 'mine' | 'approvals';
  requestId: string;
  type: string;
}

export function useLiveUpdates(enabled: boolean): void {
  const qc = useQueryClient();
  useEffect(() => {
    if (!enabled || typeof EventSource === 'undefined') return;
    const source = new EventSource(`${mount}/v1/live`);
    let opened = false;
    source.addEventListener('open', () => {
      if (opened) void qc.invalidateQueries({ queryKey: ['requests'] });
      opened = true;
    });
    source.addEventListener('change', (e) => {
      const change = JSON.parse((e as MessageEvent<string>).data) as LiveChange;
      void qc.invalidateQueries({ queryKey: change.topic === 'mine' ? keys.mine : keys.approvable });
      // Live access lists everyone's grants: a change one hears of may be among them (it also polls).
      void qc.invalidateQueries({ queryKey: ['requests', 'live'] });
    });
    source.addEventListener('end', () => {
      source.close();
      // Most often the session ended: find out, and show the sign-in page if so.
      void qc.invalidateQueries({ queryKey: keys.session });
    });
    return () => source.close();
  }, [enabled, qc]);
}
