/** The caller and the server: whoami, entitlements, reload. */
import * as fmt from '../format.js';
import { action, type Registrar } from './shared.js';

export function registerAdminCommands({ ctx, client }: Registrar): void {
  client('whoami', 'who the token belongs to: groups, roles, locked or not').action(
    action(ctx, async (io) => {
      const me = await io.client.me();
      io.print(me, () => fmt.meLines(me));
    }),
  );
  client('entitlements', 'what you may request, and on what terms').action(
    action(ctx, async (io) => {
      const r = await io.client.entitlements();
      io.print(r, () => fmt.entitlementsTable(r.entitlements));
    }),
  );
  client('reload', 'make the server re-read its configuration file (admin)').action(
    action(ctx, async (io) => {
      const r = await io.client.reload();
      io.print(r, () => {
        const head =
          r.policyHash === r.previousPolicyHash
            ? `configuration reloaded; policies unchanged (${r.policyHash})\n`
            : `configuration reloaded; policy hash ${r.previousPolicyHash} -> ${r.policyHash}\n`;
        const ended = [...(r.revoked ?? []).map((id) => `revoked ${id}`), ...(r.cancelled ?? []).map((id) => `cancelled ${id}`)];
        return ended.length ? `${head}principals no longer in the file: ${ended.join(', ')}\n` : head;
      });
    }),
  );
}
