/** The target kinds this build can provision on. */
import type { ConnectorFactory } from '../../app/connectors.js';
import { HgError } from '../../core/errors.js';
import type { HourglassConfig } from '../../config/types.js';
import { mariadbConnectorFactory } from './mariadb/index.js';
import { postgresConnectorFactory } from './postgres/index.js';
import { redisConnectorFactory } from './redis/index.js';

export const connectorFactories: readonly ConnectorFactory[] = [postgresConnectorFactory, mariadbConnectorFactory, redisConnectorFactory];

/** Runs each kind's own checks on its targets; every problem is reported, with its path. */
export function validateTargets(config: HourglassConfig, factories: readonly ConnectorFactory[] = connectorFactories): void {
  const byKind = new Map(factories.map((f) => [f.kind, f]));
  const problems: { path: string; message: string }[] = [];
  for (const [name, target] of Object.entries(config.targets)) {
    if (target.type === 'hourglass') continue;
    const factory = byKind.get(target.type);
    if (!factory) {
      problems.push({ path: `targets.${name}.type`, message: `no connector for type ${target.type} in this build` });
      continue;
    }
    for (const p of factory.validate(target)) problems.push({ path: ['targets', name, ...p.path].join('.'), message: p.message });
  }
  if (problems.length) {
    throw new HgError('HG_CONFIG_INVALID', problems.map((p) => `${p.path}: ${p.message}`).join('\n'), { problems });
  }
}
