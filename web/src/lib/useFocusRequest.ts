/** Bringing the request a notification named into view. */
import { useEffect, useRef } from 'react';

/**
 * Once `ready` (the page drew its cards), scrolls the card of request `id` (`data-request-id`,
 * focusable by script: RequestCard's `targeted`) into view and moves the focus to it, so a screen
 * reader reads it first. Once per id and `attempt` (another link opened in the tab): later renders
 * (polls, live updates) leave the focus alone.
 */
export function useFocusRequest(id: string | undefined, ready: boolean, attempt = 0): void {
  const done = useRef<string | undefined>(undefined);
  useEffect(() => {
    const key = `${attempt} ${id}`;
    if (!id || !ready || done.current === key) return;
    done.current = key;
    const card = document.querySelector<HTMLElement>(`[data-request-id="${CSS.escape(id)}"]`);
    if (!card) return;
    card.scrollIntoView({ block: 'start' });
    card.focus({ preventScroll: true });
  }, [id, ready, attempt]);
}
