/** Sign in: with the company IdP (each configured provider), or with a local password (the demo). */
import { useId, useState, type FormEvent } from 'react';
import { useProviders, usePasswordSignIn } from '../api/hooks.js';
import { mount } from '../lib/base.js';
import { hrefOf } from '../lib/router.js';
import { ErrorNotice } from '../views/ErrorNotice.js';

export function SignInPage({ signedInAs, onSignedIn }: { signedInAs?: string | undefined; onSignedIn: () => void }) {
  const providers = useProviders();
  const signIn = usePasswordSignIn();
  const [principal, setPrincipal] = useState('');
  const [password, setPassword] = useState('');
  const ids = { principal: useId(), password: useId() };
  // Back to the page asked for (a link from a notification), without its fragment: a one-time token never goes to the server.
  const here = window.location.pathname.slice(mount.length) === '/sign-in' ? hrefOf('/') : `${window.location.pathname}${window.location.search}`;
  const returnTo = encodeURIComponent(here);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate({ principal: principal.trim(), password }, { onSuccess: onSignedIn });
  };

  return (
    <section className="narrow" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in to Hourglass</h1>
      {signedInAs && <p className="notice">You are signed in as {signedInAs}. Signing in again replaces that session.</p>}
      {providers.data && providers.data.providers.length > 0 && (
        <div className="providers">
          <h2>With your company account</h2>
          <ul>
            {providers.data.providers.map((p) => (
              <li key={`${p.kind}:${p.name}`}>
                <a className="button" href={`${mount}${p.login}?returnTo=${returnTo}`}>
                  Sign in with {p.displayName}
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
      <form onSubmit={submit} className="card" aria-labelledby="password-title">
        <h2 id="password-title">With a local password</h2>
        <p className="hint">For the demo&apos;s users and break-glass admins; people of your company sign in with its account above.</p>
        <label htmlFor={ids.principal}>User</label>
        <input id={ids.principal} name="username" autoComplete="username" required value={principal} onChange={(e) => setPrincipal(e.target.value)} />
        <label htmlFor={ids.password}>Password</label>
        <input
          id={ids.password}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {signIn.isError && <ErrorNotice error={signIn.error} title="Not signed in" />}
        <button type="submit" disabled={signIn.isPending}>
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
