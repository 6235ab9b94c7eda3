/**
 * The hash chain's status: the head (to pin outside the database), verification on demand with
 * progress, and the newest signed checkpoint with what it proves.
 */
import { useState } from 'react';
import type { LatestCheckpointJson } from '../api/audit.js';
import { checkpointMeaning, shippedText, verifyText, type HeadJson, type VerifyJson } from '../lib/audit.js';
import { ErrorNotice } from './ErrorNotice.js';
import { EventTime } from './AuditTable.js';

export interface ChainStatusProps {
  head: { data: HeadJson | undefined; error: unknown };
  checkpoint: { data: LatestCheckpointJson | undefined; error: unknown };
  verify: { running: boolean; checked: number; result: VerifyJson | undefined; error: unknown; onVerify(): void };
  now: number;
}

export function ChainStatus({ head, checkpoint, verify, now }: ChainStatusProps) {
  return (
    <section aria-labelledby="chain-title" className="chain card">
      <h2 id="chain-title">Chain integrity</h2>
      <div className="chain-grid">
        <div>
          <Head head={head} />
          <div className="verify">
            <button type="button" onClick={verify.onVerify} disabled={verify.running} aria-busy={verify.running || undefined}>
              {verify.running ? 'Verifying…' : 'Verify the chain'}
            </button>
            <div aria-live="polite" className="verify-outcome">
              {verify.running && (
                <p>Verifying every link from the first event… {verify.checked > 0 && `${verify.checked.toLocaleString()} events checked so far.`}</p>
              )}
              {!verify.running && verify.result && (
                <div className={`notice ${verify.result.ok ? 'ok' : 'error'}`} role={verify.result.ok ? undefined : 'alert'}>
                  <strong>{verify.result.ok ? 'Verified.' : 'Verification failed.'}</strong> {verifyText(verify.result)}
                  {verify.result.head && (
                    <>
                      {' '}
                      Last good link: <code className="hash">{verify.result.head}</code>
                    </>
                  )}
                </div>
              )}
              {!verify.running && verify.error != null && <ErrorNotice error={verify.error} title="The chain could not be verified" />}
            </div>
          </div>
        </div>
        <div>
          <h3>Last signed checkpoint</h3>
          <Checkpoint checkpoint={checkpoint} now={now} />
        </div>
      </div>
    </section>
  );
}

function Head({ head }: { head: ChainStatusProps['head'] }) {
  const [copied, setCopied] = useState<string>();
  if (head.error != null) return <ErrorNotice error={head.error} title="The chain head could not be read" />;
  if (!head.data) return <p aria-busy="true">Loading…</p>;
  const h = head.data;
  if (!h.head) return <p className="empty">The log is empty: there is no head yet.</p>;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(h.head!);
      setCopied('Copied the head to the clipboard.');
    } catch {
      setCopied('Copying failed: select the head and copy it.');
    }
  };
  return (
    <>
      <dl className="facts">
        <dt>Head</dt>
        <dd>
          event #{h.seq}, hash <code className="hash">{h.hash}</code>
        </dd>
      </dl>
      <div className="buttons copy">
        <button type="button" className="secondary" onClick={() => void copy()} aria-describedby="head-pin-hint">
          Copy head (SEQ:HASH)
        </button>
        <span role="status" className="hint">
          {copied}
        </span>
      </div>
      <p className="hint" id="head-pin-hint">
        Keep the head somewhere the database’s administrators cannot write; verifying against it later catches deleted newest events.
      </p>
    </>
  );
}

function Checkpoint({ checkpoint, now }: { checkpoint: ChainStatusProps['checkpoint']; now: number }) {
  if (checkpoint.error != null) return <ErrorNotice error={checkpoint.error} title="The checkpoints could not be read" />;
  if (!checkpoint.data) return <p aria-busy="true">Loading…</p>;
  const { configured, checkpoint: cp } = checkpoint.data;
  if (!configured) {
    return (
      <p className="empty">
        Signed checkpoints are not configured (<code>audit.checkpoints</code>): nothing outside the database vouches for the chain, so someone who can write the
        database could rewrite it and recompute every hash unnoticed.
      </p>
    );
  }
  if (!cp) return <p className="empty">No checkpoint has been signed yet: the first comes once enough events are in the chain.</p>;
  const shipped = shippedText(cp.shipped);
  return (
    <>
      <dl className="facts">
        <dt>Event</dt>
        <dd>#{cp.seq}</dd>
        <dt>Hash</dt>
        <dd>
          <code className="hash">{cp.hash}</code>
        </dd>
        <dt>Signed</dt>
        <dd>
          <EventTime at={cp.at} now={now} />
        </dd>
        <dt>Key id</dt>
        <dd>
          <code>{cp.keyId}</code>
          {checkpoint.data.keyId && checkpoint.data.keyId !== cp.keyId && <span className="hint"> (the key signing now is {checkpoint.data.keyId})</span>}
        </dd>
        <dt>Shipped</dt>
        <dd>{shipped ?? 'not yet'}</dd>
      </dl>
      <p className="meaning">{checkpointMeaning(cp)}</p>
    </>
  );
}
