/** The shell: who is signed in, the navigation, and the page the URL names. */
import { useEffect, type ReactNode } from 'react';
import { useSession, useSignOut } from './api/hooks.js';
import { useLiveUpdates } from './api/live.js';
import { ApprovalsPage } from './pages/ApprovalsPage.js';
import { AuditPage } from './pages/AuditPage.js';
import { DashboardPage } from './pages/DashboardPage.js';
import { LiveAccessPage } from './pages/LiveAccessPage.js';
import { PoliciesPage } from './pages/PoliciesPage.js';
import { ProfilePage } from './pages/ProfilePage.js';
import { MyAccessPage } from './pages/MyAccessPage.js';
import { RequestPage } from './pages/RequestPage.js';
import { SignInPage } from './pages/SignInPage.js';
import { hrefOf, navigate, useRoute, type PagePath } from './lib/router.js';
import { ErrorNotice } from './views/ErrorNotice.js';
import { PageLink } from './views/PageLink.js';

type Role = 'admin' | 'auditor';

/** The navigation; a page whose API only some roles may read is shown to them only (the API decides either way). */
const NAV: { page: PagePath; label: string; roles?: Role[] }[] = [
  { page: '/', label: 'My access' },
  { page: '/request', label: 'Request access' },
  { page: '/approvals', label: 'Approvals' },
  { page: '/live', label: 'Live access' },
  { page: '/audit', label: 'Audit', roles: ['admin', 'auditor'] },
  { page: '/dashboard', label: 'Dashboard', roles: ['admin', 'auditor'] },
  { page: '/policies', label: 'Policies', roles: ['admin', 'auditor'] },
];

const TITLES: Record<PagePath, string> = {
  '/': 'My access',
  '/request': 'Request access',
  '/approvals': 'Approvals',
  '/live': 'Live access',
  '/audit': 'Audit',
  '/dashboard': 'Dashboard',
  '/policies': 'Policies',
  '/profile': 'Profile',
  '/sign-in': 'Sign in',
};

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
        {/* Signed in on another page (a link from a notification): it stays, with its query and fragment. */}
        <SignInPage signedInAs={session.data?.principal.id} onSignedIn={() => route === '/sign-in' && navigate('/', true)} />
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
              {NAV.filter((n) => !n.roles || n.roles.some((r) => me.roles.includes(r))).map((n) => (
                <li key={n.page}>
                  <PageLink page={n.page}>{n.label}</PageLink>
                </li>
              ))}
            </ul>
          </nav>
          <div className="who">
            <span>
              Signed in as{' '}
              <PageLink page="/profile">
                <strong>{me.id}</strong>
              </PageLink>
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
      {route === '/live' && <LiveAccessPage me={me} />}
      {route === '/audit' && <AuditPage me={me} />}
      {route === '/dashboard' && <DashboardPage me={me} />}
      {route === '/policies' && <PoliciesPage me={me} />}
      {route === '/profile' && <ProfilePage me={me} />}
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
