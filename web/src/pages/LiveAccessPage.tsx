/**
 * Live access: for admins and auditors every grant active or scheduled now, for approvers the
 * grants of others they approve or review; filterable, each counting down. Admins and approvers
 * revoke one with a reason; admins lock a principal or freeze a target, each confirmed
 * first. Auditors read the same lists without the buttons (the API refuses them anyway).
 */
import { useEffect, useId, useState } from 'react';
import { useEmergency, useLiveGrants, useLocks, type EmergencyAction } from '../api/live-access.js';
import { useRequestAction } from '../api/hooks.js';
import type { RequestJson, SessionJson } from '../api/types.js';
import {
  countText,
  emergencyResultText,
  filterOptions,
  grantLabel,
  isFiltered,
  liveGrants,
  lockEffect,
  matchesFilter,
  NO_FILTER,
  targetOf,
  type GrantFilter,
  type LockKind,
} from '../lib/live-access.js';
import { nextChangeAt } from '../lib/requests.js';
import { localTime } from '../lib/time.js';
import { useNow } from '../lib/useNow.js';
import { ConfirmDialog } from '../views/ConfirmDialog.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { GrantTable } from '../views/GrantTable.js';
import { LockPanel } from '../views/LockPanel.js';
import { PageLink } from '../views/PageLink.js';
import './live-access.css';

type Confirming = { what: 'revoke'; request: RequestJson } | { what: 'lock'; kind: LockKind; subject: string };

export function LiveAccessPage({ me }: { me: SessionJson['principal'] }) {
  const admin = me.roles.includes('admin');
  const auditor = me.roles.includes('auditor');
  // Admins and auditors see every grant and the emergency controls; anyone else, the grants of
  // others they approve or review (what GET /v1/requests lets them see), which they may revoke.
  return <LiveAccess me={me.id} view={admin ? 'admin' : auditor ? 'auditor' : 'approver'} />;
}

function LiveAccess({ me, view }: { me: string; view: 'admin' | 'auditor' | 'approver' }) {
  const admin = view === 'admin';
  const everyone = view !== 'approver';
  const grants = useLiveGrants(true);
  const locks = useLocks(everyone);
  const revoke = useRequestAction();
  const emergency = useEmergency();
  const now = useNow();
  const ids = { person: useId(), target: useId(), entitlement: useId(), count: useId() };
  const [filter, setFilter] = useState<GrantFilter>(NO_FILTER);
  const [confirming, setConfirming] = useState<Confirming>();
  const [done, setDone] = useState<string>();

  const loaded = (grants.data?.pages ?? []).flatMap((p) => p.requests).filter((r) => everyone || r.requester !== me);
  const rows = liveGrants(loaded, now);
  const shown = rows.filter((r) => matchesFilter(r, filter));
  const options = filterOptions(rows);
  const entitlementChoices = filter.target ? options.entitlements.filter((e) => targetOf(e) === filter.target) : options.entitlements;

  // Read again the moment a grant ends or a scheduled one starts, not only at the next poll.
  const due = nextChangeAt(loaded, now);
  const { refetch } = grants;
  useEffect(() => {
    if (due === undefined) return;
    const t = window.setTimeout(() => void refetch(), Math.max(0, due - Date.now()) + 300);
    return () => window.clearTimeout(t);
  }, [due, refetch]);

  const close = () => {
    setConfirming(undefined);
    revoke.reset();
    emergency.reset();
  };
  const confirm = (reason: string) => {
    if (!confirming) return;
    if (confirming.what === 'revoke') {
      const r = confirming.request;
      revoke.mutate(
        { id: r.id, action: 'revoke', body: { reason } },
        {
          onSuccess: () => {
            setDone(`Revoked ${grantLabel(r)}.`);
            close();
          },
        },
      );
      return;
    }
    const { kind, subject } = confirming;
    run(kind === 'principal' ? 'lock' : 'freeze', subject, reason, true);
  };
  const run = (action: EmergencyAction, subject: string, reason?: string, fromDialog = false) => {
    setDone(undefined);
    emergency.mutate(
      { action, subject, ...(reason ? { reason } : {}) },
      {
        onSuccess: (result) => {
          setDone(emergencyResultText(action, subject, result));
          if (fromDialog) close();
        },
      },
    );
  };

  return (
    <section aria-labelledby="live-title" className="live-access">
      <h1 id="live-title">Live access</h1>
      <div role="status">{done && <p className="notice">{done}</p>}</div>
      {!confirming && emergency.isError && <ErrorNotice error={emergency.error} title="That did not work" />}

      <section aria-labelledby="grants-title">
        <h2 id="grants-title">Active and scheduled grants</h2>
        {!everyone && (
          <p className="hint">
            The grants of others that you approve or review. Your own are on <PageLink page="/">My access</PageLink>.
          </p>
        )}
        <div className="filters" role="search" aria-label="Filter the grants">
          <div>
            <label htmlFor={ids.person}>Person</label>
            <input
              id={ids.person}
              value={filter.person}
              autoComplete="off"
              aria-controls="live-grants"
              onChange={(e) => setFilter({ ...filter, person: e.target.value })}
            />
          </div>
          <div>
            <label htmlFor={ids.target}>Target</label>
            <select id={ids.target} value={filter.target} onChange={(e) => setFilter({ ...filter, target: e.target.value, entitlement: '' })}>
              <option value="">Any target</option>
              {options.targets.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor={ids.entitlement}>Entitlement</label>
            <select id={ids.entitlement} value={filter.entitlement} onChange={(e) => setFilter({ ...filter, entitlement: e.target.value })}>
              <option value="">Any entitlement</option>
              {entitlementChoices.map((e) => (
                <option key={e}>{e}</option>
              ))}
            </select>
          </div>
          {isFiltered(filter) && (
            <button type="button" className="secondary" onClick={() => setFilter(NO_FILTER)}>
              Clear filters
            </button>
          )}
        </div>
        {grants.isError && <ErrorNotice error={grants.error} title="The grants could not be loaded" />}
        {!confirming && revoke.isError && <ErrorNotice error={revoke.error} title="The grant could not be revoked" />}
        <p id={ids.count} className="count" aria-live="polite">
          {grants.isPending ? 'Loading the grants…' : countText(shown.length, rows.length, isFiltered(filter), grants.hasNextPage)}
          {grants.dataUpdatedAt > 0 && <span className="hint"> · read {localTime(grants.dataUpdatedAt)}, updated every 10 s</span>}
        </p>
        <div id="live-grants">
          {shown.length > 0 && (
            <GrantTable
              rows={shown}
              now={now}
              caption="Active and scheduled grants"
              {...(view !== 'auditor' ? { onRevoke: (r: RequestJson) => setConfirming({ what: 'revoke', request: r }) } : {})}
            />
          )}
        </div>
        {grants.hasNextPage && (
          <button type="button" className="secondary" disabled={grants.isFetchingNextPage} onClick={() => void grants.fetchNextPage()}>
            Load more
          </button>
        )}
      </section>

      {everyone && (
        <section aria-labelledby="locks-title">
          <h2 id="locks-title">Locks and freezes</h2>
          <LockPanel
            principals={locks.data?.principals ?? []}
            targets={locks.data?.targets ?? []}
            loading={locks.isPending}
            error={locks.isError ? locks.error : null}
            now={now}
            canChange={admin}
            busy={emergency.isPending}
            suggestions={{ people: options.people, targets: options.targets }}
            onLift={(kind, subject) => run(kind === 'principal' ? 'unlock' : 'unfreeze', subject)}
            onAsk={(kind, subject) => {
              emergency.reset();
              setConfirming({ what: 'lock', kind, subject });
            }}
          />
        </section>
      )}

      {confirming?.what === 'revoke' && (
        <ConfirmDialog
          title={`Revoke ${grantLabel(confirming.request)}?`}
          confirmLabel="Revoke access"
          danger
          busy={revoke.isPending}
          error={revoke.isError ? revoke.error : undefined}
          reason={{ label: 'Reason', required: true, hint: `Recorded in the audit log and shown to ${confirming.request.requester}.` }}
          onConfirm={confirm}
          onCancel={close}
        >
          <p>
            The grant ends at once: Hourglass removes the access on {[...new Set(confirming.request.entitlements.map(targetOf))].join(', ')}, and{' '}
            {confirming.request.requester} sees it ended. This cannot be undone; they would have to ask again.
          </p>
        </ConfirmDialog>
      )}
      {confirming?.what === 'lock' && (
        <ConfirmDialog
          title={confirming.kind === 'principal' ? `Lock ${confirming.subject}?` : `Freeze ${confirming.subject}?`}
          confirmLabel={confirming.kind === 'principal' ? `Lock ${confirming.subject}` : `Freeze ${confirming.subject}`}
          danger
          busy={emergency.isPending}
          error={emergency.isError ? emergency.error : undefined}
          reason={{ label: 'Reason', required: true, hint: 'Recorded in the audit log and shown in the list of locks.' }}
          onConfirm={confirm}
          onCancel={close}
        >
          <p>{lockEffect(confirming.kind, confirming.subject)}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
