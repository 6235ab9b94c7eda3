/**
 * Every way a caller proves who they are, in one Authenticator: the configuration's API tokens
 * first (a synchronous map lookup, so /v1/check with one still answers in the same tick), then
 * the store's sessions and tokens, told apart by their prefix so a made-up token costs no query.
 */
import type { Authenticator, Credential } from '../ports.js';
import type { SyncAuthenticator } from '../directory.js';
import type { Sessions } from './sessions.js';
import { kindOf } from './secrets.js';
import type { Tokens } from './tokens.js';

export function identityAuthenticator(configured: SyncAuthenticator, sessions: Sessions, tokens: Tokens): Authenticator {
  return {
    authenticate(credential: Credential) {
      const kind = kindOf(credential.token);
      if (credential.scheme === 'cookie') return kind === 'session' ? sessions.authenticate(credential.token, true) : undefined;
      const found = configured.authenticate(credential);
      if (found) return found;
      if (kind === 'access') return sessions.authenticate(credential.token, false);
      if (kind === 'token') return tokens.authenticate(credential.token);
      return undefined;
    },
  };
}
