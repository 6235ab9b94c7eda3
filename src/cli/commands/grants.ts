/** `hourglass check` and `grants`: who holds what right now. */
import * as fmt from '../format.js';
import { positiveInt } from './args.js';
import { EXIT } from './failure.js';
import { action, type Registrar } from './shared.js';

export function registerGrantCommands({ ctx, client }: Registrar): void {
  client('check', 'does PRINCIPAL hold ENTITLEMENT right now? (exit 0 yes, 8 no; checker or admin role)')
    .argument('<principal>', 'principal id')
    .argument('<entitlement>', 'entitlement, e.g. prod-db/read')
    .action(
      action(ctx, async (io, _o, principal: string, entitlement: string) => {
        const r = await io.client.check(principal, entitlement);
        io.print(r, () =>
          r.allowed
            ? `allowed: ${principal} holds ${entitlement} until ${fmt.when(r.expiresAt)} (request ${r.requestId})\n`
            : `not allowed: ${principal} does not hold ${entitlement} now\n`,
        );
        return r.allowed ? EXIT.OK : EXIT.CHECK_DENIED;
      }),
    );

  client('grants', "list grants in force (yours, or anyone's for checkers, auditors and admins)")
    .option('--principal <id>', 'only this principal')
    .option('--entitlement <name>', 'only this entitlement')
    .option('--limit <n>', 'at most N grants (1-1000, default 100)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(
      action(ctx, async (io, o) => {
        const page = await io.client.grants({
          ...(o.principal !== undefined ? { principal: o.principal as string } : {}),
          ...(o.entitlement !== undefined ? { entitlement: o.entitlement as string } : {}),
          ...(o.limit !== undefined ? { limit: o.limit as number } : {}),
          ...(o.cursor !== undefined ? { cursor: o.cursor as string } : {}),
        });
        io.print(page, () => fmt.grantsTable(page.grants));
        if (!io.json && page.nextCursor) io.err(`more: add --cursor ${page.nextCursor}\n`);
      }),
    );
}
