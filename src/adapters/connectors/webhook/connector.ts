/**
 * The `webhook` target kind: the system itself creates and removes the access. Grant, extend and
 * revoke are each one POST of a JSON payload to the receiver, HMAC-signed like event webhooks
 * (adapters/outbound/signed-post.ts: same headers, same guard against internal addresses), with an
 * `Idempotency-Key` that is the same on every retry of one step, so the receiver can recognise a
 * repeat. A 2xx answer is done; it may carry a handle and credentials. Anything else fails the
 * call and the access worker retries it with backoff (revocations for ever, with the overdue
 * alert). Hourglass cannot see what the receiver did: ending sessions and enforcing the end are
 * its job. See docs/targets/webhook.md.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Connector, ConnectorCapabilities, Credentials, Granted, GrantOnTarget } from '../../../app/connectors.js';
import { redact } from '../../../core/redact.js';
import type { TargetConfig } from '../../../core/types.js';
import { OutboundRefused, signedPost, type PostResult } from '../../outbound/signed-post.js';
import { targetError, targetRefusal } from '../target-error.js';
import { readSettings, type WebhookSettings } from './settings.js';

export const WEBHOOK_KIND = 'webhook';

export const WEBHOOK_CAPABILITIES: ConnectorCapabilities = {
  issuesCredentials: true,
  endsSessions: false,
  enforcesExpiry: false,
  canList: false,
};

export type WebhookAction = 'grant' | 'extend' | 'revoke';

/** What the receiver gets (docs/targets/webhook.md#the-request). */
export interface WebhookPayload {
  action: WebhookAction;
  requestId: string;
  principal: string;
  target: string;
  entitlements: { name: string; attributes: Record<string, unknown> }[];
  /** ISO 8601, UTC. */
  expiresAt: string;
  handle?: string;
  idempotencyKey: string;
}

export const MAX_HANDLE_LENGTH = 512;
/** Characters of a refusal's body quoted in the error (what the receiver says went wrong). */
const QUOTED_BODY_CHARS = 200;

/** A 2xx answer: empty, or a JSON object with these (unknown keys are ignored). */
const answerSchema = z.object({
  handle: z.string().min(1).max(MAX_HANDLE_LENGTH).nullish(),
  credentials: z
    .object({
      username: z.string().optional(),
      password: z.string().optional(),
      host: z.string().optional(),
      port: z.number().int().min(1).max(65535).optional(),
      database: z.string().optional(),
      url: z.string().optional(),
    })
    .catchall(z.unknown())
    .nullish(),
});

/** The same for every retry of one step of one grant: a new end (an extension) is a new step. */
export function idempotencyKey(grant: Pick<GrantOnTarget, 'requestId' | 'expiresAt'> & { target: { name: string } }, action: WebhookAction): string {
  return createHash('sha256')
    .update(JSON.stringify([grant.requestId, grant.target.name, action, grant.expiresAt]))
    .digest('hex');
}

export function payloadOf(grant: GrantOnTarget, action: WebhookAction): WebhookPayload {
  return {
    action,
    requestId: grant.requestId,
    principal: grant.principal,
    target: grant.target.name,
    entitlements: grant.entitlements.map((e) => ({ name: e.name, attributes: attributesOf(e.config) })),
    expiresAt: new Date(grant.expiresAt).toISOString(),
    ...(grant.handle !== undefined ? { handle: grant.handle } : {}),
    idempotencyKey: idempotencyKey(grant, action),
  };
}

function attributesOf(config: Record<string, unknown> | undefined): Record<string, unknown> {
  const a = config?.attributes;
  return a !== null && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>) : {};
}

/** A network error's message, with its code when Node gives one (ECONNREFUSED, ...). */
function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  if (err instanceof OutboundRefused) return `refused: ${message}`;
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/** What a refusal's body says, on one line and short. */
function quoted(body: Buffer | undefined): string {
  const text = (body ?? Buffer.alloc(0)).subarray(0, QUOTED_BODY_CHARS * 4).toString('utf8');
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (!line) return '';
  return `: ${line.length > QUOTED_BODY_CHARS ? `${line.slice(0, QUOTED_BODY_CHARS - 3)}...` : line}`;
}

const is2xx = (status: number) => status >= 200 && status < 300;

export interface WebhookConnectorOptions {
  secretsToScrub: (text: string) => string;
  /** server.allowedHosts, read at every call (a reload applies at once); none when absent. */
  allowedHosts?: () => readonly string[];
}

export class WebhookConnector implements Connector {
  readonly kind = WEBHOOK_KIND;
  readonly capabilities = WEBHOOK_CAPABILITIES;
  private readonly settings: WebhookSettings;
  private readonly scrub: (text: string) => string;
  private readonly allowedHosts: () => readonly string[];
  private closed = false;

  constructor(target: TargetConfig, opts: WebhookConnectorOptions) {
    this.settings = readSettings(target);
    const secret = this.settings.secret;
    // The registry's scrubber knows the target's secrets; the HMAC key is scrubbed here all the same.
    this.scrub = (text) => redact(opts.secretsToScrub(text), secret ? [secret] : []);
    this.allowedHosts = opts.allowedHosts ?? (() => []);
  }

  async grant(grant: GrantOnTarget): Promise<Granted> {
    const res = await this.post('grant', grant);
    if (!is2xx(res.status)) throw this.refusal('grant', res);
    const answer = this.answerOf('grant', res);
    return {
      ...(answer.handle ? { handle: answer.handle } : {}),
      ...(answer.credentials ? { credentials: answer.credentials as Credentials } : {}),
    };
  }

  /** 404 and 410 mean the receiver has nothing for this grant: already gone, which is success. */
  async revoke(grant: GrantOnTarget): Promise<void> {
    const res = await this.post('revoke', grant);
    if (res.status === 404 || res.status === 410) return;
    if (!is2xx(res.status)) throw this.refusal('revoke', res);
    this.answerOf('revoke', res);
  }

  async extend(grant: GrantOnTarget): Promise<void> {
    const res = await this.post('extend', grant);
    if (!is2xx(res.status)) throw this.refusal('extend', res);
    this.answerOf('extend', res);
  }

  /** POSTs `{ "action": "health", "target" }`; any 2xx is healthy. */
  async health(): Promise<{ ok: boolean; detail?: string }> {
    try {
      const res = await this.send('health', JSON.stringify({ action: 'health', target: this.settings.targetName }));
      return is2xx(res.status) ? { ok: true } : { ok: false, detail: this.refusal('health', res).message };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private post(action: WebhookAction, grant: GrantOnTarget): Promise<PostResult> {
    const payload = payloadOf(grant, action);
    return this.send(action, JSON.stringify(payload), payload.idempotencyKey);
  }

  /** One signed POST; a refused address, a network error or the deadline is a target error. */
  private async send(action: string, body: string, key?: string): Promise<PostResult> {
    const name = this.settings.targetName;
    if (this.closed) throw targetRefusal(WEBHOOK_KIND, name, 'the connector is closed', this.scrub);
    try {
      return await signedPost({
        url: this.settings.url,
        body,
        secret: this.settings.secret,
        timestamp: Math.floor(Date.now() / 1000),
        headers: { 'hourglass-action': action, ...(key ? { 'idempotency-key': key } : {}) },
        timeoutMs: this.settings.timeoutMs,
        allowedHosts: this.allowedHosts(),
        readBody: { maxBytes: this.settings.maxResponseBytes },
      });
    } catch (err) {
      throw targetError(WEBHOOK_KIND, name, action, err, this.scrub, { text: describe(err) });
    }
  }

  private refusal(action: string, res: PostResult) {
    return targetRefusal(WEBHOOK_KIND, this.settings.targetName, `${action}: the receiver answered ${res.status}${quoted(res.body)}`, this.scrub);
  }

  /** An empty 2xx body is an answer without handle or credentials; anything else must be the documented object. */
  private answerOf(action: WebhookAction, res: PostResult): z.infer<typeof answerSchema> {
    const text = (res.body ?? Buffer.alloc(0)).toString('utf8').trim();
    if (!text) return {};
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw this.invalid(action, res, 'not JSON');
    }
    const parsed = answerSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw this.invalid(action, res, `${issue.path.join('.') || 'the body'}: ${issue.message}`);
    }
    return parsed.data;
  }

  private invalid(action: string, res: PostResult, why: string) {
    return targetRefusal(
      WEBHOOK_KIND,
      this.settings.targetName,
      `${action}: the receiver answered ${res.status} with a body Hourglass cannot use (${why})`,
      this.scrub,
    );
  }
}
