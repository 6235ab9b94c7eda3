/**
 * `hourglass notifications status|deliveries|templates`: the backlog of each destination and the
 * delivery log (auditor or admin role), and the built-in message templates written out as the
 * override files a deployment's `notifications.templates` directory holds.
 */
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import { BUILTIN_LAYOUT, BUILTIN_TEMPLATES, BUILTIN_TICKET_TEMPLATES, type TemplatePart } from '../../app/notifications/templates.js';
import type { NotificationTopic } from '../../core/notify-plan.js';
import type { DeliveriesQuery } from '../api-client.js';
import { UsageError } from '../errors.js';
import * as fmt from '../format.js';
import { positiveInt } from './args.js';
import { action, type Registrar } from './shared.js';

const PARTS: TemplatePart[] = ['subject.txt', 'txt', 'html'];

/** Every built-in part under the file name that overrides it (app/notifications/render.ts reads the same names). */
export function builtinTemplateFiles(): { name: string; text: string }[] {
  const files = [{ name: 'layout.html', text: BUILTIN_LAYOUT }];
  for (const [topic, parts] of Object.entries(BUILTIN_TEMPLATES) as [NotificationTopic, Record<TemplatePart, string>][]) {
    for (const part of PARTS) files.push({ name: `${topic}.${part}`, text: parts[part] });
    const ticket = BUILTIN_TICKET_TEMPLATES[topic];
    if (ticket !== undefined) files.push({ name: `${topic}.ticket.txt`, text: ticket });
  }
  return files;
}

/** Whether anything (a file, a directory, a dangling symlink) already has this name. */
function taken(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the files into `dir` (created if missing). Without `force` nothing is written when any
 * of them exists already, so an edited template is never lost to a second run.
 */
function writeTemplates(dir: string, force: boolean): { dir: string; files: string[] } {
  const files = builtinTemplateFiles();
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`--out ${dir}: cannot create the directory: ${(e as Error).message}`);
  }
  if (!force) {
    const existing = files.filter((f) => taken(path.join(dir, f.name))).map((f) => f.name);
    if (existing.length) {
      const shown = existing.slice(0, 3).join(', ') + (existing.length > 3 ? `, ... (${existing.length} in all)` : '');
      throw new UsageError(`${dir} already holds template files (${shown}); nothing was written: add --force to overwrite them`);
    }
  }
  for (const f of files) {
    try {
      // 'wx' fails rather than replace a file that appeared since the check.
      writeFileSync(path.join(dir, f.name), f.text, { flag: force ? 'w' : 'wx', mode: 0o644 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EEXIST') throw new UsageError(`${path.join(dir, f.name)} appeared while writing; add --force to overwrite it`);
      throw new Error(`cannot write ${path.join(dir, f.name)}: ${err.message}`);
    }
  }
  return { dir: path.resolve(dir), files: files.map((f) => f.name) };
}

export function registerNotificationCommands({ program, ctx, client, local }: Registrar): void {
  const notifications = program
    .command('notifications')
    .description('notifications to people: destinations and their backlog, the delivery log (auditor or admin role), the message templates');

  client('status', 'each destination with its pending, failing, sent and skipped messages; the routes', notifications).action(
    action(ctx, async (io) => {
      const r = await io.client.notifications();
      io.print(r, () => fmt.notificationStatusLines(r));
    }),
  );

  client('deliveries', 'the delivery log: every attempt, newest first', notifications)
    .option('--destination <d>', 'only this destination: email, slack, slack:CHANNEL_ID or teams:NAME')
    .option('--recipient <principal>', 'only messages to this principal')
    .option('--request <id>', 'only messages about this request')
    .addOption(new Option('--outcome <outcome>', 'only attempts that ended so').choices(['sent', 'skipped', 'failed']))
    .option('--limit <n>', 'at most N attempts (1-1000, default 100)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(
      action(ctx, async (io, o) => {
        const page = await io.client.notificationDeliveries({
          ...(o.destination !== undefined ? { destination: o.destination as string } : {}),
          ...(o.recipient !== undefined ? { recipient: o.recipient as string } : {}),
          ...(o.request !== undefined ? { requestId: o.request as string } : {}),
          ...(o.outcome !== undefined ? { outcome: o.outcome as DeliveriesQuery['outcome'] } : {}),
          ...(o.limit !== undefined ? { limit: o.limit as number } : {}),
          ...(o.cursor !== undefined ? { cursor: o.cursor as string } : {}),
        });
        io.print(page, () => fmt.deliveriesTable(page.deliveries));
        if (!io.json && page.nextCursor) io.err(`more: add --cursor ${page.nextCursor}\n`);
      }),
    );

  local('templates', 'write the built-in message templates to DIR, to start a notifications.templates directory (no server)', notifications)
    .requiredOption('--out <dir>', 'the directory to write to (created if missing)')
    .option('--force', 'overwrite template files already in DIR')
    .addHelpText(
      'after',
      '\nFiles: TOPIC.subject.txt, TOPIC.txt, TOPIC.html for every topic, TOPIC.ticket.txt for ticket comments, and layout.html.\n' +
        'Keep only the files you change: a missing file means the built-in part, which may improve in later versions.\n',
    )
    .action(
      action(ctx, async (io, o) => {
        const r = writeTemplates(o.out as string, o.force === true);
        io.print(r, () => `wrote ${r.files.length} template files to ${r.dir}:\n${r.files.map((f) => `  ${f}\n`).join('')}`);
        if (!io.json) io.err(`point notifications.templates at ${r.dir}, and keep only the files you change\n`);
      }),
    );
}
