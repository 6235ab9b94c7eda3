/** A value with a Copy button: the clipboard when the browser allows it, else the text selected for the person to copy. */
import { useRef, useState } from 'react';

export function CopyText({ value, label, secret = false }: { value: string; label: string; secret?: boolean }) {
  const ref = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      window.setTimeout(() => setCopied(false), 2000);
    } catch {
      const el = ref.current;
      if (el) window.getSelection()?.selectAllChildren(el);
    }
  };
  return (
    <span className="copy-text">
      <code ref={ref} className={secret ? 'secret' : undefined}>
        {value}
      </code>
      <button type="button" className="secondary small" onClick={() => void copy()} aria-label={`Copy ${label}`}>
        Copy
      </button>
      <span role="status" className="copied">
        {copied ? 'Copied' : ''}
      </span>
    </span>
  );
}
