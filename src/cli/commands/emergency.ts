/** Emergency controls (admin): lock and unlock principals, freeze and unfreeze targets, list them. */
import * as fmt from '../format.js';
import { action, type Registrar } from './shared.js';

export function registerEmergencyCommands({ ctx, client }: Registrar): void {
  client('lock', 'lock a principal: revoke their grants, cancel their pending requests, refuse new ones (admin)')
    .argument('<principal>', 'principal id')
    .option('--reason <text>', 'why')
    .action(
      action(ctx, async (io, o, id: string) => {
        const r = await io.client.lockPrincipal(id, o.reason as string | undefined);
        io.print(r, () => fmt.lockLine('locked', id, r));
      }),
    );
  client('unlock', 'unlock a principal (admin)')
    .argument('<principal>', 'principal id')
    .action(
      action(ctx, async (io, _o, id: string) => {
        const r = await io.client.unlockPrincipal(id);
        io.print(r, () => (r.changed ? `unlocked ${id}\n` : `${id} was not locked\n`));
      }),
    );
  client('freeze', 'freeze a target: revoke every grant on it, refuse new ones (admin)')
    .argument('<target>', 'target name')
    .option('--reason <text>', 'why')
    .action(
      action(ctx, async (io, o, name: string) => {
        const r = await io.client.freezeTarget(name, o.reason as string | undefined);
        io.print(r, () => fmt.lockLine('frozen', name, r));
      }),
    );
  client('unfreeze', 'unfreeze a target (admin)')
    .argument('<target>', 'target name')
    .action(
      action(ctx, async (io, _o, name: string) => {
        const r = await io.client.unfreezeTarget(name);
        io.print(r, () => (r.changed ? `unfrozen ${name}\n` : `${name} was not frozen\n`));
      }),
    );
  client('locks', 'list locked principals and frozen targets (admin or auditor)').action(
    action(ctx, async (io) => {
      const r = await io.client.locks();
      io.print(r, () => fmt.locksTable(r));
    }),
  );
}
