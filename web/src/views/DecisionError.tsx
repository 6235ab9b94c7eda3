/** A refused decision: the server's message and code; for HG_MFA_REQUIRED, what it means in words. */
import { ApiError } from '../api/client.js';
import { MFA_NOTE } from '../lib/approvals.js';
import { ErrorNotice } from './ErrorNotice.js';

export function DecisionError({ error, title = 'Not decided' }: { error: unknown; title?: string }) {
  const mfa = error instanceof ApiError && error.code === 'HG_MFA_REQUIRED';
  return (
    <>
      <ErrorNotice error={error} title={title} />
      {mfa && <p className="notice mfa-note">{MFA_NOTE}</p>}
    </>
  );
}
