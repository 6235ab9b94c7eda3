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

function subscribe(l: () => void) {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function useRoute(): PagePath | null {
  return useSyncExternalStore(subscribe, current);
}

/** The URL's query string (`?a=1`, or ''): pages that keep their state there can be linked and survive a reload. */
export function useSearch(): string {
  return useSyncExternalStore(subscribe, () => window.location.search);
}

/** Sets the query string of the page shown (`search`: '' or `?...`), as a new history entry unless `replace`. */
export function setSearch(search: string, replace = false): void {
  const url = `${window.location.pathname}${search}`;
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  listeners.forEach((l) => l());
}

/** Replaces the URL's fragment in place (`hash`: '' or `#...`): a one-time link's token leaves the URL and the history once used. */
export function replaceHash(hash: string): void {
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}${hash}`);
}

export function hrefOf(page: PagePath, search = ''): string {
  return `${mount}${page === '/' ? '/' : page}${search}`;
}

export function navigate(page: PagePath, replace = false): void {
  if (replace) window.history.replaceState(null, '', hrefOf(page));
  else window.history.pushState(null, '', hrefOf(page));
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}
