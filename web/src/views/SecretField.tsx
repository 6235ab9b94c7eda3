/**
 * A secret shown once, in a read-only field with a Copy button: the clipboard when the browser
 * allows it, else the field's text is selected for the person to copy themselves.
 */
import { useId, useRef, useState } from 'react';

export function SecretField({ label, value, hint }: { label: string; value: string; hint?: string }) {
  const ids = { field: useId(), hint: useId() };
  const ref = useRef<HTMLInputElement>(null);
  const [said, setSaid] = useState('');
  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(value);
      setSaid('Copied to the clipboard.');
    } catch {
      ref.current?.focus();
      ref.current?.select();
      setSaid('Selected: press Ctrl+C (⌘C on a Mac) to copy.');
    }
  };
  return (
    <div className="secret-field">
      <label htmlFor={ids.field}>{label}</label>
      <div className="secret-row">
        <input
          id={ids.field}
          ref={ref}
          readOnly
          value={value}
          spellCheck={false}
          autoComplete="off"
          aria-describedby={hint ? ids.hint : undefined}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" className="secondary" aria-label={`Copy ${label.toLowerCase()}`} onClick={() => void copy()}>
          Copy
        </button>
      </div>
      {hint && (
        <p id={ids.hint} className="hint">
          {hint}
        </p>
      )}
      <p role="status" className="copied">
        {said}
      </p>
    </div>
  );
}
