/**
 * The Profile page's server calls: your sessions, personal access tokens and MFA factors
 * (docs/identity.md). Lists are react-query queries; whatever carries a secret (a new token, a
 * TOTP secret and its QR code, recovery codes) comes from plain calls whose answer only the
 * component that shows it holds, never a cache. A 401 on any of them means the session ended
 * elsewhere: the session is read again, which shows the sign-in page.
 */
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import type { Scope } from '../lib/profile.js';
import { api, ApiError, setCsrfToken } from './client.js';
import { keys } from './hooks.js';
import type { MfaProof } from './mfa.js';

export interface SessionInfoJson {
  id: string;
  principal: string;
  source: string;
  client: 'browser' | 'cli';
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  authTime?: string;
  amr: string[];
  ip?: string;
  userAgent?: string;
  current?: boolean;
}

export interface TokenJson {
  id: string;
  principal: string;
  name: string;
  scopes: string[];
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  lastUsedAt?: string;
}

/** POST /v1/tokens: the token itself is in this answer only. */
export interface NewTokenJson extends TokenJson {
  token: string;
}

export interface FactorJson {
  id: string;
  kind: 'totp' | 'webauthn';
  label: string;
  status: 'pending' | 'active';
  createdAt: string;
  lastUsedAt?: string;
  expiresAt?: string;
}

export interface TotpEnrolmentJson {
  factorId: string;
  otpauthUri: string;
  qrSvg: string;
  secret: string;
  expiresAt: string;
}

export interface EnrolledJson {
  factor: FactorJson;
  recoveryCodes: string[];
}

export const profileKeys = {
  sessions: ['profile', 'sessions'] as const,
  tokens: ['profile', 'tokens'] as const,
  factors: ['profile', 'factors'] as const,
};

const id = (s: string) => encodeURIComponent(s);

/** Rethrows `e`; a 401 first has the session read again (then the app shows the sign-in page). */
function signedOutCheck(qc: QueryClient) {
  return (e: unknown): never => {
    if (e instanceof ApiError && e.status === 401) void qc.invalidateQueries({ queryKey: keys.session });
    throw e;
  };
}

export function useSessions() {
  const qc = useQueryClient();
  return useQuery({
    queryKey: profileKeys.sessions,
    queryFn: () => api<{ sessions: SessionInfoJson[] }>('GET', '/v1/sessions').catch(signedOutCheck(qc)),
  });
}

/** Your own tokens: admins and auditors would otherwise list everyone's. */
export function useTokens(principal: string) {
  const qc = useQueryClient();
  return useQuery({
    queryKey: [...profileKeys.tokens, principal],
    queryFn: () => api<{ tokens: TokenJson[] }>('GET', `/v1/tokens?principal=${id(principal)}`).catch(signedOutCheck(qc)),
  });
}

export function useFactors() {
  const qc = useQueryClient();
  return useQuery({
    queryKey: profileKeys.factors,
    queryFn: () => api<{ factors: FactorJson[]; recoveryCodesLeft: number }>('GET', '/v1/mfa/factors').catch(signedOutCheck(qc)),
  });
}

/** After this browser's own session ended: forget everything, as signing out does, and show the sign-in page. */
export function forgetSession(qc: QueryClient): void {
  setCsrfToken(undefined);
  qc.clear();
}

/** Signs one session out (POST /v1/sessions/ID/revoke); `current`: it was this browser's. */
export function useRevokeSession() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (s: { id: string; current?: boolean }) => api<{ revoked: boolean }>('POST', `/v1/sessions/${id(s.id)}/revoke`).catch(signedOutCheck(qc)),
    onSuccess: (_r, s) => (s.current ? forgetSession(qc) : qc.invalidateQueries({ queryKey: profileKeys.sessions })),
  });
}

/** Sign out everywhere (POST /v1/sessions/revoke-all): this browser too. */
export function useRevokeAllSessions() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api<{ sessions: number }>('POST', '/v1/sessions/revoke-all', {}).catch(signedOutCheck(qc)),
    onSuccess: () => forgetSession(qc),
  });
}

export function useRevokeToken() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (tokenId: string) => api<{ revoked: boolean }>('POST', `/v1/tokens/${id(tokenId)}/revoke`).catch(signedOutCheck(qc)),
    onSuccess: () => qc.invalidateQueries({ queryKey: profileKeys.tokens }),
  });
}

/** The calls whose answers carry secrets: the caller keeps the answer in component state only. */
export function useProfileCalls() {
  const qc = useQueryClient();
  const check = signedOutCheck(qc);
  const factorsChanged = () => void qc.invalidateQueries({ queryKey: profileKeys.factors });
  return {
    createToken: async (body: { name: string; scopes: Scope[]; expiresIn?: string }) => {
      const r = await api<NewTokenJson>('POST', '/v1/tokens', body).catch(check);
      void qc.invalidateQueries({ queryKey: profileKeys.tokens });
      return r;
    },
    beginTotp: async (label?: string) => {
      const r = await api<TotpEnrolmentJson>('POST', '/v1/mfa/totp', label ? { label } : {}).catch(check);
      factorsChanged();
      return r;
    },
    confirmTotp: async (factorId: string, code: string, proof?: MfaProof) => {
      const r = await api<EnrolledJson>('POST', `/v1/mfa/totp/${id(factorId)}/confirm`, { code, ...(proof ? { proof } : {}) }).catch(check);
      factorsChanged();
      return r;
    },
    /** Options from the server, the browser's registration (the library is loaded only now), and the answer back. */
    startWebauthn: async () => {
      const o = await api<{ registrationId: string; expiresAt: string; options: Record<string, unknown> }>('POST', '/v1/mfa/webauthn/options', {}).catch(check);
      const { startRegistration } = await import('@simplewebauthn/browser');
      const response = await startRegistration({ optionsJSON: o.options as unknown as Parameters<typeof startRegistration>[0]['optionsJSON'] });
      return { registrationId: o.registrationId, response };
    },
    finishWebauthn: async (reg: { registrationId: string; response: unknown }, label?: string, proof?: MfaProof) => {
      const r = await api<EnrolledJson>('POST', '/v1/mfa/webauthn', { ...reg, ...(label ? { label } : {}), ...(proof ? { proof } : {}) }).catch(check);
      factorsChanged();
      return r;
    },
    removeFactor: async (factorId: string, proof?: MfaProof) => {
      const r = await api<{ removed: boolean }>('POST', `/v1/mfa/factors/${id(factorId)}/remove`, proof ? { proof } : {}).catch(check);
      factorsChanged();
      return r;
    },
    newRecoveryCodes: async (proof?: MfaProof) => {
      const r = await api<{ recoveryCodes: string[] }>('POST', '/v1/mfa/recovery-codes', proof ? { proof } : {}).catch(check);
      factorsChanged();
      return r;
    },
  };
}
