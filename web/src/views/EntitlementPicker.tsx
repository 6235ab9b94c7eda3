/**
 * What may be requested, grouped by target, with a search box: the count of matches is
 * announced politely; Enter in the search box moves to the first match instead of submitting.
 */
import { useId, type KeyboardEvent } from 'react';
import type { EntitlementJson } from '../api/types.js';
import type { TargetGroup } from '../lib/request.js';
import { searchCount } from '../lib/request.js';
import { TermsSummary } from './TermsSummary.js';

export interface EntitlementPickerProps {
  groups: TargetGroup[];
  total: number;
  query: string;
  onQuery(q: string): void;
  chosen: ReadonlySet<string>;
  onToggle(entitlement: string, on: boolean): void;
  breakGlass: boolean;
}

const domId = (base: string, e: EntitlementJson) => `${base}-${e.entitlement.replace(/[^A-Za-z0-9_-]/g, '_')}`;

export function EntitlementPicker({ groups, total, query, onQuery, chosen, onToggle, breakGlass }: EntitlementPickerProps) {
  const base = useId();
  const shown = groups.reduce((n, g) => n + g.entitlements.length, 0);
  const first = groups[0]?.entitlements[0];
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== 'Enter') return;
    e.preventDefault(); // never submit the form from the search box
    if (first) document.getElementById(domId(base, first))?.focus();
  };
  return (
    <div className="picker">
      <label htmlFor={`${base}-search`}>Search</label>
      <input
        id={`${base}-search`}
        type="search"
        value={query}
        autoComplete="off"
        aria-describedby={`${base}-count`}
        aria-controls={`${base}-list`}
        placeholder="Name, target or description"
        onChange={(e) => onQuery(e.target.value)}
        onKeyDown={onKey}
      />
      <p id={`${base}-count`} className="hint" role="status">
        {searchCount(shown, total, query)}
      </p>
      <div id={`${base}-list`}>
        {groups.map((g) => (
          <fieldset key={g.target} className="target-group">
            <legend>Target {g.target}</legend>
            <ul className="plain">
              {g.entitlements.map((e) => {
                const id = domId(base, e);
                return (
                  <li key={e.entitlement} className={`entitlement${chosen.has(e.entitlement) ? ' chosen' : ''}`}>
                    <label className="check" htmlFor={id}>
                      <input
                        id={id}
                        type="checkbox"
                        checked={chosen.has(e.entitlement)}
                        aria-describedby={`${id}-terms`}
                        onChange={(ev) => onToggle(e.entitlement, ev.target.checked)}
                      />
                      <span>
                        <strong>{e.entitlement}</strong>
                        {e.description ? <span className="description"> · {e.description}</span> : null}
                      </span>
                    </label>
                    <TermsSummary entitlement={e} breakGlass={breakGlass} id={`${id}-terms`} />
                  </li>
                );
              })}
            </ul>
          </fieldset>
        ))}
      </div>
    </div>
  );
}
