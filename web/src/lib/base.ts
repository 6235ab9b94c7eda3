/**
 * Where the UI is mounted: '' when Hourglass is served at the root, `/prefix` behind a proxy
 * that mounts it under a prefix. Taken once from the URL the page was loaded at.
 */
import { PAGES } from './pages.js';

function mountOf(pathname: string): string {
  for (const page of [...PAGES].sort((a, b) => b.length - a.length)) {
    if (page !== '/' && pathname.endsWith(page)) return pathname.slice(0, -page.length);
  }
  return pathname.replace(/\/+$/, '');
}

export const mount = mountOf(window.location.pathname);
