/**
 * openid-client 6 for one configured provider: discovery once (retried after a failure), then
 * the authorization code flow with PKCE, state and nonce, and the device authorization grant.
 * openid-client checks the ID token's signature, issuer, audience, expiry and nonce.
 */
import * as oidc from 'openid-client';
import { HgError } from '../../../core/errors.js';
import type { OidcProviderSettings } from '../../../config/types.js';

export class OidcClient {
  private config: Promise<oidc.Configuration> | undefined;

  constructor(readonly settings: OidcProviderSettings) {}

  /** The discovered configuration; an unreachable provider is HG_TARGET_UNAVAILABLE-like, said plainly. */
  discovered(): Promise<oidc.Configuration> {
    const s = this.settings;
    this.config ??= oidc
      .discovery(new URL(s.issuer), s.clientId, s.clientSecret, undefined, s.issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : {})
      .catch((err: unknown) => {
        this.config = undefined;
        throw new HgError('HG_SIGN_IN_REFUSED', `the identity provider ${s.name} could not be reached for discovery`, { cause: err });
      });
    return this.config;
  }

  async authorizationUrl(redirectUri: string, state: string, nonce: string, verifier: string): Promise<URL> {
    return oidc.buildAuthorizationUrl(await this.discovered(), {
      redirect_uri: redirectUri,
      scope: this.settings.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
  }

  /** Exchanges the code at `callbackUrl`; returns the ID token claims and (when configured) userinfo. */
  async finish(callbackUrl: URL, expected: { state: string; nonce: string; verifier: string }) {
    const config = await this.discovered();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: expected.verifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    });
    return this.claimsOf(config, tokens);
  }

  private async claimsOf(config: oidc.Configuration, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers) {
    const idToken = tokens.claims();
    if (!idToken) throw new HgError('HG_SIGN_IN_REFUSED', 'the provider returned no ID token');
    const userinfo = this.settings.userinfo ? await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub) : undefined;
    return { idToken: idToken as Record<string, unknown>, userinfo: userinfo as Record<string, unknown> | undefined };
  }

  startDevice() {
    return this.discovered().then((config) => oidc.initiateDeviceAuthorization(config, { scope: this.settings.scopes.join(' ') }));
  }

  /** Polls until the person approved (claims), refused (throws), or `waitMs` passed (undefined). */
  async pollDevice(device: oidc.DeviceAuthorizationResponse, waitMs: number) {
    const config = await this.discovered();
    const signal = AbortSignal.timeout(waitMs);
    try {
      const tokens = await oidc.pollDeviceAuthorizationGrant(config, device, undefined, { signal });
      return await this.claimsOf(config, tokens);
    } catch (err) {
      if (signal.aborted) return undefined;
      throw err;
    }
  }
}
