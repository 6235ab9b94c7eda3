/**
 * A very small router over the History API: the UI has a handful of pages, and a routing
 * library would outweigh them. Paths are relative to where the UI is mounted (lib/base.ts).
 */
import { useSyncExternalStore } from 'react';
import { mount } from './base.js';
import { PAGES, type PagePath } from './pages.js';

export type { PagePath };

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

/** The page the URL names; `null` for a path the UI does not know (the server sends the UI for any). */
function current(): PagePath | null {
  const rest = window.location.pathname.slice(mount.length) || '/';
  return (PAGES as readonly string[]).includes(rest) ? (rest as PagePath) : null;
}

export function useRoute(): PagePath | null {
  return useSyncExternalStore((l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  }, current);
}

export function hrefOf(page: PagePath): string {
  return `${mount}${page === '/' ? '/' : page}`;
}

export function navigate(page: PagePath, replace = false): void {
  if (replace) window.history.replaceState(null, '', hrefOf(page));
  else window.history.pushState(null, '', hrefOf(page));
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}
