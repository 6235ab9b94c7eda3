/**
 * Profile: who you are and how this session signed in; your sessions (sign one out, or sign out
 * everywhere); your personal access tokens (create one, shown once; revoke); your MFA factors
 * (add an authenticator app or a security key, remove one, new recovery codes, each change
 * confirmed with step-up MFA once you hold a factor); the Slack account linked to you (unlink it,
 * or confirm a link opened from Slack: `#chat-link=`). docs/ui.md, "Profile".
 */
import { useEffect, useId, useRef, useState } from 'react';
import { ApiError } from '../api/client.js';
import { useSession } from '../api/hooks.js';
import { dropFragmentToken, useFragmentToken, useLinkSlack, useSlackLink, useUnlinkSlack } from '../api/links.js';
import { useStepUp } from '../api/mfa.js';
import {
  useFactors,
  useProfileCalls,
  useRevokeAllSessions,
  useRevokeSession,
  useRevokeToken,
  useSessions,
  useTokens,
  type FactorJson,
  type SessionInfoJson,
  type TokenJson,
  type TotpEnrolmentJson,
} from '../api/profile.js';
import type { SessionJson } from '../api/types.js';
import { chatLinkRefusalText, refusalOf, sendable } from '../lib/links.js';
import { amrText, confirmRefusedText, recoveryCodesFileName, recoveryCodesText, sourceText } from '../lib/profile.js';
import { navigate } from '../lib/router.js';
import { useNow } from '../lib/useNow.js';
import { ChatLinkCard } from '../views/ChatLinkCard.js';
import { ConfirmDialog } from '../views/ConfirmDialog.js';
import { ErrorNotice } from '../views/ErrorNotice.js';
import { MfaDevices } from '../views/MfaDevices.js';
import { MfaPrompt } from '../views/MfaPrompt.js';
import { NewTokenDialog } from '../views/NewTokenDialog.js';
import { RecoveryCodes } from '../views/RecoveryCodes.js';
import { SessionList } from '../views/SessionList.js';
import { SlackAccount } from '../views/SlackAccount.js';
import { TokenList } from '../views/TokenList.js';
import { TotpEnrolment } from '../views/TotpEnrolment.js';
import { When } from '../views/When.js';
import './profile.css';

/** Confirming a new app failed with HG_MFA_FAILED: not an ApiError, so the step-up prompt closes instead of asking again. */
class ConfirmRefused extends Error {
  constructor(text: string) {
    super(`${text} (HG_MFA_FAILED)`);
  }
}

export function ProfilePage({ me }: { me: SessionJson['principal'] }) {
  const now = useNow(15_000);
  const chat = useFragmentToken('chat-link');
  return (
    <section aria-labelledby="profile-title" className="profile">
      <h1 id="profile-title">Profile</h1>
      {/* Each link opened afresh: a new confirmation, with nothing of the last one's answer. */}
      <ChatLink key={chat.seq} token={chat.token} clear={chat.clear} principal={me.id} />
      <WhoYouAre me={me} now={now} />
      <Sessions now={now} />
      <Tokens principal={me.id} now={now} />
      <Mfa principal={me.id} now={now} />
      <Slack principal={me.id} />
    </section>
  );
}

function WhoYouAre({ me, now }: { me: SessionJson['principal']; now: number }) {
  const session = useSession().data?.session;
  return (
    <section aria-labelledby="who-title">
      <h2 id="who-title">Who you are</h2>
      <dl className="facts">
        <dt>Principal</dt>
        <dd>{me.id}</dd>
        <dt>Groups</dt>
        <dd>{me.groups.length ? me.groups.join(', ') : <span className="empty">none</span>}</dd>
        <dt>Roles</dt>
        <dd>{me.roles.length ? me.roles.join(', ') : <span className="empty">none</span>}</dd>
        {session && (
          <>
            <dt>Signed in with</dt>
            <dd>
              {sourceText(session.source)} ({session.client === 'cli' ? 'command line' : 'browser'})
            </dd>
            <dt>Methods</dt>
            <dd>{amrText(session.amr)}</dd>
            <dt>Session ends</dt>
            <dd>
              <When at={session.expiresAt} now={now} /> at the latest; sooner after a while without use
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

function Sessions({ now }: { now: number }) {
  const sessions = useSessions();
  const revoke = useRevokeSession();
  const revokeAll = useRevokeAllSessions();
  const [confirmAll, setConfirmAll] = useState(false);
  const [done, setDone] = useState<string>();
  const list = sessions.data?.sessions ?? [];

  const signOut = (s: SessionInfoJson) => {
    setDone(undefined);
    revoke.mutate(
      { id: s.id, ...(s.current ? { current: true } : {}) },
      { onSuccess: () => (s.current ? navigate('/sign-in', true) : setDone('Signed out that session: its next request needs a new sign-in.')) },
    );
  };

  return (
    <section aria-labelledby="sessions-title">
      <div className="page-head">
        <h2 id="sessions-title">Sessions</h2>
        <button type="button" className="danger" disabled={list.length === 0} onClick={() => setConfirmAll(true)}>
          Sign out everywhere
        </button>
      </div>
      <div role="status">{done && <p className="notice">{done}</p>}</div>
      {revoke.isError && <ErrorNotice error={revoke.error} title="That session was not signed out" />}
      {sessions.isPending && <p aria-busy="true">Loading your sessions…</p>}
      {sessions.isError && <ErrorNotice error={sessions.error} title="Your sessions could not be read" />}
      {sessions.isSuccess && <SessionList sessions={list} now={now} busyId={revoke.isPending ? revoke.variables.id : undefined} onSignOut={signOut} />}
      {confirmAll && (
        <ConfirmDialog
          title="Sign out everywhere?"
          confirmLabel="Sign out everywhere"
          danger
          busy={revokeAll.isPending}
          error={revokeAll.error ?? undefined}
          onConfirm={() => revokeAll.mutate(undefined, { onSuccess: () => navigate('/sign-in', true) })}
          onCancel={() => {
            setConfirmAll(false);
            revokeAll.reset();
          }}
        >
          <p>
            Every session of yours ends now: {list.length === 1 ? 'this one' : `all ${list.length}, this browser included`}, in browsers and on the command
            line. You then sign in again here. Personal access tokens keep working: revoke those below.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function Tokens({ principal, now }: { principal: string; now: number }) {
  const tokens = useTokens(principal);
  const revoke = useRevokeToken();
  const calls = useProfileCalls();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<TokenJson>();
  const [done, setDone] = useState<string>();

  return (
    <section aria-labelledby="tokens-title">
      <div className="page-head">
        <h2 id="tokens-title">Personal access tokens</h2>
        <button
          type="button"
          onClick={() => {
            setDone(undefined);
            setCreating(true);
          }}
        >
          New token
        </button>
      </div>
      <p className="hint">For scripts and the command line (HOURGLASS_TOKEN). Each acts as you, within its scopes, until it expires or you revoke it.</p>
      <div role="status">{done && <p className="notice">{done}</p>}</div>
      {tokens.isPending && <p aria-busy="true">Loading your tokens…</p>}
      {tokens.isError && <ErrorNotice error={tokens.error} title="Your tokens could not be read" />}
      {tokens.isSuccess && <TokenList tokens={tokens.data.tokens} now={now} onRevoke={setRevoking} />}
      {creating && <NewTokenDialog create={calls.createToken} onClose={() => setCreating(false)} />}
      {revoking && (
        <ConfirmDialog
          title={`Revoke token ${revoking.name}?`}
          confirmLabel="Revoke token"
          danger
          busy={revoke.isPending}
          error={revoke.error ?? undefined}
          onConfirm={() =>
            revoke.mutate(revoking.id, {
              onSuccess: () => {
                setDone(`Revoked token ${revoking.name}: it no longer works.`);
                setRevoking(undefined);
                revoke.reset();
              },
            })
          }
          onCancel={() => {
            setRevoking(undefined);
            revoke.reset();
          }}
        >
          <p>Whatever uses it ({revoking.scopes.join(', ')}) is refused from now on. This cannot be undone; make a new token if you need one again.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function Mfa({ principal, now }: { principal: string; now: number }) {
  const factors = useFactors();
  const calls = useProfileCalls();
  const stepUp = useStepUp();
  const heading = useRef<HTMLHeadingElement>(null);
  const ids = { title: useId() };
  const [label, setLabel] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();
  // Secrets shown once: in this state only, dropped when dismissed or when the page is left.
  const [totp, setTotp] = useState<TotpEnrolmentJson>();
  const [totpError, setTotpError] = useState<unknown>();
  const [codes, setCodes] = useState<string[]>();
  const webauthnAvailable = typeof window.PublicKeyCredential === 'function' && window.isSecureContext;

  /** Runs one change; `said` is announced when it worked (undefined from `f`: the person cancelled the prompt). */
  const change = async <T,>(f: () => Promise<T | undefined>, said: (r: T) => string, onError = setError) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const r = await f();
      if (r !== undefined) setDone(said(r));
      return r;
    } catch (e) {
      onError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };

  const addTotp = () =>
    void change(
      () => calls.beginTotp(label.trim() || undefined),
      (r) => {
        setTotp(r);
        setTotpError(undefined);
        return 'Scan the QR code, then confirm with a code from the app.';
      },
    );
  const confirmTotp = (code: string) => {
    if (!totp) return;
    setTotpError(undefined);
    void change(
      () =>
        stepUp.run(async (proof) => {
          try {
            return await calls.confirmTotp(totp.factorId, code, proof);
          } catch (e) {
            if (e instanceof ApiError && e.code === 'HG_MFA_FAILED') throw new ConfirmRefused(confirmRefusedText(proof !== undefined));
            throw e;
          }
        }),
      (r) => {
        setTotp(undefined);
        setLabel('');
        setCodes(r.recoveryCodes);
        return `Added ${r.factor.label}. Save your new recovery codes.`;
      },
      setTotpError,
    );
  };
  const cancelTotp = () => {
    const pending = totp;
    setTotp(undefined);
    setTotpError(undefined);
    // A pending factor needs no proof to drop; it would go by itself after 10 minutes anyway.
    if (pending)
      void change(
        () => calls.removeFactor(pending.factorId),
        () => 'Cancelled: the authenticator app was not added.',
      );
  };
  const addWebauthn = () =>
    void change(
      async () => {
        const reg = await calls.startWebauthn();
        return stepUp.run((proof) => calls.finishWebauthn(reg, label.trim() || undefined, proof));
      },
      (r) => {
        setLabel('');
        setCodes(r.recoveryCodes);
        return `Added ${r.factor.label}. Save your new recovery codes.`;
      },
    );
  const remove = (f: FactorJson) =>
    void change(
      () => stepUp.run((proof) => calls.removeFactor(f.id, proof)),
      () => {
        if (totp?.factorId === f.id) setTotp(undefined);
        return `Removed ${f.label}.`;
      },
    );
  const newCodes = () =>
    void change(
      () => stepUp.run((proof) => calls.newRecoveryCodes(proof)),
      (r) => {
        setCodes(r.recoveryCodes);
        return 'New recovery codes made: the old ones no longer work.';
      },
    );

  return (
    <section aria-labelledby={ids.title}>
      <h2 id={ids.title} ref={heading} tabIndex={-1}>
        MFA devices
      </h2>
      <p className="hint">Second factors for step-up MFA, which policies can ask for before you request, approve or fetch credentials.</p>
      <div role="status">{done && <p className="notice">{done}</p>}</div>
      {error != null && <ErrorNotice error={error} title="That did not work" />}
      {codes && (
        <RecoveryCodes
          codes={codes}
          file={{ text: recoveryCodesText(codes, principal, new Date(), window.location.origin), name: recoveryCodesFileName(principal) }}
          onDone={() => {
            setCodes(undefined);
            setDone(undefined);
            heading.current?.focus();
          }}
        />
      )}
      {totp && <TotpEnrolment enrolment={totp} principal={principal} busy={busy} error={totpError} onConfirm={confirmTotp} onCancel={cancelTotp} />}
      {factors.isPending && <p aria-busy="true">Loading your factors…</p>}
      {factors.isError && <ErrorNotice error={factors.error} title="Your MFA factors could not be read" />}
      {factors.isSuccess && (
        <MfaDevices
          factors={factors.data.factors}
          recoveryCodesLeft={factors.data.recoveryCodesLeft}
          now={now}
          busy={busy || totp !== undefined}
          webauthnAvailable={webauthnAvailable}
          label={label}
          onLabel={setLabel}
          onAddTotp={addTotp}
          onAddWebauthn={addWebauthn}
          onRemove={remove}
          onNewRecoveryCodes={newCodes}
        />
      )}
      {stepUp.prompt && <MfaPrompt key={stepUp.prompt.need.digest} prompt={stepUp.prompt} />}
    </section>
  );
}

/** A refused chat link in words about Slack (the server's speak of approval links); other errors as they are. */
function chatLinkError(e: unknown): unknown {
  const reason = e instanceof ApiError ? refusalOf(e.code, e.details) : undefined;
  return reason && e instanceof ApiError ? new ApiError(e.status, e.code, chatLinkRefusalText(reason), e.details) : e;
}

/**
 * Opened from Slack's account link (`#chat-link=`): asks first, at the top of the page, then links.
 * The token leaves the URL once it was sent (used or refused: a reload could only be refused) or cancelled.
 */
function ChatLink({ token, clear, principal }: { token: string | undefined; clear(): void; principal: string }) {
  const link = useLinkSlack();
  const [refused, setRefused] = useState<unknown>();
  const [done, setDone] = useState<string>();
  const doneRef = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (done) doneRef.current?.focus();
  }, [done]);
  if (token === undefined && !done) return null;

  const confirm = () => {
    if (!token) return;
    if (!sendable(token)) {
      setRefused(new ApiError(410, 'HG_LINK_INVALID', chatLinkRefusalText('unknown')));
      return;
    }
    setRefused(undefined);
    link.mutate(token, {
      onSuccess: (r) => {
        clear();
        setDone(`Linked Slack user ${r.userId} (workspace ${r.teamId}) to ${principal}: press the button in Slack again to decide from there.`);
      },
      onSettled: () => dropFragmentToken('chat-link'),
    });
  };
  const cancel = () => {
    clear();
    document.getElementById('main')?.focus();
  };
  const error = refused ?? (link.isError ? chatLinkError(link.error) : undefined);
  return (
    <>
      <div role="status">
        {done && (
          <p className="notice" ref={doneRef} tabIndex={-1}>
            {done}
          </p>
        )}
      </div>
      {token !== undefined && <ChatLinkCard principal={principal} busy={link.isPending} error={error} onLink={confirm} onCancel={cancel} />}
    </>
  );
}

function Slack({ principal }: { principal: string }) {
  const linked = useSlackLink();
  const unlink = useUnlinkSlack();
  const [confirming, setConfirming] = useState(false);
  const [done, setDone] = useState<string>();
  const current = linked.data?.link;
  // Last on the page: drawn once the sections above have their data, so it does not slide down as they grow.
  const above = [useSessions(), useTokens(principal), useFactors()];
  if (above.some((q) => q.isPending) || linked.isPending) return null;
  // A server without Slack has nothing to link (an old link, if any, is still shown so it can be removed).
  if (linked.isSuccess && !linked.data.configured && !linked.data.link) return null;
  return (
    <section aria-labelledby="slack-title">
      <h2 id="slack-title">Slack</h2>
      <p className="hint">With your Slack account linked, Approve and Deny on Hourglass messages in Slack act as you.</p>
      <div role="status">{done && <p className="notice">{done}</p>}</div>
      {linked.isError && <ErrorNotice error={linked.error} title="Your Slack link could not be read" />}
      {linked.isSuccess && (
        <SlackAccount
          link={linked.data.link}
          busy={unlink.isPending}
          onUnlink={() => {
            setDone(undefined);
            setConfirming(true);
          }}
        />
      )}
      {confirming && current && (
        <ConfirmDialog
          title="Unlink your Slack account?"
          confirmLabel="Unlink Slack"
          danger
          busy={unlink.isPending}
          error={unlink.error ?? undefined}
          onConfirm={() =>
            unlink.mutate(undefined, {
              onSuccess: () => {
                setConfirming(false);
                setDone(`Unlinked Slack user ${current.userId}: pressing a button in Slack asks to link again.`);
                unlink.reset();
              },
            })
          }
          onCancel={() => {
            setConfirming(false);
            unlink.reset();
          }}
        >
          <p>
            Slack user {current.userId} (workspace {current.teamId}) stops acting as {principal}: its Approve and Deny buttons on Hourglass messages no longer
            decide anything until you link it again.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
