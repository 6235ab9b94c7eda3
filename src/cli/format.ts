/** Human output of the `hourglass` client commands: tables, request summaries, times. */
import { formatDuration } from '../core/duration.js';
import type {
  AuditEventJson,
  CredentialsJson,
  EntitlementJson,
  ExplainJson,
  GrantJson,
  LockResultJson,
  LocksJson,
  MeJson,
  NotificationDeliveryJson,
  NotificationOverviewJson,
  RequestJson,
  VerifyReportJson,
} from './api-client.js';
import type { TestReport as TestReportJson } from './policy-tests.js';

/** A left-aligned table with a header row; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** "in 1h59m", "3m ago"; empty for a missing time. */
export function relative(isoTime: string | null | undefined, now: number = Date.now()): string {
  if (!isoTime) return '';
  const at = Date.parse(isoTime);
  if (Number.isNaN(at)) return '';
  const diff = at - now;
  if (Math.abs(diff) < 1000) return 'now';
  return diff > 0 ? `in ${formatDuration(diff)}` : `${formatDuration(-diff)} ago`;
}

/** An ISO time with its distance from now: "2025-01-01T10:00:00.000Z (in 2h)". */
export function when(isoTime: string | null | undefined, now: number = Date.now()): string {
  if (!isoTime) return '-';
  const rel = relative(isoTime, now);
  return rel ? `${isoTime} (${rel})` : isoTime;
}

const FINAL = new Set(['expired', 'denied', 'cancelled', 'revoked', 'failed']);

export function isFinalStatus(status: string): boolean {
  return FINAL.has(status);
}

/**
 * Who may approve, as `/v1/entitlements` and explain describe a policy's approvers (`manager: true`)
 * and a request its frozen ones (`manager`: the requester's manager's id, or null).
 */
export function describeSubjects(set: { groups?: string[]; users?: string[]; manager?: boolean | string | null } | undefined): string {
  if (!set) return '';
  const parts = [...(set.groups ?? []).map((g) => `group ${g}`), ...(set.users ?? []).map((u) => u)];
  if (set.manager === true) parts.push("the requester's manager");
  else if (typeof set.manager === 'string') parts.push(`${set.manager} (manager)`);
  return parts.join(' or ');
}

/**
 * What happens next for a request, in one line: "waiting for 1 approval from group sre-leads",
 * "active until ...", "scheduled to start at ...", or how it ended.
 */
export function nextStep(r: RequestJson, now: number = Date.now()): string {
  switch (r.status) {
    case 'pending': {
      const parts = r.awaiting.map((a) => {
        const from = describeSubjects(a.approvers);
        return `${a.remaining} approval${a.remaining === 1 ? '' : 's'}${from ? ` from ${from}` : ''} (policy ${a.policy})`;
      });
      const what = parts.length ? `waiting for ${parts.join(' and ')}` : 'waiting for approval';
      return `${what}; the request expires ${r.pendingUntil ? when(r.pendingUntil, now) : 'when its policy says'} if not approved`;
    }
    case 'scheduled':
      if (r.access === 'provisioning') return `access is being created on the target (until ${when(r.expiresAt, now)})`;
      return `scheduled to start ${when(r.startAt, now)}, for ${formatDuration(r.durationSeconds * 1000)}`;
    case 'active': {
      const ext = r.pendingExtension ? `; an extension of ${formatDuration(r.pendingExtension.durationSeconds * 1000)} awaits approval` : '';
      const review = r.breakGlass && !r.review && r.reviewDueAt ? `; break-glass review due ${when(r.reviewDueAt, now)}` : '';
      return `active until ${when(r.expiresAt, now)}${ext}${review}`;
    }
    default: {
      const by = r.endedBy ? ` by ${r.endedBy}` : r.decision ? ` by ${r.decision.by}` : '';
      const why = r.endReason ? `: ${r.endReason}` : r.error ? `: ${r.error}` : r.decision?.comment ? `: ${r.decision.comment}` : '';
      const access = r.access === 'removing' ? '; access is being removed from the target' : '';
      return `${r.status}${by} ${r.endedAt ? when(r.endedAt, now) : ''}`.trimEnd() + why + access;
    }
  }
}

/** The two lines most commands print about a request they changed. */
export function requestLine(r: RequestJson, now: number = Date.now()): string {
  return `${r.id}  ${r.status}  ${r.entitlements.join(', ')}\n  ${nextStep(r, now)}\n`;
}

/** The "until" column of the requests table: when a pending request times out, a grant ends, or the request ended. */
function until(r: RequestJson): string {
  if (r.status === 'pending') return `pending until ${r.pendingUntil ?? '-'}`;
  if (r.status === 'active' || r.status === 'scheduled') return r.expiresAt ? `expires ${r.expiresAt}` : `starts ${r.startAt ?? '-'}`;
  return r.endedAt ? `ended ${r.endedAt}` : '-';
}

export function requestsTable(requests: RequestJson[]): string {
  if (requests.length === 0) return 'no requests\n';
  return table(
    ['ID', 'STATUS', 'REQUESTER', 'ENTITLEMENTS', 'UNTIL'],
    requests.map((r) => [r.id, r.status + (r.pendingExtension ? '+ext' : ''), r.requester, r.entitlements.join(','), until(r)]),
  );
}

export function requestDetails(r: RequestJson, now: number = Date.now()): string {
  const rows: [string, string][] = [
    ['id', r.id],
    ['status', `${r.status} (access ${r.access})`],
    ['requester', r.requester],
    ['entitlements', r.entitlements.join(', ')],
    ['duration', formatDuration(r.durationSeconds * 1000)],
    ['reason', r.reason ?? '-'],
    ['ticket', r.ticket ?? '-'],
    [
      'policy',
      Object.entries(r.policies)
        .map(([e, p]) => `${e}: ${p}`)
        .join(', '),
    ],
    [
      'approvals',
      `${r.approvals.length} of ${
        Object.entries(r.approvalsRequired)
          .map(([p, n]) => `${n} (${p})`)
          .join(', ') || '0'
      }`,
    ],
    ['requested', when(r.requestedAt, now)],
  ];
  for (const a of r.approvals) rows.push(['  approved by', `${a.by} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`]);
  if (r.decision) rows.push(['decision', `${r.decision.by} at ${r.decision.at}${r.decision.comment ? `: ${r.decision.comment}` : ''}`]);
  if (r.pendingUntil) rows.push(['pending until', when(r.pendingUntil, now)]);
  if (r.startAt) rows.push(['starts', when(r.startAt, now)]);
  if (r.activatedAt) rows.push(['activated', when(r.activatedAt, now)]);
  if (r.expiresAt) rows.push(['expires', when(r.expiresAt, now)]);
  for (const e of r.extensions) {
    rows.push(['  extended', `+${formatDuration(e.durationSeconds * 1000)} by ${e.by} at ${e.at}${e.reason ? `: ${e.reason}` : ''}`]);
  }
  if (r.pendingExtension) {
    const p = r.pendingExtension;
    rows.push(['extension', `+${formatDuration(p.durationSeconds * 1000)} asked by ${p.by} at ${p.at}, ${p.approvals.length} approval(s) so far`]);
  }
  if (r.breakGlass) {
    rows.push([
      'break-glass',
      r.review
        ? `reviewed by ${r.review.by} at ${r.review.at}: ${r.review.comment}`
        : `not reviewed yet${r.reviewDueAt ? `, due ${when(r.reviewDueAt, now)}` : ''}`,
    ]);
  }
  if (r.endedAt) rows.push(['ended', `${when(r.endedAt, now)}${r.endedBy ? ` by ${r.endedBy}` : ''}${r.endReason ? `: ${r.endReason}` : ''}`]);
  if (r.error) rows.push(['error', r.error]);
  rows.push(['next', nextStep(r, now)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

export function grantsTable(grants: GrantJson[]): string {
  if (grants.length === 0) return 'no active grants\n';
  return table(
    ['REQUEST', 'PRINCIPAL', 'ENTITLEMENT', 'EXPIRES'],
    grants.map((g) => [g.requestId, g.principal, g.entitlement, when(g.expiresAt)]),
  );
}

export function auditTable(events: AuditEventJson[]): string {
  if (events.length === 0) return 'no audit events\n';
  return table(
    ['SEQ', 'AT', 'TYPE', 'ACTOR', 'REQUEST'],
    events.map((e) => [e.seq === null ? '-' : String(e.seq), e.at ?? '-', e.type, e.actor, e.requestId ?? '-']),
  );
}

export function verifyLines(r: VerifyReportJson): string {
  // Rows outside the chain are a failure of their own; named here when another problem came first.
  const foreign = r.unchained && r.firstBadSeq !== undefined ? `; ${r.unchained} event(s) outside the chain` : '';
  if (r.ok) return `audit chain ok: ${r.count} event(s), head ${r.head ?? '(empty)'}\n`;
  const at = r.firstBadSeq !== undefined ? ` at seq ${r.firstBadSeq}` : '';
  return `AUDIT CHAIN BROKEN${at}: ${r.problem ?? 'unknown problem'}\n  verified ${r.count} event(s) up to ${r.head ?? '(none)'}${foreign}\n`;
}

export function entitlementsTable(list: EntitlementJson[]): string {
  if (list.length === 0) return 'you may not request any entitlement\n';
  const rows: string[][] = [];
  for (const e of list) {
    for (const raw of e.policies) {
      const p = raw as {
        name: string;
        breakGlass: boolean;
        defaultDuration: number;
        maxDuration: number;
        reason: string;
        ticket: { required: boolean };
        approvalsRequired: number;
        approvers: { groups?: string[]; users?: string[]; manager?: boolean };
      };
      const terms = [
        `default ${formatDuration(p.defaultDuration)}`,
        `max ${formatDuration(p.maxDuration)}`,
        p.approvalsRequired > 0 ? `${p.approvalsRequired} approval(s) from ${describeSubjects(p.approvers) || 'nobody'}` : 'no approval',
        ...(p.reason === 'required' ? ['reason required'] : []),
        ...(p.ticket.required ? ['ticket required'] : []),
        ...(p.breakGlass ? ['break-glass'] : []),
      ];
      rows.push([e.entitlement, p.name, terms.join(', '), e.description ?? '']);
    }
  }
  return table(['ENTITLEMENT', 'POLICY', 'TERMS', 'DESCRIPTION'], rows);
}

export function meLines(me: MeJson): string {
  return `${me.id}${me.locked ? ' (LOCKED)' : ''}\n` + `  groups: ${me.groups.join(', ') || '-'}\n` + `  roles:  ${me.roles.join(', ') || '-'}\n`;
}

export function lockLine(verb: string, subject: string, r: LockResultJson): string {
  const head = r.changed ? `${verb} ${subject}` : `${subject} was already ${verb}`;
  const ended = [...(r.revoked.length ? [`revoked ${r.revoked.join(', ')}`] : []), ...(r.cancelled.length ? [`cancelled ${r.cancelled.join(', ')}`] : [])];
  return `${head}${ended.length ? `; ${ended.join('; ')}` : ''}\n`;
}

export function locksTable(l: LocksJson): string {
  const rows = [
    ...l.principals.map((x) => ['principal', x.subject, x.by, x.at ?? '-', x.reason ?? '']),
    ...l.targets.map((x) => ['target', x.subject, x.by, x.at ?? '-', x.reason ?? '']),
  ];
  if (rows.length === 0) return 'no principal is locked and no target is frozen\n';
  return table(['KIND', 'SUBJECT', 'BY', 'AT', 'REASON'], rows);
}

// ---- notifications ---------------------------------------------------------------------------------

/** `hourglass notifications status`: each destination's backlog, then the routes and the fan-out. */
export function notificationStatusLines(o: NotificationOverviewJson): string {
  if (!o.enabled) return 'notifications are off: the configuration has no notifications section\n';
  const parts: string[] = [];
  parts.push(
    o.destinations.length === 0
      ? 'no destinations: no channel is configured\n'
      : table(
          ['DESTINATION', 'KIND', 'PENDING', 'FAILING', 'SENT', 'SKIPPED', 'OLDEST PENDING'],
          o.destinations.map((d) => [
            d.destination,
            d.kind,
            String(d.pending),
            String(d.failing),
            String(d.sent),
            String(d.skipped),
            d.oldestPendingAgeSeconds === null ? '-' : formatDuration(d.oldestPendingAgeSeconds * 1000),
          ]),
        ),
  );
  parts.push(
    o.routes.length === 0
      ? '\nno routes: nothing is sent\n'
      : '\n' +
          table(
            ['ROUTE CHANNELS', 'TOPICS', 'POLICIES'],
            o.routes.map((r) => [r.channels.join(','), r.topics.join(','), r.policies.join(',')]),
          ),
  );
  const behind = o.fanOut.head - o.fanOut.cursor;
  parts.push(`\nfan-out: read the audit log up to seq ${o.fanOut.cursor} of ${o.fanOut.head}${behind > 0 ? ` (${behind} event(s) to go)` : ' (up to date)'}\n`);
  const failing = o.destinations.filter((d) => d.failing > 0).map((d) => d.destination);
  if (failing.length) parts.push(`failing: ${failing.join(', ')}; hourglass notifications deliveries --outcome failed --destination D says why\n`);
  return parts.join('');
}

/** `hourglass notifications deliveries`: one row per attempt, newest first. */
export function deliveriesTable(deliveries: NotificationDeliveryJson[]): string {
  if (deliveries.length === 0) return 'no deliveries\n';
  return table(
    ['AT', 'DESTINATION', 'RECIPIENT', 'TOPIC', 'REQUEST', 'ATTEMPT', 'OUTCOME', 'ERROR'],
    deliveries.map((d) => [
      d.at,
      d.destination,
      d.recipient ?? '-',
      d.topic,
      d.requestId ?? '-',
      String(d.attempt),
      d.outcome,
      d.error ? d.error.replace(/\s+/g, ' ') : '',
    ]),
  );
}

/** Field order of a credentials block: the usual ones first, then anything else the connector sent. */
const CREDENTIAL_FIELDS = ['username', 'password', 'host', 'port', 'database', 'url'];

/**
 * `hourglass credentials`: a block per target with every field (the password in clear: that is
 * what was asked for), and when they stop working.
 */
export function credentialsLines(c: CredentialsJson, kinds: Record<string, string | undefined> = {}, now: number = Date.now()): string {
  const targets = Object.entries(c.targets);
  if (targets.length === 0) {
    return `${c.requestId}: no credentials: the grant's targets issue none (access goes through an existing account)\n`;
  }
  const lines = [`${c.requestId}: credentials valid until the grant ends, ${when(c.expiresAt, now)}`];
  for (const [name, creds] of targets) {
    // Issued on request (tokens, certificates): one block per entitlement.
    const issued = typeof creds.kind === 'string' && Array.isArray(creds.credentials) ? (creds.credentials as Record<string, unknown>[]) : undefined;
    if (issued) {
      for (const item of issued) lines.push('', `${name}/${String(item.entitlement)} (${creds.kind})`, ...fieldLines(item, ['entitlement']));
      continue;
    }
    lines.push('', kinds[name] ? `${name} (${kinds[name]})` : name, ...fieldLines(creds, []));
  }
  return lines.join('\n') + '\n';
}

/** `key  value` lines, the usual credential fields first, values that are not text as JSON. */
function fieldLines(creds: Record<string, unknown>, skip: string[]): string[] {
  const keys = [...CREDENTIAL_FIELDS.filter((k) => k in creds), ...Object.keys(creds).filter((k) => !CREDENTIAL_FIELDS.includes(k))].filter(
    (k) => !skip.includes(k),
  );
  const rows = keys
    .filter((k) => creds[k] !== undefined && creds[k] !== null)
    .map((k) => {
      const v = creds[k];
      return [k, typeof v === 'string' ? v : JSON.stringify(v)] as const;
    });
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  const out: string[] = [];
  for (const [k, v] of rows) {
    const [first, ...rest] = v.split('\n');
    out.push(`  ${k.padEnd(width)}  ${first}`, ...rest.map((l) => `  ${' '.repeat(width)}  ${l}`));
  }
  return out;
}

// ---- policies as code ------------------------------------------------------------------------------

function describeJsonSubjects(set: { groups: string[]; users: string[]; manager?: boolean }): string {
  return describeSubjects(set) || 'nobody';
}

/** `hourglass policy explain`: the verdict first, then the terms, then each candidate's reasons. */
export function explainLines(r: ExplainJson): string {
  const lines: string[] = [];
  const what = `${r.entitlements.join(', ')}${r.durationSeconds !== null ? ` for ${formatDuration(r.durationSeconds * 1000)}` : ''}`;
  if (r.allowed) {
    lines.push(`ALLOWED: ${r.principal} may request ${what} (policy ${r.policy})`);
    if (r.breakGlass) lines.push('  break-glass: access at once, reviewed afterwards');
    if (r.approvals.length === 0) lines.push(r.breakGlass ? '  no approval needed' : '  self-service: active at once, no approval needed');
    for (const a of r.approvals) {
      lines.push(
        `  needs ${a.required} approval${a.required === 1 ? '' : 's'} from ${describeJsonSubjects(a.approvers)} (policy ${a.policy}); ` +
          `could approve: ${a.eligibleApprovers.join(', ') || 'nobody'}`,
      );
    }
    if (r.pendingTimeoutSeconds !== null) lines.push(`  waits at most ${formatDuration(r.pendingTimeoutSeconds * 1000)} for approvals`);
    for (const v of r.reviews) {
      lines.push(
        `  reviewed within ${formatDuration(v.withinSeconds * 1000)} by ${describeJsonSubjects(v.reviewers)}; could review: ${v.eligibleReviewers.join(', ') || 'nobody'}`,
      );
    }
  } else {
    lines.push(`REFUSED: ${r.principal} may not request ${what}: ${r.message ?? 'refused'} (${r.code ?? '?'})`);
  }
  const needs: string[] = [];
  if (r.requires.reason) needs.push('a reason');
  if (r.requires.ticket.required) needs.push(`a ticket${r.requires.ticket.patterns.length ? ` matching ${r.requires.ticket.patterns.join(' and ')}` : ''}`);
  else if (r.requires.ticket.patterns.length) needs.push(`a ticket, if given, matching ${r.requires.ticket.patterns.join(' and ')}`);
  if (r.requires.sourceNetworks) needs.push(`a request from ${r.requires.sourceNetworks.join(', ')}`);
  const mfa = r.requires.mfa;
  if (mfa) {
    const steps = (['request', 'approve', 'credentials'] as const)
      .filter((a) => mfa[a] !== null)
      .map((a) => `${a === 'approve' ? 'approving' : a === 'request' ? 'requesting' : 'fetching credentials'} (${formatDuration(mfa[a]! * 1000)})`);
    needs.push(`step-up MFA for ${steps.join(', ')}`);
  }
  if (needs.length) lines.push(`  requires: ${needs.join('; ')}`);
  const assumed = [
    ...(r.assumed.reason ? ['a reason'] : []),
    ...(r.assumed.ticket ? ['a matching ticket'] : []),
    ...(r.assumed.sourceIp ? ['an allowed source address'] : []),
  ];
  if (assumed.length) lines.push(`  assumed: ${assumed.join(', ')} will be given (pass --reason/--ticket/--source-ip to check actual values)`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  const ents = Object.keys({ ...r.candidates, ...r.notCandidates });
  if (ents.length) {
    lines.push('policies:');
    for (const e of ents) {
      lines.push(`  ${e}:`);
      const cands = r.candidates[e] ?? [];
      if (cands.length === 0 && r.principalKnown) lines.push('    no candidate policy');
      for (const c of cands)
        lines.push(`    ${c.policy}: ${c.chosen ? 'chosen' : c.reasons.length ? c.reasons.join('; ') : 'terms met (an earlier policy was chosen)'}`);
      for (const n of r.notCandidates[e] ?? []) lines.push(`    ${n.policy}: not a candidate: ${n.why}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** `hourglass policy test`: PASS/FAIL per test, then the summary. */
export function testReportLines(r: TestReportJson): string {
  const lines: string[] = [];
  for (const t of r.results) {
    if (t.ok) {
      lines.push(`PASS ${t.name}`);
      continue;
    }
    lines.push(`FAIL ${t.name}: ${t.failures.map((f) => f.message).join('; ')}`);
    const why = Object.entries(t.explanation.candidates).flatMap(([e, vs]) =>
      vs.filter((v) => v.reasons.length).map((v) => `    ${e}: ${v.policy}: ${v.reasons.join('; ')}`),
    );
    if (why.length) lines.push('  candidate policies:', ...why);
  }
  lines.push('', `${r.passed} passed, ${r.failed} failed`);
  return lines.join('\n') + '\n';
}
