/**
 * Account names: `<prefix><request id>`, deterministic (a repeated grant finds the same account)
 * and reversible (`list` maps an account back to its request). Request ids are `req_` and
 * base32 digits, used as they are; any other character is written `.XX` (hex of each UTF-8
 * byte), so every name is made of `A-Z a-z 0-9 _ - .` and needs no escaping in SQL.
 *
 * When a grant carries several roles it gets a wrapper role `<account>+r` (MariaDB activates
 * one default role per user): `+` never occurs in an account name, so the two never collide.
 */

/** MariaDB 10.4/10.5 allow 80 characters in user and role names (10.6+ allow 128). */
export const MAX_NAME_LENGTH = 80;
export const ROLE_SUFFIX = '+r';
const SAFE_NAME = /^[A-Za-z0-9_.+-]+$/;

export function accountName(prefix: string, requestId: string): string {
  let encoded = '';
  for (const ch of requestId) {
    if (/[A-Za-z0-9_-]/.test(ch)) encoded += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) encoded += `.${byte.toString(16).padStart(2, '0')}`;
  }
  const name = `${prefix}${encoded}`;
  if (!encoded || name.length + ROLE_SUFFIX.length > MAX_NAME_LENGTH) {
    throw new Error(`request id gives an account name that is empty or longer than ${MAX_NAME_LENGTH - ROLE_SUFFIX.length} characters`);
  }
  return name;
}

export function wrapperRoleName(account: string): string {
  return `${account}${ROLE_SUFFIX}`;
}

/** The request id an account (or wrapper role) name stands for; undefined when it is not one of ours. */
export function requestIdOf(prefix: string, name: string): string | undefined {
  if (!name.startsWith(prefix)) return undefined;
  let rest = name.slice(prefix.length);
  if (rest.endsWith(ROLE_SUFFIX)) rest = rest.slice(0, -ROLE_SUFFIX.length);
  if (!rest || !/^(?:[A-Za-z0-9_-]|\.[0-9a-f]{2})+$/.test(rest)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < rest.length;) {
    if (rest[i] === '.') {
      bytes.push(parseInt(rest.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(rest.charCodeAt(i));
      i += 1;
    }
  }
  const id = new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
  // Only a canonical encoding maps back (so two names never claim the same request).
  try {
    return accountName(prefix, id) === name.replace(/\+r$/, '') ? id : undefined;
  } catch {
    return undefined;
  }
}

/** `'name'` for names this module made (the character set needs no escaping); throws otherwise. */
export function nameLiteral(name: string): string {
  if (!SAFE_NAME.test(name) || name.length > MAX_NAME_LENGTH) throw new Error('refusing to put an unexpected account name into SQL');
  return `'${name}'`;
}

const SAFE_HOST = /^[A-Za-z0-9.%_:/-]{1,255}$/;

export function isSafeHost(host: string): boolean {
  return SAFE_HOST.test(host);
}

/** `'host'` for a validated host part; the empty host is a role's. */
export function hostLiteral(host: string): string {
  if (host !== '' && !isSafeHost(host)) throw new Error('refusing to put an unexpected host into SQL');
  return `'${host}'`;
}

export function accountLiteral(name: string, host: string): string {
  return `${nameLiteral(name)}@${hostLiteral(host)}`;
}
