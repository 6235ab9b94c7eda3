/**
 * Confirming a Slack account link (opened from `/profile#chat-link=...`). The UI does not know the
 * Slack user before linking: the server names it in its answer, once it has checked that the
 * Slack account's e-mail address is the principal's. Focused when shown: it is why the page opened.
 */
import { useEffect, useId, useRef } from 'react';
import { ErrorNotice } from './ErrorNotice.js';

export interface ChatLinkCardProps {
  principal: string;
  busy: boolean;
  /** The last attempt failed: shown in the card, which stays. */
  error?: unknown;
  onLink(): void;
  onCancel(): void;
}

export function ChatLinkCard({ principal, busy, error, onLink, onCancel }: ChatLinkCardProps) {
  const ref = useRef<HTMLElement>(null);
  const title = useId();
  useEffect(() => {
    ref.current?.scrollIntoView({ block: 'start' });
    ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <section ref={ref} tabIndex={-1} className="card chat-link targeted" aria-labelledby={title}>
      <h2 id={title}>Link your Slack account</h2>
      <p>Link the Slack account that asked for this link to {principal}?</p>
      <p className="hint">
        Hourglass links it only if that Slack account&apos;s e-mail address is yours. Then Approve and Deny on Hourglass messages in Slack act as {principal}.
      </p>
      {error != null && <ErrorNotice error={error} title="Slack was not linked" />}
      <div className="buttons">
        <button type="button" disabled={busy} aria-busy={busy || undefined} onClick={onLink}>
          Link
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </section>
  );
}
