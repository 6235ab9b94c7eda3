/**
 * Account names and the bookkeeping Hourglass leaves on the roles it creates.
 */
import { createHash } from 'node:crypto';

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes. */
export const MAX_IDENTIFIER = 63;

/**
 * The one-time login role of a request: `<prefix><request id without "req_">`, so a retried
 * grant finds the same account and `list` can tell the request. Ids that are not plain
 * lower-case [a-z0-9_] (or too long) get `<prefix>h<hash>` instead, never a lower-cased
 * copy that another id could share.
 */
export function accountName(prefix: string, requestId: string): string {
  const suffix = requestId.replace(/^req_/, '');
  if (/^[a-z0-9_]+$/.test(suffix) && prefix.length + suffix.length <= MAX_IDENTIFIER) return prefix + suffix;
  const hash = createHash('sha256').update(requestId).digest('hex');
  return (prefix + 'h' + hash).slice(0, MAX_IDENTIFIER);
}

export interface RoleMark {
  request: string;
  target: string;
}

const MARK = 'hourglass:';

/** Stored with COMMENT ON ROLE: which request and target an account belongs to. */
export function roleComment(mark: RoleMark): string {
  return MARK + JSON.stringify({ request: mark.request, target: mark.target });
}

export function parseRoleComment(comment: string | null | undefined): RoleMark | undefined {
  if (!comment?.startsWith(MARK)) return undefined;
  try {
    const v = JSON.parse(comment.slice(MARK.length)) as Partial<RoleMark>;
    return typeof v.request === 'string' && typeof v.target === 'string' ? { request: v.request, target: v.target } : undefined;
  } catch {
    return undefined;
  }
}
