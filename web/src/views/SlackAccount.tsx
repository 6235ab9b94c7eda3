/** The Slack account linked to the principal (Slack user and workspace) with Unlink, or how to link one. */
import type { SlackLinkJson } from '../api/links.js';

export function SlackAccount({ link, busy, onUnlink }: { link: SlackLinkJson | null; busy: boolean; onUnlink(): void }) {
  if (!link) return <p className="empty">Not linked: press Approve on a Hourglass message in Slack to link your account.</p>;
  return (
    <>
      <dl className="facts">
        <dt>Slack user</dt>
        <dd>{link.userId}</dd>
        <dt>Workspace</dt>
        <dd>{link.teamId}</dd>
      </dl>
      <button type="button" className="danger" disabled={busy} onClick={onUnlink}>
        Unlink Slack
      </button>
    </>
  );
}
