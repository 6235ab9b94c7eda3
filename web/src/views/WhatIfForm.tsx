/**
 * "What would happen if": a hypothetical request (whose, for what, how long, when, with which
 * reason, ticket and address, break-glass or not) and the server's answer from its explain API:
 * the verdict, and for each entitlement why each policy did or did not decide it.
 */
import { useId, type FormEvent } from 'react';
import type { ExplainJson } from '../api/request.js';
import { assumedText, policyVerdicts, whatIfProblems, type WhatIfForm as Form } from '../lib/policies.js';
import { localTime } from '../lib/time.js';
import { ExplainVerdict } from './ExplainVerdict.js';

export interface WhatIfFormProps {
  form: Form;
  onChange(form: Form): void;
  onSubmit(): void;
  /** Entitlements the policies name (suggestions). */
  entitlements: readonly string[];
  /** The caller, whom an empty principal means. */
  me: string;
  /** A form was sent: the answer below is about it. */
  asked: boolean;
  /** The principal the shown answer is about. */
  askedFor: string | undefined;
  checking: boolean;
  explain: ExplainJson | undefined;
  error: unknown;
  now: number;
}

const VERDICT: Record<string, string> = { chosen: 'decides', refused: 'refused', met: 'terms met, not chosen', 'not a candidate': 'not a candidate' };

export function WhatIfForm(p: WhatIfFormProps) {
  const ids = {
    principal: useId(),
    principalHint: useId(),
    entitlements: useId(),
    entitlementsHint: useId(),
    list: useId(),
    duration: useId(),
    durationHint: useId(),
    at: useId(),
    atHint: useId(),
    reason: useId(),
    ticket: useId(),
    sourceIp: useId(),
    optionalHint: useId(),
    verdict: useId(),
  };
  const f = p.form;
  const set = (patch: Partial<Form>) => p.onChange({ ...f, ...patch });
  const problems = whatIfProblems(f);
  const send = (e: FormEvent) => {
    e.preventDefault();
    if (problems.length === 0) p.onSubmit();
  };
  const x = p.explain;
  const verdicts = x && !p.error ? policyVerdicts(x) : [];
  const assumed = x && !p.error ? assumedText(x) : [];

  return (
    <div className="what-if">
      <form className="card" onSubmit={send} noValidate aria-describedby={ids.optionalHint}>
        <div className="what-if-grid">
          <div>
            <label htmlFor={ids.principal}>Principal</label>
            <input
              id={ids.principal}
              value={f.principal}
              maxLength={200}
              autoComplete="off"
              placeholder={p.me}
              aria-describedby={ids.principalHint}
              onChange={(e) => set({ principal: e.target.value })}
            />
            <p id={ids.principalHint} className="hint">
              A principal id; empty: you ({p.me}). An unknown id is answered as not eligible.
            </p>
          </div>
          <div>
            <label htmlFor={ids.entitlements}>Entitlements (required)</label>
            <input
              id={ids.entitlements}
              value={f.entitlements}
              required
              maxLength={2000}
              autoComplete="off"
              list={ids.list}
              aria-describedby={ids.entitlementsHint}
              onChange={(e) => set({ entitlements: e.target.value })}
            />
            <datalist id={ids.list}>
              {p.entitlements.map((e) => (
                <option key={e} value={e} />
              ))}
            </datalist>
            <p id={ids.entitlementsHint} className="hint">
              target/name; several separated by commas.
            </p>
          </div>
          <div>
            <label htmlFor={ids.duration}>Duration</label>
            <input
              id={ids.duration}
              value={f.duration}
              maxLength={32}
              autoComplete="off"
              aria-describedby={ids.durationHint}
              onChange={(e) => set({ duration: e.target.value })}
            />
            <p id={ids.durationHint} className="hint">
              90s, 15m, 1h30m, 2d; empty: the policy default.
            </p>
          </div>
          <div>
            <label htmlFor={ids.at}>Asked at</label>
            <input id={ids.at} type="datetime-local" value={f.at} aria-describedby={ids.atHint} onChange={(e) => set({ at: e.target.value })} />
            <p id={ids.atHint} className="hint">
              Your time zone; empty: now. Time windows are checked then.
            </p>
          </div>
          <div>
            <label htmlFor={ids.reason}>Reason</label>
            <input id={ids.reason} value={f.reason} maxLength={2000} autoComplete="off" onChange={(e) => set({ reason: e.target.value })} />
          </div>
          <div>
            <label htmlFor={ids.ticket}>Ticket</label>
            <input id={ids.ticket} value={f.ticket} maxLength={200} autoComplete="off" onChange={(e) => set({ ticket: e.target.value })} />
          </div>
          <div>
            <label htmlFor={ids.sourceIp}>Source address</label>
            <input
              id={ids.sourceIp}
              value={f.sourceIp}
              maxLength={64}
              autoComplete="off"
              inputMode="decimal"
              onChange={(e) => set({ sourceIp: e.target.value })}
            />
          </div>
          <div className="break-glass-box">
            <label className="check">
              <input type="checkbox" checked={f.breakGlass} onChange={(e) => set({ breakGlass: e.target.checked })} />
              Asked as break-glass
            </label>
          </div>
        </div>
        <p id={ids.optionalHint} className="hint">
          Reason, ticket and source address left empty are assumed to be given correctly; fill them in to check them.
        </p>
        {problems.length > 0 && f.entitlements.trim() !== '' && <p className="problem">Before asking: {problems.join('; ')}.</p>}
        <button type="submit" disabled={problems.length > 0 || p.checking} aria-describedby={p.asked ? ids.verdict : undefined}>
          What would happen?
        </button>
      </form>

      <h3 className="verdict-title">Answer</h3>
      <ExplainVerdict
        id={ids.verdict}
        idle={!p.asked}
        checking={p.checking}
        explain={p.explain}
        error={p.error}
        startAt={undefined}
        missing={[]}
        now={p.now}
        {...(p.askedFor ? { who: p.askedFor } : {})}
      />
      {x && !p.error && (
        <div className="what-if-details">
          <p>
            About <strong>{x.principal}</strong>
            {x.principalKnown ? (x.groups.length ? `, in groups ${x.groups.join(', ')}` : ', in no group') : ': not a known principal'}
            {`, asked at ${localTime(Date.parse(x.at))}`}.
          </p>
          {assumed.length > 0 && <p className="hint">Assumed, not checked: {assumed.join('; ')}.</p>}
          {verdicts.length > 0 ? (
            <table className="verdicts" aria-label="Each policy's verdict">
              <thead>
                <tr>
                  <th scope="col">Entitlement</th>
                  <th scope="col">Policy</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {verdicts.map((v) => (
                  <tr key={`${v.entitlement}:${v.policy}`} className={`verdict-${v.verdict.replaceAll(' ', '-')}`}>
                    <td>{v.entitlement}</td>
                    <td>{v.policy}</td>
                    <td>{VERDICT[v.verdict]}</td>
                    <td>{v.reasons.length ? v.reasons.join('; ') : '-'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="empty">No policy names these entitlements.</p>
          )}
        </div>
      )}
    </div>
  );
}
