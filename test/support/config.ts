/**
 * The loader as `serve` and `policy validate` run it: with this build's target kinds (their
 * schemas and semantic checks). Tests parse configuration through these.
 */
import { connectorFactories } from '../../src/adapters/connectors/index.js';
import { HgError } from '../../src/core/errors.js';
import * as loader from '../../src/config/load-config.js';
import type { HourglassConfig } from '../../src/config/types.js';

export function parseConfig(text: string, env: loader.ConfigEnv = {}, source = 'config'): HourglassConfig {
  return loader.parseConfig(text, env, source, connectorFactories);
}

/** The loader's problems with `text` as `path: message` lines; none for a valid file. */
export function configProblems(text: string): string[] {
  try {
    parseConfig(text);
  } catch (e) {
    if (e instanceof HgError) return ((e.details as { problems: { path: string; message: string }[] }).problems ?? []).map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

export function loadConfigFile(path: string, env: loader.ConfigEnv = {}): HourglassConfig {
  return loader.loadConfigFile(path, env, connectorFactories);
}

/** The kinds' schemas (and defaults) without their semantic checks: for tests that hand a bad target to `validate` or `create` themselves. */
const unchecked = connectorFactories.map((f) => ({ ...f, validate: () => [] }));

export function parseConfigUnchecked(text: string, env: loader.ConfigEnv = {}, source = 'config'): HourglassConfig {
  return loader.parseConfig(text, env, source, unchecked);
}
