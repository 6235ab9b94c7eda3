/**
 * The API's shapes, taken from the server's own response schemas (type-only: nothing of the
 * server is bundled), so the UI and the API cannot drift apart unnoticed.
 */
import type { z } from 'zod';
import type { requestListResponse, requestResponse } from '../../../src/http/responses.js';

export type RequestJson = z.infer<typeof requestResponse>;
export type RequestListJson = z.infer<typeof requestListResponse>;
export type RequestStatus = RequestJson['status'];

export interface SessionJson {
  principal: { id: string; groups: string[]; roles: string[] };
  session?: { id: string; source: string; client: string; expiresAt: string; amr: string[] };
  csrfToken?: string;
}

export interface ProviderJson {
  name: string;
  displayName: string;
  kind: 'oidc' | 'saml';
  login: string;
}

/** One policy's terms as GET /v1/entitlements lists them (durations in ms). */
export interface PolicyTermsJson {
  name: string;
  breakGlass: boolean;
  defaultDuration: number;
  minDuration?: number;
  maxDuration: number;
  reason: 'required' | 'optional';
  ticket: { required: boolean; pattern?: string };
  approvalsRequired: number;
  approvers: { groups: string[]; users: string[]; manager?: true };
  mfa?: { for: string[]; maxAge: number };
  extension?: { allowed: boolean; maxTotal: number; requiresApproval: boolean };
  /** When the policy applies: `hours` in minutes after local midnight (`to` < `from`: across midnight). */
  when?: { days?: string[]; hours?: { from: number; to: number }; timezone: string; sourceNetworks?: string[] };
  pendingTimeout?: number;
  review?: { approvers: { groups: string[]; users: string[]; manager?: true }; within: number };
}

export interface EntitlementJson {
  entitlement: string;
  target: string;
  /** The target's kind (`postgres`, `ssh`, `token`, ...). */
  kind: string;
  description?: string;
  /** What a grant hands over: credentials kept until fetched, issued when fetched, or nothing. */
  credentials: 'kept' | 'on-demand' | null;
  /** The command that uses a grant, `{id}` for the request id. */
  usage?: string;
  policies: PolicyTermsJson[];
}

export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}
