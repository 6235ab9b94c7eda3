import type { ReactNode } from 'react';
import { hrefOf, navigate, setSearch, type PagePath } from '../lib/router.js';

/** A link to a page of the UI with a query (`?story=ID`), followed without a reload (PageLink takes no query). */
export function AppLink({ page, search = '', children, label }: { page: PagePath; search?: string; children: ReactNode; label?: string }) {
  return (
    <a
      href={hrefOf(page, search)}
      aria-label={label}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(page);
        if (search) setSearch(search, true);
      }}
    >
      {children}
    </a>
  );
}
