/**
 * Turns driver errors that mean "the database cannot be reached or cannot take writes" into
 * HG_STORE_UNAVAILABLE (503), so an outage is never reported as a bug (500) or bad input (400).
 */
import { HgError, isHgError } from '../../core/errors.js';

const NODE_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections, disk full.
const PG = new Set(['57P01', '57P02', '57P03', '53300', '53100']);

export function isUnavailable(err: unknown): boolean {
  if (isHgError(err) || typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NODE_NET.has(code) || PG.has(code) || /^08/.test(code)) return true;
    if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB)/.test(code)) return true;
  }
  return typeof message === 'string' && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message);
}

function translate(err: unknown): never {
  if (isUnavailable(err)) {
    // The cause is kept for the server log only; never serialised to clients.
    throw new HgError('HG_STORE_UNAVAILABLE', 'the store is unavailable; retry shortly', { cause: err });
  }
  throw err;
}

/**
 * Wraps every method of a store so unavailability surfaces as HG_STORE_UNAVAILABLE. A method's
 * wrapper is made once and reused while the method stays the same (/v1/check comes through here
 * on every request); a wrapper always calls the function it was made for, so a method replaced
 * later (tests count calls that way) gets a wrapper of its own and never calls itself.
 */
export function reportUnavailable<T extends object>(store: T): T {
  const wrappers = new Map<PropertyKey, { fn: (...args: unknown[]) => unknown; wrapper: (...args: unknown[]) => unknown }>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const known = wrappers.get(prop);
      if (known?.fn === value) return known.wrapper;
      const fn = value as (...args: unknown[]) => unknown;
      const wrapper = (...args: unknown[]) => {
        try {
          const result = fn.apply(target, args);
          return result instanceof Promise ? result.catch(translate) : result;
        } catch (err) {
          return translate(err);
        }
      };
      wrappers.set(prop, { fn, wrapper });
      return wrapper;
    },
  });
}
