/** The request lifecycle: request (with --wait and --connect), requests, show, the decisions, release, extend, review. */
import { formatDuration, parseDuration } from '../../core/duration.js';
import { REQUEST_STATUSES } from '../../core/types.js';
import { ApiError, UnreachableError, type HourglassClient, type RequestJson } from '../api-client.js';
import { UsageError } from '../errors.js';
import * as fmt from '../format.js';
import { sshLogin } from '../ssh-login.js';
import { connectTo } from './access.js';
import { durationArg, parseStartAt, positiveInt, statusList } from './args.js';
import { EXIT } from './failure.js';
import { action, addStepUp, type Io, type Registrar } from './shared.js';

const POLL_MS = 500;
const DEFAULT_WAIT = '10m';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isTransient(e: unknown): boolean {
  return e instanceof UnreachableError || (e instanceof ApiError && [429, 502, 503, 504].includes(e.status));
}

/** Polls the request until it is active or final; returns the last state seen and whether time ran out. */
async function waitFor(io: Io, first: RequestJson, timeoutMs: number): Promise<{ last: RequestJson; timedOut: boolean }> {
  let last = first;
  const deadline = Date.now() + timeoutMs;
  const state = (r: RequestJson) => `${r.status}${r.access !== 'none' && r.access !== 'present' ? ` (access ${r.access})` : ''}`;
  if (last.status !== 'active' && !fmt.isFinalStatus(last.status)) {
    io.err(`${last.id}: ${state(last)}; waiting up to ${formatDuration(timeoutMs)} for it to become active\n`);
  }
  let troubled = false;
  while (last.status !== 'active' && !fmt.isFinalStatus(last.status)) {
    const left = deadline - Date.now();
    if (left <= 0) return { last, timedOut: true };
    await sleep(Math.min(POLL_MS, left));
    let next: RequestJson;
    try {
      next = await io.client.getRequest(last.id);
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (!troubled) io.err(`${last.id}: ${(e as Error).message}; still trying\n`);
      troubled = true;
      continue;
    }
    troubled = false;
    if (state(next) !== state(last)) io.err(`${last.id}: ${state(last)} -> ${state(next)}\n`);
    else if (next.approvals.length !== last.approvals.length) {
      io.err(`${last.id}: approved by ${next.approvals.map((a) => a.by).join(', ')}\n`);
    }
    last = next;
  }
  return { last, timedOut: false };
}

export function registerRequestCommands({ ctx, client }: Registrar): void {
  addStepUp(client('request', 'ask for access to one or more entitlements (target/role)'))
    .argument('<entitlements...>', 'entitlements, e.g. prod-db/read')
    .option('--for <duration>', "how long, e.g. 2h, 30m, 1h30m (default: the policy's default)", durationArg)
    .option('--reason <text>', 'why you need it')
    .option('--ticket <id>', 'ticket or incident reference')
    .option('--at <time>', 'start later: ISO-8601 date-time or +DURATION (e.g. +30m)', (v: string) => parseStartAt(v))
    .option('--break-glass', 'emergency access under a break-glass policy (reviewed afterwards)')
    .option('--policy <name>', 'use this policy only')
    .option('--idempotency-key <key>', 'retry-safe submission: the same key returns the same request')
    .option('--wait', 'wait until the request is active (exit 0) or ends otherwise (exit 9)')
    .option('--timeout <duration>', `with --wait: how long to wait (default: ${DEFAULT_WAIT})`, durationArg)
    .option('--connect', "wait as --wait does, then open the target's client with the credentials (as hourglass connect)")
    .option('--ssh <destination>', 'wait as --wait does, then log in to [user@]host with a certificate (as hourglass ssh)')
    .addHelpText(
      'after',
      '\nExamples:\n  hourglass request demo-db/read --for 30m --reason "look at a slow query"\n  hourglass request demo-db/admin --for 1h --reason "fix index" --ticket INC-42 --wait\n' +
        '  hourglass request app-db/read --for 1h --connect                                    # then psql\n',
    )
    .action(
      action(ctx, async (io, o, entitlements: string[]) => {
        if (o.ssh && (io.json || o.connect)) throw new UsageError('--ssh logs in: it does not go with --json or --connect');
        if (o.connect && io.json) throw new UsageError('--connect opens a client: it does not go with --json (use --wait --json, then hourglass connect ID)');
        const wait = Boolean(o.wait || o.connect || o.ssh);
        if (o.timeout !== undefined && !wait) throw new UsageError('--timeout goes with --wait');
        const { request, replayed } = await io.client.submit(
          {
            entitlements,
            ...(o.for !== undefined ? { duration: o.for as string } : {}),
            ...(o.reason !== undefined ? { reason: o.reason as string } : {}),
            ...(o.ticket !== undefined ? { ticket: o.ticket as string } : {}),
            ...(o.at !== undefined ? { startAt: o.at as string } : {}),
            ...(o.breakGlass ? { breakGlass: true } : {}),
            ...(o.policy !== undefined ? { policy: o.policy as string } : {}),
          },
          o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey as string } : {},
        );
        if (replayed) io.err(`hourglass: this --idempotency-key was used before; showing request ${request.id} as it is now\n`);
        if (!wait) {
          io.print(request, () => fmt.requestLine(request));
          return;
        }
        // With --connect, stdout belongs to the client: the request's lines go to stderr.
        const say = o.connect || o.ssh ? io.err : io.out;
        if (!io.json) say(fmt.requestLine(request));
        const timeoutMs = parseDuration((o.timeout as string | undefined) ?? DEFAULT_WAIT);
        const { last, timedOut } = await waitFor(io, request, timeoutMs);
        if (io.json) io.out(`${JSON.stringify(last, null, 2)}\n`);
        else if (last.status !== request.status || last.access !== request.access) say(fmt.requestLine(last));
        if (timedOut) {
          io.err(
            `hourglass: gave up waiting after ${formatDuration(timeoutMs)}: ${last.id} is still ${last.status}\nhint: hourglass show ${last.id}; cancel it with hourglass cancel ${last.id} if no longer needed\n`,
          );
          return EXIT.WAIT_FAILED;
        }
        if (last.status !== 'active') {
          io.err(`hourglass: ${last.id} ended ${fmt.nextStep(last)}\n`);
          return EXIT.WAIT_FAILED;
        }
        if (o.connect) return connectTo(io, last.id, { extra: [], print: false });
        if (o.ssh) return sshLogin(io.client, last.id, { sshArgs: [o.ssh as string], env: io.env, say: io.err });
        return EXIT.OK;
      }),
    );

  client('requests', 'list requests you can see (newest first)')
    .option('--status <list>', `only these statuses, comma-separated (${REQUEST_STATUSES.join(',')})`, statusList)
    .option('--mine', 'only your own requests')
    .option('--approvable', 'only requests waiting for your approval')
    .option('--requester <principal>', "only this principal's requests")
    .option('--limit <n>', 'at most N requests (1-1000, default 100)', positiveInt)
    .option('--cursor <cursor>', 'continue after a previous page (printed when there is more)')
    .action(
      action(ctx, async (io, o) => {
        const page = await io.client.listRequests({
          ...(o.status ? { status: o.status as string[] } : {}),
          ...(o.mine ? { mine: true } : {}),
          ...(o.approvable ? { approvable: true } : {}),
          ...(o.requester !== undefined ? { requester: o.requester as string } : {}),
          ...(o.limit !== undefined ? { limit: o.limit as number } : {}),
          ...(o.cursor !== undefined ? { cursor: o.cursor as string } : {}),
        });
        io.print(page, () => fmt.requestsTable(page.requests));
        if (!io.json && page.nextCursor) io.err(`more: add --cursor ${page.nextCursor}\n`);
      }),
    );

  client('show', 'show one request in full')
    .argument('<id>', 'request id')
    .action(
      action(
        ctx,
        async (io, _o, id: string) => {
          const r = await io.client.getRequest(id);
          io.print(r, () => fmt.requestDetails(r));
        },
        { idArg: true },
      ),
    );

  const decision = (
    name: string,
    description: string,
    flag: string,
    flagHelp: string,
    run: (c: HourglassClient, id: string, text?: string) => Promise<RequestJson>,
  ) =>
    client(name, description)
      .argument('<id>', 'request id')
      .option(flag, flagHelp)
      .action(
        action(
          ctx,
          async (io, o, id: string) => {
            const text = (o.comment ?? o.reason) as string | undefined;
            const r = await run(io.client, id, text);
            io.print(r, () => fmt.requestLine(r));
          },
          { idArg: true },
        ),
      );

  addStepUp(
    decision('approve', 'approve a pending request (or a pending extension)', '--comment <text>', 'a comment for the record', (c, id, t) => c.approve(id, t)),
  );
  decision('deny', 'deny a pending request (or a pending extension)', '--comment <text>', 'why', (c, id, t) => c.deny(id, t));
  decision('cancel', 'withdraw your own pending or scheduled request', '--reason <text>', 'why', (c, id, t) => c.cancel(id, t));
  decision('revoke', "end someone's grant now (admins and the request's approvers)", '--reason <text>', 'why', (c, id, t) => c.revoke(id, t));

  client('release', 'end your own grant early (task done)')
    .argument('<id>', 'request id')
    .action(
      action(
        ctx,
        async (io, _o, id: string) => {
          const r = await io.client.release(id);
          io.print(r, () => fmt.requestLine(r));
        },
        { idArg: true },
      ),
    );

  client('extend', 'ask for more time on your active grant')
    .argument('<id>', 'request id')
    .requiredOption('--for <duration>', 'how much longer, e.g. 1h', durationArg)
    .option('--reason <text>', 'why')
    .action(
      action(
        ctx,
        async (io, o, id: string) => {
          const r = await io.client.extend(id, o.for as string, o.reason as string | undefined);
          io.print(r, () => fmt.requestLine(r));
        },
        { idArg: true },
      ),
    );

  client('review', 'review a break-glass grant after the fact')
    .argument('<id>', 'request id')
    .requiredOption('--comment <text>', 'the review (required)')
    .action(
      action(
        ctx,
        async (io, o, id: string) => {
          const r = await io.client.review(id, o.comment as string);
          io.print(r, () => fmt.requestLine(r));
        },
        { idArg: true },
      ),
    );
}
