/** The shell: who is signed in, the navigation, and the page the URL names. */
import { useEffect, type ReactNode } from 'react';
import { useSession, useSignOut } from './api/hooks.js';
import { useLiveUpdates } from './api/live.js';
import { ApprovalsPage } from './pages/ApprovalsPage.js';
import { MyAccessPage } from './pages/MyAccessPage.js';
import { RequestPage } from './pages/RequestPage.js';
import { SignInPage } from './pages/SignInPage.js';
import { hrefOf, navigate, useRoute, type PagePath } from './lib/router.js';
import { ErrorNotice } from './views/ErrorNotice.js';

const NAV: { page: PagePath; label: string }[] = [
  { page: '/', label: 'My access' },
  { page: '/request', label: 'Request access' },
  { page: '/approvals', label: 'Approvals' },
];

const TITLES: Record<PagePath, string> = { '/': 'My access', '/request': 'Request access', '/approvals': 'Approvals', '/sign-in': 'Sign in' };

export function App() {
  const route = useRoute();
  const session = useSession();
  const signOut = useSignOut();
  const signedIn = session.data != null;
  useLiveUpdates(signedIn);

  useEffect(() => {
    document.title = `${route ? TITLES[route] : 'Page not found'} · Hourglass`;
  }, [route]);

  if (session.isPending) return <Shell>{null}</Shell>;
  if (session.isError) {
    return (
      <Shell>
        <ErrorNotice error={session.error} />
      </Shell>
    );
  }
  if (!signedIn || route === '/sign-in') {
    return (
      <Shell>
        <SignInPage signedInAs={session.data?.principal.id} onSignedIn={() => navigate('/', true)} />
      </Shell>
    );
  }
  const me = session.data!.principal;
  return (
    <Shell
      nav={
        <>
          <nav aria-label="Main">
            <ul>
              {NAV.map((n) => (
                <li key={n.page}>
                  <a
                    href={hrefOf(n.page)}
                    aria-current={route === n.page ? 'page' : undefined}
                    onClick={(e) => {
                      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                      e.preventDefault();
                      navigate(n.page);
                    }}
                  >
                    {n.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <div className="who">
            <span>
              Signed in as <strong>{me.id}</strong>
            </span>
            <button type="button" className="secondary" onClick={() => signOut.mutate(undefined, { onSettled: () => navigate('/sign-in', true) })}>
              Sign out
            </button>
          </div>
        </>
      }
    >
      {route === null && <NotFound />}
      {route === '/' && <MyAccessPage me={me} />}
      {route === '/request' && <RequestPage me={me} />}
      {route === '/approvals' && <ApprovalsPage me={me} />}
    </Shell>
  );
}

function NotFound() {
  return (
    <section aria-labelledby="not-found-title">
      <h1 id="not-found-title">Page not found</h1>
      <p>
        There is no such page. Go to <a href={hrefOf('/')}>My access</a>.
      </p>
    </section>
  );
}

function Shell({ nav, children }: { nav?: ReactNode; children: ReactNode }) {
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">
          <svg aria-hidden="true" focusable="false" width="18" height="22" viewBox="0 0 18 22">
            <path d="M2 1h14M2 21h14M4 1c0 6 10 6 10 10S4 15 4 21M14 1c0 6-10 6-10 10s10 4 10 10" fill="none" stroke="currentColor" strokeWidth="2" />
          </svg>
          Hourglass
        </span>
        {nav}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
