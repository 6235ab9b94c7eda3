/**
 * Error classes of the `hourglass` command that decide exit codes and hints. Kept in a module
 * without dependencies so that client commands need not load the offline machinery (YAML, zod,
 * policy evaluation) just to recognise its errors.
 */
import type { ConfigProblem } from '../config/types.js';

/** A mistake in the command line that commander cannot see (bad --at, bad URL...). */
export class UsageError extends Error {}

/** No usable API token (none given, unusable, or not for this server): exit 3. */
export class CredentialsError extends Error {}

/** The grant has no credentials for the target asked for (`credentials`/`connect --target`): exit 4. */
export class NoSuchCredentials extends Error {}

/** An unusable checkpoints file (every bad line listed in the message). */
export class CheckpointsFileError extends Error {}

export function formatProblem(source: string, p: ConfigProblem): string {
  return p.line !== undefined ? `${source}:${p.line}: ${p.path}: ${p.message}` : `${source}: ${p.path}: ${p.message}`;
}

/** A policy tests file that is not valid, with every problem and its place. */
export class TestsFileInvalid extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
  }
}
