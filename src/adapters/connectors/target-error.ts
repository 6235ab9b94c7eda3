/**
 * The one error a connector raises when its target fails or refuses: HG_TARGET_UNAVAILABLE with
 * one message shape, `<kind> target "<name>": <action>: <driver message>`, scrubbed of secrets,
 * and the driver error kept as `cause` for the server log.
 */
import { HgError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';

/** Secrets to scrub: a list, or a function that scrubs (a connector's own, which knows them). */
export type Secrets = readonly string[] | ((text: string) => string);

const scrubberOf = (secrets: Secrets): ((text: string) => string) => (typeof secrets === 'function' ? secrets : (text) => redact(text, secrets));

/**
 * `cause` is the driver error; `text` replaces its message where the kind words it better (the
 * server's detail, an error number). An HgError passes through with its code, details and cause,
 * its message scrubbed again (it may quote a secret of the moment). Details default to `{ target }`.
 * `withoutCause`: the kind promises never to pass its client's errors on, not even scrubbed (redis).
 */
export function targetError(
  kind: string,
  target: string,
  action: string,
  cause: unknown,
  secrets: Secrets,
  extra: { text?: string; details?: Record<string, unknown>; withoutCause?: boolean } = {},
): HgError {
  const scrub = scrubberOf(secrets);
  if (cause instanceof HgError) {
    const message = scrub(cause.message);
    return message === cause.message ? cause : new HgError(cause.code, message, { details: cause.details, cause: cause.cause });
  }
  const text = extra.text ?? (cause instanceof Error ? cause.message : String(cause));
  return new HgError('HG_TARGET_UNAVAILABLE', scrub(`${kind} target "${target}": ${action}: ${text}`), {
    details: extra.details ?? { target },
    ...(extra.withoutCause ? {} : { cause: scrubbedCopy(cause, scrub) }),
  });
}

/** HG_TARGET_UNAVAILABLE for a refusal of the connector's own (no driver error): same shape, no action. */
export function targetRefusal(kind: string, target: string, message: string, secrets: Secrets, details?: Record<string, unknown>): HgError {
  return new HgError('HG_TARGET_UNAVAILABLE', scrubberOf(secrets)(`${kind} target "${target}": ${message}`), { details: details ?? { target } });
}

/**
 * Refuses a grant that names entitlements the target's settings do not know (a reload removed
 * them): for kinds whose grant calls nothing, this is the one check `grant` makes.
 */
export function refuseUnknownEntitlements(
  kind: string,
  grant: { target: { name: string }; entitlements: { name: string }[] },
  known: (name: string) => boolean,
): void {
  const unknown = grant.entitlements.filter((e) => !known(e.name)).map((e) => e.name);
  if (unknown.length) throw targetRefusal(kind, grant.target.name, `no entitlement ${unknown.join(', ')} is configured here`, []);
}

/**
 * The driver error as the log will see it: same prototype, name, code and other plain fields, with
 * every string scrubbed. The server log prints a cause's message (and pino its stack), and driver
 * errors quote statements and arguments (a password hash, an ACL rule); nested objects (ioredis
 * keeps the command's arguments there) are left out.
 */
function scrubbedCopy(cause: unknown, scrub: (text: string) => string): Error {
  if (!(cause instanceof Error)) return new Error(scrub(String(cause)));
  const copy = Object.create(Object.getPrototypeOf(cause) as object) as Error & Record<string, unknown>;
  const define = (key: string, value: unknown) => Object.defineProperty(copy, key, { value, writable: true, configurable: true, enumerable: false });
  define('message', scrub(cause.message));
  if (cause.stack !== undefined) define('stack', scrub(cause.stack));
  if (Object.prototype.hasOwnProperty.call(cause, 'name')) define('name', cause.name);
  for (const [key, value] of Object.entries(cause)) {
    if (typeof value === 'string') copy[key] = scrub(value);
    else if (value === null || ['number', 'boolean', 'bigint', 'undefined'].includes(typeof value)) copy[key] = value;
  }
  return copy;
}
