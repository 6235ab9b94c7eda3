/**
 * What a page says about the notification link it was opened with: a status region that is there
 * from the first render (so screen readers announce what appears in it), and a failure as the
 * server said it.
 */
import type { Notice } from '../lib/links.js';
import { ErrorNotice } from './ErrorNotice.js';

export function LinkNotice({ notice, error, errorTitle }: { notice: Notice | undefined; error?: unknown; errorTitle?: string }) {
  return (
    <>
      <div role="status">{notice && <p className={`notice${notice.tone === 'warn' ? ' warn' : ''}`}>{notice.text}</p>}</div>
      {error != null && <ErrorNotice error={error} title={errorTitle} />}
    </>
  );
}
