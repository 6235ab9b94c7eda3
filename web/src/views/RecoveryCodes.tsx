/**
 * New recovery codes, shown once: copy them or save them as a text file, then dismiss. The page
 * keeps them nowhere else, so they are gone once dismissed or the page is left.
 */
import { useEffect, useId, useRef, useState } from 'react';

export interface RecoveryCodesProps {
  codes: readonly string[];
  /** The file to save: its text and name. */
  file: { text: string; name: string };
  onDone(): void;
}

export function RecoveryCodes({ codes, file, onDone }: RecoveryCodesProps) {
  const ids = { title: useId() };
  const list = useRef<HTMLOListElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  // Shown after an enrolment or a proof: take the reader straight to them.
  useEffect(() => heading.current?.focus(), []);
  const [said, setSaid] = useState('');
  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(codes.join('\n'));
      setSaid('Copied to the clipboard.');
    } catch {
      if (list.current) window.getSelection()?.selectAllChildren(list.current);
      setSaid('Selected: press Ctrl+C (⌘C on a Mac) to copy.');
    }
  };
  return (
    <section className="card recovery-codes" aria-labelledby={ids.title}>
      <h3 id={ids.title} tabIndex={-1} ref={heading}>
        Your new recovery codes
      </h3>
      <p>
        Save them now: they are shown only this once, and they replace any codes you had. Each works once, instead of your authenticator app or security key.
      </p>
      <ol ref={list} className="codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="buttons">
        <button type="button" className="secondary" onClick={() => void copy()}>
          Copy codes
        </button>
        <a className="button secondary" href={`data:text/plain;charset=utf-8,${encodeURIComponent(file.text)}`} download={file.name}>
          Download as text
        </a>
        <button type="button" onClick={onDone}>
          Done, I have saved them
        </button>
      </div>
      <p role="status" className="copied">
        {said}
      </p>
    </section>
  );
}
