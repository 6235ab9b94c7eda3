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
  /**
   * Paths of the kind's own settings that hold secrets (`[['secret']]`, `[['ca', 'key']]`): left
   * out of the policy hash and scrubbed from the kind's errors. The URL's password and `tls.key`
   * are secrets of every kind already.
   */
  readonly secretSettings?: readonly (readonly string[])[];
  /** The command a requester runs to use a grant's credentials, `{id}` for the request id (shown by the web UI). */
  readonly usage?: string;
}

/** The string values at `paths` of a target's settings. */
export function settingsAt(target: TargetConfig, paths: readonly (readonly string[])[] = []): string[] {
  const out: string[] = [];
  for (const path of paths) {
    let v: unknown = target;
    for (const key of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
    if (typeof v === 'string') out.push(v);
  }
  return out;
}

/** The kinds a build knows, in the order unknown-type messages list them. */
export type TargetKinds = readonly TargetKind[];
