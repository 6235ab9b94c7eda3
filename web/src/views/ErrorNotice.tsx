/** An error as the server said it: its message, and its stable code for a bug report. */
import { ApiError } from '../api/client.js';

export function ErrorNotice({ error, title = 'Something went wrong' }: { error: unknown; title?: string }) {
  const code = error instanceof ApiError ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="notice error" role="alert">
      <strong>{title}.</strong> {message}
      {code && <span className="code"> ({code})</span>}
    </div>
  );
}
