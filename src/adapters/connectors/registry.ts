/**
 * Builds one connector per configured target from the factories of the kinds this build knows,
 * and rebuilds a target's connector when a reload changes its settings.
 */
import type { Connector, ConnectorFactory, ConnectorRegistry } from '../../app/connectors.js';
import type { ConfigSource } from '../../app/ports.js';
import { canonicalJson } from '../../core/audit-chain.js';
import { redact } from '../../core/redact.js';
import type { TargetConfig } from '../../core/types.js';
import { settingsAt } from '../../config/target-kind.js';

/** The secrets every kind's settings may hold (URL passwords, TLS keys); a kind names its own in `secretSettings`. */
export function targetSecrets(target: TargetConfig): string[] {
  const out: string[] = [];
  const url = typeof target.url === 'string' ? target.url : undefined;
  if (url) {
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) out.push(password, encodeURIComponent(password));
    } catch {
      // not a URL: nothing to scrub
    }
  }
  const tls = target.tls as { key?: string } | undefined;
  if (tls?.key && !tls.key.startsWith('file:')) out.push(tls.key);
  return out.filter((s) => s.length >= 4);
}

/** Everything a target's connector must scrub from its errors: the common secrets and its kind's own. */
export function secretsOf(target: TargetConfig, kind: Pick<ConnectorFactory, 'secretSettings'>): string[] {
  return [...targetSecrets(target), ...settingsAt(target, kind.secretSettings).filter((s) => s.length >= 4)];
}

export function scrubber(secrets: readonly string[]): (text: string) => string {
  return (text) => redact(text, secrets);
}

export function createConnectorRegistry(config: ConfigSource, factories: readonly ConnectorFactory[]): ConnectorRegistry {
  const byKind = new Map(factories.map((f) => [f.kind, f]));
  const live = new Map<string, { fingerprint: string; connector: Connector }>();
  return {
    forTarget(name) {
      const target = config.current().targets[name];
      if (!target) return undefined;
      const factory = byKind.get(target.type);
      if (!factory) return undefined;
      const fingerprint = canonicalJson(target);
      const existing = live.get(name);
      if (existing?.fingerprint === fingerprint) return existing.connector;
      if (existing) void existing.connector.close().catch(() => {});
      const connector = factory.create(target, {
        secretsToScrub: scrubber(secretsOf(target, factory)),
        allowedHosts: () => config.current().server.allowedHosts,
      });
      live.set(name, { fingerprint, connector });
      return connector;
    },
    async closeAll() {
      await Promise.all([...live.values()].map((l) => l.connector.close().catch(() => {})));
      live.clear();
    },
  };
}
