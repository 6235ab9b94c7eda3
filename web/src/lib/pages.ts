/** The UI's pages, by path; the server answers every GET for HTML outside the API with the UI. */
export const PAGES = ['/', '/request', '/approvals', '/live', '/audit', '/dashboard', '/policies', '/profile', '/sign-in'] as const;
export type PagePath = (typeof PAGES)[number];
