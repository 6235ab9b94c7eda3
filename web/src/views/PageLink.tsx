import type { ReactNode } from 'react';
import { hrefOf, navigate, useRoute, type PagePath } from '../lib/router.js';

/** A link to a page of the UI, followed without a reload. */
export function PageLink({ page, children, className }: { page: PagePath; children: ReactNode; className?: string }) {
  const route = useRoute();
  return (
    <a
      href={hrefOf(page)}
      className={className}
      aria-current={route === page ? 'page' : undefined}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(page);
      }}
    >
      {children}
    </a>
  );
}
