/**
 * The parts of the `hourglass` command that work without a server (configuration loading,
 * policy evaluation, policy tests, checkpoint signatures, completion scripts). Loaded on demand,
 * so that client commands do not pay for YAML, zod and the policy engine at start-up.
 */
import { explain, type ExplainInput } from '../app/explain.js';
import { loadConfigFile, type ConfigEnv } from '../config/load-config.js';
import type { HourglassConfig } from '../config/types.js';
import { subjectMatches } from '../core/policy.js';

export { explain, type ExplainInput };
export { checkSignature, pinKey, readCheckpointsFile, type PinnedKey } from './checkpoints.js';
export { bashCompletion, zshCompletion } from './completion.js';
export { loadPolicyTests, runPolicyTests } from './policy-tests.js';

/** The file checked as `serve` checks it: the same target kinds, schemas and semantic checks. */
export async function loadConfig(file: string, env: ConfigEnv): Promise<HourglassConfig> {
  // Loaded here, not at the top: the connectors' drivers are only needed when a file is checked.
  const { connectorFactories } = await import('../adapters/connectors/index.js');
  return loadConfigFile(file, env, connectorFactories);
}

/** Quorums nobody could ever meet, and break-glass grants nobody could review: legal, but surely a mistake. */
export function policyWarnings(config: HourglassConfig): string[] {
  const out: string[] = [];
  for (const p of config.policies) {
    if (p.approval.required > 0) {
      const approvers = config.principals.filter((x) => subjectMatches(p.approval.approvers, x));
      if (approvers.length < p.approval.required) {
        out.push(
          `policy ${p.name}: needs ${p.approval.required} approval(s) but only ${approvers.length} principal(s) can approve; its requests can never be approved`,
        );
      } else if (
        !p.breakGlass &&
        approvers.length === p.approval.required &&
        config.principals.some((x) => subjectMatches(p.subjects, x) && approvers.some((a) => a.id === x.id))
      ) {
        out.push(
          `policy ${p.name}: an approver who requests can never get ${p.approval.required} approval(s) from the ${approvers.length - 1} other approver(s) (nobody approves their own request)`,
        );
      }
    }
    if (p.review && !config.principals.some((x) => subjectMatches(p.review!.approvers, x))) {
      out.push(`policy ${p.name}: no principal can review its break-glass grants`);
    }
    if (!config.principals.some((x) => subjectMatches(p.subjects, x))) out.push(`policy ${p.name}: no principal is among its subjects`);
  }
  return out;
}
