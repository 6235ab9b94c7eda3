import type { RouteContext } from './context.js';

/** Filled in by the issue-3 work on this area. */
export function policyRoutes(_ctx: RouteContext): void {}
