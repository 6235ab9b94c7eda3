/**
 * Secrets out of text: one function, two markers. `***` is what messages, errors and CLI output
 * show (docs/cli.md); `[redacted]` is what logged URLs and the webhook delivery log show
 * (docs/operations.md). Pure, so every layer can use it.
 */

/** What a secret becomes in messages, errors and CLI output. */
export const HIDDEN = '***';
/** What a secret becomes in logged URLs and recorded webhook delivery errors. */
export const REDACTED = '[redacted]';

/**
 * Replaces every occurrence of every secret by `marker`. Longer secrets go first, so a secret
 * that contains another is never left half-shown. Empty strings are skipped; callers that must
 * not blank out short, common words pass only secrets long enough to matter.
 */
export function redact(text: string, secrets: Iterable<string>, marker: string = HIDDEN): string {
  const list = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of list) out = out.split(secret).join(marker);
  return out;
}
