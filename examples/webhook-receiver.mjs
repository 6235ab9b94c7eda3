// A receiver for Hourglass `webhook` targets (docs/targets/webhook.md), Node 18+, no dependencies.
// It checks the signature, then grants, extends and revokes access kept in memory: put your
// system's own calls where `grants` is changed. Run:
//   HOURGLASS_WEBHOOK_SECRET=... PORT=8081 node examples/webhook-receiver.mjs
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

const secret = process.env.HOURGLASS_WEBHOOK_SECRET;
const grants = new Map(); // requestId -> { principal, entitlements, expiresAt, token }
const answers = new Map(); // Idempotency-Key -> the answer given (use a table in production)

function verified(header, raw, nowMs = Date.now()) {
  const parts = String(header ?? '').split(',').map((p) => p.trim().split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  const sigs = parts.filter(([k, v]) => k === 'v1' && /^[0-9a-f]{64}$/i.test(v ?? '')).map(([, v]) => v);
  if (!secret || !t || !/^\d+$/.test(t) || Math.abs(nowMs / 1000 - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(raw).digest();
  return sigs.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
}

function act(p) {
  if (p.action === 'health') return [200, {}];
  if (p.action === 'grant') {
    const token = grants.get(p.requestId)?.token ?? randomBytes(24).toString('base64url');
    grants.set(p.requestId, { principal: p.principal, entitlements: p.entitlements.map((e) => e.name), expiresAt: p.expiresAt, token });
    return [200, { handle: p.requestId, credentials: { token } }];
  }
  const grant = grants.get(p.requestId);
  if (!grant) return [404, { error: 'no such grant' }]; // revoke: "already gone" is success
  if (p.action === 'extend') grant.expiresAt = p.expiresAt;
  if (p.action === 'revoke') grants.delete(p.requestId);
  return [200, {}];
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks); // verify the raw bytes, before parsing
    if (req.method !== 'POST' || !verified(req.headers['hourglass-signature'], raw)) return void res.writeHead(401).end();
    const p = JSON.parse(raw.toString('utf8'));
    const key = req.headers['idempotency-key'];
    const [status, body] = (key && answers.get(key)) || act(p); // a retry gets the first answer again
    if (key && status < 300) answers.set(key, [status, body]);
    console.log(p.action, p.requestId ?? '-', p.principal ?? '-', status);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
});
server.listen(Number(process.env.PORT ?? 8081), '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
