/**
 * The audit log's filters: person, request, type (exact or a prefix such as `grant.*`) and a time
 * range in the viewer's own zone. Applied on submit; the page keeps them in the URL.
 */
import { useId, useState, type FormEvent } from 'react';
import { filterProblem, isFiltered, localInputOf, TYPE_PREFIXES, type AuditFilter } from '../lib/audit.js';
import { localInputToIso } from '../lib/request.js';

interface Draft {
  actor: string;
  requestId: string;
  type: string;
  /** datetime-local values, the viewer's zone */
  since: string;
  until: string;
}

function draftOf(f: AuditFilter): Draft {
  return { actor: f.actor, requestId: f.requestId, type: f.type, since: localInputOf(f.since), until: localInputOf(f.until) };
}

function filterOf(d: Draft): AuditFilter {
  return {
    actor: d.actor.trim(),
    requestId: d.requestId.trim(),
    type: d.type.trim(),
    since: localInputToIso(d.since) ?? '',
    until: localInputToIso(d.until) ?? '',
  };
}

/** Keyed by the applied filter: going back in history shows that filter's values again. */
export function AuditFilters({ filter, onApply, onClear }: { filter: AuditFilter; onApply(f: AuditFilter): void; onClear(): void }) {
  const id = useId();
  const [draft, setDraft] = useState<Draft>(() => draftOf(filter));
  const [problem, setProblem] = useState<string>();
  const set = (k: keyof Draft) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next = filterOf(draft);
    const p = filterProblem(next);
    setProblem(p);
    if (!p) onApply(next);
  };
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const timeInvalid = problem?.startsWith('The end') ?? false;
  const typeInvalid = problem?.startsWith('A type') ?? false;

  return (
    <form role="search" aria-labelledby={`${id}-title`} className="audit-filters card" onSubmit={submit} noValidate>
      <h2 id={`${id}-title`}>Filter the log</h2>
      <div className="filter-grid">
        <div>
          <label htmlFor={`${id}-actor`}>Person</label>
          <input id={`${id}-actor`} value={draft.actor} onChange={set('actor')} autoComplete="off" spellCheck={false} aria-describedby={`${id}-actor-hint`} />
          <p className="hint" id={`${id}-actor-hint`}>
            Who acted: a principal id, or <code>system</code>.
          </p>
        </div>
        <div>
          <label htmlFor={`${id}-request`}>Request</label>
          <input
            id={`${id}-request`}
            value={draft.requestId}
            onChange={set('requestId')}
            autoComplete="off"
            spellCheck={false}
            aria-describedby={`${id}-request-hint`}
          />
          <p className="hint" id={`${id}-request-hint`}>
            A request id (<code>req_…</code>).
          </p>
        </div>
        <div>
          <label htmlFor={`${id}-type`}>Type</label>
          <input
            id={`${id}-type`}
            value={draft.type}
            onChange={set('type')}
            list={`${id}-types`}
            autoComplete="off"
            spellCheck={false}
            aria-invalid={typeInvalid || undefined}
            aria-describedby={`${id}-type-hint${typeInvalid ? ` ${id}-problem` : ''}`}
          />
          <datalist id={`${id}-types`}>
            {TYPE_PREFIXES.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
          <p className="hint" id={`${id}-type-hint`}>
            An exact type (<code>grant.revoked</code>) or a prefix ending in * (<code>grant.*</code>).
          </p>
        </div>
        <div>
          <label htmlFor={`${id}-since`}>From</label>
          <input
            id={`${id}-since`}
            type="datetime-local"
            step={1}
            value={draft.since}
            onChange={set('since')}
            aria-invalid={timeInvalid || undefined}
            aria-describedby={`${id}-zone${timeInvalid ? ` ${id}-problem` : ''}`}
          />
        </div>
        <div>
          <label htmlFor={`${id}-until`}>To</label>
          <input
            id={`${id}-until`}
            type="datetime-local"
            step={1}
            value={draft.until}
            onChange={set('until')}
            aria-invalid={timeInvalid || undefined}
            aria-describedby={`${id}-zone${timeInvalid ? ` ${id}-problem` : ''}`}
          />
        </div>
      </div>
      <p className="hint" id={`${id}-zone`}>
        Times are in your time zone ({zone}).
      </p>
      {problem && (
        <p className="notice error" role="alert" id={`${id}-problem`}>
          {problem}
        </p>
      )}
      <div className="buttons">
        <button type="submit">Apply filters</button>
        {(isFiltered(filter) || Object.values(draft).some((v) => v !== '')) && (
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setDraft(draftOf({ actor: '', requestId: '', type: '', since: '', until: '' }));
              setProblem(undefined);
              onClear();
            }}
          >
            Clear filters
          </button>
        )}
      </div>
    </form>
  );
}
