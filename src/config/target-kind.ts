/**
 * What the loader needs to know of a target kind. The kinds themselves live in
 * src/adapters/connectors/KIND/ (their ConnectorFactory extends this); the loader is handed
 * the list, so the configuration layer names no kind and imports no adapter.
 */
import type { z } from 'zod';
import type { TargetCapabilities, TargetConfig } from '../core/types.js';

/** A problem with a target's settings, its path relative to the target (`['entitlements', 'read', 'roles', 0]`). */
export interface TargetProblem {
  path: (string | number)[];
  message: string;
}

export interface TargetKind {
  /** The `type` a target gives in the file. */
  readonly kind: string;
  /**
   * The whole target mapping (type, entitlements and the kind's own keys): a zod schema built from
   * `targetSettings` (sections/targets.ts), with the defaults and a one-line `.describe()` per key.
   */
  readonly settings: z.ZodTypeAny;
  /** What grants on this target can do; may depend on its settings (PostgreSQL membership mode issues no credentials). */
  capabilities(target: TargetConfig): TargetCapabilities;
  /** The checks beyond the schema (privileged roles, TLS files, URL parts), run by the loader on a target that passed it. */
  validate(target: TargetConfig): TargetProblem[];
}

/** The kinds a build knows, in the order unknown-type messages list them. */
export type TargetKinds = readonly TargetKind[];
