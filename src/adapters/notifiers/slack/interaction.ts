/**
 * A button press on one of our messages (pure): Slack's `block_actions` interaction payload
 * (https://api.slack.com/reference/interaction-payloads/block-actions), as posted to the
 * interactions URL (the form field `payload`, after the signature check) or delivered over Socket
 * Mode. Only the Approve / Deny buttons are decisions; everything else (the link button, other
 * payload types) is acknowledged and ignored by the caller. Nothing here is trusted beyond its
 * shape: who may decide is the caller's question, asked of the linked Hourglass principal.
 */
import { APPROVE_ACTION, DENY_ACTION } from './blocks.js';

export interface SlackDecision {
  teamId: string;
  userId: string;
  action: 'approve' | 'deny';
  requestId: string;
  /** Where to replace the message (expires after 30 minutes; at most five uses). */
  responseUrl?: string;
  channelId?: string;
  messageTs?: string;
}

export type InteractionResult = { ok: true; decision: SlackDecision } | { ok: false; reason: string };

/** Our messages are small; Slack adds the message itself to the payload. */
export const MAX_INTERACTION_BYTES = 256 * 1024;
const MAX_ACTIONS = 25;
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SLACK_ID = /^[A-Z0-9]{2,40}$/;
const TS = /^\d{1,12}\.\d{1,9}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const ACTIONS: Record<string, SlackDecision['action']> = { [APPROVE_ACTION]: 'approve', [DENY_ACTION]: 'deny' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const field = (v: unknown, key: string): unknown => (isObject(v) ? v[key] : undefined);

/** `payloadJson`: the JSON text of the payload (the form field `payload` of an HTTP interaction). */
export function parseInteraction(payloadJson: string): InteractionResult {
  if (payloadJson.length > MAX_INTERACTION_BYTES || Buffer.byteLength(payloadJson) > MAX_INTERACTION_BYTES)
    return { ok: false, reason: `payload is larger than ${MAX_INTERACTION_BYTES} bytes` };
  let payload: unknown;
  try {
    payload = JSON.parse(payloadJson);
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  return decisionFrom(payload);
}

/** The same check on a payload already parsed (Socket Mode delivers it as an object). */
export function decisionFrom(payload: unknown): InteractionResult {
  if (!isObject(payload)) return { ok: false, reason: 'payload is not an object' };
  if (payload.type !== 'block_actions')
    return { ok: false, reason: `not a block_actions interaction (${String(str(payload.type) ?? typeof payload.type).slice(0, 40)})` };
  const actions = payload.actions;
  if (!Array.isArray(actions) || actions.length === 0 || actions.length > MAX_ACTIONS)
    return { ok: false, reason: 'actions must be a list of 1 to 25 actions' };
  const pressed = actions.find((a) => typeof field(a, 'action_id') === 'string' && Object.hasOwn(ACTIONS, field(a, 'action_id') as string));
  if (!pressed) return { ok: false, reason: 'no Hourglass decision button was pressed' };
  if (field(pressed, 'type') !== 'button') return { ok: false, reason: 'the decision action is not a button' };
  const requestId = str(field(pressed, 'value'));
  if (!requestId || !REQUEST_ID.test(requestId)) return { ok: false, reason: 'the button carries no valid request id' };

  // Org-wide apps on Enterprise Grid may send `team: null`; the user's own team is then on the user.
  const userId = str(field(payload.user, 'id'));
  const teamId = str(field(payload.team, 'id')) ?? str(field(payload.user, 'team_id'));
  if (!userId || !SLACK_ID.test(userId)) return { ok: false, reason: 'user.id is missing or malformed' };
  if (!teamId || !SLACK_ID.test(teamId)) return { ok: false, reason: 'team.id is missing or malformed' };

  const decision: SlackDecision = { teamId, userId, action: ACTIONS[field(pressed, 'action_id') as string]!, requestId };
  const responseUrl = str(payload.response_url);
  if (responseUrl !== undefined) {
    if (!isResponseUrl(responseUrl)) return { ok: false, reason: 'response_url is not an https URL' };
    decision.responseUrl = responseUrl;
  }
  const channelId = str(field(payload.channel, 'id')) ?? str(field(payload.container, 'channel_id'));
  if (channelId !== undefined && SLACK_ID.test(channelId)) decision.channelId = channelId;
  const messageTs = str(field(payload.container, 'message_ts')) ?? str(field(payload.message, 'ts'));
  if (messageTs !== undefined && TS.test(messageTs)) decision.messageTs = messageTs;
  return { ok: true, decision };
}

/** Slack's are https://hooks.slack.com/...; plain http only to this machine (a stand-in in tests). */
function isResponseUrl(value: string): boolean {
  if (value.length > 2048) return false;
  try {
    const u = new URL(value);
    if (u.username || u.password) return false;
    return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname));
  } catch {
    return false;
  }
}
