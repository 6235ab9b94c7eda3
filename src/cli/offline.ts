/**
 * The parts of the `hourglass` command that work without a server (configuration loading,
 * policy evaluation, policy tests, checkpoint signatures, completion scripts). Loaded on demand,
 * so that client commands do not pay for YAML, zod and the policy engine at start-up.
 */
import { explain, type ExplainInput } from '../app/explain.js';
import { loadConfigFile, type ConfigEnv } from '../config/load-config.js';
import type { HourglassConfig } from '../config/types.js';
import { managerOf, subjectMatches } from '../core/policy.js';
import type { ApproverSet } from '../core/types.js';

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

const managerOnly = (set: ApproverSet) => set.manager === true && set.groups.length === 0 && set.users.length === 0;

/** Quorums nobody could ever meet, and break-glass grants nobody could review: legal, but surely a mistake. */
export function policyWarnings(config: HourglassConfig): string[] {
  const out: string[] = [];
  for (const p of config.policies) {
    const manager = p.approval.approvers.manager === true;
    if (p.approval.required > 0) {
      const approvers = config.principals.filter((x) => subjectMatches(p.approval.approvers, x));
      // The requester's manager is one more possible approver, whoever requests.
      if (approvers.length + (manager ? 1 : 0) < p.approval.required) {
        out.push(
          `policy ${p.name}: needs ${p.approval.required} approval(s) but only ${approvers.length} principal(s)${manager ? " and the requester's manager" : ''} can approve; its requests can never be approved`,
        );
      } else if (
        !manager &&
        !p.breakGlass &&
        approvers.length === p.approval.required &&
        config.principals.some((x) => subjectMatches(p.subjects, x) && approvers.some((a) => a.id === x.id))
      ) {
        out.push(
          `policy ${p.name}: an approver who requests can never get ${p.approval.required} approval(s) from the ${approvers.length - 1} other approver(s) (nobody approves their own request)`,
        );
      }
    }
    if (p.review && !p.review.approvers.manager && !config.principals.some((x) => subjectMatches(p.review!.approvers, x))) {
      out.push(`policy ${p.name}: no principal can review its break-glass grants`);
    }
    // Requests of subjects without a manager are refused where only the manager approves or reviews.
    const onlyManager = (p.approval.required > 0 && managerOnly(p.approval.approvers)) || (p.review !== undefined && managerOnly(p.review.approvers));
    const unmanaged = onlyManager ? config.principals.filter((x) => subjectMatches(p.subjects, x) && managerOf(x) === undefined).map((x) => x.id) : [];
    if (unmanaged.length) {
      out.push(
        `policy ${p.name}: only the requester's manager ${p.breakGlass ? 'reviews' : 'approves'}, and ${unmanaged.length} of its subjects in the file have no manager (${unmanaged.slice(0, 5).join(', ')}${unmanaged.length > 5 ? ', ...' : ''}): their requests are refused`,
      );
    }
    if (!config.principals.some((x) => subjectMatches(p.subjects, x))) out.push(`policy ${p.name}: no principal is among its subjects`);
  }
  return out;
}
