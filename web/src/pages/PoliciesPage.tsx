/**
 * Policies (admins, auditors): the policies in force, read-only and searchable, in the order
 * candidates are tried; and "what would happen if", answered by the server's explain API.
 */
import { useId, useState } from 'react';
import { usePolicies, useWhatIf } from '../api/policies.js';
import type { SessionJson } from '../api/types.js';
import { EMPTY_WHAT_IF, knownEntitlements, matchesPolicy, policyCount, whatIfQuery, type WhatIfForm as Form } from '../lib/policies.js';
import { useNow } from '../lib/useNow.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { PageLink } from '../views/PageLink.js';
import { PolicyCard } from '../views/PolicyCard.js';
import { WhatIfForm } from '../views/WhatIfForm.js';
import './policies.css';

export function PoliciesPage({ me }: { me: SessionJson['principal'] }) {
  if (!me.roles.includes('admin') && !me.roles.includes('auditor')) {
    return (
      <section aria-labelledby="policies-title">
        <h1 id="policies-title">Policies</h1>
        <p className="notice">
          The policies page is for admins and auditors, and you have neither role. What you may ask for, and on which terms, is on{' '}
          <PageLink page="/request">Request access</PageLink>.
        </p>
      </section>
    );
  }
  return <Policies me={me.id} />;
}

function Policies({ me }: { me: string }) {
  const policies = usePolicies(true);
  const now = useNow(60_000);
  const ids = { search: useId(), count: useId() };
  const [search, setSearch] = useState('');
  const [form, setForm] = useState<Form>(EMPTY_WHAT_IF);
  const [sent, setSent] = useState<{ query: string; who: string | undefined; n: number }>();
  const answer = useWhatIf(sent?.query, sent?.n ?? 0);

  const all = policies.data?.policies ?? [];
  const shown = all.map((p, i) => ({ p, position: i + 1 })).filter(({ p }) => matchesPolicy(p, search));

  // Drawn once the policies are known: the list and the form below it then never move.
  if (policies.isPending) {
    return (
      <section aria-labelledby="policies-title" className="policies-page">
        <h1 id="policies-title">Policies</h1>
        <p aria-busy="true">Loading the policies…</p>
      </section>
    );
  }

  return (
    <section aria-labelledby="policies-title" className="policies-page">
      <h1 id="policies-title">Policies</h1>

      <section aria-labelledby="loaded-title">
        <h2 id="loaded-title">Policies in force</h2>
        <p className="hint">
          Read-only: they come from the configuration file. For each entitlement the first policy, in this order, whose terms a request meets decides it.
          {policies.data && <> Policy hash {policies.data.policyHash.slice(0, 12)}….</>}
        </p>
        <div role="search" aria-label="Search the policies">
          <label htmlFor={ids.search}>Search</label>
          <input
            id={ids.search}
            type="search"
            value={search}
            autoComplete="off"
            aria-describedby={ids.count}
            aria-controls="policy-list"
            onChange={(e) => setSearch(e.target.value)}
          />
        </div>
        {policies.isError && <ErrorNotice error={policies.error} title="The policies could not be loaded" />}
        <p id={ids.count} className="count" aria-live="polite">
          {policies.isPending ? 'Loading the policies…' : policies.isError ? '' : policyCount(shown.length, all.length, search)}
        </p>
        <div id="policy-list">
          {shown.map(({ p, position }) => (
            <PolicyCard key={p.name} policy={p} position={position} />
          ))}
        </div>
      </section>

      <section aria-labelledby="what-if-title">
        <h2 id="what-if-title">What would happen if…</h2>
        <p className="hint">The server answers as it would a real request, from the policies, locks and freezes in force; nothing is recorded.</p>
        <WhatIfForm
          form={form}
          onChange={setForm}
          onSubmit={() => {
            const query = whatIfQuery(form);
            if (query)
              setSent({ query, who: form.principal.trim() && form.principal.trim() !== me ? form.principal.trim() : undefined, n: (sent?.n ?? 0) + 1 });
          }}
          entitlements={knownEntitlements(all)}
          me={me}
          asked={sent !== undefined}
          askedFor={sent?.who}
          checking={answer.isFetching}
          explain={answer.data}
          error={answer.isError ? answer.error : null}
          now={now}
        />
      </section>
    </section>
  );
}
