/**
 * Every audit event type the code writes, once: AuditDraft.type takes only these, and the docs
 * test checks that docs/events.md and docs/audit.md describe exactly this list. A new event type
 * is added here first (the compiler then accepts it), then documented.
 */
export const AUDIT_EVENT_TYPES = [
  // requests and grants (the lifecycle)
  'request.submitted',
  'request.refused',
  'request.approved',
  'request.denied',
  'request.scheduled',
  'request.cancelled',
  'request.expired',
  'request.failed',
  'decision.refused',
  'breakglass.reviewed',
  'grant.provisioning',
  'grant.activated',
  'grant.extended',
  'grant.extended_on_target',
  'grant.extension_requested',
  'grant.extension_approved',
  'grant.extension_denied',
  'grant.expired',
  'grant.revoked',
  'grant.released',
  'grant.access_removed',
  'credentials.retrieved',
  'credentials.issued',
  // administration
  'principal.locked',
  'principal.unlocked',
  'target.frozen',
  'target.unfrozen',
  'config.reloaded',
  'server.started',
  'webhook.redelivery_requested',
  // identity (docs/identity.md)
  'auth.signed_in',
  'auth.sign_in_refused',
  'auth.signed_out',
  'auth.sessions_revoked',
  'auth.refresh_reused',
  'token.created',
  'token.revoked',
  'principal.provisioned',
  'principal.updated',
  'principal.deactivated',
  'principal.reactivated',
  'principal.deleted',
  'principal.registered',
  'group.provisioned',
  'group.updated',
  'group.deleted',
  'mfa.enrolled',
  'mfa.removed',
  'mfa.verified',
  'mfa.failed',
  'mfa.recovery_codes_generated',
  // drift (reconciliation)
  'drift.orphan_removed',
  'drift.extra_privileges',
  'drift.access_missing',
  // reminders
  'reminder.pending_timeout',
  'reminder.grant_expiring',
  // alerts
  'alert.break_glass_used',
  'alert.review_overdue',
  'alert.revocation_overdue',
  'alert.principal_locked',
  'alert.audit_chain_broken',
  'alert.target_unconfigured',
  'alert.agent_behind',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];
