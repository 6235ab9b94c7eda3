/**
 * Policies as code: `policy validate` and `policy test` offline, `policy explain` offline with
 * --config or against the server. The offline machinery is loaded only when one of them runs.
 */
import { Option } from 'commander';
import { isHgError, type HgError } from '../../core/errors.js';
import type { ConfigProblem, HourglassConfig } from '../../config/types.js';
import type { ExplainJson } from '../api-client.js';
import { TestsFileInvalid, UsageError } from '../errors.js';
import * as fmt from '../format.js';
import { collect, durationArg, evalTime, splitList } from './args.js';
import { EXIT, TESTS_FAILED } from './failure.js';
import { action, CONNECTION_GROUP, offlineModule, type Io, type Registrar } from './shared.js';

async function loadConfigOffline(io: Io, file: string): Promise<HourglassConfig> {
  return (await offlineModule()).loadConfig(file, io.env);
}

/** The file's configuration; or, when it is invalid, every problem reported (as the server gives them) and undefined. */
async function loadConfigOrReport(io: Io, file: string, hint: string): Promise<HourglassConfig | undefined> {
  try {
    return await loadConfigOffline(io, file);
  } catch (e) {
    if (!(isHgError(e) && e.code === 'HG_CONFIG_INVALID')) throw e;
    const problems = problemsOf(e);
    io.print({ valid: false, file, problems }, () => `${e.message}\n`);
    io.err(`hourglass: ${file} is not valid: ${problems.length} problem${problems.length === 1 ? '' : 's'} (HG_CONFIG_INVALID)\nhint: ${hint}\n`);
    return undefined;
  }
}

function problemsOf(e: HgError): ConfigProblem[] {
  return ((e.details as { problems?: ConfigProblem[] } | undefined)?.problems ?? []).map((p) => ({ ...p }));
}

export function registerPolicyCommands({ program, ctx, local, asClient }: Registrar): void {
  const policy = program.command('policy').description('policies as code: validate a configuration file, explain a decision, run policy tests');
  local('validate', 'check a configuration file offline, with the messages the server gives (exit 0 valid, 2 not)', policy)
    .argument('<file>', 'the configuration file')
    .action(
      action(ctx, async (io, _o, file: string) => {
        const config = await loadConfigOrReport(io, file, 'fix every problem listed; the server refuses the whole file until then');
        if (!config) return EXIT.USAGE;
        const warnings = (await offlineModule()).policyWarnings(config);
        io.print(
          {
            valid: true,
            file,
            policyHash: config.policyHash,
            principals: config.principals.length,
            targets: Object.keys(config.targets).length,
            policies: config.policies.length,
            warnings,
          },
          () =>
            `${file}: valid (${config.principals.length} principal(s), ${Object.keys(config.targets).length} target(s), ${config.policies.length} polic${config.policies.length === 1 ? 'y' : 'ies'}; policy hash ${config.policyHash})\n` +
            warnings.map((w) => `warning: ${w}\n`).join(''),
        );
        return EXIT.OK;
      }),
    );

  policy
    .command('explain')
    .description('would this request be allowed, under which policy, with what approvals from whom, and why not (exit 0 yes, 6 no)')
    .option('--principal <id>', 'whose request (default: yourself; required with --config)')
    .option('--entitlement <name>', 'target/role; repeat or separate with commas', collect)
    .option('--for <duration>', "how long (default: the policy's default)", durationArg)
    .option('--at <time>', 'when the request would be made: ISO-8601, +DURATION or -DURATION (default: now)', evalTime)
    .option('--reason <text>', 'check this reason (default: assume one is given; "" for none)')
    .option('--ticket <id>', 'check this ticket (default: assume a matching one is given; "" for none)')
    .option('--source-ip <address>', "check this source address (default: assume it is inside the policy's networks)")
    .option('--break-glass', 'as a break-glass request')
    .option('--policy <name>', 'only this policy')
    .addOption(new Option('--config <file>', 'explain offline from this configuration file instead of asking the server').helpGroup(CONNECTION_GROUP))
    .addHelpText(
      'after',
      '\nExamples:\n  hourglass policy explain --config hourglass.yaml --principal alice --entitlement demo-db/admin --for 2h\n' +
        '  hourglass policy explain --principal bob --entitlement demo-db/admin --break-glass --json   # asks the server\n',
    )
    .action(
      action(ctx, async (io, o) => {
        const entitlements = splitList((o.entitlement as string[] | undefined) ?? []);
        if (entitlements.length === 0) throw new UsageError('give at least one --entitlement target/role');
        let r: ExplainJson;
        if (o.config !== undefined) {
          if (o.principal === undefined) throw new UsageError('--principal is required with --config (there is no "you" offline)');
          if (o.url !== undefined || o.token !== undefined) throw new UsageError('--config explains offline: --url and --token do not apply');
          const config = await loadConfigOffline(io, o.config as string);
          r = (await offlineModule()).explain(config, {
            principal: o.principal as string,
            entitlements,
            at: o.at !== undefined ? Date.parse(o.at as string) : Date.now(),
            ...(o.for !== undefined ? { duration: o.for as string } : {}),
            ...(o.reason !== undefined ? { reason: o.reason as string } : {}),
            ...(o.ticket !== undefined ? { ticket: o.ticket as string } : {}),
            ...(o.sourceIp !== undefined ? { sourceIp: o.sourceIp as string } : {}),
            ...(o.breakGlass ? { breakGlass: true } : {}),
            ...(o.policy !== undefined ? { policy: o.policy as string } : {}),
          });
        } else {
          r = await io.client.explain({
            entitlements,
            ...(o.principal !== undefined ? { principal: o.principal as string } : {}),
            ...(o.for !== undefined ? { duration: o.for as string } : {}),
            ...(o.at !== undefined ? { at: o.at as string } : {}),
            ...(o.reason !== undefined ? { reason: o.reason as string } : {}),
            ...(o.ticket !== undefined ? { ticket: o.ticket as string } : {}),
            ...(o.sourceIp !== undefined ? { sourceIp: o.sourceIp as string } : {}),
            ...(o.breakGlass ? { breakGlass: true } : {}),
            ...(o.policy !== undefined ? { policy: o.policy as string } : {}),
          });
        }
        io.print(r, () => fmt.explainLines(r));
        if (r.allowed) return EXIT.OK;
        return r.code === 'HG_INVALID_INPUT' ? EXIT.USAGE : EXIT.POLICY;
      }),
    );
  asClient(policy.commands.at(-1)!);

  local('test', 'run table-driven policy tests against a configuration file, offline (exit 0 all pass, 1 any fails, 2 invalid file)', policy)
    .argument('<file>', 'the configuration file')
    .argument('<tests>', 'the tests file (YAML), see docs/policies.md')
    .addHelpText('after', '\nExample:\n  hourglass policy test hourglass.yaml policy-tests.yaml\n')
    .action(
      action(ctx, async (io, _o, file: string, testsFile: string) => {
        const config = await loadConfigOrReport(io, file, `hourglass policy validate ${file} checks it alone`);
        if (!config) return EXIT.USAGE;
        const { loadPolicyTests, runPolicyTests } = await offlineModule();
        let tests;
        try {
          tests = loadPolicyTests(testsFile, config, file);
        } catch (e) {
          if (!(e instanceof TestsFileInvalid)) throw e;
          io.print({ valid: false, file: testsFile, problems: e.problems }, () => `${e.message}\n`);
          io.err(
            `hourglass: ${testsFile} is not a valid tests file: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}\nhint: docs/policies.md describes the tests file\n`,
          );
          return EXIT.USAGE;
        }
        const report = runPolicyTests(config, tests, Date.now(), { config: file, tests: testsFile });
        io.print(report, () => fmt.testReportLines(report));
        return report.ok ? EXIT.OK : TESTS_FAILED;
      }),
    );
}
