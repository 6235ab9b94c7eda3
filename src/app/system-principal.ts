import type { Principal } from '../core/types.js';
import { SYSTEM_ACTOR } from './context.js';

/** Hourglass itself: ending access the configuration (or a closed ticket) no longer allows, reloading on SIGHUP. */
export const SYSTEM_PRINCIPAL: Principal = Object.freeze({
  id: SYSTEM_ACTOR,
  groups: Object.freeze([]),
  roles: Object.freeze(['admin']),
}) as unknown as Principal;
