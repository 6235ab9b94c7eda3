/**
 * Redis ACL rules: the defensive tokeniser for an entitlement's `acl` string, and the one
 * vocabulary (`holds`) in which the connector describes what an ACL user may do, for both
 * `list` (what is on the server) and `expected` (what a grant should give).
 *
 * Redis does not keep rules as written: ACL LIST / ACL GETUSER print a description rebuilt
 * from the user's command bitmap (`+@read +get` shows as `+@read`, `+@read -@dangerous` as
 * `+@read -keys -sort_ro`, `%RW~x` as `~x`). So the connector learns the server's own wording
 * of each entitlement (see `canonicalTokens` in connector.ts) and falls back to the light,
 * local normalisation here only until it has talked to the server.
 */

/** Rule keywords Hourglass sets itself (or never), refused in an entitlement, compared lowercase. */
const HOURGLASS_OWNED = new Set([
  'on',
  'off',
  'nopass',
  'reset',
  'resetpass',
  'resetkeys',
  'resetchannels',
  'clearselectors',
  'sanitize-payload',
  'skip-sanitize-payload',
]);

/** Aliases Redis accepts, with the token it prints for them. */
const ALIASES: Record<string, string> = {
  allkeys: '~*',
  allchannels: '&*',
  allcommands: '+@all',
  nocommands: '-@all',
};

const COMMAND_RULE = /^[+-]@?[A-Za-z0-9][A-Za-z0-9_.:|-]*$/;
const KEY_RULE = /^(?:%(?:R|W|RW|WR))?~\S+$/i;
const CHANNEL_RULE = /^&\S+$/;

export interface ParsedRules {
  tokens: string[];
  problems: string[];
}

/**
 * Splits an entitlement's `acl` string into rule tokens and checks each one. Allowed: key
 * patterns (`~p`, `%R~p`, `%W~p`, `%RW~p`), channel patterns (`&p`), command and category rules
 * (`+get`, `-@dangerous`, `+client|list`) and the aliases allkeys, allchannels, allcommands,
 * nocommands. Refused: anything touching passwords (`>` `<` `#` `!`, nopass, resetpass), the
 * user's state (on, off, reset*), selectors (`(...)`, clearselectors) and payload flags.
 */
export function parseAclRules(text: unknown): ParsedRules {
  if (typeof text !== 'string') return { tokens: [], problems: ['must be a string of ACL rules, e.g. "~app:* +@read"'] };
  const tokens = text.split(/\s+/).filter(Boolean);
  const problems: string[] = [];
  if (tokens.length === 0) problems.push('must hold at least one ACL rule, e.g. "~app:* +@read"');
  for (const token of tokens) {
    const problem = ruleProblem(token);
    if (problem) problems.push(problem);
  }
  return { tokens: problems.length ? [] : tokens, problems };
}

function ruleProblem(token: string): string | undefined {
  const lower = token.toLowerCase();
  // Control characters never belong in a rule; they would also garble reports.
  if (/[\u0000-\u001f\u007f]/.test(token)) return 'ACL rules must not contain control characters';
  const first = token[0];
  if (first === '>' || first === '<' || first === '#' || first === '!' || lower === 'nopass' || lower === 'resetpass') {
    return 'password rules (>, <, #, !, nopass, resetpass) are not allowed: Hourglass sets a one-time password itself';
  }
  if (HOURGLASS_OWNED.has(lower) || lower.startsWith('reset')) {
    return `rule "${printable(token)}" is not allowed: Hourglass sets the user's state (on/off/reset) itself`;
  }
  if (first === '(' || lower === 'clearselectors') {
    return 'selectors "(...)" are not supported in an entitlement: Hourglass builds one selector per extra entitlement itself';
  }
  if (lower in ALIASES) return undefined;
  if (KEY_RULE.test(token) || CHANNEL_RULE.test(token)) return undefined;
  if (COMMAND_RULE.test(token)) return undefined;
  return `"${printable(token)}" is not a key (~), channel (&) or command (+/-) rule`;
}

function printable(token: string): string {
  return token.length > 60 ? `${token.slice(0, 57)}...` : token;
}

/**
 * The local approximation of how Redis prints rules: aliases resolved, `%RW~` as `~`, command
 * and category names lowercased, a leading `-@all` (the state after reset) dropped, repeated
 * key/channel patterns and command rules collapsed. Exact only for rules Redis keeps as given.
 */
export function normaliseLocally(tokens: string[]): string[] {
  const keys: string[] = [];
  const channels: string[] = [];
  let commands: string[] = [];
  for (const raw of tokens) {
    const token = ALIASES[raw.toLowerCase()] ?? raw;
    if (token.startsWith('~') || token.startsWith('%')) {
      const m = /^%([RW]{1,2})~(.*)$/i.exec(token);
      const key = m ? (m[1]!.length === 2 ? `~${m[2]}` : `%${m[1]!.toUpperCase()}~${m[2]}`) : token;
      if (key === '~*') keys.splice(0, keys.length);
      if (!keys.includes(key)) keys.push(key);
    } else if (token.startsWith('&')) {
      if (token === '&*') channels.splice(0, channels.length);
      if (!channels.includes(token)) channels.push(token);
    } else {
      const rule = token.toLowerCase();
      if (rule === '+@all' || rule === '-@all') commands = [rule];
      else {
        const name = rule.slice(1);
        commands = commands.filter((c) => c.slice(1) !== name && !c.slice(1).startsWith(`${name}|`));
        commands.push(rule);
      }
    }
  }
  if (commands[0] === '-@all') commands.shift();
  return [...keys, ...channels, ...commands];
}

/** One described selector (root or `(...)`) as ACL GETUSER returns it. */
export interface DescribedSelector {
  keys: string;
  channels: string;
  commands: string;
}

/** Tokens of a described selector in the holds vocabulary: the leading `-@all` is implied. */
export function describedTokens(sel: DescribedSelector): string[] {
  const split = (s: string) => s.split(/\s+/).filter(Boolean);
  const commands = split(sel.commands);
  if (commands[0]?.toLowerCase() === '-@all') commands.shift();
  // `resetchannels`/`resetkeys` only say "none"; older servers may print them.
  const keys = split(sel.keys).filter((t) => t !== 'resetkeys');
  const channels = split(sel.channels).filter((t) => t !== 'resetchannels');
  return [...keys, ...channels, ...commands];
}

/** How a selector beyond the root shows in holds: its tokens in parentheses. */
export function selectorToken(tokens: string[]): string {
  return `(${tokens.join(' ')})`;
}

/** A parsed ACL GETUSER reply. */
export interface DescribedUser {
  flags: string[];
  root: DescribedSelector;
  selectors: DescribedSelector[];
}

/** Flags shown in holds: on/off and anything that widens access; `sanitize-payload` is the default. */
export function flagTokens(flags: string[]): string[] {
  return flags.map((f) => f.toLowerCase()).filter((f) => f !== 'sanitize-payload');
}

/** Everything a user holds, in the connector's words: flags, root rules, then selectors. */
export function holdsOf(user: DescribedUser): string[] {
  return [...flagTokens(user.flags), ...describedTokens(user.root), ...user.selectors.map((s) => selectorToken(describedTokens(s)))];
}

/**
 * Parses a RESP2 ACL GETUSER reply (a flat field/value list, selectors as nested lists).
 * Returns undefined for a missing user (nil reply).
 */
export function parseGetUser(reply: unknown): DescribedUser | undefined {
  if (reply === null || reply === undefined) return undefined;
  const fields = toFields(reply);
  const flags = asStrings(fields.get('flags'));
  const root = selectorOf(fields);
  const rawSelectors = fields.get('selectors');
  const selectors = Array.isArray(rawSelectors) ? rawSelectors.map((s) => selectorOf(toFields(s))) : [];
  return { flags, root, selectors };
}

function toFields(reply: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!Array.isArray(reply)) throw new Error('unexpected ACL GETUSER reply');
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(asText(reply[i])).toLowerCase(), reply[i + 1]);
  return out;
}

function selectorOf(fields: Map<string, unknown>): DescribedSelector {
  return { keys: joined(fields.get('keys')), channels: joined(fields.get('channels')), commands: joined(fields.get('commands')) };
}

/** Redis 7 sends keys/channels as one string; 6.2 sent a list of bare patterns. */
function joined(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => asText(v)).join(' ');
  return value === null || value === undefined ? '' : asText(value);
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => asText(v)) : [];
}

function asText(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

// ---- account names --------------------------------------------------------------------------------

/**
 * The request id part of an account name: letters, digits, `_` and `-` stay, anything else is
 * written `.xx` per UTF-8 byte, so the name is reversible (list() tells the request) and never
 * holds spaces or characters that would garble ACL output.
 */
export function encodeRequestId(requestId: string): string {
  let out = '';
  for (const ch of requestId) {
    if (/^[A-Za-z0-9_-]$/.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `.${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of encodeRequestId; undefined when the text is not such an encoding. */
export function decodeRequestId(encoded: string): string | undefined {
  if (!/^(?:[A-Za-z0-9_-]|\.[0-9a-f]{2})+$/.test(encoded)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length;) {
    if (encoded[i] === '.') {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(encoded.charCodeAt(i));
      i += 1;
    }
  }
  const text = Buffer.from(bytes).toString('utf8');
  return encodeRequestId(text) === encoded ? text : undefined;
}
